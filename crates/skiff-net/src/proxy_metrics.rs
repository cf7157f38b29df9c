//! The service proxy's Prometheus series (kube-proxy's names), rendered on demand.

use skiff_metrics::{family, Histogram};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

const SYNC: &str = "kubeproxy_sync_proxy_rules_duration_seconds";
const PROGRAMMING: &str = "kubeproxy_network_programming_duration_seconds";

#[derive(Default)]
struct Series {
    sync: Histogram,
    programming: Histogram,
}

/// Process-wide: one proxy per agent, and the agent's /metrics reads it without a handle.
static SERIES: LazyLock<Mutex<Series>> = LazyLock::new(Mutex::default);

/// Record how long one sync (rule generation and the nft commit) took.
pub(crate) fn observe_sync(d: Duration) {
    if let Ok(mut s) = SERIES.lock() {
        s.sync.observe(d.as_secs_f64());
    }
}

/// Record the time from receiving an EndpointSlice change to its rules being committed.
pub(crate) fn observe_programming(d: Duration) {
    if let Ok(mut s) = SERIES.lock() {
        s.programming.observe(d.as_secs_f64());
    }
}

/// The service proxy's metrics in Prometheus text format, for the agent's /metrics.
pub fn proxy_metrics() -> String {
    let mut out = String::new();
    let Ok(s) = SERIES.lock() else {
        return out;
    };
    family(
        &mut out,
        SYNC,
        "histogram",
        "SyncProxyRules latency in seconds",
    );
    s.sync.render(&mut out, SYNC, "");
    family(
        &mut out,
        PROGRAMMING,
        "histogram",
        "In Cluster Network Programming Latency in seconds",
    );
    s.programming.render(&mut out, PROGRAMMING, "");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_histograms() {
        observe_sync(Duration::from_millis(3));
        observe_programming(Duration::from_millis(20));
        let text = proxy_metrics();
        assert!(text.contains("# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram"));
        assert!(
            text.contains("kubeproxy_network_programming_duration_seconds_bucket{le=\"0.025\"}")
        );
    }
}
