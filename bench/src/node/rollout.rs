//! Workload controllers at scale: a Deployment scaled from nothing to all-available, and a
//! rolling update of a running Deployment, on simulated nodes (whose pods are Running and
//! Ready as soon as they are bound). Progress is read from the Deployment's status, as
//! `kubectl rollout status` reads it.

use super::api;
use crate::conn::{Conn, Endpoint};
use crate::error::BenchError;
use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

/// Namespace of the benchmark's Deployments.
pub const NAMESPACE: &str = "bench-deploy";

/// How often the Deployment's status is read.
const POLL: Duration = Duration::from_millis(200);

fn path(name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}")
}

/// A Deployment of `replicas` busybox pods, RollingUpdate with maxSurge 25% and
/// maxUnavailable 25% (upstream's defaults, spelled out).
fn deployment(name: &str, replicas: usize) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app", "image": "busybox:1.36",
                    "env": [{"name": "VERSION", "value": "1"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }]},
            },
        },
    })
}

/// Whether the rollout of `d` is complete: every replica updated and available, no old
/// replicas left, the latest spec observed (kubectl's rollout status rule).
fn complete(d: &Value, replicas: usize) -> bool {
    let n = |p: &str| d.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let want = replicas as u64;
    n("/status/observedGeneration") >= n("/metadata/generation")
        && n("/status/updatedReplicas") == want
        && n("/status/availableReplicas") == want
        && n("/status/replicas") == want
}

async fn wait_complete(
    conn: &mut Conn,
    name: &str,
    replicas: usize,
    t0: Instant,
    timeout: Duration,
) -> Result<f64, BenchError> {
    loop {
        let d = api::get(conn, &path(name)).await?;
        if complete(&d, replicas) {
            return Ok(t0.elapsed().as_secs_f64());
        }
        if t0.elapsed() > timeout {
            return Err(BenchError::NotReady {
                what: format!("deployment {name} ({replicas} replicas)"),
                secs: timeout.as_secs(),
                detail: format!(": status {}", d["status"]),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Create a Deployment of `replicas` and return the seconds until all are available.
pub async fn scale_up(endpoint: &Endpoint, name: &str, replicas: usize) -> Result<f64, BenchError> {
    let mut conn = endpoint.connect().await?;
    let t0 = Instant::now();
    api::post(
        &mut conn,
        &format!("/apis/apps/v1/namespaces/{NAMESPACE}/deployments"),
        &deployment(name, replicas),
        201,
    )
    .await?;
    let timeout = Duration::from_secs(120 + replicas as u64 / 20);
    wait_complete(&mut conn, name, replicas, t0, timeout).await
}

/// Change the template of a complete Deployment and return the seconds until the
/// rollout is complete again.
pub async fn roll(endpoint: &Endpoint, name: &str, replicas: usize) -> Result<f64, BenchError> {
    let mut conn = endpoint.connect().await?;
    let mut d = api::get(&mut conn, &path(name)).await?;
    d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("2");
    let body = Bytes::from(serde_json::to_vec(&d).unwrap_or_default());
    let t0 = Instant::now();
    conn.expect(Method::PUT, &path(name), None, Some(body), 200)
        .await?;
    let timeout = Duration::from_secs(120 + replicas as u64 / 10);
    wait_complete(&mut conn, name, replicas, t0, timeout).await
}

/// Create the benchmark's namespace.
pub async fn prepare(endpoint: &Endpoint) -> Result<(), BenchError> {
    let mut conn = endpoint.connect().await?;
    api::create_namespace(&mut conn, NAMESPACE).await?;
    // The namespace must be in the API server's cache before objects go into it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_needs_every_replica_updated_available_and_no_old_ones() {
        let mut d = json!({"metadata": {"generation": 2}, "status": {
            "observedGeneration": 2, "replicas": 10, "updatedReplicas": 10, "availableReplicas": 10}});
        assert!(complete(&d, 10));
        d["status"]["replicas"] = json!(12);
        assert!(!complete(&d, 10), "old replicas still there");
        d["status"]["replicas"] = json!(10);
        d["metadata"]["generation"] = json!(3);
        assert!(!complete(&d, 10), "spec not observed yet");
        d["status"]["observedGeneration"] = json!(3);
        d["status"]["availableReplicas"] = json!(9);
        assert!(!complete(&d, 10));
    }

    #[test]
    fn the_deployment_spells_out_the_surge() {
        let d = deployment("x", 5);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(d["spec"]["replicas"], 5);
    }
}
