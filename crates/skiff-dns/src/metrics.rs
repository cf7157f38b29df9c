//! Prometheus metrics of the DNS server, rendered on the API server's `/metrics`:
//! `skiff_dns_requests_total{proto,type,rcode}` and
//! `skiff_dns_request_duration_seconds{proto}` (as CoreDNS's `coredns_dns_requests_total`
//! and `coredns_dns_request_duration_seconds`).

use skiff_metrics::{family, Histogram};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Requests by (proto, type, rcode).
static REQUESTS: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>> =
    Mutex::new(BTreeMap::new());
/// Latency by proto.
static DURATION: Mutex<BTreeMap<&'static str, Histogram>> = Mutex::new(BTreeMap::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Count one answered request and its latency.
pub fn observe(proto: &'static str, qtype: &'static str, rcode: &'static str, secs: f64) {
    *lock(&REQUESTS).entry((proto, qtype, rcode)).or_insert(0) += 1;
    lock(&DURATION).entry(proto).or_default().observe(secs);
}

/// Append the DNS series to `out` (an API server metrics source).
pub fn render(out: &mut String) {
    let requests = lock(&REQUESTS).clone();
    if !requests.is_empty() {
        family(
            out,
            "skiff_dns_requests_total",
            "counter",
            "DNS requests answered, by transport, query type and response code.",
        );
        for ((proto, qtype, rcode), n) in requests {
            let _ = writeln!(
                out,
                "skiff_dns_requests_total{{proto=\"{proto}\",type=\"{qtype}\",rcode=\"{rcode}\"}} {n}"
            );
        }
    }
    let durations = lock(&DURATION).clone();
    if !durations.is_empty() {
        family(
            out,
            "skiff_dns_request_duration_seconds",
            "histogram",
            "Time from receiving a DNS request to sending its answer.",
        );
        for (proto, h) in durations {
            h.render(
                out,
                "skiff_dns_request_duration_seconds",
                &format!("proto=\"{proto}\""),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        observe("udp", "A", "NOERROR", 0.001);
        observe("udp", "A", "NOERROR", 0.002);
        let mut out = String::new();
        render(&mut out);
        assert!(out.contains("# TYPE skiff_dns_requests_total counter"));
        // Other tests in this binary may count too: at least our two.
        let line = out
            .lines()
            .find(|l| {
                l.starts_with(
                    "skiff_dns_requests_total{proto=\"udp\",type=\"A\",rcode=\"NOERROR\"}",
                )
            })
            .expect("series present");
        let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(n >= 2);
        assert!(
            out.contains("skiff_dns_request_duration_seconds_bucket{proto=\"udp\",le=\"0.005\"}")
        );
    }
}
