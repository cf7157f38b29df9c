//! The agent's HTTPS API (the kubelet port): container logs, health, metrics, and the
//! streaming endpoints exec, attach (`exec_stream`) and portForward (`port_forward`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use skiff_cri::RuntimeService;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use crate::error::AgentError;
use crate::logs::{self, LogOptions};

/// Response bodies of the agent API.
pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

/// What the API handlers need.
#[derive(Clone)]
pub(crate) struct ApiState {
    /// Root of the container log directories.
    pub logs_root: PathBuf,
    /// The runtime (stats, container state for follow).
    pub runtime: Arc<dyn RuntimeService>,
}

/// A plain-text response.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(body.into()))
            .map_err(|e: Infallible| match e {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or_default()
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Log options from the query string, as the kubelet reads them.
pub(crate) fn log_options(q: Option<&str>) -> Result<LogOptions, String> {
    let q = parse_query(q);
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
    let num = |k: &str| -> Result<Option<i64>, String> {
        q.get(k)
            .map(|v| v.parse::<i64>().map_err(|_| format!("invalid {k}: {v:?}")))
            .transpose()
    };
    Ok(LogOptions {
        follow: flag("follow"),
        previous: flag("previous"),
        timestamps: flag("timestamps"),
        tail_lines: num("tailLines")?.map(|n| n.max(0) as usize),
        since_seconds: num("sinceSeconds")?,
        limit_bytes: num("limitBytes")?.map(|n| n.max(0) as usize),
    })
}

/// Route one request (the body is never read: endpoints are GETs or upgrades).
pub(crate) async fn handle<B: Send + 'static>(state: ApiState, req: Request<B>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method(), segs.as_slice()) {
        (&Method::GET, ["healthz"]) => text(StatusCode::OK, "ok"),
        (&Method::GET, ["metrics", "resource"]) => {
            crate::resource_metrics::response(&state.logs_root, &state.runtime).await
        }
        (&Method::GET, ["metrics"]) => {
            // The node's own series, then its service proxy's (kube-proxy's names).
            let mut body = crate::metrics::render(&state.logs_root, &state.runtime).await;
            body.push_str(&skiff_net::proxy_metrics());
            let mut r = text(StatusCode::OK, body);
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        (&Method::GET, ["containerLogs", ns, pod, container]) => {
            match log_options(req.uri().query()) {
                Ok(opts) => container_logs(&state, ns, pod, container, opts).await,
                Err(msg) => text(StatusCode::BAD_REQUEST, msg),
            }
        }
        (&Method::GET | &Method::POST, [verb @ ("exec" | "attach"), ns, pod, container]) => {
            let attach = *verb == "attach";
            let (ns, pod, container) = (ns.to_string(), pod.to_string(), container.to_string());
            crate::exec_stream::serve(&state, req, &ns, &pod, &container, attach).await
        }
        (&Method::GET | &Method::POST, ["portForward", ns, pod]) => {
            let (ns, pod) = (ns.to_string(), pod.to_string());
            crate::port_forward::serve(&state, req, &ns, &pod).await
        }
        (_, ["exec" | "attach" | "portForward" | "run", ..]) => text(
            StatusCode::NOT_IMPLEMENTED,
            format!("{} is not implemented by this agent yet", segs[0]),
        ),
        _ => text(StatusCode::NOT_FOUND, "404 page not found"),
    }
}

/// Whether the log at `path` is no longer the file `f` has open (it was rotated).
async fn rotated(f: &tokio::fs::File, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(open), Ok(now)) = (f.metadata().await, tokio::fs::metadata(path).await) else {
        return false;
    };
    open.ino() != now.ino() || open.dev() != now.dev()
}

/// Serve a container's log (streamed while following).
pub(crate) async fn container_logs(
    state: &ApiState,
    ns: &str,
    pod: &str,
    container: &str,
    opts: LogOptions,
) -> Response<Body> {
    let file = match logs::select_file(&state.logs_root, ns, pod, container, opts.previous) {
        Ok(f) => f,
        Err(e @ (logs::LogError::NotFound { .. } | logs::LogError::NoPrevious(_))) => {
            return text(StatusCode::NOT_FOUND, e.to_string())
        }
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let content = match tokio::fs::read(&file).await {
        Ok(c) => c,
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading log: {e}"),
            )
        }
    };
    // Only complete lines are rendered; a trailing partial line is left for follow.
    let complete = content
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|p| p + 1)
        .unwrap_or(0);
    let first = logs::render(
        &String::from_utf8_lossy(&content[..complete]),
        &opts,
        chrono::Utc::now(),
    );
    if !opts.follow || opts.previous {
        return text(StatusCode::OK, first);
    }
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(16);
    let runtime = state.runtime.clone();
    let mut budget = opts.limit_bytes.map(|l| l.saturating_sub(first.len()));
    let render_opts = LogOptions {
        tail_lines: None,
        since_seconds: None,
        limit_bytes: None,
        ..opts
    };
    let container_id = file
        .parent()
        .and_then(|d| d.parent())
        .and_then(|d| d.file_name())
        .map(|n| {
            n.to_string_lossy()
                .rsplit('_')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .map(|uid| {
            let inst = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{uid}_{container}_{inst}")
        })
        .unwrap_or_default();
    tokio::spawn(
        async move {
            if tx.send(Ok(Frame::data(Bytes::from(first)))).await.is_err() {
                return;
            }
            // The file stays open so a rotation (the shim renames it and starts a new one)
            // is noticed: the old file is drained before following the new one.
            let Ok(mut f) = tokio::fs::File::open(&file).await else {
                return;
            };
            if f.seek(std::io::SeekFrom::Start(complete as u64))
                .await
                .is_err()
            {
                return;
            }
            let mut pending: Vec<u8> = Vec::new();
            loop {
                if f.read_to_end(&mut pending).await.is_err() {
                    return;
                }
                let complete = pending
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map(|p| p + 1)
                    .unwrap_or(0);
                if complete > 0 {
                    let mut out = logs::render(
                        &String::from_utf8_lossy(&pending[..complete]),
                        &render_opts,
                        chrono::Utc::now(),
                    );
                    pending.drain(..complete);
                    if let Some(b) = budget.as_mut() {
                        out.truncate((*b).min(out.len()));
                        *b -= out.len();
                    }
                    if tx.send(Ok(Frame::data(Bytes::from(out)))).await.is_err()
                        || budget == Some(0)
                    {
                        return;
                    }
                    continue;
                }
                if rotated(&f, &file).await {
                    // Nothing is written to a rotated file: read its tail, then switch.
                    if f.read_to_end(&mut pending).await.is_err() {
                        return;
                    }
                    match tokio::fs::File::open(&file).await {
                        Ok(next) => f = next,
                        Err(_) => return,
                    }
                    continue;
                }
                // Stop following once the instance has ended (its log is complete).
                let running = matches!(
                    runtime.container_state(&container_id).await,
                    Ok(skiff_cri::ContainerState::Running { .. })
                );
                if !running {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = tx.closed() => return,
                }
            }
        }
        .instrument(tracing::debug_span!("log_follow")),
    );
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Serve the API with `tls` on `addr` until shutdown.
pub(crate) async fn serve(
    addr: std::net::SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    state: ApiState,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tracing::info!(%addr, "agent API listening");
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return Ok(()),
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(
            async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                };
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(state, req).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(e) = builder
                    .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                    .await
                {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            }
            .instrument(tracing::debug_span!("agent_api_conn", %peer)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::RecordingRuntime;

    async fn get(state: &ApiState, uri: &str) -> (StatusCode, String) {
        let req = Request::get(uri).body(()).expect("request");
        let resp = handle(state.clone(), req).await;
        let status = resp.status();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn endpoints() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("default_web_uid1/c");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("0.log"), "2026-01-01T00:00:00Z stdout F old\n").expect("w");
        std::fs::write(
            dir.join("1.log"),
            "2026-01-01T00:00:01Z stdout F a\n2026-01-01T00:00:02Z stderr F b\n",
        )
        .expect("w");
        let state = ApiState {
            logs_root: tmp.path().to_path_buf(),
            runtime: RecordingRuntime::new(),
        };
        assert_eq!(get(&state, "/healthz").await, (StatusCode::OK, "ok".into()));
        assert_eq!(
            get(&state, "/containerLogs/default/web/c").await,
            (StatusCode::OK, "a\nb\n".into())
        );
        assert_eq!(
            get(&state, "/containerLogs/default/web/c?tailLines=1").await,
            (StatusCode::OK, "b\n".into())
        );
        assert_eq!(
            get(&state, "/containerLogs/default/web/c?previous=true").await,
            (StatusCode::OK, "old\n".into())
        );
        assert_eq!(
            get(
                &state,
                "/containerLogs/default/web/c?timestamps=true&limitBytes=23"
            )
            .await,
            (StatusCode::OK, "2026-01-01T00:00:01Z a\n".into())
        );
        // follow ends when the instance is not running (the recording runtime has none).
        assert_eq!(
            get(&state, "/containerLogs/default/web/c?follow=true").await,
            (StatusCode::OK, "a\nb\n".into())
        );
        assert_eq!(
            get(&state, "/containerLogs/default/web/nope").await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&state, "/containerLogs/default/web/c?tailLines=x")
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
        let (code, body) = get(&state, "/exec/default/web/c?command=sh").await;
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert!(body.contains("websockets"), "{body}");
        let (code, _) = get(&state, "/run/default/web/c").await;
        assert_eq!(code, StatusCode::NOT_IMPLEMENTED);
        let (code, body) = get(&state, "/metrics").await;
        assert_eq!(code, StatusCode::OK);
        assert!(body.contains("skiff_agent_running_pods 0"), "{body}");
        assert!(
            body.contains("# TYPE kubeproxy_network_programming_duration_seconds histogram"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn follow_streams_new_lines() {
        use skiff_cri::RuntimeService;
        let tmp = tempfile::tempdir().expect("tmp");
        let runtime = RecordingRuntime::new();
        let sb = runtime
            .run_sandbox(Default::default())
            .await
            .expect("sandbox");
        let log = tmp.path().join("default_web_uid1/c/0.log");
        let cfg = skiff_cri::ContainerConfig {
            id: "uid1_c_0".into(),
            sandbox_id: sb.id,
            name: "c".into(),
            log_path: log.clone(),
            ..Default::default()
        };
        runtime.create_container(cfg).await.expect("create");
        runtime.start_container("uid1_c_0").await.expect("start");
        let state = ApiState {
            logs_root: tmp.path().to_path_buf(),
            runtime: runtime.clone(),
        };
        let req = Request::get("/containerLogs/default/web/c?follow=true")
            .body(())
            .expect("req");
        let mut body = handle(state, req).await.into_body();
        let first = body
            .frame()
            .await
            .expect("frame")
            .expect("ok")
            .into_data()
            .expect("data");
        assert_eq!(&first[..], b"started c\n");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .expect("open");
        std::io::Write::write_all(
            &mut f,
            b"2026-01-01T00:00:03Z stdout P par\n2026-01-01T00:00:03Z stdout F tial\n",
        )
        .expect("append");
        let next = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("in time");
        let next = next.expect("frame").expect("ok").into_data().expect("data");
        assert_eq!(&next[..], b"partial\n");
        runtime.exit_container("c", 0, false);
        let end = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("stream ends");
        assert!(end.is_none());
    }
}
