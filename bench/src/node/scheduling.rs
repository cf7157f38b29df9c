//! End-to-end scheduling throughput: pods created through the API are bound by the embedded
//! scheduler onto simulated nodes (`skiff agent --simulated`); throughput counts bindings as
//! a watch observes them (spec.nodeName set), so it includes the API round trips.

use super::api;
use crate::conn::Endpoint;
use crate::error::BenchError;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Namespace of the scheduled pods.
pub const NAMESPACE: &str = "bench-sched";

/// What one scheduling run measured.
pub struct Scheduled {
    /// Pods created (and bound).
    pub pods: usize,
    /// First create sent → last create acknowledged.
    pub create_secs: f64,
    /// First create sent → last binding observed.
    pub total_secs: f64,
    /// Bindings per second over the whole run.
    pub pods_per_sec: f64,
    /// Median of per-second binding counts while bindings were flowing.
    pub median_per_sec: f64,
}

fn pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "sched-bench"}},
        "spec": {"containers": [{
            "name": "app", "image": "busybox:1.36",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
        }]},
    })
}

/// Create `count` pods with `clients` connections and wait until all are bound.
pub async fn measure(
    endpoint: &Endpoint,
    count: usize,
    clients: usize,
) -> Result<Scheduled, BenchError> {
    let mut conn = endpoint.connect().await?;
    api::create_namespace(&mut conn, NAMESPACE).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut events, watcher) = api::watch_pods(endpoint, NAMESPACE).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients.max(1) {
        let (endpoint, next) = (endpoint.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut conn = endpoint.connect().await?;
            let path = format!("/api/v1/namespaces/{NAMESPACE}/pods");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<Instant, BenchError>(Instant::now());
                }
                api::post(&mut conn, &path, &pod(&format!("p-{i}")), 201).await?;
            }
        }));
    }
    let mut bound = HashSet::with_capacity(count);
    let mut times = Vec::with_capacity(count);
    let deadline = Instant::now() + Duration::from_secs(120 + count as u64 / 100);
    while bound.len() < count {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| {
                BenchError::Node(format!(
                    "only {} of {count} pods bound in time",
                    bound.len()
                ))
            })?
            .ok_or_else(|| BenchError::Node("the pod watch ended".into()))?;
        let on_node = ev
            .pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if on_node && bound.insert(ev.name) {
            times.push(ev.at);
        }
    }
    watcher.abort();
    let mut created = t0;
    for w in workers {
        created = created.max(w.await.map_err(BenchError::Join)??);
    }
    let last = times.iter().max().copied().unwrap_or(t0);
    let total_secs = last.duration_since(t0).as_secs_f64();
    // Bindings per whole second since t0, ignoring the empty seconds before the first one.
    let mut per_sec = vec![0usize; total_secs.ceil() as usize + 1];
    for t in &times {
        per_sec[t.duration_since(t0).as_secs() as usize] += 1;
    }
    let first = per_sec.iter().position(|&n| n > 0).unwrap_or(0);
    let mut flowing: Vec<f64> = per_sec[first..].iter().map(|&n| n as f64).collect();
    // The last second is partial.
    flowing.pop();
    Ok(Scheduled {
        pods: count,
        create_secs: created.duration_since(t0).as_secs_f64(),
        total_secs,
        pods_per_sec: count as f64 / total_secs.max(1e-9),
        median_per_sec: crate::stats::median(&flowing).unwrap_or(0.0),
    })
}
