//! `portForward` as the kubelet serves it: a SPDY/3.1 session, either over a plain
//! `Upgrade: SPDY/3.1` connection or carried in the binary messages of a websocket
//! (`SPDY/3.1+portforward.k8s.io`). For each forwarded connection the client opens an
//! error stream and a data stream sharing a `requestid`; the data stream is spliced to
//! `127.0.0.1:<port>` inside the pod's network namespace, and a failure is written as text
//! on the error stream, which kubectl prints.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use skiff_cri::RuntimeService;
use skiff_streams::spdy::{self, Frame};
use skiff_streams::spdy_headers::get;
use skiff_streams::tunnel::websocket_tunnel;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::Instrument;

use crate::server::{text, ApiState, Body};
use crate::stream_target::pod_sandbox;

/// The port-forward protocol name (X-Stream-Protocol-Version).
const PROTOCOL: &str = "portforward.k8s.io";
/// The websocket subprotocol carrying SPDY.
const WS_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// Bytes per data frame.
const CHUNK: usize = 32 * 1024;

/// Serve `/portForward/{ns}/{pod}`.
pub(crate) async fn serve<B: Send + 'static>(
    state: &ApiState,
    mut req: Request<B>,
    ns: &str,
    pod: &str,
) -> Response<Body> {
    let header_values = |n: &str| -> Vec<String> {
        req.headers()
            .get_all(n)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|s| s.trim().to_string()))
            .collect()
    };
    let upgrade = header_values("upgrade");
    let websocket = upgrade.iter().any(|u| u.eq_ignore_ascii_case("websocket"));
    let response = if websocket {
        let key = req
            .headers()
            .get("sec-websocket-key")
            .and_then(|v| v.to_str().ok());
        let Some(key) = key else {
            return text(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
        };
        if !header_values("sec-websocket-protocol")
            .iter()
            .any(|p| p == WS_PROTOCOL)
        {
            return text(
                StatusCode::BAD_REQUEST,
                format!("port-forward over websockets needs the {WS_PROTOCOL} subprotocol"),
            );
        }
        crate::exec_stream::switching_to_websocket(
            WS_PROTOCOL,
            &skiff_streams::websocket::accept_key(key),
        )
    } else if upgrade.iter().any(|u| u.eq_ignore_ascii_case("SPDY/3.1")) {
        if !header_values("x-stream-protocol-version")
            .iter()
            .any(|p| p == PROTOCOL)
        {
            return text(
                StatusCode::FORBIDDEN,
                format!("unable to negotiate protocol: the server supports only {PROTOCOL}"),
            );
        }
        let mut r = text(StatusCode::SWITCHING_PROTOCOLS, "");
        let h = r.headers_mut();
        h.remove(http::header::CONTENT_TYPE);
        h.insert("connection", http::HeaderValue::from_static("Upgrade"));
        h.insert("upgrade", http::HeaderValue::from_static("SPDY/3.1"));
        h.insert(
            "x-stream-protocol-version",
            http::HeaderValue::from_static(PROTOCOL),
        );
        r
    } else {
        return text(
            StatusCode::BAD_REQUEST,
            "port-forward needs an Upgrade to SPDY/3.1 or websocket",
        );
    };
    let sandbox = match pod_sandbox(&state.logs_root, state.runtime.as_ref(), ns, pod).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let runtime = state.runtime.clone();
    let span = tracing::debug_span!("port_forward", %ns, %pod);
    tokio::spawn(
        async move {
            let upgraded = match on_upgrade.await {
                Ok(u) => TokioIo::new(u),
                Err(e) => {
                    tracing::debug!(error = %e, "upgrade failed");
                    return;
                }
            };
            if websocket {
                session(websocket_tunnel(upgraded), runtime, sandbox).await;
            } else {
                session(upgraded, runtime, sandbox).await;
            }
        }
        .instrument(span),
    );
    response
}

/// Both streams of one forwarded connection, as they arrive.
#[derive(Default)]
struct Pair {
    error: Option<u32>,
    data: Option<(u32, mpsc::Receiver<Bytes>)>,
    port: Option<u16>,
}

/// Run one SPDY session until the client goes away.
pub(crate) async fn session<S>(io: S, runtime: Arc<dyn RuntimeService>, sandbox: String)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let (out_tx, mut out_rx) = mpsc::channel::<Frame>(64);
    let writer = tokio::spawn(async move {
        let mut enc = spdy::Encoder::new();
        let mut buf = BytesMut::new();
        while let Some(f) = out_rx.recv().await {
            if let Err(e) = enc.encode(&f, &mut buf) {
                tracing::debug!(error = %e, "encoding a spdy frame");
                break;
            }
            if wr.write_all(&buf).await.is_err() || wr.flush().await.is_err() {
                break;
            }
            buf.clear();
        }
        let _ = wr.shutdown().await;
    });
    let mut dec = spdy::Decoder::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    // Client data for each open data stream, and each connection's task.
    let mut inbound: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
    let mut tasks: HashMap<u32, AbortHandle> = HashMap::new();
    'session: loop {
        loop {
            let frame = match dec.decode(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "bad spdy input");
                    break 'session;
                }
            };
            match frame {
                Frame::SynStream {
                    stream_id, headers, ..
                } => {
                    let _ = out_tx
                        .send(Frame::SynReply {
                            stream_id,
                            fin: false,
                            headers: vec![],
                        })
                        .await;
                    let request = get(&headers, "requestid").unwrap_or_default().to_string();
                    let port = get(&headers, "port").and_then(|p| p.parse::<u16>().ok());
                    let pair = pairs.entry(request.clone()).or_default();
                    pair.port = pair.port.or(port);
                    match get(&headers, "streamtype") {
                        Some("error") => pair.error = Some(stream_id),
                        Some("data") => {
                            let (tx, rx) = mpsc::channel(64);
                            inbound.insert(stream_id, tx);
                            pair.data = Some((stream_id, rx));
                        }
                        _ => {
                            let _ = out_tx
                                .send(Frame::RstStream {
                                    stream_id,
                                    status: spdy::RST_PROTOCOL_ERROR,
                                })
                                .await;
                            continue;
                        }
                    }
                    if pair.error.is_some() && pair.data.is_some() {
                        if let Some(Pair {
                            error: Some(error),
                            data: Some((data, rx)),
                            port,
                        }) = pairs.remove(&request)
                        {
                            let handle = tokio::spawn(forward(
                                runtime.clone(),
                                sandbox.clone(),
                                port,
                                error,
                                data,
                                rx,
                                out_tx.clone(),
                            ))
                            .abort_handle();
                            tasks.insert(data, handle);
                        }
                    }
                }
                Frame::Data {
                    stream_id,
                    fin,
                    data,
                } => {
                    if !data.is_empty() {
                        if let Some(tx) = inbound.get(&stream_id) {
                            if tx.send(data).await.is_err() {
                                inbound.remove(&stream_id);
                            }
                        }
                    }
                    if fin {
                        // Half-close: the forwarder shuts the pod connection's write side.
                        inbound.remove(&stream_id);
                    }
                }
                Frame::RstStream { stream_id, .. } => {
                    inbound.remove(&stream_id);
                    if let Some(t) = tasks.remove(&stream_id) {
                        t.abort();
                    }
                }
                Frame::Ping { id } => {
                    let _ = out_tx.send(Frame::Ping { id }).await;
                }
                Frame::GoAway { .. } => break 'session,
                Frame::SynReply { .. }
                | Frame::Headers { .. }
                | Frame::Settings { .. }
                | Frame::WindowUpdate { .. }
                | Frame::Unknown { .. } => {}
            }
        }
        tasks.retain(|_, t| !t.is_finished());
        if buf.capacity() - buf.len() < 8192 {
            buf.reserve(64 * 1024);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    for (_, t) in tasks {
        t.abort();
    }
    drop(out_tx);
    let _ = writer.await;
}

/// Splice one data stream to the pod's port; report a failed dial on the error stream.
async fn forward(
    runtime: Arc<dyn RuntimeService>,
    sandbox: String,
    port: Option<u16>,
    error: u32,
    data: u32,
    mut inbound: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<Frame>,
) {
    let fin = |stream_id| Frame::Data {
        stream_id,
        fin: true,
        data: Bytes::new(),
    };
    let conn = match port {
        Some(p) => runtime
            .port_forward(&sandbox, p)
            .await
            .map_err(|e| format!("error forwarding port {p} to pod {sandbox}: {e}")),
        None => Err("port header missing or invalid".to_string()),
    };
    let conn = match conn {
        Ok(c) => c,
        Err(msg) => {
            let _ = out
                .send(Frame::Data {
                    stream_id: error,
                    fin: false,
                    data: Bytes::from(msg),
                })
                .await;
            let _ = out.send(fin(error)).await;
            let _ = out.send(fin(data)).await;
            return;
        }
    };
    let (mut pod_rd, mut pod_wr) = conn.into_split();
    let upstream = tokio::spawn(async move {
        while let Some(chunk) = inbound.recv().await {
            if pod_wr.write_all(&chunk).await.is_err() {
                return;
            }
        }
        // The client half-closed its data stream.
        let _ = pod_wr.shutdown().await;
    });
    let mut chunk = vec![0u8; CHUNK];
    loop {
        match pod_rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let frame = Frame::Data {
                    stream_id: data,
                    fin: false,
                    data: Bytes::copy_from_slice(chunk.get(..n).unwrap_or_default()),
                };
                if out.send(frame).await.is_err() {
                    upstream.abort();
                    return;
                }
            }
        }
    }
    // The pod closed its side: end both streams, as the kubelet does.
    upstream.abort();
    let _ = out.send(fin(data)).await;
    let _ = out.send(fin(error)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::RecordingRuntime;
    use std::time::Duration;

    fn headers(kind: &str, port: &str, request: &str) -> Vec<(String, String)> {
        vec![
            ("streamtype".into(), kind.into()),
            ("port".into(), port.into()),
            ("requestid".into(), request.into()),
        ]
    }

    /// Open one forwarded connection as kubectl does, send `payload` and half-close; returns
    /// (data received, error text received) once both streams have ended.
    async fn forward_once(
        runtime: Arc<RecordingRuntime>,
        sandbox: String,
        payload: &[u8],
    ) -> (Vec<u8>, String) {
        let (server_io, client_io) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(session(server_io, runtime, sandbox));
        let (mut rd, mut wr) = tokio::io::split(client_io);
        let mut enc = spdy::Encoder::new();
        let mut out = BytesMut::new();
        for f in [
            Frame::SynStream {
                stream_id: 1,
                associated: 0,
                priority: 0,
                fin: false,
                unidirectional: false,
                headers: headers("error", "80", "0"),
            },
            Frame::SynStream {
                stream_id: 3,
                associated: 0,
                priority: 0,
                fin: false,
                unidirectional: false,
                headers: headers("data", "80", "0"),
            },
            Frame::Ping { id: 1 },
            Frame::Data {
                stream_id: 3,
                fin: true,
                data: Bytes::copy_from_slice(payload),
            },
        ] {
            enc.encode(&f, &mut out).expect("encode");
        }
        wr.write_all(&out).await.expect("write");
        let mut dec = spdy::Decoder::new();
        let mut buf = BytesMut::new();
        let (mut data, mut error) = (Vec::new(), String::new());
        let (mut replies, mut pongs, mut ended) = (0, 0, 0);
        let read = async {
            while ended < 2 {
                while let Some(f) = dec.decode(&mut buf).expect("decode") {
                    match f {
                        Frame::SynReply { .. } => replies += 1,
                        Frame::Ping { id: 1 } => pongs += 1,
                        Frame::Data {
                            stream_id,
                            fin,
                            data: d,
                        } => {
                            if stream_id == 3 {
                                data.extend_from_slice(&d);
                            } else {
                                error.push_str(&String::from_utf8_lossy(&d));
                            }
                            if fin {
                                ended += 1;
                            }
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                if ended < 2 {
                    assert!(
                        rd.read_buf(&mut buf).await.expect("read") > 0,
                        "session ended early"
                    );
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("both streams end");
        assert_eq!((replies, pongs), (2, 1));
        drop(wr);
        drop(rd);
        server.await.expect("session");
        (data, error)
    }

    #[tokio::test]
    async fn data_stream_is_spliced_to_the_pod_port() {
        let runtime = RecordingRuntime::new();
        let sb = runtime
            .run_sandbox(Default::default())
            .await
            .expect("sandbox");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        runtime.set_port_forward_target(listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.expect("read to half-close");
            s.write_all(b"pong:").await.expect("write");
            s.write_all(&got).await.expect("write");
        });
        let (data, error) = forward_once(runtime, sb.id, b"ping").await;
        assert_eq!(data, b"pong:ping");
        assert_eq!(error, "");
    }

    #[tokio::test]
    async fn dial_errors_go_to_the_error_stream() {
        let runtime = RecordingRuntime::new();
        let sb = runtime
            .run_sandbox(Default::default())
            .await
            .expect("sandbox");
        let (data, error) = forward_once(runtime, sb.id, b"ping").await;
        assert!(data.is_empty());
        assert!(
            error.starts_with("error forwarding port 80 to pod"),
            "{error}"
        );
        assert!(error.contains("connection refused"), "{error}");
    }
}
