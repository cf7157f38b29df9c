//! SPDY/3.1 framing (the part port-forward uses): data frames and the control frames
//! SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS and WINDOW_UPDATE.
//! An encoder and a decoder each own one direction's header compression context.

use bytes::{BufMut, Bytes, BytesMut};

use crate::spdy_headers::{HeaderDecoder, HeaderEncoder, Headers};

const VERSION: u16 = 3;
/// FLAG_FIN: the sender's half of the stream ends with this frame.
const FLAG_FIN: u8 = 0x01;
/// FLAG_UNIDIRECTIONAL on SYN_STREAM.
const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// Largest frame accepted from a peer (the length field allows 16 MiB).
const MAX_FRAME: usize = 16 << 20;

/// RST_STREAM status CANCEL.
pub const RST_CANCEL: u32 = 5;
/// RST_STREAM status PROTOCOL_ERROR.
pub const RST_PROTOCOL_ERROR: u32 = 1;

/// SPDY failures.
#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    /// The peer broke the framing rules.
    #[error("spdy protocol error: {0}")]
    Protocol(&'static str),
    /// Header (de)compression failed.
    #[error("spdy header compression: {0}")]
    Compression(String),
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Stream data.
    Data {
        /// Stream.
        stream_id: u32,
        /// Last frame from this sender on the stream.
        fin: bool,
        /// Payload.
        data: Bytes,
    },
    /// Opens a stream.
    SynStream {
        /// New stream id (odd from clients).
        stream_id: u32,
        /// Associated stream (0 = none).
        associated: u32,
        /// Priority 0 (highest) to 7.
        priority: u8,
        /// The opener sends nothing more.
        fin: bool,
        /// The receiver may not send on it.
        unidirectional: bool,
        /// Headers.
        headers: Headers,
    },
    /// Accepts a stream.
    SynReply {
        /// Stream.
        stream_id: u32,
        /// The replier sends nothing more.
        fin: bool,
        /// Headers.
        headers: Headers,
    },
    /// Aborts a stream.
    RstStream {
        /// Stream.
        stream_id: u32,
        /// Status code (e.g. [`RST_CANCEL`]).
        status: u32,
    },
    /// Session settings (ignored by us, parsed to skip them).
    Settings {
        /// `(flags, id, value)` entries.
        entries: Vec<(u8, u32, u32)>,
    },
    /// Liveness probe; echoed by the receiver.
    Ping {
        /// Ping id.
        id: u32,
    },
    /// The sender ends the session.
    GoAway {
        /// Last stream the sender processed.
        last_stream_id: u32,
        /// Status code.
        status: u32,
    },
    /// More headers for a stream.
    Headers {
        /// Stream.
        stream_id: u32,
        /// The sender sends nothing more.
        fin: bool,
        /// Headers.
        headers: Headers,
    },
    /// Flow-control credit (ignored by us: the peers we serve do not enforce windows).
    WindowUpdate {
        /// Stream (0 = session).
        stream_id: u32,
        /// Credit in bytes.
        delta: u32,
    },
    /// A control frame type we do not know, skipped.
    Unknown {
        /// Its type.
        kind: u16,
    },
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, SpdyError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(SpdyError::Protocol("control frame too short"))
}

/// Parses frames from one direction of a session.
#[derive(Default)]
pub struct Decoder {
    headers: HeaderDecoder,
}

impl Decoder {
    /// A decoder with a fresh header context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode one frame from the front of `buf`, or `None` if it is not complete yet.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, SpdyError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let flags = buf[4];
        let len = usize::from(buf[5]) << 16 | usize::from(buf[6]) << 8 | usize::from(buf[7]);
        if len > MAX_FRAME {
            return Err(SpdyError::Protocol("frame too large"));
        }
        if buf.len() < 8 + len {
            buf.reserve(8 + len - buf.len());
            return Ok(None);
        }
        let head = buf.split_to(8);
        let body = buf.split_to(len).freeze();
        if head[0] & 0x80 == 0 {
            let stream_id = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0x7fff_ffff;
            return Ok(Some(Frame::Data {
                stream_id,
                fin: flags & FLAG_FIN != 0,
                data: body,
            }));
        }
        let version = u16::from_be_bytes([head[0], head[1]]) & 0x7fff;
        if version != VERSION {
            return Err(SpdyError::Protocol("unsupported spdy version"));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let fin = flags & FLAG_FIN != 0;
        let sid = |at| u32_at(&body, at).map(|v| v & 0x7fff_ffff);
        let frame = match kind {
            1 => {
                if body.len() < 10 {
                    return Err(SpdyError::Protocol("SYN_STREAM too short"));
                }
                Frame::SynStream {
                    stream_id: sid(0)?,
                    associated: sid(4)?,
                    priority: body[8] >> 5,
                    fin,
                    unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                    headers: self.headers.decode(&body[10..])?,
                }
            }
            2 => Frame::SynReply {
                stream_id: sid(0)?,
                fin,
                headers: self.headers.decode(body.get(4..).unwrap_or_default())?,
            },
            3 => Frame::RstStream {
                stream_id: sid(0)?,
                status: u32_at(&body, 4)?,
            },
            4 => {
                let n = u32_at(&body, 0)? as usize;
                let mut entries = Vec::with_capacity(n.min(16));
                for i in 0..n {
                    let at = 4 + i * 8;
                    let idf = u32_at(&body, at)?;
                    entries.push(((idf >> 24) as u8, idf & 0x00ff_ffff, u32_at(&body, at + 4)?));
                }
                Frame::Settings { entries }
            }
            6 => Frame::Ping {
                id: u32_at(&body, 0)?,
            },
            7 => Frame::GoAway {
                last_stream_id: sid(0)?,
                status: u32_at(&body, 4).unwrap_or(0),
            },
            8 => Frame::Headers {
                stream_id: sid(0)?,
                fin,
                headers: self.headers.decode(body.get(4..).unwrap_or_default())?,
            },
            9 => Frame::WindowUpdate {
                stream_id: sid(0)?,
                delta: u32_at(&body, 4)? & 0x7fff_ffff,
            },
            kind => Frame::Unknown { kind },
        };
        Ok(Some(frame))
    }
}

/// Serialises frames for one direction of a session.
#[derive(Default)]
pub struct Encoder {
    headers: HeaderEncoder,
}

fn control(out: &mut BytesMut, kind: u16, flags: u8, body: &[u8]) {
    out.put_u16(0x8000 | VERSION);
    out.put_u16(kind);
    out.put_u8(flags);
    // Frames we build are far below the 24-bit limit (data is chunked by callers).
    let len = body.len() as u32;
    out.put_slice(&len.to_be_bytes()[1..]);
    out.put_slice(body);
}

impl Encoder {
    /// An encoder with a fresh header context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `frame` to `out`.
    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) -> Result<(), SpdyError> {
        let fin_flag = |fin: bool| if fin { FLAG_FIN } else { 0 };
        match frame {
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                if data.len() >= 1 << 24 {
                    return Err(SpdyError::Protocol("data frame too large"));
                }
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u8(fin_flag(*fin));
                out.put_slice(&(data.len() as u32).to_be_bytes()[1..]);
                out.put_slice(data);
            }
            Frame::SynStream {
                stream_id,
                associated,
                priority,
                fin,
                unidirectional,
                headers,
            } => {
                let mut body = BytesMut::new();
                body.put_u32(stream_id & 0x7fff_ffff);
                body.put_u32(associated & 0x7fff_ffff);
                body.put_u8((priority & 7) << 5);
                body.put_u8(0);
                body.put_slice(&self.headers.encode(headers)?);
                let flags = fin_flag(*fin)
                    | if *unidirectional {
                        FLAG_UNIDIRECTIONAL
                    } else {
                        0
                    };
                control(out, 1, flags, &body);
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            }
            | Frame::Headers {
                stream_id,
                fin,
                headers,
            } => {
                let kind = if matches!(frame, Frame::SynReply { .. }) {
                    2
                } else {
                    8
                };
                let mut body = BytesMut::new();
                body.put_u32(stream_id & 0x7fff_ffff);
                body.put_slice(&self.headers.encode(headers)?);
                control(out, kind, fin_flag(*fin), &body);
            }
            Frame::RstStream { stream_id, status } => {
                let mut body = BytesMut::new();
                body.put_u32(stream_id & 0x7fff_ffff);
                body.put_u32(*status);
                control(out, 3, 0, &body);
            }
            Frame::Settings { entries } => {
                let mut body = BytesMut::new();
                body.put_u32(entries.len() as u32);
                for (flags, id, value) in entries {
                    body.put_u32(u32::from(*flags) << 24 | (id & 0x00ff_ffff));
                    body.put_u32(*value);
                }
                control(out, 4, 0, &body);
            }
            Frame::Ping { id } => control(out, 6, 0, &id.to_be_bytes()),
            Frame::GoAway {
                last_stream_id,
                status,
            } => {
                let mut body = BytesMut::new();
                body.put_u32(last_stream_id & 0x7fff_ffff);
                body.put_u32(*status);
                control(out, 7, 0, &body);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                let mut body = BytesMut::new();
                body.put_u32(stream_id & 0x7fff_ffff);
                body.put_u32(delta & 0x7fff_ffff);
                control(out, 9, 0, &body);
            }
            Frame::Unknown { .. } => return Err(SpdyError::Protocol("cannot encode unknown")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn frames_round_trip_with_compressed_headers() {
        let frames = vec![
            Frame::SynStream {
                stream_id: 1,
                associated: 0,
                priority: 2,
                fin: false,
                unidirectional: false,
                headers: h(&[("streamtype", "error"), ("port", "80"), ("requestid", "0")]),
            },
            Frame::SynStream {
                stream_id: 3,
                associated: 0,
                priority: 0,
                fin: false,
                unidirectional: true,
                headers: h(&[("streamtype", "data"), ("port", "80"), ("requestid", "0")]),
            },
            Frame::SynReply {
                stream_id: 1,
                fin: false,
                headers: vec![],
            },
            Frame::Data {
                stream_id: 3,
                fin: false,
                data: Bytes::from_static(b"GET / HTTP/1.0\r\n\r\n"),
            },
            Frame::Data {
                stream_id: 3,
                fin: true,
                data: Bytes::new(),
            },
            Frame::Headers {
                stream_id: 3,
                fin: false,
                headers: h(&[("x", "y")]),
            },
            Frame::RstStream {
                stream_id: 3,
                status: RST_CANCEL,
            },
            Frame::Settings {
                entries: vec![(0, 7, 65536)],
            },
            Frame::Ping { id: 7 },
            Frame::WindowUpdate {
                stream_id: 1,
                delta: 1000,
            },
            Frame::GoAway {
                last_stream_id: 3,
                status: 0,
            },
        ];
        let mut enc = Encoder::new();
        let mut wire = BytesMut::new();
        for f in &frames {
            enc.encode(f, &mut wire).expect("encode");
        }
        // Decode from byte-at-a-time input: frames split anywhere must still parse.
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire.iter() {
            buf.put_u8(*b);
            while let Some(f) = dec.decode(&mut buf).expect("decode") {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
    }

    #[test]
    fn control_frame_layout() {
        let mut out = BytesMut::new();
        Encoder::new()
            .encode(&Frame::Ping { id: 1 }, &mut out)
            .expect("encode");
        assert_eq!(
            &out[..],
            b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"
        );
        let mut bad = BytesMut::from(&b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"[..]);
        assert!(Decoder::new().decode(&mut bad).is_err());
    }
}
