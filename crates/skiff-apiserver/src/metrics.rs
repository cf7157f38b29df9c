//! Prometheus metrics of the API server: request counts and latency by verb, resource and
//! code; open watches; store operation latency.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};

use skiff_metrics::Histogram;

/// Renders more series into the exposition (components running in the same process).
pub type Source = Box<dyn Fn(&mut String) + Send + Sync>;

/// Process-wide metrics registry of the API server.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    store: Mutex<BTreeMap<String, Histogram>>,
    /// Watches currently open.
    pub watches: AtomicI64,
    sources: Mutex<Vec<Source>>,
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

    /// Append `source`'s series to every exposition (e.g. the in-process controllers').
    pub fn add_source(&self, source: Source) {
        self.sources.lock().push(source);
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
            h.render(
                &mut s,
                "apiserver_request_duration_seconds",
                &format!("verb=\"{verb}\",resource=\"{res}\""),
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
            h.render(
                &mut s,
                "etcd_request_duration_seconds",
                &format!("operation=\"{op}\""),
            );
        }
        for source in self.sources.lock().iter() {
            source(&mut s);
        }
        s
    }
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
