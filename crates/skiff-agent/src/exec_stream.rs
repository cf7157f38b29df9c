//! `exec` and `attach` over websockets with the Kubernetes channel protocol (v5, v4), as the
//! kubelet serves them: stdin on channel 0, stdout 1, stderr 2 (none with a TTY), resize 4,
//! and the final `metav1.Status` on channel 3, after which the websocket closes.
//!
//! Attach follows the container's log (the shim does not expose a running container's
//! stdio), so it streams output but refuses stdin.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use skiff_cri::ExecIo;
use skiff_streams::channel::{self, Incoming};
use skiff_streams::websocket::{self, Message, Role, WsReader, WsSender};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::logs::LogOptions;
use crate::server::{text, ApiState, Body};
use crate::stream_target::{query_pairs, running_container};

/// What the client asked for in the query string.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct StreamOptions {
    /// The command (exec only), one `command=` per argument.
    pub command: Vec<String>,
    /// Attach stdin.
    pub stdin: bool,
    /// Attach stdout.
    pub stdout: bool,
    /// Attach stderr.
    pub stderr: bool,
    /// Allocate a TTY.
    pub tty: bool,
}

impl StreamOptions {
    fn parse(q: Option<&str>) -> Self {
        let mut o = StreamOptions::default();
        for (k, v) in query_pairs(q) {
            let on = v == "true" || v == "1";
            match k.as_str() {
                "command" => o.command.push(v),
                "stdin" | "input" => o.stdin = on,
                "stdout" | "output" => o.stdout = on,
                "stderr" | "error" => o.stderr = on,
                "tty" => o.tty = on,
                _ => {}
            }
        }
        if o.tty {
            // A terminal merges stderr into stdout.
            o.stderr = false;
        }
        o
    }
}

/// The websocket subprotocol to answer, or an error response when the request is not a
/// websocket upgrade this agent can serve.
fn websocket_protocol<B>(
    req: &Request<B>,
    offer: impl Fn(&str) -> Option<&'static str>,
) -> Result<(&'static str, String), Response<Body>> {
    let h = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    let is_ws = h("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let Some(key) = h("sec-websocket-key").filter(|_| is_ws) else {
        return Err(text(
            StatusCode::BAD_REQUEST,
            "this endpoint is served over websockets only (Upgrade: websocket)",
        ));
    };
    let offered = req
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let protocol = offer(&offered).ok_or_else(|| {
        text(
            StatusCode::BAD_REQUEST,
            format!("unsupported websocket subprotocols {offered:?}"),
        )
    })?;
    Ok((protocol, websocket::accept_key(key)))
}

/// The 101 answer to a websocket upgrade.
pub(crate) fn switching_to_websocket(protocol: &str, accept: &str) -> Response<Body> {
    let mut r = text(StatusCode::SWITCHING_PROTOCOLS, "");
    let h = r.headers_mut();
    h.remove(http::header::CONTENT_TYPE);
    for (k, v) in [
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-accept", accept),
        ("sec-websocket-protocol", protocol),
    ] {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    }
    r
}

/// Serve `/exec/{ns}/{pod}/{container}` and `/attach/...`.
pub(crate) async fn serve<B: Send + 'static>(
    state: &ApiState,
    mut req: Request<B>,
    ns: &str,
    pod: &str,
    container: &str,
    attach: bool,
) -> Response<Body> {
    let opts = StreamOptions::parse(req.uri().query());
    let (protocol, accept) = match websocket_protocol(&req, channel::negotiate) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !attach && opts.command.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 command",
        );
    }
    if !(opts.stdin || opts.stdout || opts.stderr) {
        return text(
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 of stdin, stdout, stderr",
        );
    }
    if attach && opts.stdin {
        return text(
            StatusCode::BAD_REQUEST,
            "skiff cannot attach to a running container's stdin yet; attach without -i, or use kubectl exec -i",
        );
    }
    let id = match running_container(&state.logs_root, state.runtime.as_ref(), ns, pod, container)
        .await
    {
        Ok(id) => id,
        Err(r) => return r,
    };
    let follow = if attach {
        // Only output written from now on, as attaching to the live streams would show.
        let opts = LogOptions {
            follow: true,
            tail_lines: Some(0),
            ..LogOptions::default()
        };
        let r = crate::server::container_logs(state, ns, pod, container, opts).await;
        if !r.status().is_success() {
            return r;
        }
        Some(r.into_body())
    } else {
        None
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let runtime = state.runtime.clone();
    let span = tracing::debug_span!("exec_stream", %ns, %pod, %container, attach);
    tokio::spawn(
        async move {
            let upgraded = match on_upgrade.await {
                Ok(u) => u,
                Err(e) => {
                    tracing::debug!(error = %e, "upgrade failed");
                    return;
                }
            };
            let io = TokioIo::new(upgraded);
            match follow {
                Some(body) => attach_session(io, protocol, body).await,
                None => exec_session(io, protocol, runtime, id, opts).await,
            }
        }
        .instrument(span),
    );
    switching_to_websocket(protocol, &accept)
}

/// Forward everything written to the returned pipe as messages on `ch`.
fn channel_pipe(ch: u8, sender: &WsSender) -> (Box<dyn AsyncWrite + Send + Unpin>, JoinHandle<()>) {
    let (w, mut r) = tokio::io::duplex(64 * 1024);
    let sender = sender.clone();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let data = buf.get(..n).unwrap_or_default();
                    if !sender.binary(channel::message(ch, data)).await {
                        break;
                    }
                }
            }
        }
    });
    (Box::new(w), task)
}

/// Read client messages: stdin data, resizes, v5 channel closes. Ends when the client
/// closes the websocket (stdin then ends too).
fn client_input<R: AsyncRead + Unpin + Send + 'static>(
    mut reader: WsReader<R>,
    protocol: &'static str,
    mut stdin: Option<tokio::io::DuplexStream>,
    resize: Option<mpsc::Sender<(u16, u16)>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(Some(Message::Binary(b) | Message::Text(b))) = reader.next().await {
            match channel::parse(&b, protocol) {
                Incoming::Stdin(data) => {
                    if let Some(w) = stdin.as_mut() {
                        if w.write_all(&data).await.is_err() {
                            stdin = None;
                        }
                    }
                }
                Incoming::Resize(w, h) => {
                    if let Some(tx) = &resize {
                        let _ = tx.try_send((w, h));
                    }
                }
                Incoming::Close(channel::STDIN) => {
                    if let Some(mut w) = stdin.take() {
                        let _ = w.shutdown().await;
                    }
                }
                Incoming::Close(_) | Incoming::Ignored => {}
            }
        }
    })
}

async fn finish(sender: WsSender, writer: JoinHandle<()>, input: JoinHandle<()>, status: Bytes) {
    let _ = sender
        .binary(channel::message(channel::ERROR, &status))
        .await;
    sender.close(1000, "").await;
    drop(sender);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    input.abort();
}

async fn exec_session<S>(
    io: S,
    protocol: &'static str,
    runtime: std::sync::Arc<dyn skiff_cri::RuntimeService>,
    id: String,
    opts: StreamOptions,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, sender, writer) = websocket::start(io, Role::Server);
    let (stdin_w, stdin_r) = if opts.stdin {
        let (w, r) = tokio::io::duplex(64 * 1024);
        (Some(w), Some(r))
    } else {
        (None, None)
    };
    let mut forwards = Vec::new();
    let mut pipe = |wanted: bool, ch: u8| {
        wanted.then(|| {
            let (w, task) = channel_pipe(ch, &sender);
            forwards.push(task);
            w
        })
    };
    let stdout = pipe(opts.stdout, channel::STDOUT);
    let stderr = pipe(opts.stderr, channel::STDERR);
    let (resize_tx, resize_rx) = if opts.tty {
        let (tx, rx) = mpsc::channel(8);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let input = client_input(reader, protocol, stdin_w, resize_tx);
    let io = ExecIo {
        stdin: stdin_r.map(|r| Box::new(r) as Box<dyn AsyncRead + Send + Unpin>),
        stdout,
        stderr,
        resize: resize_rx,
        tty: opts.tty,
    };
    let result = runtime.exec(&id, opts.command.clone(), io).await;
    for f in forwards {
        // The runtime shut its outputs down; give the last bytes time to leave.
        let _ = tokio::time::timeout(Duration::from_secs(5), f).await;
    }
    let status = match result {
        Ok(code) => channel::exit_status(code),
        Err(e) => channel::error_status(&format!("error executing command in container: {e}")),
    };
    finish(sender, writer, input, status).await;
}

async fn attach_session<S>(io: S, protocol: &'static str, mut logs: Body)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, sender, writer) = websocket::start(io, Role::Server);
    let input = client_input(reader, protocol, None, None);
    loop {
        tokio::select! {
            frame = logs.frame() => match frame {
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        if !sender.binary(channel::message(channel::STDOUT, &data)).await {
                            break;
                        }
                    }
                }
                // The container stopped: its output is complete.
                _ => break,
            },
            // The client went away.
            _ = wait_finished(&input) => {
                input.abort();
                return;
            }
        }
    }
    finish(sender, writer, input, channel::exit_status(0)).await;
}

async fn wait_finished(task: &JoinHandle<()>) {
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::recording::RecordingRuntime;
    use std::collections::BTreeMap;

    /// Run an exec session against the recording runtime as a v5 client; returns what
    /// arrived on each channel.
    async fn client_session(
        runtime: std::sync::Arc<RecordingRuntime>,
        command: &str,
        stdin: &[&[u8]],
    ) -> BTreeMap<u8, Vec<u8>> {
        let (server_io, client_io) = tokio::io::duplex(64 * 1024);
        let opts = StreamOptions {
            command: vec![command.to_string()],
            stdin: true,
            stdout: true,
            stderr: true,
            tty: false,
        };
        let session = tokio::spawn(exec_session(
            server_io,
            channel::V5,
            runtime,
            "uid1_c_0".into(),
            opts,
        ));
        let (mut reader, sender, _writer) = websocket::start(client_io, Role::Client);
        for chunk in stdin {
            assert!(sender.binary(channel::message(channel::STDIN, chunk)).await);
        }
        assert!(
            sender
                .binary(Bytes::from_static(&[channel::CLOSE, channel::STDIN]))
                .await
        );
        let mut got: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
        let read = async {
            while let Some(Message::Binary(b)) = reader.next().await.expect("read") {
                if let Some((ch, data)) = b.split_first() {
                    got.entry(*ch).or_default().extend_from_slice(data);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("session ends");
        session.await.expect("session");
        got
    }

    #[tokio::test]
    async fn exec_streams_stdin_to_stdout_and_reports_success() {
        let got = client_session(RecordingRuntime::new(), "cat", &[b"hello ", b"world"]).await;
        assert_eq!(
            got.get(&channel::STDOUT).map(Vec::as_slice),
            Some(&b"hello world"[..])
        );
        assert_eq!(
            got.get(&channel::STDERR).map(Vec::as_slice),
            Some(&b"stderr line\n"[..])
        );
        let status: serde_json::Value =
            serde_json::from_slice(&got[&channel::ERROR]).expect("status json");
        assert_eq!(status["status"], "Success");
    }

    #[tokio::test]
    async fn exec_reports_a_non_zero_exit_code() {
        let runtime = RecordingRuntime::new();
        runtime.set_exec_exit("false", 3);
        let got = client_session(runtime, "false", &[]).await;
        let status: serde_json::Value =
            serde_json::from_slice(&got[&channel::ERROR]).expect("status json");
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "3");
    }

    #[test]
    fn options_from_kubectl_query() {
        let o = StreamOptions::parse(Some(
            "command=sh&command=-c&command=echo+hi&container=c&stdin=true&stdout=true&stderr=true&tty=true",
        ));
        assert_eq!(o.command, vec!["sh", "-c", "echo hi"]);
        assert!(o.stdin && o.stdout && o.tty);
        assert!(!o.stderr, "a tty has no separate stderr");
    }
}
