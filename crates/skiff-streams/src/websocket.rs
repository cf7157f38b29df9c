//! RFC 6455 websockets over an already upgraded byte stream: the handshake key, frame
//! encoding and decoding (masking, 7/16/64-bit lengths), message reassembly from fragments,
//! and a reader/sender pair that answers pings and close frames by itself.

use base64::Engine;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest message accepted from a peer (kubectl sends at most 32 KiB of stdin at a time).
pub const MAX_MESSAGE: usize = 16 << 20;

/// Websocket protocol failures.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The peer broke the framing rules.
    #[error("websocket protocol error: {0}")]
    Protocol(&'static str),
    /// A message exceeded [`MAX_MESSAGE`].
    #[error("websocket message of {0} bytes is too large")]
    TooLarge(u64),
    /// The transport failed.
    #[error("websocket i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.trim().as_bytes());
    ctx.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ctx.finish().as_ref())
}

/// A frame's opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// Continuation of a fragmented message.
    Continuation,
    /// UTF-8 text.
    Text,
    /// Binary data.
    Binary,
    /// Close (control).
    Close,
    /// Ping (control).
    Ping,
    /// Pong (control).
    Pong,
}

impl Opcode {
    fn from_bits(b: u8) -> Result<Self, WsError> {
        Ok(match b {
            0 => Self::Continuation,
            1 => Self::Text,
            2 => Self::Binary,
            8 => Self::Close,
            9 => Self::Ping,
            10 => Self::Pong,
            _ => return Err(WsError::Protocol("reserved opcode")),
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0,
            Self::Text => 1,
            Self::Binary => 2,
            Self::Close => 8,
            Self::Ping => 9,
            Self::Pong => 10,
        }
    }

    /// Control frames (close, ping, pong) may interleave with fragments.
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// One frame, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Last fragment of its message.
    pub fin: bool,
    /// What it carries.
    pub opcode: Opcode,
    /// Payload (already unmasked).
    pub payload: Bytes,
}

/// Which end of the connection we are: servers read masked frames and write unmasked ones,
/// clients the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The accepting end (the agent).
    Server,
    /// The dialing end (tests acting as kubectl).
    Client,
}

/// Decode one frame from the front of `buf`, or `None` if it is not complete yet.
/// `expect_masked` is true on the server, where RFC 6455 requires clients to mask.
pub fn decode_frame(buf: &mut BytesMut, expect_masked: bool) -> Result<Option<Frame>, WsError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    if b0 & 0x70 != 0 {
        return Err(WsError::Protocol("reserved bits set without an extension"));
    }
    let fin = b0 & 0x80 != 0;
    let opcode = Opcode::from_bits(b0 & 0x0f)?;
    let masked = b1 & 0x80 != 0;
    if masked != expect_masked {
        return Err(WsError::Protocol(if expect_masked {
            "client frames must be masked"
        } else {
            "server frames must not be masked"
        }));
    }
    let (len, mut header) = match b1 & 0x7f {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4usize)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(n), 10usize)
        }
        n => (u64::from(n), 2usize),
    };
    if opcode.is_control() && (len > 125 || !fin) {
        return Err(WsError::Protocol(
            "control frames must be short and unfragmented",
        ));
    }
    if len > MAX_MESSAGE as u64 {
        return Err(WsError::TooLarge(len));
    }
    let mask = if masked {
        if buf.len() < header + 4 {
            return Ok(None);
        }
        let m = [
            buf[header],
            buf[header + 1],
            buf[header + 2],
            buf[header + 3],
        ];
        header += 4;
        Some(m)
    } else {
        None
    };
    // `len` is below MAX_MESSAGE, so it fits a usize.
    let len = len as usize;
    if buf.len() < header + len {
        buf.reserve(header + len - buf.len());
        return Ok(None);
    }
    buf.advance(header);
    let mut payload = buf.split_to(len);
    if let Some(m) = mask {
        apply_mask(&mut payload, m);
    }
    Ok(Some(Frame {
        fin,
        opcode,
        payload: payload.freeze(),
    }))
}

fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

/// Append `frame` to `out`, masked with `mask` when given (clients must mask).
pub fn encode_frame(frame: &Frame, mask: Option<[u8; 4]>, out: &mut BytesMut) {
    let len = frame.payload.len();
    out.reserve(len + 14);
    out.put_u8(if frame.fin { 0x80 } else { 0 } | frame.opcode.bits());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.put_u8(mask_bit | len as u8);
    } else if let Ok(n) = u16::try_from(len) {
        out.put_u8(mask_bit | 126);
        out.put_u16(n);
    } else {
        out.put_u8(mask_bit | 127);
        out.put_u64(len as u64);
    }
    match mask {
        Some(m) => {
            out.put_slice(&m);
            let start = out.len();
            out.put_slice(&frame.payload);
            apply_mask(&mut out[start..], m);
        }
        None => out.put_slice(&frame.payload),
    }
}

/// A complete message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Text message.
    Text(Bytes),
    /// Binary message.
    Binary(Bytes),
    /// Ping with its application data.
    Ping(Bytes),
    /// Pong with its application data.
    Pong(Bytes),
    /// Close with an optional status code and reason.
    Close(Option<(u16, String)>),
}

/// Reassembles messages from frames (data fragments may be interleaved with control frames).
#[derive(Debug, Default)]
pub struct Assembler {
    partial: Option<(Opcode, BytesMut)>,
}

impl Assembler {
    /// Feed one frame; returns a message when one is complete.
    pub fn push(&mut self, frame: Frame) -> Result<Option<Message>, WsError> {
        match frame.opcode {
            Opcode::Ping => Ok(Some(Message::Ping(frame.payload))),
            Opcode::Pong => Ok(Some(Message::Pong(frame.payload))),
            Opcode::Close => {
                let p = &frame.payload;
                let close = if p.len() >= 2 {
                    let code = u16::from_be_bytes([p[0], p[1]]);
                    Some((code, String::from_utf8_lossy(&p[2..]).into_owned()))
                } else {
                    None
                };
                Ok(Some(Message::Close(close)))
            }
            Opcode::Text | Opcode::Binary => {
                if self.partial.is_some() {
                    return Err(WsError::Protocol("new message inside a fragmented one"));
                }
                if frame.fin {
                    return Ok(Some(data_message(frame.opcode, frame.payload)));
                }
                self.partial = Some((frame.opcode, BytesMut::from(&frame.payload[..])));
                Ok(None)
            }
            Opcode::Continuation => {
                let Some((op, mut buf)) = self.partial.take() else {
                    return Err(WsError::Protocol("continuation without a message"));
                };
                if buf.len() + frame.payload.len() > MAX_MESSAGE {
                    return Err(WsError::TooLarge((buf.len() + frame.payload.len()) as u64));
                }
                buf.extend_from_slice(&frame.payload);
                if frame.fin {
                    Ok(Some(data_message(op, buf.freeze())))
                } else {
                    self.partial = Some((op, buf));
                    Ok(None)
                }
            }
        }
    }
}

fn data_message(op: Opcode, payload: Bytes) -> Message {
    if op == Opcode::Text {
        Message::Text(payload)
    } else {
        Message::Binary(payload)
    }
}

fn message_frame(msg: Message) -> Frame {
    let (opcode, payload) = match msg {
        Message::Text(b) => (Opcode::Text, b),
        Message::Binary(b) => (Opcode::Binary, b),
        Message::Ping(b) => (Opcode::Ping, b),
        Message::Pong(b) => (Opcode::Pong, b),
        Message::Close(c) => {
            let mut p = BytesMut::new();
            if let Some((code, reason)) = c {
                p.put_u16(code);
                // Control payloads are limited to 125 bytes.
                let mut cut = reason.len().min(123);
                while !reason.is_char_boundary(cut) {
                    cut -= 1;
                }
                p.put_slice(&reason.as_bytes()[..cut]);
            }
            (Opcode::Close, p.freeze())
        }
    };
    Frame {
        fin: true,
        opcode,
        payload,
    }
}

/// A handle that queues messages for the connection's writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct WsSender {
    tx: mpsc::Sender<Message>,
}

impl WsSender {
    /// Queue a message; false once the connection is closed.
    pub async fn send(&self, msg: Message) -> bool {
        self.tx.send(msg).await.is_ok()
    }

    /// Queue a binary message; false once the connection is closed.
    pub async fn binary(&self, data: Bytes) -> bool {
        self.send(Message::Binary(data)).await
    }

    /// Queue a close frame; the writer flushes it and shuts the transport down.
    pub async fn close(&self, code: u16, reason: &str) {
        let _ = self
            .send(Message::Close(Some((code, reason.to_string()))))
            .await;
    }
}

/// Reads messages, answering pings and close frames through the paired [`WsSender`].
pub struct WsReader<R> {
    io: R,
    buf: BytesMut,
    asm: Assembler,
    role: Role,
    replies: WsSender,
}

impl<R: AsyncRead + Unpin> WsReader<R> {
    /// The next text or binary message; `None` after a close frame or the end of the stream.
    pub async fn next(&mut self) -> Result<Option<Message>, WsError> {
        loop {
            while let Some(frame) = decode_frame(&mut self.buf, self.role == Role::Server)? {
                match self.asm.push(frame)? {
                    Some(Message::Ping(data)) => {
                        let _ = self.replies.send(Message::Pong(data)).await;
                    }
                    Some(Message::Pong(_)) | None => {}
                    Some(Message::Close(c)) => {
                        // Echo the close (RFC 6455 §5.5.1); the writer then ends the stream.
                        let code = c.map(|(code, _)| code).unwrap_or(1000);
                        self.replies.close(code, "").await;
                        return Ok(None);
                    }
                    Some(m) => return Ok(Some(m)),
                }
            }
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// Split an upgraded connection into a message reader and a sender whose writer task owns
/// the write half; the task ends after sending a close frame or when every sender is gone,
/// shutting the write half down either way.
pub fn start<S>(io: S, role: Role) -> (WsReader<tokio::io::ReadHalf<S>>, WsSender, JoinHandle<()>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, mut wr) = tokio::io::split(io);
    let (tx, mut rx) = mpsc::channel::<Message>(32);
    let writer = tokio::spawn(async move {
        let mut out = BytesMut::new();
        let mut counter: u32 = 0x9e37_79b9;
        while let Some(msg) = rx.recv().await {
            let closing = matches!(msg, Message::Close(_));
            let mask = (role == Role::Client).then(|| {
                // Masks only need to be unpredictable to intermediaries, not secret.
                counter = counter.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                counter.to_be_bytes()
            });
            encode_frame(&message_frame(msg), mask, &mut out);
            if wr.write_all(&out).await.is_err() || wr.flush().await.is_err() {
                break;
            }
            out.clear();
            if closing {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let sender = WsSender { tx };
    let reader = WsReader {
        io: rd,
        buf: BytesMut::with_capacity(16 * 1024),
        asm: Assembler::default(),
        role,
        replies: sender.clone(),
    };
    (reader, sender, writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn masked_client_frame_decodes() {
        // RFC 6455 §5.7: a masked "Hello".
        let mut buf = BytesMut::from(
            &[
                0x81u8, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ][..],
        );
        let f = decode_frame(&mut buf, true).expect("ok").expect("frame");
        assert_eq!(f.opcode, Opcode::Text);
        assert!(f.fin);
        assert_eq!(&f.payload[..], b"Hello");
        assert!(buf.is_empty());
    }

    #[test]
    fn unmasked_client_frame_is_refused() {
        let mut buf = BytesMut::from(&[0x81u8, 0x05, b'H', b'e', b'l', b'l', b'o'][..]);
        assert!(decode_frame(&mut buf, true).is_err());
    }

    #[test]
    fn round_trip_all_length_forms_and_partial_input() {
        for len in [0usize, 5, 125, 126, 65535, 65536, 200_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let frame = Frame {
                fin: true,
                opcode: Opcode::Binary,
                payload: Bytes::from(payload),
            };
            let mut out = BytesMut::new();
            encode_frame(&frame, Some([1, 2, 3, 4]), &mut out);
            // Feed it in two pieces: the first must not yield a frame.
            let all = out.freeze();
            let cut = all.len() / 2;
            let mut buf = BytesMut::from(&all[..cut]);
            if cut > 0 {
                assert_eq!(decode_frame(&mut buf, true).expect("ok"), None, "{len}");
            }
            buf.extend_from_slice(&all[cut..]);
            assert_eq!(
                decode_frame(&mut buf, true).expect("ok"),
                Some(frame),
                "{len}"
            );
        }
    }

    #[test]
    fn fragments_reassemble_around_control_frames() {
        let mut asm = Assembler::default();
        let frag = |fin, opcode, p: &'static [u8]| Frame {
            fin,
            opcode,
            payload: Bytes::from_static(p),
        };
        assert_eq!(
            asm.push(frag(false, Opcode::Binary, b"ab")).expect("ok"),
            None
        );
        assert_eq!(
            asm.push(frag(true, Opcode::Ping, b"x")).expect("ok"),
            Some(Message::Ping(Bytes::from_static(b"x")))
        );
        assert_eq!(
            asm.push(frag(false, Opcode::Continuation, b"cd"))
                .expect("ok"),
            None
        );
        assert_eq!(
            asm.push(frag(true, Opcode::Continuation, b"e"))
                .expect("ok"),
            Some(Message::Binary(Bytes::from_static(b"abcde")))
        );
        assert!(asm.push(frag(true, Opcode::Continuation, b"z")).is_err());
    }

    #[test]
    fn long_or_fragmented_control_frames_are_refused() {
        let mut out = BytesMut::new();
        let ping = Frame {
            fin: true,
            opcode: Opcode::Ping,
            payload: Bytes::from(vec![0u8; 126]),
        };
        encode_frame(&ping, Some([0; 4]), &mut out);
        assert!(decode_frame(&mut out, true).is_err());
        let mut out = BytesMut::from(&[0x09u8, 0x80, 0, 0, 0, 0][..]);
        assert!(decode_frame(&mut out, true).is_err());
    }

    #[test]
    fn close_payload_carries_code_and_reason() {
        let f = message_frame(Message::Close(Some((1000, "bye".into()))));
        assert_eq!(&f.payload[..], b"\x03\xe8bye");
        let mut asm = Assembler::default();
        assert_eq!(
            asm.push(f).expect("ok"),
            Some(Message::Close(Some((1000, "bye".into()))))
        );
    }

    #[tokio::test]
    async fn reader_answers_pings_and_closes() {
        let (server_io, client_io) = tokio::io::duplex(4096);
        let (mut sr, ss, swriter) = start(server_io, Role::Server);
        let (mut cr, cs, _cwriter) = start(client_io, Role::Client);
        assert!(cs.send(Message::Ping(Bytes::from_static(b"p"))).await);
        assert!(cs.binary(Bytes::from_static(b"data")).await);
        assert_eq!(
            sr.next().await.expect("ok"),
            Some(Message::Binary(Bytes::from_static(b"data")))
        );
        assert!(ss.binary(Bytes::from_static(b"back")).await);
        assert_eq!(
            cr.next().await.expect("ok"),
            Some(Message::Binary(Bytes::from_static(b"back")))
        );
        cs.close(1000, "done").await;
        assert_eq!(sr.next().await.expect("ok"), None);
        // The server echoed the close and its writer shut down.
        swriter.await.expect("writer");
        assert_eq!(cr.next().await.expect("ok"), None);
    }
}
