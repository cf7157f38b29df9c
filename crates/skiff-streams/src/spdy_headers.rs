//! SPDY/3 header blocks: `u32 count` then `u32 len, name, u32 len, value` pairs, compressed
//! with zlib primed with the SPDY/3 dictionary. Each direction of a session keeps one zlib
//! stream for its whole life, flushed (sync) after every block.

use std::sync::OnceLock;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::spdy::SpdyError;

/// Header names and values in order (names are lower case on the wire).
pub type Headers = Vec<(String, String)>;

/// Largest decompressed header block accepted (port-forward headers are tiny).
const MAX_BLOCK: usize = 1 << 20;

/// The words the SPDY/3 dictionary lists with 32-bit length prefixes.
const DICTIONARY_WORDS: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The dictionary's unprefixed tail.
const DICTIONARY_TAIL: &str = concat!(
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented",
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,",
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=",
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
);

/// The SPDY/3 zlib dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1); it must be
/// byte-exact or the peer's inflate fails.
pub fn dictionary() -> &'static [u8] {
    static DICT: OnceLock<Vec<u8>> = OnceLock::new();
    DICT.get_or_init(|| {
        let mut d = Vec::with_capacity(1424);
        for w in DICTIONARY_WORDS {
            d.extend_from_slice(&(w.len() as u32).to_be_bytes());
            d.extend_from_slice(w.as_bytes());
        }
        d.extend_from_slice(DICTIONARY_TAIL.as_bytes());
        d
    })
}

fn zlib_err(e: impl std::fmt::Display) -> SpdyError {
    SpdyError::Compression(e.to_string())
}

/// Compresses the header blocks of one direction.
pub struct HeaderEncoder {
    z: Compress,
}

impl Default for HeaderEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderEncoder {
    /// A fresh zlib stream primed with the dictionary.
    pub fn new() -> Self {
        let mut z = Compress::new(Compression::default(), true);
        // Priming cannot fail on a fresh stream with a valid dictionary.
        let _ = z.set_dictionary(dictionary());
        Self { z }
    }

    /// The compressed form of `headers`, ending on a sync flush.
    pub fn encode(&mut self, headers: &[(String, String)]) -> Result<Vec<u8>, SpdyError> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (k, v) in headers {
            for s in [k, v] {
                raw.extend_from_slice(&(s.len() as u32).to_be_bytes());
                raw.extend_from_slice(s.as_bytes());
            }
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let start = self.z.total_in();
        loop {
            let used = usize::try_from(self.z.total_in() - start).map_err(zlib_err)?;
            if out.capacity() - out.len() < 64 {
                out.reserve(256);
            }
            self.z
                .compress_vec(
                    raw.get(used..).unwrap_or_default(),
                    &mut out,
                    FlushCompress::Sync,
                )
                .map_err(zlib_err)?;
            let used = usize::try_from(self.z.total_in() - start).map_err(zlib_err)?;
            // A sync flush is complete once zlib stops short of filling the output.
            if used == raw.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

/// Decompresses the header blocks of one direction.
pub struct HeaderDecoder {
    z: Decompress,
}

impl Default for HeaderDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderDecoder {
    /// A fresh zlib stream (the dictionary is supplied when the stream asks for it).
    pub fn new() -> Self {
        Self {
            z: Decompress::new(true),
        }
    }

    /// Decompress and parse one header block.
    pub fn decode(&mut self, block: &[u8]) -> Result<Headers, SpdyError> {
        let mut out = Vec::with_capacity(block.len() * 4 + 64);
        let start = self.z.total_in();
        loop {
            let used = usize::try_from(self.z.total_in() - start).map_err(zlib_err)?;
            if out.capacity() - out.len() < 256 {
                out.reserve(1024);
            }
            match self.z.decompress_vec(
                block.get(used..).unwrap_or_default(),
                &mut out,
                FlushDecompress::Sync,
            ) {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.z.set_dictionary(dictionary()).map_err(zlib_err)?;
                    continue;
                }
                Err(e) => return Err(zlib_err(e)),
            }
            let used = usize::try_from(self.z.total_in() - start).map_err(zlib_err)?;
            if used == block.len() && out.len() < out.capacity() {
                break;
            }
            if out.len() > MAX_BLOCK {
                return Err(SpdyError::Protocol("header block too large"));
            }
        }
        parse_block(&out)
    }
}

fn parse_block(raw: &[u8]) -> Result<Headers, SpdyError> {
    let mut pos = 0usize;
    let take_u32 = |pos: &mut usize| -> Result<usize, SpdyError> {
        let b = raw
            .get(*pos..*pos + 4)
            .ok_or(SpdyError::Protocol("truncated header block"))?;
        *pos += 4;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = take_u32(&mut pos)?;
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let mut pair = [String::new(), String::new()];
        for s in pair.iter_mut() {
            let len = take_u32(&mut pos)?;
            let b = raw
                .get(pos..pos + len)
                .ok_or(SpdyError::Protocol("truncated header block"))?;
            pos += len;
            *s = String::from_utf8_lossy(b).into_owned();
        }
        let [k, v] = pair;
        // Several values of one name are NUL-separated.
        for value in v.split('\0') {
            headers.push((k.to_ascii_lowercase(), value.to_string()));
        }
    }
    Ok(headers)
}

/// The first value of header `name` (case-insensitive).
pub fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_the_spdy3_one() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\x00\x00\x00\x07options");
        assert!(d.ends_with(b",*,enq=0."));
    }

    #[test]
    fn blocks_round_trip_on_persistent_streams() {
        let mut enc = HeaderEncoder::new();
        let mut dec = HeaderDecoder::new();
        let h1: Headers = vec![
            ("streamtype".into(), "error".into()),
            ("port".into(), "8080".into()),
            ("requestid".into(), "0".into()),
        ];
        let h2: Headers = vec![("streamtype".into(), "data".into())];
        let b1 = enc.encode(&h1).expect("encode");
        // The stream declares the preset dictionary (FDICT) in its zlib header.
        assert_eq!(b1[1] & 0x20, 0x20);
        let b2 = enc.encode(&h2).expect("encode");
        let b3 = enc.encode(&[]).expect("encode");
        assert_eq!(dec.decode(&b1).expect("decode"), h1);
        assert_eq!(dec.decode(&b2).expect("decode"), h2);
        assert_eq!(dec.decode(&b3).expect("decode"), vec![]);
    }

    #[test]
    fn nul_separated_values_split() {
        let mut raw = Vec::new();
        raw.extend_from_slice(&1u32.to_be_bytes());
        raw.extend_from_slice(&1u32.to_be_bytes());
        raw.extend_from_slice(b"A");
        raw.extend_from_slice(&3u32.to_be_bytes());
        raw.extend_from_slice(b"x\0y");
        assert_eq!(
            parse_block(&raw).expect("parse"),
            vec![("a".into(), "x".into()), ("a".into(), "y".into())]
        );
        assert!(parse_block(&raw[..6]).is_err());
    }
}
