//! Prometheus metrics of the API server: request counts and latency by verb, resource and
//! code; open watches; store operation latency.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};

const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; 13],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// Process-wide metrics registry of the API server.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    store: Mutex<BTreeMap<String, Histogram>>,
    /// Watches currently open.
    pub watches: AtomicI64,
}

impl Metrics {
    /// Record one finished request.
    pub fn request(&self, verb: &str, resource: &str, code: u16, secs: f64) {
        *self
            .requests
            .lock()
            .entry((verb.to_string(), resource.to_string(), code))
            .or_default() += 1;
        self.latency
            .lock()
            .entry((verb.to_string(), resource.to_string()))
            .or_default()
            .observe(secs);
    }

    /// Record one store operation.
    pub fn store_op(&self, op: &str, secs: f64) {
        self.store
            .lock()
            .entry(op.to_string())
            .or_default()
            .observe(secs);
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out by verb, resource and code.\n# TYPE apiserver_request_total counter\n");
        for ((verb, res, code), n) in self.requests.lock().iter() {
            let _ = writeln!(
                s,
                "apiserver_request_total{{verb=\"{verb}\",resource=\"{res}\",code=\"{code}\"}} {n}"
            );
        }
        s.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb and resource.\n# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, res), h) in self.latency.lock().iter() {
            write_hist(
                &mut s,
                "apiserver_request_duration_seconds",
                &format!("verb=\"{verb}\",resource=\"{res}\""),
                h,
            );
        }
        s.push_str("# HELP apiserver_longrunning_requests Number of open watch requests.\n# TYPE apiserver_longrunning_requests gauge\n");
        let _ = writeln!(
            s,
            "apiserver_longrunning_requests{{verb=\"WATCH\"}} {}",
            self.watches.load(Ordering::Relaxed)
        );
        s.push_str("# HELP etcd_request_duration_seconds Store operation latency in seconds.\n# TYPE etcd_request_duration_seconds histogram\n");
        for (op, h) in self.store.lock().iter() {
            write_hist(
                &mut s,
                "etcd_request_duration_seconds",
                &format!("operation=\"{op}\""),
                h,
            );
        }
        s
    }
}

fn write_hist(s: &mut String, name: &str, labels: &str, h: &Histogram) {
    for (i, b) in BUCKETS.iter().enumerate() {
        let _ = writeln!(s, "{name}_bucket{{{labels},le=\"{b}\"}} {}", h.counts[i]);
    }
    let _ = writeln!(s, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(s, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(s, "{name}_count{{{labels}}} {}", h.count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.request("GET", "pods", 200, 0.003);
        m.request("GET", "pods", 200, 0.2);
        let out = m.render();
        assert!(
            out.contains("apiserver_request_total{verb=\"GET\",resource=\"pods\",code=\"200\"} 2")
        );
        assert!(out.contains("apiserver_request_duration_seconds_bucket{verb=\"GET\",resource=\"pods\",le=\"0.005\"} 1"));
        assert!(out.contains(
            "apiserver_request_duration_seconds_count{verb=\"GET\",resource=\"pods\"} 2"
        ));
    }
}
