//! Disruption zones and eviction rate limits (upstream's zone states): nodes are grouped
//! by `topology.kubernetes.io/zone`, and new NoExecute taints — which start evicting pods
//! — are rate-limited per zone: `--node-eviction-rate` normally; in a zone where more than
//! two nodes and at least `--unhealthy-zone-threshold` of them are not Ready,
//! `--secondary-node-eviction-rate` when the zone is larger than
//! `--large-cluster-size-threshold`, else none, since a partitioned zone looks the same as
//! failed nodes. (Every node down everywhere stops evictions altogether: see the monitor.)

use skiff_metrics::family;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The label naming a node's zone (nodes without it share the zone "").
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// How healthy a zone is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    /// Few nodes down.
    Normal,
    /// Many nodes down, some still Ready.
    PartialDisruption,
    /// No node Ready.
    FullDisruption,
}

/// Eviction rate settings (kube-controller-manager's flags of the same names).
#[derive(Debug, Clone)]
pub struct Rates {
    /// --node-eviction-rate: nodes per second to start evicting in a healthy zone.
    pub eviction_rate: f64,
    /// --secondary-node-eviction-rate: the same for a large, partially disrupted zone.
    pub secondary_eviction_rate: f64,
    /// --unhealthy-zone-threshold: share of not-Ready nodes that makes a zone disrupted.
    pub unhealthy_zone_threshold: f64,
    /// --large-cluster-size-threshold: zones up to this size stop evicting when disrupted.
    pub large_cluster_size_threshold: usize,
}

impl Default for Rates {
    fn default() -> Rates {
        Rates {
            eviction_rate: 0.1,
            secondary_eviction_rate: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
        }
    }
}

impl Rates {
    /// The zone's state from its Ready and not-Ready node counts (upstream's ComputeZoneState).
    pub fn zone_state(&self, ready: usize, not_ready: usize) -> ZoneState {
        if ready == 0 && not_ready > 0 {
            ZoneState::FullDisruption
        } else if not_ready > 2
            && not_ready as f64 / (ready + not_ready) as f64 >= self.unhealthy_zone_threshold
        {
            ZoneState::PartialDisruption
        } else {
            ZoneState::Normal
        }
    }

    /// New NoExecute taints per second allowed in a zone of `size` nodes in `state`.
    pub fn rate(&self, state: ZoneState, size: usize) -> f64 {
        match state {
            ZoneState::Normal | ZoneState::FullDisruption => self.eviction_rate,
            ZoneState::PartialDisruption if size > self.large_cluster_size_threshold => {
                self.secondary_eviction_rate
            }
            ZoneState::PartialDisruption => 0.0,
        }
    }
}

/// A token bucket holding at most one token (upstream's burst of 1), starting full — or,
/// at rate zero, never granting anything.
#[derive(Debug, Clone)]
pub struct Limiter {
    qps: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl Limiter {
    /// A full bucket refilling at `qps` tokens per second.
    pub fn new(qps: f64) -> Limiter {
        Limiter {
            qps,
            tokens: if qps > 0.0 { 1.0 } else { 0.0 },
            last: None,
        }
    }

    /// Change the rate: a new bucket, as upstream swaps limiters when a zone changes state.
    pub fn set_rate(&mut self, qps: f64) {
        if qps != self.qps {
            *self = Limiter::new(qps);
        }
    }

    /// Take a token if one is there at `now`.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.qps.max(0.0)).min(1.0);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next token (None when the rate is zero).
    pub fn next_in(&self) -> Option<Duration> {
        (self.qps > 0.0).then(|| Duration::from_secs_f64((1.0 - self.tokens).max(0.0) / self.qps))
    }
}

/// One zone's figures for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Figures {
    size: usize,
    unhealthy: usize,
    evictions: u64,
}

/// The latest figures per zone (kube-controller-manager's `node_collector_*` series).
static FIGURES: Mutex<BTreeMap<String, Figures>> = Mutex::new(BTreeMap::new());

fn figures() -> std::sync::MutexGuard<'static, BTreeMap<String, Figures>> {
    FIGURES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Record the zones' sizes and not-Ready counts as of a monitor pass; zones that are gone
/// leave `/metrics`.
pub(crate) fn record_zones(counts: &BTreeMap<String, (usize, usize)>) {
    let mut f = figures();
    f.retain(|zone, _| counts.contains_key(zone));
    for (zone, (ready, not_ready)) in counts {
        let entry = f.entry(zone.clone()).or_default();
        entry.size = ready + not_ready;
        entry.unhealthy = *not_ready;
    }
}

/// Count a node of `zone` that started evicting (got a NoExecute taint).
pub(crate) fn record_eviction(zone: &str) {
    figures().entry(zone.to_string()).or_default().evictions += 1;
}

/// Append the zone series (Prometheus text format).
pub fn render(out: &mut String) {
    let f = figures().clone();
    let series: [(&str, &str, &str, fn(&Figures) -> String); 4] = [
        (
            "node_collector_zone_size",
            "gauge",
            "Gauge measuring number of registered Nodes per zones.",
            |z| z.size.to_string(),
        ),
        (
            "node_collector_unhealthy_nodes_in_zone",
            "gauge",
            "Gauge measuring number of not Ready Nodes per zones.",
            |z| z.unhealthy.to_string(),
        ),
        (
            "node_collector_zone_health",
            "gauge",
            "Gauge measuring percentage of healthy nodes per zone.",
            |z| {
                let healthy = z.size.saturating_sub(z.unhealthy) as f64;
                (100.0 * healthy / z.size.max(1) as f64).to_string()
            },
        ),
        (
            "node_collector_evictions_total",
            "counter",
            "Number of Node evictions that happened since current instance of NodeController started.",
            |z| z.evictions.to_string(),
        ),
    ];
    for (name, kind, help, value) in series {
        family(out, name, kind, help);
        for (zone, z) in &f {
            let _ = writeln!(out, "{name}{{zone=\"{zone}\"}} {}", value(z));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_figures_render_as_node_collector_series() {
        let counts: BTreeMap<String, (usize, usize)> =
            [("test-zone-a".to_string(), (3, 1))].into_iter().collect();
        record_zones(&counts);
        record_eviction("test-zone-a");
        let mut out = String::new();
        render(&mut out);
        for line in [
            "node_collector_zone_size{zone=\"test-zone-a\"} 4\n",
            "node_collector_unhealthy_nodes_in_zone{zone=\"test-zone-a\"} 1\n",
            "node_collector_zone_health{zone=\"test-zone-a\"} 75\n",
            "node_collector_evictions_total{zone=\"test-zone-a\"} 1\n",
        ] {
            assert!(out.contains(line), "{line} missing from {out}");
        }
    }

    #[test]
    fn zone_states_follow_upstream() {
        let r = Rates::default();
        assert_eq!(r.zone_state(3, 0), ZoneState::Normal);
        assert_eq!(r.zone_state(0, 1), ZoneState::FullDisruption);
        // Two down are never a partial disruption, whatever the share.
        assert_eq!(r.zone_state(1, 2), ZoneState::Normal);
        assert_eq!(r.zone_state(2, 3), ZoneState::PartialDisruption);
        assert_eq!(r.zone_state(4, 3), ZoneState::Normal);
        assert_eq!(r.zone_state(0, 0), ZoneState::Normal);
    }

    #[test]
    fn disrupted_small_zones_stop_evicting_and_large_ones_slow_down() {
        let r = Rates::default();
        assert_eq!(r.rate(ZoneState::Normal, 3), 0.1);
        assert_eq!(r.rate(ZoneState::FullDisruption, 3), 0.1);
        assert_eq!(r.rate(ZoneState::PartialDisruption, 10), 0.0);
        assert_eq!(r.rate(ZoneState::PartialDisruption, 51), 0.01);
    }

    #[test]
    fn the_bucket_allows_one_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut l = Limiter::new(0.1);
        assert!(l.try_take(t0), "starts full");
        assert!(!l.try_take(t0 + Duration::from_secs(5)));
        let wait = l.next_in().expect("a positive rate");
        assert!((wait.as_secs_f64() - 5.0).abs() < 1e-6, "{wait:?}");
        assert!(l.try_take(t0 + Duration::from_secs(10)));
        // A long quiet spell still holds a single token.
        assert!(l.try_take(t0 + Duration::from_secs(100)));
        assert!(!l.try_take(t0 + Duration::from_secs(101)));
        // A zone that stops evicting grants nothing, even from a full bucket; a new rate
        // starts a new, full bucket.
        let mut l = Limiter::new(0.1);
        l.set_rate(0.0);
        assert!(!l.try_take(t0 + Duration::from_secs(1000)));
        assert_eq!(l.next_in(), None);
        l.set_rate(0.01);
        assert!(l.try_take(t0 + Duration::from_secs(1001)));
        assert!(!l.try_take(t0 + Duration::from_secs(1002)));
    }
}
