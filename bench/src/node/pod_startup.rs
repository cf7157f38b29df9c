//! Pod startup latency: pods created through the API on the embedded runc agent (image
//! cached), measured from just before the create request to the watch event that shows the
//! pod Running with its container started.

use super::api;
use crate::conn::Endpoint;
use crate::error::BenchError;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Namespace the benchmark's pods live in.
pub const NAMESPACE: &str = "bench-startup";

fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "app", "image": "busybox:1.36", "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", "3600"],
            }],
        },
    })
}

fn running(pod: &Value) -> bool {
    pod.pointer("/status/phase") == Some(&json!("Running"))
        && pod
            .pointer("/status/containerStatuses/0/state/running")
            .is_some()
}

/// Create `count` pods, `concurrency` at a time; returns each pod's create→Running latency.
pub async fn measure(
    endpoint: &Endpoint,
    count: usize,
    concurrency: usize,
) -> Result<Vec<Duration>, BenchError> {
    let mut conn = endpoint.connect().await?;
    api::create_namespace(&mut conn, NAMESPACE).await?;
    // The namespace's default ServiceAccount is created right after the namespace.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut events, watcher) = api::watch_pods(endpoint, NAMESPACE).await?;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (endpoint, sent, next) = (endpoint.clone(), sent.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut conn = endpoint.connect().await?;
            let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    return Ok::<(), BenchError>(());
                }
                let name = format!("p-{i}");
                sent.lock().await.insert(name.clone(), Instant::now());
                api::post(&mut conn, &path, &pod(&name), 201).await?;
                // Sequential pods (concurrency 1) start one after another, as a user's would.
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    let p = api::get(&mut conn, &format!("{path}/{name}")).await?;
                    if running(&p) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    let mut latencies = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60 + count as u64 * 2);
    while latencies.len() < count {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| {
                BenchError::Node(format!(
                    "only {} of {count} pods reached Running in time",
                    latencies.len()
                ))
            })?
            .ok_or_else(|| BenchError::Node("the pod watch ended".into()))?;
        if latencies.contains_key(&ev.name) || !running(&ev.pod) {
            continue;
        }
        if let Some(t0) = sent.lock().await.get(&ev.name) {
            latencies.insert(ev.name.clone(), ev.at.duration_since(*t0));
        }
    }
    watcher.abort();
    for w in workers {
        w.await.map_err(BenchError::Join)??;
    }
    Ok(latencies.into_values().collect())
}

/// Delete the benchmark's pods and wait until the agent has stopped them all.
pub async fn delete_all(endpoint: &Endpoint) -> Result<(), BenchError> {
    let mut conn = endpoint.connect().await?;
    let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    conn.expect(http::Method::DELETE, &path, None, None, 200)
        .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let list = api::get(&mut conn, &path).await?;
        if list["items"].as_array().is_none_or(|a| a.is_empty()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(BenchError::Node(
        "pods were not all deleted within 120 s".into(),
    ))
}
