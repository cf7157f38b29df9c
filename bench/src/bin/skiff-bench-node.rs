//! skiff-bench-node: node-side benchmarks (see bench/README.md).
//!
//! `startup`: pods on the embedded runc agent, create→Running, beside plain runc
//! create+start of the same command. `schedule`: pods bound by the scheduler onto simulated
//! nodes, end to end through the API. `deploy`: a Deployment scaled to all-available and a
//! rolling update, through the controllers, on simulated nodes.

use clap::{Parser, Subcommand};
use skiff_bench::error::BenchError;
use skiff_bench::node::{api, cleanup, pod_startup, rollout, runc_peer, scheduling};
use skiff_bench::procs::{self, NodeSide, Process};
use skiff_bench::stats::Latency;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "skiff-bench-node", about)]
struct Args {
    /// The skiff binary (build it with `cargo build --release -p skiff`).
    #[arg(long, default_value = "target/release/skiff", global = true)]
    skiff: PathBuf,
    /// Where temp data dirs go (a real disk).
    #[arg(long, default_value_os_t = std::env::temp_dir(), global = true)]
    tmp_dir: PathBuf,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Pod startup latency (image cached) beside plain runc.
    Startup {
        /// Pods to start.
        #[arg(long, default_value_t = 40)]
        pods: usize,
        /// Pods created at a time.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
    },
    /// Scheduling throughput onto simulated nodes, end to end through the API.
    Schedule {
        /// Simulated nodes.
        #[arg(long, default_value_t = 5000)]
        nodes: usize,
        /// Pods to create and bind.
        #[arg(long, default_value_t = 50_000)]
        pods: usize,
        /// Concurrent creating clients.
        #[arg(long, default_value_t = 16)]
        clients: usize,
    },
    /// Deployments through the controllers onto simulated nodes: one scaled from nothing
    /// to all-available, one rolled to a new template.
    Deploy {
        /// Simulated nodes.
        #[arg(long, default_value_t = 1000)]
        nodes: usize,
        /// Replicas of the Deployment created from nothing.
        #[arg(long, default_value_t = 10_000)]
        replicas: usize,
        /// Replicas of the Deployment rolled to a new template (maxSurge 25%).
        #[arg(long, default_value_t = 1000)]
        roll_replicas: usize,
    },
    /// Cluster DNS load against a running server: concurrent UDP clients asking one name
    /// in a closed loop; answered queries/s and latency.
    Dns {
        /// The DNS server (`skiff server` listens on the node address, port --dns-port).
        #[arg(long, default_value = "127.0.0.1:10053")]
        addr: std::net::SocketAddr,
        /// The name asked (A records).
        #[arg(long, default_value = "kubernetes.default.svc.cluster.local")]
        name: String,
        /// Concurrent clients, one query in flight each.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds to send for.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

fn busybox_image(tmp: &Path) -> Result<PathBuf, BenchError> {
    let tar = tmp.join("busybox.tar");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hack/build-busybox-image.sh");
    let st = Command::new(&script)
        .arg(&tar)
        .arg("busybox:1.36")
        .status()
        .map_err(|e| BenchError::Node(format!("{}: {e}", script.display())))?;
    if !st.success() {
        return Err(BenchError::Node(format!("{} failed", script.display())));
    }
    Ok(tar)
}

async fn startup(args: &Args, pods: usize, concurrency: usize) -> Result<(), BenchError> {
    let scratch = tempfile::Builder::new()
        .prefix("skiff-bench-node-")
        .tempdir_in(&args.tmp_dir)
        .map_err(|e| BenchError::Node(format!("temp dir: {e}")))?;
    let tar = busybox_image(scratch.path())?;
    let name = "bench-node".to_string();
    let side = NodeSide::Agent {
        name: name.clone(),
        port: procs::free_port()?,
    };
    let skiff = args.skiff.clone();
    let server = procs::start_skiff_with(&args.skiff, &args.tmp_dir, side, |data| {
        let st = Command::new(&skiff)
            .args(["image", "import", "--data-dir"])
            .arg(data)
            .arg(&tar)
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| BenchError::Node(format!("skiff image import: {e}")))?;
        st.success()
            .then_some(())
            .ok_or_else(|| BenchError::Node("skiff image import failed".into()))
    })
    .await?;
    // Removes the agent's containers, mounts and cgroups even if this future is dropped
    // (Ctrl-C) or fails.
    let guard = cleanup::Guard(server.dir().join("data"));
    let result = async {
        api::wait_nodes_ready(&server.endpoint, 1, Duration::from_secs(60)).await?;
        let mut samples = pod_startup::measure(&server.endpoint, pods, concurrency).await?;
        let rss = server.process.rss_kib()?;
        pod_startup::delete_all(&server.endpoint).await?;
        Ok::<_, BenchError>((Latency::of(&mut samples), rss))
    }
    .await;
    // Stop the server (and its agent) before removing what the agent left behind.
    drop(server);
    drop(guard);
    let (skiff_lat, rss_kib) = result?;

    let mut peer = runc_peer::Peer::prepare(scratch.path())?;
    let mut peer_samples = peer.measure(pods)?;
    drop(peer);
    let peer_lat = Latency::of(&mut peer_samples);
    println!("pod startup, image cached, {pods} pods, {concurrency} at a time");
    println!(
        "  skiff create→Running   p50 {:7.1} ms  p99 {:7.1} ms",
        skiff_lat.p50_ms, skiff_lat.p99_ms
    );
    println!(
        "  runc create+start      p50 {:7.1} ms  p99 {:7.1} ms",
        peer_lat.p50_ms, peer_lat.p99_ms
    );
    println!(
        "  ratio skiff/runc       p50 {:7.2}×    p99 {:7.2}×",
        skiff_lat.p50_ms / peer_lat.p50_ms.max(1e-9),
        skiff_lat.p99_ms / peer_lat.p99_ms.max(1e-9)
    );
    println!(
        "  server RSS with {pods} running pods (API + scheduler + agent): {:.1} MiB",
        rss_kib as f64 / 1024.0
    );
    Ok(())
}

/// Start `nodes` simulated nodes against `server`; returns their process and the seconds
/// until all were Ready.
async fn simulated_nodes(
    args: &Args,
    server: &procs::Server,
    nodes: usize,
) -> Result<(Process, f64), BenchError> {
    let kubeconfig = server.dir().join("data/kubeconfig.yaml");
    let agent_args: Vec<String> = vec![
        "agent".into(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--simulated".into(),
        "--count".into(),
        nodes.to_string(),
        "--node-name".into(),
        "sim".into(),
    ];
    let agent = Process::spawn(
        "skiff agent --simulated",
        &args.skiff,
        &agent_args,
        &server.dir().join("agent.log"),
    )?;
    let registering = std::time::Instant::now();
    api::wait_nodes_ready(
        &server.endpoint,
        nodes,
        Duration::from_secs(60 + nodes as u64 / 20),
    )
    .await?;
    Ok((agent, registering.elapsed().as_secs_f64()))
}

async fn deploy(
    args: &Args,
    nodes: usize,
    replicas: usize,
    roll_replicas: usize,
) -> Result<(), BenchError> {
    let server =
        procs::start_skiff_with(&args.skiff, &args.tmp_dir, NodeSide::Scheduler, |_| Ok(()))
            .await?;
    let (_agent, register_secs) = simulated_nodes(args, &server, nodes).await?;
    rollout::prepare(&server.endpoint).await?;
    let idle = server.process.rss_kib()?;
    let up = rollout::scale_up(&server.endpoint, "big", replicas).await?;
    let after_big = server.process.rss_kib()?;
    let roll_ready = rollout::scale_up(&server.endpoint, "roll", roll_replicas).await?;
    let rolled = rollout::roll(&server.endpoint, "roll", roll_replicas).await?;
    let after = server.process.rss_kib()?;
    let mib = |k: u64| k as f64 / 1024.0;
    println!("deployments, {nodes} simulated nodes (Ready in {register_secs:.1} s)");
    println!(
        "  {replicas} replicas created → all available in {up:.1} s ({:.0} pods/s)",
        replicas as f64 / up.max(1e-9)
    );
    println!(
        "  {roll_replicas} replicas available in {roll_ready:.1} s; rolling update (maxSurge 25%, maxUnavailable 25%) complete in {rolled:.1} s"
    );
    println!(
        "  server RSS (API + scheduler + controllers): {:.1} MiB with nodes only, {:.1} MiB with {replicas} pods, {:.1} MiB after the rollout",
        mib(idle),
        mib(after_big),
        mib(after)
    );
    Ok(())
}

async fn schedule(
    args: &Args,
    nodes: usize,
    pods: usize,
    clients: usize,
) -> Result<(), BenchError> {
    let server =
        procs::start_skiff_with(&args.skiff, &args.tmp_dir, NodeSide::Scheduler, |_| Ok(()))
            .await?;
    let (_agent, register_secs) = simulated_nodes(args, &server, nodes).await?;
    let s = scheduling::measure(&server.endpoint, pods, clients).await?;
    let rss = server.process.rss_kib()?;
    println!("scheduling, {nodes} simulated nodes, {pods} pods, {clients} creating clients");
    println!("  nodes registered and Ready in {register_secs:.1} s");
    println!(
        "  creates acknowledged in {:.1} s ({:.0}/s)",
        s.create_secs,
        s.pods as f64 / s.create_secs.max(1e-9)
    );
    println!(
        "  all bound in {:.1} s: {:.0} pods/s overall, median {:.0} pods/s per second while binding",
        s.total_secs, s.pods_per_sec, s.median_per_sec
    );
    println!(
        "  server RSS after (API + scheduler, {nodes} nodes, {pods} pods): {:.1} MiB",
        rss as f64 / 1024.0
    );
    Ok(())
}

async fn dns(
    addr: std::net::SocketAddr,
    name: &str,
    concurrency: usize,
    seconds: u64,
) -> Result<(), BenchError> {
    let load = skiff_bench::dns_load::DnsLoad {
        server: addr,
        name: name.to_string(),
        qtype: 1,
        concurrency,
        duration: Duration::from_secs(seconds),
        timeout: Duration::from_secs(2),
    };
    let r = skiff_bench::dns_load::run(&load).await?;
    println!("cluster DNS, {name} A at {addr}, {concurrency} UDP clients, {seconds} s");
    println!(
        "  {:.0} queries/s answered ({} answered, {} failed)",
        r.qps, r.answered, r.failed
    );
    println!(
        "  latency p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        r.latency.p50_ms, r.latency.p99_ms, r.latency.max_ms
    );
    if r.answered == 0 {
        return Err(BenchError::Node(format!("no query to {addr} was answered")));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("skiff-bench-node: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("skiff-bench-node on {}", skiff_bench::report::machine());
    let r = rt.block_on(async {
        tokio::select! {
            r = async {
                match args.what {
                    What::Startup { pods, concurrency } => startup(&args, pods, concurrency).await,
                    What::Schedule { nodes, pods, clients } => schedule(&args, nodes, pods, clients).await,
                    What::Deploy { nodes, replicas, roll_replicas } => deploy(&args, nodes, replicas, roll_replicas).await,
                    What::Dns { addr, ref name, concurrency, seconds } => dns(addr, name, concurrency, seconds).await,
                }
            } => r,
            _ = tokio::signal::ctrl_c() => Err(BenchError::Interrupted),
        }
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skiff-bench-node: {e}");
            ExitCode::FAILURE
        }
    }
}
