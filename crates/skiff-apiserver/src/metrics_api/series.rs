//! The last two scrapes of every node, and usage computed from them the way metrics-server
//! does: CPU is the rate of the cumulative counter between the two points, memory is the
//! latest working set, `timestamp` is the latest point and `window` the time between them.

use super::prom::Sample;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One reading of a cumulative CPU counter and a memory gauge.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Cumulative CPU time in seconds.
    pub cpu_seconds: f64,
    /// Working set in bytes.
    pub memory: u64,
    /// When it was read (milliseconds since the epoch).
    pub timestamp_ms: i64,
}

/// A container's reading, with its start time to notice restarts.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerPoint {
    /// The reading.
    pub point: Point,
    /// Start time in seconds since the epoch (0 when unknown).
    pub start_time: f64,
}

/// Everything one scrape of a node's `/metrics/resource` said.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    /// The node's own usage.
    pub node: Option<Point>,
    /// Containers by (namespace, pod, container).
    pub containers: BTreeMap<(String, String, String), ContainerPoint>,
}

impl Scrape {
    /// Build a scrape from parsed samples; `now_ms` stands in for missing timestamps.
    pub fn from_samples(samples: &[Sample], now_ms: i64) -> Scrape {
        let mut out = Scrape::default();
        let mut node_cpu = None;
        let mut node_mem = None;
        let mut memory: HashMap<(String, String, String), u64> = HashMap::new();
        let mut starts: HashMap<(String, String, String), f64> = HashMap::new();
        let key = |s: &Sample| {
            (
                s.label("namespace").to_string(),
                s.label("pod").to_string(),
                s.label("container").to_string(),
            )
        };
        let bytes = |v: f64| {
            if v.is_finite() && v > 0.0 {
                v as u64
            } else {
                0
            }
        };
        for s in samples {
            let ts = s.timestamp_ms.unwrap_or(now_ms);
            match s.name.as_str() {
                "node_cpu_usage_seconds_total" => node_cpu = Some((s.value, ts)),
                "node_memory_working_set_bytes" => node_mem = Some(bytes(s.value)),
                "container_cpu_usage_seconds_total" => {
                    out.containers.insert(
                        key(s),
                        ContainerPoint {
                            point: Point {
                                cpu_seconds: s.value,
                                memory: 0,
                                timestamp_ms: ts,
                            },
                            start_time: 0.0,
                        },
                    );
                }
                "container_memory_working_set_bytes" => {
                    memory.insert(key(s), bytes(s.value));
                }
                "container_start_time_seconds" => {
                    starts.insert(key(s), s.value);
                }
                _ => {}
            }
        }
        if let Some((cpu_seconds, timestamp_ms)) = node_cpu {
            out.node = Some(Point {
                cpu_seconds,
                memory: node_mem.unwrap_or(0),
                timestamp_ms,
            });
        }
        for (k, c) in out.containers.iter_mut() {
            c.point.memory = memory.get(k).copied().unwrap_or(0);
            c.start_time = starts.get(k).copied().unwrap_or(0.0);
        }
        out
    }
}

/// Usage over a window.
#[derive(Clone, Debug, PartialEq)]
pub struct Usage {
    /// CPU in nanocores.
    pub cpu_nanocores: u64,
    /// Working set in bytes.
    pub memory: u64,
    /// End of the window (milliseconds since the epoch).
    pub timestamp_ms: i64,
    /// Length of the window in milliseconds.
    pub window_ms: i64,
}

/// Usage between two points, or None when they cannot give a rate (same instant, or the
/// counter went backwards because the thing restarted).
pub fn rate(prev: &Point, last: &Point) -> Option<Usage> {
    let window_ms = last.timestamp_ms - prev.timestamp_ms;
    let delta = last.cpu_seconds - prev.cpu_seconds;
    if window_ms <= 0 || delta < 0.0 || !delta.is_finite() {
        return None;
    }
    let nanocores = (delta * 1e12 / window_ms as f64).round();
    Some(Usage {
        cpu_nanocores: nanocores as u64,
        memory: last.memory,
        timestamp_ms: last.timestamp_ms,
        window_ms,
    })
}

/// One pod's usage: the window of its freshest container, and each container's usage.
#[derive(Clone, Debug, PartialEq)]
pub struct PodUsage {
    /// End of the window.
    pub timestamp_ms: i64,
    /// Length of the window.
    pub window_ms: i64,
    /// (container name, usage) in name order.
    pub containers: Vec<(String, Usage)>,
}

#[derive(Default)]
struct NodeSeries {
    prev: Option<Scrape>,
    last: Scrape,
}

/// The last two scrapes per node.
#[derive(Default)]
pub struct MetricsStore {
    nodes: Mutex<HashMap<String, NodeSeries>>,
}

impl MetricsStore {
    /// Record a node's newest scrape; the one before becomes the previous point.
    pub fn record(&self, node: &str, scrape: Scrape) {
        let mut nodes = self.nodes.lock();
        let series = nodes.entry(node.to_string()).or_default();
        let old = std::mem::replace(&mut series.last, scrape);
        series.prev = Some(old).filter(|s| s.node.is_some() || !s.containers.is_empty());
    }

    /// Forget a node (its scrape failed, or it is gone): its metrics vanish, as in
    /// metrics-server, until two new scrapes succeed.
    pub fn forget(&self, node: &str) {
        self.nodes.lock().remove(node);
    }

    /// Keep only the nodes in `names`.
    pub fn retain(&self, names: &HashSet<String>) {
        self.nodes.lock().retain(|n, _| names.contains(n));
    }

    /// A node's usage, once two scrapes give a rate.
    pub fn node(&self, name: &str) -> Option<Usage> {
        let nodes = self.nodes.lock();
        let s = nodes.get(name)?;
        rate(s.prev.as_ref()?.node.as_ref()?, s.last.node.as_ref()?)
    }

    /// A pod's usage: every container that has a rate (a restarted container waits for
    /// its second point); None when none has.
    pub fn pod(&self, namespace: &str, pod: &str) -> Option<PodUsage> {
        let nodes = self.nodes.lock();
        for s in nodes.values() {
            let Some(prev) = &s.prev else { continue };
            let lo = (namespace.to_string(), pod.to_string(), String::new());
            let mut containers = Vec::new();
            for ((ns, p, c), last) in s.last.containers.range(lo..) {
                if ns != namespace || p != pod {
                    break;
                }
                let Some(before) = prev.containers.get(&(ns.clone(), p.clone(), c.clone())) else {
                    continue;
                };
                if before.start_time != last.start_time {
                    continue;
                }
                if let Some(u) = rate(&before.point, &last.point) {
                    containers.push((c.clone(), u));
                }
            }
            if let Some((_, newest)) = containers.iter().max_by_key(|(_, u)| u.timestamp_ms) {
                return Some(PodUsage {
                    timestamp_ms: newest.timestamp_ms,
                    window_ms: newest.window_ms,
                    containers,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(cpu_seconds: f64, memory: u64, timestamp_ms: i64) -> Point {
        Point {
            cpu_seconds,
            memory,
            timestamp_ms,
        }
    }

    #[test]
    fn cpu_rate_over_the_window() {
        let u = rate(&point(10.0, 1, 1_000), &point(12.5, 4096, 11_000)).expect("rate");
        // 2.5 CPU-seconds in 10 s = 0.25 cores.
        assert_eq!(u.cpu_nanocores, 250_000_000);
        assert_eq!(
            (u.memory, u.timestamp_ms, u.window_ms),
            (4096, 11_000, 10_000)
        );
        assert_eq!(rate(&point(10.0, 1, 1_000), &point(9.0, 1, 2_000)), None);
        assert_eq!(rate(&point(10.0, 1, 1_000), &point(11.0, 1, 1_000)), None);
    }

    fn scrape(cpu: f64, ts: i64, start: f64) -> Scrape {
        let page = format!(
            "node_cpu_usage_seconds_total {cpu} {ts}\n\
             node_memory_working_set_bytes 2048 {ts}\n\
             container_cpu_usage_seconds_total{{container=\"app\",namespace=\"default\",pod=\"web\"}} {cpu} {ts}\n\
             container_memory_working_set_bytes{{container=\"app\",namespace=\"default\",pod=\"web\"}} 1.048576e+06 {ts}\n\
             container_start_time_seconds{{container=\"app\",namespace=\"default\",pod=\"web\"}} {start}\n\
             container_cpu_usage_seconds_total{{container=\"app\",namespace=\"default\",pod=\"web2\"}} 1 {ts}\n"
        );
        Scrape::from_samples(&super::super::prom::parse(&page).expect("parse"), 0)
    }

    #[test]
    fn needs_two_scrapes_and_survives_only_same_start() {
        let store = MetricsStore::default();
        store.record("n1", scrape(1.0, 1_000, 100.0));
        assert_eq!(store.node("n1"), None);
        assert_eq!(store.pod("default", "web"), None);
        store.record("n1", scrape(2.0, 11_000, 100.0));
        let n = store.node("n1").expect("node usage");
        assert_eq!(
            (n.cpu_nanocores, n.memory, n.window_ms),
            (100_000_000, 2048, 10_000)
        );
        let p = store.pod("default", "web").expect("pod usage");
        assert_eq!(p.containers.len(), 1);
        assert_eq!(p.containers[0].0, "app");
        assert_eq!(p.containers[0].1.memory, 1 << 20);
        assert_eq!(p.containers[0].1.cpu_nanocores, 100_000_000);
        assert_eq!((p.timestamp_ms, p.window_ms), (11_000, 10_000));
        // "web" must not pick up "web2", and an unknown pod has nothing.
        assert_eq!(store.pod("default", "we"), None);
        assert!(store.pod("default", "web2").is_some());
        // A restart (new start time) hides the container until its next point.
        store.record("n1", scrape(0.5, 21_000, 200.0));
        assert_eq!(store.pod("default", "web"), None);
        store.record("n1", scrape(1.5, 31_000, 200.0));
        assert!(store.pod("default", "web").is_some());
        store.forget("n1");
        assert_eq!(store.node("n1"), None);
        store.record("n2", scrape(1.0, 1_000, 1.0));
        store.retain(&HashSet::new());
        assert!(store.nodes.lock().is_empty());
    }
}
