//! Polls every node agent's `/metrics/resource` at a fixed resolution (metrics-server's job)
//! and keeps the last two points per series in [`ApiServer::resource_metrics`].
//!
//! Cheap when idle: one request per real node every [`RESOLUTION`], nothing when there are
//! no nodes; simulated nodes have no agent and are skipped.

use super::prom;
use super::series::Scrape;
use crate::state::ApiServer;
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// How often nodes are scraped.
pub const RESOLUTION: Duration = Duration::from_secs(10);

/// How long one node may take to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Largest page accepted from an agent.
const MAX_PAGE: usize = 16 << 20;

/// Label of nodes registered by `skiff agent --simulated` (no agent API behind them).
const SIMULATED_LABEL: &str = "skiff.dev/simulated";

/// Why scraping one node failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The agent could not be reached or refused the request.
    #[error("requesting /metrics/resource: {0}")]
    Request(String),
    /// The agent took longer than the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The page was not valid Prometheus text.
    #[error("parsing /metrics/resource: {0}")]
    Parse(#[from] prom::PromError),
}

fn simulated(node: &Value) -> bool {
    node.pointer("/metadata/labels")
        .and_then(|l| l.get(SIMULATED_LABEL))
        .and_then(Value::as_str)
        == Some("true")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn scrape_node(
    tls: Arc<rustls::ClientConfig>,
    addr: (String, u16),
) -> Result<Scrape, ScrapeError> {
    let fetch = async {
        let resp = crate::relay::get(tls, addr, "/metrics/resource")
            .await
            .map_err(|e| ScrapeError::Request(e.to_string()))?;
        let body = http_body_util::Limited::new(resp.into_body(), MAX_PAGE)
            .collect()
            .await
            .map_err(|e| ScrapeError::Request(e.to_string()))?
            .to_bytes();
        Ok::<_, ScrapeError>(body)
    };
    let body = tokio::time::timeout(TIMEOUT, fetch)
        .await
        .map_err(|_| ScrapeError::Timeout(TIMEOUT))??;
    let samples = prom::parse(&String::from_utf8_lossy(&body))?;
    Ok(Scrape::from_samples(&samples, now_ms()))
}

/// Scrape every real node once and record the results.
pub async fn scrape_once(state: &ApiServer) {
    let Some(tls) = state.agent_tls.read().clone() else {
        return;
    };
    let Some(nodes_info) = state.registry().get("", "v1", "nodes") else {
        return;
    };
    let (nodes, _) = state.store.list(&nodes_info.key_prefix());
    let mut names = HashSet::new();
    let mut jobs = Vec::new();
    for obj in nodes {
        let node = obj.value();
        let Some(name) = node.pointer("/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        if simulated(&node) {
            continue;
        }
        let Some(addr) = crate::relay::agent_address(&node) else {
            continue;
        };
        names.insert(name.to_string());
        let (name, tls) = (name.to_string(), tls.clone());
        jobs.push(async move { (name, scrape_node(tls, addr).await) });
    }
    state.resource_metrics.retain(&names);
    for (name, result) in futures_util::future::join_all(jobs).await {
        match result {
            Ok(scrape) => state.resource_metrics.record(&name, scrape),
            Err(e) => {
                tracing::debug!(node = %name, error = %e, "scraping resource metrics failed");
                state.resource_metrics.forget(&name);
            }
        }
    }
}

/// Scrape every [`RESOLUTION`] until shutdown.
pub async fn run(state: Arc<ApiServer>) {
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(RESOLUTION);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => scrape_once(&state).await,
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn simulated_nodes_are_recognised() {
        assert!(simulated(
            &json!({"metadata": {"labels": {"skiff.dev/simulated": "true"}}})
        ));
        assert!(!simulated(&json!({"metadata": {"labels": {}}})));
        assert!(!simulated(&json!({"metadata": {}})));
    }
}
