//! A websocket whose binary messages carry a byte stream (SPDY over websockets, as kubectl's
//! `SPDY/3.1+portforward.k8s.io` subprotocol does): message boundaries mean nothing, so a
//! frame of the inner protocol may span messages.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

use crate::websocket::{self, Message, Role};

/// Bytes buffered between the websocket and the inner protocol.
const BUFFER: usize = 256 * 1024;

/// Serve `io` as the server end of a websocket and return the byte stream it carries.
/// Text messages are refused (the connection closes with 1003); the stream ends when the
/// websocket closes, and closing the returned stream closes the websocket.
pub fn websocket_tunnel<S>(io: S) -> DuplexStream
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (inner, outer) = tokio::io::duplex(BUFFER);
    let (mut outer_rd, mut outer_wr) = tokio::io::split(outer);
    let (mut reader, sender, _writer) = websocket::start(io, Role::Server);
    let up = sender.clone();
    tokio::spawn(async move {
        loop {
            match reader.next().await {
                Ok(Some(Message::Binary(b))) => {
                    if outer_wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                Ok(Some(_)) => {
                    up.close(1003, "binary messages only").await;
                    break;
                }
                Ok(None) | Err(_) => break,
            }
        }
        let _ = outer_wr.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match outer_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = bytes::Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                    if !sender.binary(chunk).await {
                        return;
                    }
                }
            }
        }
        sender.close(1000, "").await;
    });
    inner
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn bytes_cross_message_boundaries_both_ways() {
        let (server_io, client_io) = tokio::io::duplex(4096);
        let mut stream = websocket_tunnel(server_io);
        let (mut cr, cs, _w) = websocket::start(client_io, Role::Client);
        assert!(cs.binary(Bytes::from_static(b"hel")).await);
        assert!(cs.binary(Bytes::from_static(b"lo")).await);
        let mut got = [0u8; 5];
        stream.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"hello");
        stream.write_all(b"world").await.expect("write");
        let mut back = Vec::new();
        while back.len() < 5 {
            match cr.next().await.expect("ok") {
                Some(Message::Binary(b)) => back.extend_from_slice(&b),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(&back, b"world");
        cs.close(1000, "").await;
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.expect("eof");
        assert!(rest.is_empty());
    }
}
