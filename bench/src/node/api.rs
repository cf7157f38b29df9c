//! Small JSON helpers over one keep-alive connection, and a pod-event watcher.

use crate::conn::{Conn, Endpoint};
use crate::error::BenchError;
use crate::watch::LineSplitter;
use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

fn parse(body: &[u8]) -> Result<Value, BenchError> {
    serde_json::from_slice(body).map_err(|source| BenchError::Body {
        context: "a JSON response",
        source,
    })
}

/// GET `path` as JSON (200 required).
pub async fn get(conn: &mut Conn, path: &str) -> Result<Value, BenchError> {
    let body = conn
        .expect(Method::GET, path, Some("application/json"), None, 200)
        .await?;
    parse(&body)
}

/// POST `obj` to `path`; `expected` is the status to require (201 for creates).
pub async fn post(
    conn: &mut Conn,
    path: &str,
    obj: &Value,
    expected: u16,
) -> Result<(), BenchError> {
    let body = Bytes::from(serde_json::to_vec(obj).unwrap_or_default());
    conn.expect(Method::POST, path, None, Some(body), expected)
        .await
        .map(drop)
}

/// Create namespace `name`.
pub async fn create_namespace(conn: &mut Conn, name: &str) -> Result<(), BenchError> {
    let ns =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    post(conn, "/api/v1/namespaces", &ns, 201).await
}

/// Poll until `count` nodes report Ready=True (or the timeout passes).
pub async fn wait_nodes_ready(
    endpoint: &Endpoint,
    count: usize,
    timeout: Duration,
) -> Result<(), BenchError> {
    let mut conn = endpoint.connect().await?;
    let start = Instant::now();
    let mut ready = 0;
    while start.elapsed() < timeout {
        let list = get(&mut conn, "/api/v1/nodes").await?;
        ready = list["items"]
            .as_array()
            .map(|items| items.iter().filter(|n| node_ready(n)).count())
            .unwrap_or(0);
        if ready >= count {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(BenchError::NotReady {
        what: format!("{count} nodes"),
        secs: timeout.as_secs(),
        detail: format!(": only {ready} Ready"),
    })
}

fn node_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// A pod event seen on a watch: the pod's name and its object.
pub struct PodEvent {
    /// When the event arrived.
    pub at: Instant,
    /// Pod name.
    pub name: String,
    /// The pod.
    pub pod: Value,
}

/// Watch the pods of namespace `ns` from the current resourceVersion; every event is sent on
/// the returned channel until the receiver is dropped.
pub async fn watch_pods(
    endpoint: &Endpoint,
    ns: &str,
) -> Result<(mpsc::UnboundedReceiver<PodEvent>, JoinHandle<()>), BenchError> {
    let mut conn = endpoint.connect().await?;
    let list = get(&mut conn, &format!("/api/v1/namespaces/{ns}/pods?limit=1")).await?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let path = format!("/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={rv}");
    let req = conn.request(Method::GET, &path, Some("application/json"), None)?;
    let resp = conn.send(req).await?;
    if resp.status().as_u16() != 200 {
        return Err(BenchError::Status {
            method: "GET".into(),
            path,
            expected: 200,
            status: resp.status().as_u16(),
            body: String::new(),
        });
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let mut body = resp.into_body();
    let task = tokio::spawn(async move {
        let _conn = conn;
        let mut lines = LineSplitter::default();
        while let Some(Ok(frame)) = body.frame().await {
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let at = Instant::now();
            let mut closed = false;
            lines.push(&data, |line| {
                let Ok(ev) = serde_json::from_slice::<Value>(line) else {
                    return;
                };
                let pod = ev["object"].clone();
                let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
                if tx.send(PodEvent { at, name, pod }).is_err() {
                    closed = true;
                }
            });
            if closed {
                return;
            }
        }
    });
    Ok((rx, task))
}
