//! Layer decompression: gzip, zstd and plain tar, told apart by their magic bytes (media
//! types are not trusted: docker-archive layers carry none).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A layer's compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The OCI layer media type for this compression.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => crate::manifest::OCI_LAYER_TAR,
            Compression::Gzip => crate::manifest::OCI_LAYER_GZIP,
            Compression::Zstd => crate::manifest::OCI_LAYER_ZSTD,
        }
    }
}

/// Detects the compression from the first bytes of a stream.
pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Opens a layer blob as a stream of uncompressed tar bytes.
pub fn open_layer(file: File) -> io::Result<Box<dyn Read + Send>> {
    let mut src = BufReader::with_capacity(1 << 16, file);
    let head = src.fill_buf()?;
    Ok(match detect(head) {
        Compression::None => Box::new(src),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(src)),
        Compression::Zstd => Box::new(ZstdFrames::new(src)?),
    })
}

/// Decodes every zstd frame of a stream in turn (ruzstd's decoder stops after one, but
/// compressors may write several, e.g. when run in parallel).
struct ZstdFrames<R: BufRead> {
    current: Option<StreamingDecoder<R, FrameDecoder>>,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(src: R) -> io::Result<Self> {
        let dec = StreamingDecoder::new(src).map_err(io::Error::other)?;
        Ok(ZstdFrames { current: Some(dec) })
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(dec) = self.current.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            let Some(dec) = self.current.take() else {
                return Ok(0);
            };
            let (mut src, frame) = dec.into_parts();
            if src.fill_buf()?.is_empty() {
                return Ok(0);
            }
            let next = StreamingDecoder::new_with_decoder(src, frame).map_err(io::Error::other)?;
            self.current = Some(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_magic() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Compression::Zstd);
        assert_eq!(detect(b"bin/"), Compression::None);
        assert_eq!(detect(b""), Compression::None);
    }
}
