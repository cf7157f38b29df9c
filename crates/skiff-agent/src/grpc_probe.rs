//! gRPC probes: one `grpc.health.v1.Health/Check` call over HTTP/2 cleartext, as the kubelet
//! makes it, with the tiny protobuf request and response encoded by hand. Messages follow
//! upstream's `pkg/probe/grpc` wording.

use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// `grpc.health.v1.HealthCheckResponse.ServingStatus` names, by number.
const SERVING_STATUS: [&str; 4] = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/// The serialized `HealthCheckRequest{service}` inside a gRPC length-prefixed frame.
pub(crate) fn encode_request(service: &str) -> Vec<u8> {
    let mut msg = Vec::new();
    if !service.is_empty() {
        // Field 1, wire type 2 (length-delimited).
        msg.push(0x0a);
        put_varint(&mut msg, service.len() as u64);
        msg.extend_from_slice(service.as_bytes());
    }
    let mut frame = Vec::with_capacity(5 + msg.len());
    frame.push(0); // not compressed
    frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    frame.extend_from_slice(&msg);
    frame
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The `status` of a `HealthCheckResponse` body (the gRPC frame included); unknown fields
/// are skipped, a missing status is UNKNOWN (0) as proto3 defaults say.
pub(crate) fn decode_response(body: &[u8]) -> Result<u64, String> {
    let (head, rest) = body
        .split_at_checked(5)
        .ok_or_else(|| "short gRPC response frame".to_string())?;
    if head[0] != 0 {
        return Err("compressed gRPC responses are not supported".into());
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut msg = rest
        .get(..len)
        .ok_or_else(|| "truncated gRPC response frame".to_string())?;
    let mut status = 0;
    while !msg.is_empty() {
        let key = get_varint(&mut msg).ok_or("malformed HealthCheckResponse")?;
        match key & 7 {
            0 => {
                let v = get_varint(&mut msg).ok_or("malformed HealthCheckResponse")?;
                if key >> 3 == 1 {
                    status = v;
                }
            }
            1 => msg = msg.get(8..).ok_or("malformed HealthCheckResponse")?,
            5 => msg = msg.get(4..).ok_or("malformed HealthCheckResponse")?,
            2 => {
                let n = get_varint(&mut msg).ok_or("malformed HealthCheckResponse")? as usize;
                msg = msg.get(n..).ok_or("malformed HealthCheckResponse")?;
            }
            _ => return Err("malformed HealthCheckResponse".into()),
        }
    }
    Ok(status)
}

/// gRPC status code names, as grpc-go prints them in `rpc error: code = ...`.
fn code_name(code: u32) -> String {
    const NAMES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];
    NAMES
        .get(code as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("Code({code})"))
}

/// Go's `time.Duration` rendering of whole seconds (`1s`, `1m30s`).
fn go_secs(d: Duration) -> String {
    crate::worker::fmt_secs(d)
}

/// Check `service` at `addr` (shown in messages) within `timeout`; `dial` opens one TCP
/// connection to the server. Like grpc-go's blocking dial, a refused connection is retried
/// until the deadline.
pub(crate) async fn check<F, Fut>(
    addr: &str,
    service: &str,
    timeout: Duration,
    dial: F,
) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<TcpStream, String>>,
{
    let deadline = Instant::now() + timeout;
    let connect_timeout = || {
        format!(
            "timeout: failed to connect service {addr:?} within {}: context deadline exceeded",
            go_secs(timeout)
        )
    };
    let mut sender = loop {
        let attempt = async {
            let stream = dial().await?;
            let (sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok::<_, String>(sender)
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(s)) => break s,
            Ok(Err(e)) => {
                tracing::debug!(%addr, error = %e, "grpc probe connect");
                if tokio::time::timeout_at(deadline, tokio::time::sleep(Duration::from_millis(200)))
                    .await
                    .is_err()
                {
                    return Err(connect_timeout());
                }
            }
            Err(_) => return Err(connect_timeout()),
        }
    };
    let req = http::Request::post(format!("http://{addr}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", "kube-probe/1.33")
        .header("grpc-timeout", format!("{}m", timeout.as_millis().max(1)))
        .body(Full::new(Bytes::from(encode_request(service))))
        .map_err(|e| format!("error: health rpc probe failed: {e}"))?;
    let rpc = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("error: health rpc probe failed: {e}"))?;
        let (parts, body) = resp.into_parts();
        if parts.status != http::StatusCode::OK {
            return Err(format!(
                "error: health rpc probe failed: rpc error: code = Unknown desc = unexpected HTTP status code received from server: {}",
                parts.status.as_u16()
            ));
        }
        let collected = body
            .collect()
            .await
            .map_err(|e| format!("error: health rpc probe failed: {e}"))?;
        // A Trailers-Only response carries grpc-status in the headers.
        let trailers = collected.trailers().cloned();
        let status_of = |h: &http::HeaderMap| -> Option<(u32, String)> {
            let code = h.get("grpc-status")?.to_str().ok()?.parse().ok()?;
            let msg = h
                .get("grpc-message")
                .and_then(|m| m.to_str().ok())
                .unwrap_or_default()
                .to_string();
            Some((code, msg))
        };
        let status = trailers
            .as_ref()
            .and_then(status_of)
            .or_else(|| status_of(&parts.headers));
        let mut body = collected.to_bytes();
        match status {
            Some((0, _)) => {}
            Some((12, msg)) => {
                return Err(format!(
                "this server does not implement the grpc health protocol (grpc.health.v1.Health): {msg}"
            ))
            }
            Some((4, _)) => {
                return Err(format!(
                    "timeout: health rpc did not complete within {}",
                    go_secs(timeout)
                ))
            }
            Some((code, msg)) => {
                return Err(format!(
                    "error: health rpc probe failed: rpc error: code = {} desc = {msg}",
                    code_name(code)
                ))
            }
            None => {
                return Err(
                    "error: health rpc probe failed: rpc error: code = Internal desc = server closed the stream without sending trailers".into(),
                )
            }
        }
        let status = decode_response(body.copy_to_bytes(body.remaining()).as_ref())
            .map_err(|e| format!("error: health rpc probe failed: {e}"))?;
        if status == 1 {
            Ok(())
        } else {
            let name = SERVING_STATUS
                .get(status as usize)
                .map(|s| s.to_string())
                .unwrap_or_else(|| status.to_string());
            Err(format!("service unhealthy (responded with {name:?})"))
        }
    };
    match tokio::time::timeout_at(deadline, rpc).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "timeout: health rpc did not complete within {}",
            go_secs(timeout)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_encoding() {
        assert_eq!(encode_request(""), vec![0, 0, 0, 0, 0]);
        assert_eq!(
            encode_request("ab"),
            vec![0, 0, 0, 0, 4, 0x0a, 2, b'a', b'b']
        );
    }

    #[test]
    fn response_decoding() {
        assert_eq!(decode_response(&[0, 0, 0, 0, 2, 0x08, 1]), Ok(1));
        assert_eq!(decode_response(&[0, 0, 0, 0, 0]), Ok(0));
        // An unknown length-delimited field before the status is skipped.
        assert_eq!(
            decode_response(&[0, 0, 0, 0, 5, 0x12, 1, b'x', 0x08, 2]),
            Ok(2)
        );
        assert!(decode_response(&[0, 0, 0]).is_err());
        assert!(decode_response(&[0, 0, 0, 0, 9, 0x08]).is_err());
    }

    /// A one-connection HTTP/2 server answering Health/Check with `status`.
    async fn serve(status: Option<u8>) -> std::net::SocketAddr {
        use http_body_util::Full;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let svc = hyper::service::service_fn(
                    move |req: http::Request<hyper::body::Incoming>| async move {
                        let ok_path = req.uri().path() == "/grpc.health.v1.Health/Check";
                        let _ = req.into_body().collect().await;
                        let resp = match (ok_path, status) {
                            (true, Some(st)) => http::Response::builder()
                                .header("content-type", "application/grpc")
                                .header("grpc-status", "0")
                                .body(Full::new(Bytes::from(vec![0, 0, 0, 0, 2, 0x08, st]))),
                            _ => http::Response::builder()
                                .header("content-type", "application/grpc")
                                .header("grpc-status", "12")
                                .header("grpc-message", "unknown service grpc.health.v1.Health")
                                .body(Full::new(Bytes::new())),
                        };
                        Ok::<_, std::convert::Infallible>(resp.expect("response"))
                    },
                );
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        addr
    }

    async fn probe(addr: std::net::SocketAddr, timeout: Duration) -> Result<(), String> {
        check(&addr.to_string(), "", timeout, || async move {
            TcpStream::connect(addr).await.map_err(|e| e.to_string())
        })
        .await
    }

    #[tokio::test]
    async fn serving_not_serving_and_unimplemented() {
        let t = Duration::from_secs(2);
        assert_eq!(probe(serve(Some(1)).await, t).await, Ok(()));
        assert_eq!(
            probe(serve(Some(2)).await, t).await,
            Err("service unhealthy (responded with \"NOT_SERVING\")".into())
        );
        assert_eq!(
            probe(serve(None).await, t).await,
            Err("this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health".into())
        );
    }

    #[tokio::test]
    async fn nothing_listening_times_out_like_grpc_go() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let err = probe(addr, Duration::from_secs(1))
            .await
            .expect_err("refused");
        assert_eq!(
            err,
            format!("timeout: failed to connect service \"{addr}\" within 1s: context deadline exceeded")
        );
    }
}
