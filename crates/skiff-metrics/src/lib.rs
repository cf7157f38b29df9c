//! Prometheus text exposition (format 0.0.4) for Skiff's components: a latency
//! [`Histogram`] with kube's default buckets and the `# HELP`/`# TYPE` header of a family.
//! Each component keeps its own series; this crate only renders them the same way.

use std::fmt::Write;

/// Upper bounds (seconds) of the latency buckets, as Kubernetes components use them.
pub const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A cumulative latency histogram over [`BUCKETS`].
#[derive(Debug, Default, Clone)]
pub struct Histogram {
    counts: [u64; 13],
    sum: f64,
    count: u64,
}

impl Histogram {
    /// Record one observation of `secs` seconds.
    pub fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    /// How many observations were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Append the `_bucket`, `_sum` and `_count` series of `name{labels}` to `out`;
    /// `labels` is the inside of the braces (`verb="GET"`), without the `le` label.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Append a family's `# HELP` and `# TYPE` lines (`kind`: counter, gauge, histogram).
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        h.observe(100.0);
        let mut out = String::new();
        family(&mut out, "x_seconds", "histogram", "X.");
        h.render(&mut out, "x_seconds", "a=\"b\"");
        assert!(out.starts_with("# HELP x_seconds X.\n# TYPE x_seconds histogram\n"));
        assert!(out.contains("x_seconds_bucket{a=\"b\",le=\"0.005\"} 1\n"));
        assert!(out.contains("x_seconds_bucket{a=\"b\",le=\"0.25\"} 2\n"));
        assert!(out.contains("x_seconds_bucket{a=\"b\",le=\"60\"} 2\n"));
        assert!(out.contains("x_seconds_bucket{a=\"b\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("x_seconds_count{a=\"b\"} 3\n"));
        assert_eq!(h.count(), 3);
    }

    #[test]
    fn unlabelled_series_have_only_le() {
        let mut h = Histogram::default();
        h.observe(1.0);
        let mut out = String::new();
        h.render(&mut out, "y", "");
        assert!(out.contains("y_bucket{le=\"1\"} 1\n"));
        assert!(out.contains("y_sum 1\n"));
    }
}
