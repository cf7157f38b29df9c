//! Command-line flags.

use clap::Parser;
use std::path::PathBuf;

/// Benchmarks of the skiff API server (creates, paced latency, LIST, watch, RSS), with etcd
/// measured side by side on the same create workload.
#[derive(Parser, Debug, Clone)]
#[command(name = "skiff-bench", version, about)]
pub struct Args {
    /// The skiff binary to benchmark (build it with `cargo build --release -p skiff`).
    #[arg(long, default_value = "target/release/skiff")]
    pub skiff: PathBuf,
    /// The etcd binary (Debian package etcd-server).
    #[arg(long, default_value = "etcd")]
    pub etcd: PathBuf,
    /// Skip the etcd comparison.
    #[arg(long)]
    pub no_etcd: bool,
    /// How many times to run the whole benchmark; the summary reports per-metric medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Concurrent keep-alive clients (one HTTP/1.1 connection each) for closed-loop creates.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Creates in the throughput phase (skiff and etcd).
    #[arg(long, default_value_t = 20_000)]
    pub creates: usize,
    /// Offered create rate (per second) of the open-loop latency phase.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Duration (seconds) of the open-loop latency phase.
    #[arg(long, default_value_t = 10.0)]
    pub paced_secs: f64,
    /// Connections available to the open-loop phase (queueing beyond them counts as latency).
    #[arg(long, default_value_t = 32)]
    pub paced_conns: usize,
    /// Objects stored for the LIST, RSS and single-watcher phases.
    #[arg(long, default_value_t = 10_000)]
    pub objects: usize,
    /// LIST repetitions (the median is reported; one extra warm-up is not counted).
    #[arg(long, default_value_t = 10)]
    pub list_runs: usize,
    /// Concurrent watchers of the lag phase.
    #[arg(long, default_value_t = 100)]
    pub watchers: usize,
    /// Create rate (per second) while the watchers measure lag.
    #[arg(long, default_value_t = 200.0)]
    pub lag_rate: f64,
    /// Duration (seconds) of the lag phase's creates.
    #[arg(long, default_value_t = 5.0)]
    pub lag_secs: f64,
    /// Where the servers' temp data dirs go (a real disk: durability costs fsyncs).
    #[arg(long, default_value_os_t = std::env::temp_dir())]
    pub tmp_dir: PathBuf,
    /// Also write every run's metrics and the medians as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}
