//! skiff-bench-net: pod-network benchmarks (see bench/README.md).
//!
//! `service`: HTTP requests from the node to a busybox httpd pod, directly to the pod's IP and
//! through its Service's ClusterIP (nftables DNAT), alternating rounds in one run; reports
//! requests/s and p50/p99 of each and their ratio.
//!
//! `dns`: cluster DNS queries/s from inside a pod (through the kube-dns ClusterIP, as pods
//! resolve) and, side by side, from the node straight to the server's address; the load is
//! `skiff-bench-node dns`, run in the pod's network namespace. The node is `skiff server` with its agent
//! and pod network inside a network namespace this benchmark creates (no route out), so
//! nothing touches this machine's own network.

use clap::{Parser, Subcommand};
use skiff_bench::net::http_load::{self, LoadResult};
use skiff_bench::node::cleanup;
use skiff_bench::procs::{self, Process};
use skiff_bench::stats::median;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(name = "skiff-bench-net", about)]
struct Args {
    /// The skiff binary (build it with `cargo build --release -p skiff`).
    #[arg(long, default_value = "target/release/skiff", global = true)]
    skiff: PathBuf,
    /// Where temp data dirs go.
    #[arg(long, default_value_os_t = std::env::temp_dir(), global = true)]
    tmp_dir: PathBuf,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Direct pod IP vs ClusterIP, HTTP, from the node.
    Service {
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        workers: usize,
        /// Seconds per round.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Rounds of each (alternating).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Send ClusterIP traffic to the same pod port as direct traffic (shows the
        /// TIME_WAIT interference between the two paths).
        #[arg(long)]
        shared_port: bool,
    },
    /// Cluster DNS queries/s from a pod (via the kube-dns ClusterIP) and from the node.
    Dns {
        /// UDP clients, one query in flight each.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds per round.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Rounds of each (alternating).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// (internal) run the load generator here and print its result as JSON.
    Load {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long)]
        workers: usize,
        #[arg(long)]
        seconds: u64,
    },
}

/// The node's namespace; removed (with anything still running in it) on drop.
struct Netns(String);

impl Netns {
    fn create(name: &str, ip: &str) -> Result<Netns, String> {
        sh("ip", &["netns", "add", name])?;
        let ns = Netns(name.to_string());
        sh("ip", &["-n", name, "link", "set", "lo", "up"])?;
        sh(
            "ip",
            &[
                "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
            ],
        )?;
        sh("ip", &["-n", name, "link", "set", "eth1", "up"])?;
        sh(
            "ip",
            &[
                "-n",
                name,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                "eth0",
            ],
        )?;
        sh("ip", &["-n", name, "link", "set", "eth0", "up"])?;
        // Like a real host's default route (the node reaches ClusterIPs through it, as with
        // kube-proxy); it leads only to the namespace's own veth peer, nowhere outside.
        sh(
            "ip",
            &["-n", name, "route", "add", "default", "dev", "eth0"],
        )?;
        Ok(ns)
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.0))
            .args(["--", program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.0]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sh(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

const NODE_IP: &str = "192.168.78.10";

const WORKLOAD: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: bench
  containers:
  - name: web
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && httpd -p 8081 -h /www && exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: TARGET_PORT}]
"#;

/// The pod port direct requests go to; the Service targets the other one (8081) unless
/// `--shared-port`. Two identical httpd processes keep each path's TIME_WAIT connections
/// apart: Linux offsets TCP timestamps per connection 4-tuple, so a SYN of one path landing
/// on a TIME_WAIT socket the other path left carries an unrelated timestamp, is dropped by
/// PAWS about half the time and retried after 1 s (bench/RESULTS.md).
const DIRECT_PORT: u16 = 8080;

/// A pod to send DNS queries from, and the Service whose name they ask. The pod's `sleep`
/// argument marks its process so the benchmark finds the pod's network namespace.
const DNS_WORKLOAD: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: dns-client}
spec:
  nodeName: bench
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sleep", "86398"]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"#;

/// The cluster DNS Service address (`--cluster-dns`'s default).
const CLUSTER_DNS: &str = "10.43.0.10:53";

struct Node {
    ns: Netns,
    data: PathBuf,
    _server: Process,
    _tmp: tempfile::TempDir,
}

impl Node {
    fn kubectl(&self, args: &[&str], input: Option<&str>) -> Result<String, String> {
        let mut cmd = self.ns.command("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", self.data.join("kubeconfig.yaml"))
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn wait_value(&self, args: &[&str]) -> Result<String, String> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(v) = self.kubectl(args, None) {
                if !v.is_empty() {
                    return Ok(v);
                }
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for kubectl {args:?}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Run the load generator inside the node's namespace.
    fn load(&self, addr: SocketAddr, workers: usize, seconds: u64) -> Result<LoadResult, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let out = self
            .ns
            .command(&me.to_string_lossy())
            .args(["load", "--addr", &addr.to_string()])
            .args([
                "--workers",
                &workers.to_string(),
                "--seconds",
                &seconds.to_string(),
            ])
            .output()
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("load output: {e}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn start_node(skiff: &Path, tmp: &Path) -> Result<Node, String> {
    let ns = Netns::create(&format!("skb-{}", std::process::id()), NODE_IP)?;
    let dir = tempfile::Builder::new()
        .prefix("skiff-bench-net-")
        .tempdir_in(tmp)
        .map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let tar = dir.path().join("busybox.tar");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hack/build-busybox-image.sh");
    sh(
        &script.to_string_lossy(),
        &[&tar.to_string_lossy(), "busybox:1.36"],
    )?;
    sh(
        &skiff.to_string_lossy(),
        &[
            "image",
            "import",
            "--data-dir",
            &data.to_string_lossy(),
            &tar.to_string_lossy(),
        ],
    )?;
    let port = procs::free_port().map_err(|e| e.to_string())?.to_string();
    let agent_port = procs::free_port().map_err(|e| e.to_string())?.to_string();
    let args: Vec<String> = [
        &format!("--net=/run/netns/{}", ns.0),
        "--",
        &skiff.to_string_lossy(),
        "server",
        "--port",
        &port,
        "--agent-port",
        &agent_port,
        "--bind-address",
        "0.0.0.0",
        "--node-ip",
        NODE_IP,
        "--node-name",
        "bench",
        "--data-dir",
        &data.to_string_lossy(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let server = Process::spawn(
        "skiff server",
        Path::new("nsenter"),
        &args,
        &dir.path().join("skiff.log"),
    )
    .map_err(|e| e.to_string())?;
    let node = Node {
        ns,
        data,
        _server: server,
        _tmp: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.kubectl(&["get", "--raw", "/readyz"], None).is_err() {
        if Instant::now() > deadline {
            return Err("skiff server did not become ready".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(node)
}

fn service(
    args: &Args,
    workers: usize,
    seconds: u64,
    rounds: usize,
    shared_port: bool,
) -> Result<(), String> {
    let node = start_node(&args.skiff, &args.tmp_dir)?;
    let result = measure(&node, workers, seconds, rounds, shared_port);
    let _ = node.kubectl(
        &["delete", "pod", "web", "--grace-period=1", "--wait=true"],
        None,
    );
    cleanup::node(&node.data);
    result
}

fn measure(
    node: &Node,
    workers: usize,
    seconds: u64,
    rounds: usize,
    shared_port: bool,
) -> Result<(), String> {
    let target_port = if shared_port { DIRECT_PORT } else { 8081 };
    let workload = WORKLOAD.replace("TARGET_PORT", &target_port.to_string());
    node.kubectl(&["apply", "-f", "-"], Some(&workload))?;
    let pod_ip = node.wait_value(&["get", "pod", "web", "-o", "jsonpath={.status.podIP}"])?;
    let cluster_ip = node.wait_value(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"])?;
    let direct: SocketAddr = format!("{pod_ip}:{DIRECT_PORT}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let service: SocketAddr = format!("{cluster_ip}:80")
        .parse()
        .map_err(|e| format!("{e}"))?;
    // Wait for the pod and the Service's rules.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = node.load(direct, 1, 1)?;
        let s = node.load(service, 1, 1)?;
        if d.errors == 0 && s.errors == 0 && d.rps > 0.0 && s.rps > 0.0 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("web never answered: direct {d:?}, service {s:?}"));
        }
    }
    let (mut d_runs, mut s_runs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let d = node.load(direct, workers, seconds)?;
        let s = node.load(service, workers, seconds)?;
        println!(
            "round {}: direct {:.0} req/s p50 {:.2} ms p99 {:.2} ms ({} errors) | ClusterIP {:.0} req/s p50 {:.2} ms p99 {:.2} ms ({} errors)",
            round + 1, d.rps, d.p50_ms, d.p99_ms, d.errors, s.rps, s.p50_ms, s.p99_ms, s.errors
        );
        d_runs.push(d);
        s_runs.push(s);
    }
    let med = |v: &[LoadResult], f: fn(&LoadResult) -> f64| {
        median(&v.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0)
    };
    let (d_rps, s_rps) = (med(&d_runs, |r| r.rps), med(&s_runs, |r| r.rps));
    let (d_p99, s_p99) = (med(&d_runs, |r| r.p99_ms), med(&s_runs, |r| r.p99_ms));
    println!(
        "median of {rounds}: direct {d_rps:.0} req/s p99 {d_p99:.2} ms; ClusterIP {s_rps:.0} req/s p99 {s_p99:.2} ms; throughput ratio ClusterIP/direct {:.3}; p99 ratio {:.3}",
        s_rps / d_rps,
        s_p99 / d_p99
    );
    Ok(())
}

/// The network namespace of the process whose command line is `argv` (NUL-separated).
fn netns_of_process(argv: &[&str]) -> Option<PathBuf> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        (cmdline == want).then(|| e.path().join("ns/net"))
    })
}

fn dns(args: &Args, concurrency: usize, seconds: u64, rounds: usize) -> Result<(), String> {
    let node = start_node(&args.skiff, &args.tmp_dir)?;
    let result = measure_dns(&node, concurrency, seconds, rounds);
    let _ = node.kubectl(
        &[
            "delete",
            "pod",
            "dns-client",
            "--grace-period=1",
            "--wait=true",
        ],
        None,
    );
    cleanup::node(&node.data);
    result
}

fn measure_dns(node: &Node, concurrency: usize, seconds: u64, rounds: usize) -> Result<(), String> {
    node.kubectl(&["apply", "-f", "-"], Some(DNS_WORKLOAD))?;
    node.wait_value(&["get", "pod", "dns-client", "-o", "jsonpath={.status.podIP}"])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let pod_ns = loop {
        if let Some(ns) = netns_of_process(&["sleep", "86398"]) {
            break ns;
        }
        if Instant::now() > deadline {
            return Err("the dns-client pod's process never appeared".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let load_gen = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("skiff-bench-node");
    let run = |netns: &str, addr: &str, seconds: u64| -> Result<String, String> {
        let out = Command::new("nsenter")
            .arg(format!("--net={netns}"))
            .arg("--")
            .arg(&load_gen)
            .args([
                "dns",
                "--addr",
                addr,
                "--name",
                "web.default.svc.cluster.local",
            ])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--seconds", &seconds.to_string()])
            .output()
            .map_err(|e| format!("{}: {e}", load_gen.display()))?;
        if !out.status.success() {
            return Err(format!(
                "dns load from {netns} to {addr}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let node_ns = format!("/run/netns/{}", node.ns.0);
    let node_addr = format!("{NODE_IP}:53");
    // The Service's rules and the DNS caches settle: wait for a clean one-second run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while run(&pod_ns.to_string_lossy(), CLUSTER_DNS, 1).is_err() {
        if Instant::now() > deadline {
            return Err("the pod never got DNS answers".into());
        }
    }
    for round in 1..=rounds {
        println!("round {round}, from the pod via {CLUSTER_DNS}:");
        print!("{}", run(&pod_ns.to_string_lossy(), CLUSTER_DNS, seconds)?);
        println!("round {round}, from the node to {node_addr}:");
        print!("{}", run(&node_ns, &node_addr, seconds)?);
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.what {
        What::Service {
            workers,
            seconds,
            rounds,
            shared_port,
        } => service(&args, *workers, *seconds, *rounds, *shared_port),
        What::Dns {
            concurrency,
            seconds,
            rounds,
        } => dns(&args, *concurrency, *seconds, *rounds),
        What::Load {
            addr,
            workers,
            seconds,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string());
            rt.map(|rt| {
                let r = rt.block_on(http_load::run(
                    *addr,
                    *workers,
                    Duration::from_secs(*seconds),
                ));
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skiff-bench-net: {e}");
            ExitCode::FAILURE
        }
    }
}
