//! Metric keys, targets, medians across runs and the printed table.

use crate::stats::median;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Measured values of one run, by metric key.
pub type Metrics = BTreeMap<&'static str, f64>;

/// Metric keys (also the keys of the `--json` output).
pub mod key {
    /// skiff creates/s, 16 closed-loop clients.
    pub const CREATE_RATE: &str = "skiff.create.rate";
    /// skiff create latency p50 (ms).
    pub const CREATE_P50: &str = "skiff.create.p50_ms";
    /// skiff create latency p99 (ms).
    pub const CREATE_P99: &str = "skiff.create.p99_ms";
    /// skiff CPU time per create during the closed-loop creates (µs).
    pub const CREATE_SERVER_CPU: &str = "skiff.create.server_cpu_us";
    /// Load generator CPU time per create during the skiff creates (µs).
    pub const CREATE_CLIENT_CPU: &str = "skiff.create.client_cpu_us";
    /// etcd CPU time per put (µs).
    pub const ETCD_SERVER_CPU: &str = "etcd.put.server_cpu_us";
    /// Load generator CPU time per etcd put (µs).
    pub const ETCD_CLIENT_CPU: &str = "etcd.put.client_cpu_us";
    /// CPU used by everything else on the machine during the skiff creates (cores).
    pub const CREATE_OTHER_CPU: &str = "skiff.create.other_cores";
    /// CPU used by everything else on the machine during the etcd puts (cores).
    pub const ETCD_OTHER_CPU: &str = "etcd.put.other_cores";
    /// etcd puts/s, same workload.
    pub const ETCD_RATE: &str = "etcd.put.rate";
    /// etcd put latency p50 (ms).
    pub const ETCD_P50: &str = "etcd.put.p50_ms";
    /// etcd put latency p99 (ms).
    pub const ETCD_P99: &str = "etcd.put.p99_ms";
    /// Achieved rate of the paced run.
    pub const PACED_RATE: &str = "skiff.paced.rate";
    /// Paced latency p50 (ms, from scheduled start).
    pub const PACED_P50: &str = "skiff.paced.p50_ms";
    /// Paced latency p99 (ms, from scheduled start).
    pub const PACED_P99: &str = "skiff.paced.p99_ms";
    /// Paced latency max (ms).
    pub const PACED_MAX: &str = "skiff.paced.max_ms";
    /// skiff CPU per create at the paced rate (µs).
    pub const PACED_SERVER_CPU: &str = "skiff.paced.server_cpu_us";
    /// Load generator CPU per paced create (µs).
    pub const PACED_CLIENT_CPU: &str = "skiff.paced.client_cpu_us";
    /// CPU used by everything else during the paced phase (cores).
    pub const PACED_OTHER_CPU: &str = "skiff.paced.other_cores";
    /// Median LIST time, JSON (ms).
    pub const LIST_JSON: &str = "skiff.list.json_ms";
    /// Median LIST time, Table (ms).
    pub const LIST_TABLE: &str = "skiff.list.table_ms";
    /// LIST JSON body size (MiB).
    pub const LIST_JSON_MIB: &str = "skiff.list.json_mib";
    /// LIST Table body size (MiB).
    pub const LIST_TABLE_MIB: &str = "skiff.list.table_mib";
    /// One watcher: events received per second.
    pub const WATCH_EVENTS: &str = "skiff.watch.events_per_s";
    /// One watcher: creates/s of the load that fed it.
    pub const WATCH_CREATES: &str = "skiff.watch.creates_per_s";
    /// Watch lag p50 across all watchers (ms).
    pub const LAG_P50: &str = "skiff.lag.p50_ms";
    /// Watch lag p99 across all watchers (ms).
    pub const LAG_P99: &str = "skiff.lag.p99_ms";
    /// Watch lag max (ms).
    pub const LAG_MAX: &str = "skiff.lag.max_ms";
    /// Events some watcher never received.
    pub const LAG_MISSING: &str = "skiff.lag.missing";
    /// RSS right after start (MiB).
    pub const RSS_IDLE: &str = "skiff.rss.idle_mib";
    /// RSS with the LIST objects stored (MiB).
    pub const RSS_OBJECTS: &str = "skiff.rss.objects_mib";
    /// RSS at the end of the run (MiB).
    pub const RSS_END: &str = "skiff.rss.end_mib";
}

/// A target a metric should meet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// The value must be at least this.
    AtLeast(f64),
    /// The value must be below this.
    Below(f64),
}

impl Goal {
    /// "yes", or "NO" with how far off the value is.
    pub fn verdict(self, value: f64) -> String {
        match self {
            Goal::AtLeast(t) if value >= t => "yes".into(),
            Goal::AtLeast(t) => format!("NO ({:.0}% short)", (t - value) / t * 100.0),
            Goal::Below(t) if value < t => "yes".into(),
            Goal::Below(t) => format!("NO ({:.0}% over)", (value - t) / t * 100.0),
        }
    }

    fn describe(self) -> String {
        match self {
            Goal::AtLeast(t) => format!(">= {}", num(t)),
            Goal::Below(t) => format!("< {}", num(t)),
        }
    }
}

/// One line of the table.
pub struct Row {
    /// What is measured.
    pub label: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// The skiff metric key.
    pub skiff: &'static str,
    /// The etcd metric of the same workload, if any.
    pub etcd: Option<&'static str>,
    /// The target, if any.
    pub goal: Option<Goal>,
}

const fn row(
    label: &'static str,
    unit: &'static str,
    skiff: &'static str,
    etcd: Option<&'static str>,
    goal: Option<Goal>,
) -> Row {
    Row {
        label,
        unit,
        skiff,
        etcd,
        goal,
    }
}

/// The table, in print order.
pub const ROWS: &[Row] = &[
    row(
        "creates, 16 clients (1 KiB ConfigMap)",
        "/s",
        key::CREATE_RATE,
        Some(key::ETCD_RATE),
        Some(Goal::AtLeast(5000.0)),
    ),
    row(
        "  create latency p50",
        "ms",
        key::CREATE_P50,
        Some(key::ETCD_P50),
        None,
    ),
    row(
        "  create latency p99",
        "ms",
        key::CREATE_P99,
        Some(key::ETCD_P99),
        None,
    ),
    row(
        "  server CPU per create",
        "us",
        key::CREATE_SERVER_CPU,
        Some(key::ETCD_SERVER_CPU),
        None,
    ),
    row(
        "  load generator CPU per create",
        "us",
        key::CREATE_CLIENT_CPU,
        Some(key::ETCD_CLIENT_CPU),
        None,
    ),
    row(
        "  other processes' CPU meanwhile",
        "cores",
        key::CREATE_OTHER_CPU,
        Some(key::ETCD_OTHER_CPU),
        None,
    ),
    row(
        "paced creates: achieved rate",
        "/s",
        key::PACED_RATE,
        None,
        None,
    ),
    row("  paced latency p50", "ms", key::PACED_P50, None, None),
    row(
        "  paced latency p99",
        "ms",
        key::PACED_P99,
        None,
        Some(Goal::Below(20.0)),
    ),
    row("  paced latency max", "ms", key::PACED_MAX, None, None),
    row(
        "  server CPU per paced create",
        "us",
        key::PACED_SERVER_CPU,
        None,
        None,
    ),
    row(
        "  other processes' CPU meanwhile",
        "cores",
        key::PACED_OTHER_CPU,
        None,
        None,
    ),
    row(
        "LIST 10k ConfigMaps, JSON (median)",
        "ms",
        key::LIST_JSON,
        None,
        Some(Goal::Below(150.0)),
    ),
    row(
        "LIST 10k ConfigMaps, Table (median)",
        "ms",
        key::LIST_TABLE,
        None,
        Some(Goal::Below(150.0)),
    ),
    row("  LIST JSON body", "MiB", key::LIST_JSON_MIB, None, None),
    row("  LIST Table body", "MiB", key::LIST_TABLE_MIB, None, None),
    row(
        "1 watcher: events received",
        "/s",
        key::WATCH_EVENTS,
        None,
        None,
    ),
    row(
        "  creates feeding it (16 clients)",
        "/s",
        key::WATCH_CREATES,
        None,
        None,
    ),
    row("100 watchers: lag p50", "ms", key::LAG_P50, None, None),
    row("100 watchers: lag p99", "ms", key::LAG_P99, None, None),
    row("100 watchers: lag max", "ms", key::LAG_MAX, None, None),
    row(
        "100 watchers: events never received",
        "",
        key::LAG_MISSING,
        None,
        None,
    ),
    row(
        "RSS idle after start",
        "MiB",
        key::RSS_IDLE,
        None,
        Some(Goal::Below(50.0)),
    ),
    row(
        "RSS with 10k objects",
        "MiB",
        key::RSS_OBJECTS,
        None,
        Some(Goal::Below(300.0)),
    ),
    row("RSS at end of run", "MiB", key::RSS_END, None, None),
];

/// Per-metric medians across runs (a metric missing from a run is left out of its median).
pub fn medians(runs: &[Metrics]) -> Metrics {
    let mut keys: Vec<&'static str> = runs.iter().flat_map(|m| m.keys().copied()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let values: Vec<f64> = runs.iter().filter_map(|m| m.get(k).copied()).collect();
            median(&values).map(|v| (k, v))
        })
        .collect()
}

/// Format a number with a precision that suits its size.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The table of `m`, one row per metric present.
pub fn render(title: &str, m: &Metrics) -> String {
    let header = [
        "metric",
        "unit",
        "skiff",
        "etcd",
        "skiff/etcd",
        "target",
        "met",
    ];
    let mut lines: Vec<[String; 7]> = vec![header.map(String::from)];
    for r in ROWS {
        let Some(&v) = m.get(r.skiff) else { continue };
        let etcd = r.etcd.and_then(|k| m.get(k).copied());
        let ratio = etcd
            .filter(|e| *e != 0.0)
            .map(|e| format!("{:.2}x", v / e))
            .unwrap_or_default();
        lines.push([
            r.label.to_string(),
            r.unit.to_string(),
            num(v),
            etcd.map(num).unwrap_or_default(),
            ratio,
            r.goal.map(Goal::describe).unwrap_or_default(),
            r.goal.map(|g| g.verdict(v)).unwrap_or_default(),
        ]);
    }
    let mut widths = [0usize; 7];
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("{title}\n");
    for (n, l) in lines.iter().enumerate() {
        let cells: Vec<String> = l
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < 2 || i == 6 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "|-{}-|", rule.join("-|-"));
        }
    }
    out
}

/// The machine, as the reports name it: CPUs and RAM.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or_else(
            || "?".to_string(),
            |kib| format!("{:.1} GiB", kib as f64 / 1048576.0),
        );
    format!("{cpus} CPUs, {mem} RAM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let cases = [
            (Goal::AtLeast(5000.0), 5000.0, "yes"),
            (Goal::AtLeast(5000.0), 4000.0, "NO (20% short)"),
            (Goal::Below(20.0), 19.9, "yes"),
            (Goal::Below(20.0), 20.0, "NO (0% over)"),
            (Goal::Below(150.0), 300.0, "NO (100% over)"),
        ];
        for (goal, value, want) in cases {
            assert_eq!(goal.verdict(value), want, "{goal:?} {value}");
        }
    }

    #[test]
    fn medians_per_key_skip_missing() {
        let runs: Vec<Metrics> = vec![
            [(key::CREATE_RATE, 100.0), (key::RSS_IDLE, 10.0)].into(),
            [(key::CREATE_RATE, 300.0)].into(),
            [(key::CREATE_RATE, 200.0), (key::RSS_IDLE, 20.0)].into(),
        ];
        let m = medians(&runs);
        assert_eq!(m.get(key::CREATE_RATE), Some(&200.0));
        assert_eq!(m.get(key::RSS_IDLE), Some(&15.0));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn table_shows_ratio_and_verdict() {
        let m: Metrics = [
            (key::CREATE_RATE, 6000.0),
            (key::ETCD_RATE, 3000.0),
            (key::RSS_IDLE, 64.0),
        ]
        .into();
        let t = render("t", &m);
        let create = t
            .lines()
            .find(|l| l.contains("creates, 16 clients"))
            .expect("create row");
        assert!(
            create.contains("2.00x") && create.contains("yes"),
            "{create}"
        );
        let rss = t.lines().find(|l| l.contains("RSS idle")).expect("rss row");
        assert!(rss.contains("NO (28% over)"), "{rss}");
        assert!(
            !t.contains("LIST"),
            "rows without values are left out:\n{t}"
        );
    }

    #[test]
    fn numbers() {
        let cases = [
            (5123.4, "5123"),
            (12.345, "12.3"),
            (1.234, "1.23"),
            (3.0, "3"),
            (f64::NAN, "-"),
        ];
        for (v, want) in cases {
            assert_eq!(num(v), want);
        }
    }
}
