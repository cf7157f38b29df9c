//! The processes under test (skiff, etcd): start on loopback in a temp dir, wait until ready,
//! read their RSS, and kill them when dropped, whatever happened.

use crate::conn::Endpoint;
use crate::error::BenchError;
use crate::tls;
use http::Method;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use tokio::time::Instant;

/// How long a server may take to answer its health endpoint.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A child process that is killed (SIGKILL) and reaped when dropped.
pub struct Process {
    name: String,
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Spawn `program` with `args`, stdout and stderr appended to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<Process, BenchError> {
        let spawn_err = |source| BenchError::Spawn {
            program: program.display().to_string(),
            source,
        };
        let out = std::fs::File::create(log).map_err(spawn_err)?;
        let err = out.try_clone().map_err(spawn_err)?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(spawn_err)?;
        Ok(Process {
            name: name.to_string(),
            child,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size in KiB, from `/proc/<pid>/status`.
    pub fn rss_kib(&self) -> Result<u64, BenchError> {
        let path = PathBuf::from(format!("/proc/{}/status", self.pid()));
        let text = std::fs::read_to_string(&path).map_err(|source| BenchError::Read {
            path: path.clone(),
            source,
        })?;
        parse_vm_rss(&text).ok_or(BenchError::BadFile {
            path,
            what: "no VmRSS line",
        })
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu(&self) -> Result<Duration, BenchError> {
        cpu_of(&PathBuf::from(format!("/proc/{}/stat", self.pid())))
    }

    /// Fail if the process has exited.
    pub fn alive(&mut self) -> Result<(), BenchError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(BenchError::Exited {
                what: self.name.clone(),
                status,
            }),
            _ => Ok(()),
        }
    }
}

/// The `VmRSS` value (KiB) of a `/proc/<pid>/status` text.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

/// CPU time (user + system) this benchmark process has used so far.
pub fn own_cpu() -> Result<Duration, BenchError> {
    cpu_of(Path::new("/proc/self/stat"))
}

fn cpu_of(path: &Path) -> Result<Duration, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_stat_cpu(&text).ok_or(BenchError::BadFile {
        path: path.to_path_buf(),
        what: "no utime/stime fields",
    })
}

/// Busy CPU time of the whole machine (all CPUs, from `/proc/stat`).
pub fn system_busy() -> Result<Duration, BenchError> {
    let path = Path::new("/proc/stat");
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_system_busy(&text).ok_or(BenchError::BadFile {
        path: path.to_path_buf(),
        what: "no cpu line",
    })
}

/// Busy time of the aggregate `cpu` line: every column but idle and iowait (guest time is
/// already counted in user).
pub fn parse_system_busy(stat: &str) -> Option<Duration> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let cols: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| cols.get(i).copied().unwrap_or(0))
        .sum();
    if cols.len() < 4 {
        return None;
    }
    Some(Duration::from_millis(busy * 1000 / USER_HZ))
}

/// Clock ticks per second of `/proc/<pid>/stat` times: USER_HZ, 100 on every Linux ABI we run on.
const USER_HZ: u64 = 100;

/// utime + stime of a `/proc/<pid>/stat` line.
pub fn parse_stat_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name come state (field 3) .. so utime (field 14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// A loopback port that was free a moment ago (the OS picks it).
pub fn free_port() -> Result<u16, BenchError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let listener =
        TcpListener::bind(addr).map_err(|source| BenchError::Connect { addr, source })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| BenchError::Connect { addr, source })
}

/// A running server: its process, how to reach it, and its temp dir (removed after the kill,
/// which is why `process` is declared first: fields drop in order).
pub struct Server {
    /// The process.
    pub process: Process,
    /// Its client endpoint.
    pub endpoint: Endpoint,
    /// The log file (inside `dir`).
    pub log: PathBuf,
    dir: TempDir,
}

impl Server {
    /// The temp dir holding the server's state.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

fn temp_dir(parent: &Path, prefix: &str) -> Result<TempDir, BenchError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(|source| BenchError::Read {
            path: parent.to_path_buf(),
            source,
        })
}

/// Poll `probe` until it answers 200 or the timeout passes; the process must stay alive.
async fn wait_ready(
    what: &str,
    process: &mut Process,
    endpoint: impl Fn() -> Option<Endpoint>,
    path: &str,
    log: &Path,
) -> Result<(), BenchError> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < READY_TIMEOUT {
        process.alive().map_err(|e| BenchError::NotReady {
            what: what.to_string(),
            secs: start.elapsed().as_secs(),
            detail: format!(": {e}; log:\n{}", log_tail(log)),
        })?;
        if let Some(ep) = endpoint() {
            match probe(&ep, path).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(BenchError::NotReady {
        what: what.to_string(),
        secs: READY_TIMEOUT.as_secs(),
        detail: format!(": {last}; log:\n{}", log_tail(log)),
    })
}

async fn probe(endpoint: &Endpoint, path: &str) -> Result<(), BenchError> {
    endpoint
        .connect()
        .await?
        .expect(Method::GET, path, None, None, 200)
        .await
        .map(drop)
}

/// Which node-side components a benchmarked `skiff server` runs.
pub enum NodeSide {
    /// The API server and store alone (the API benchmark's figures were taken this way).
    None,
    /// The scheduler, no agent (simulated nodes join from outside).
    Scheduler,
    /// The scheduler and the embedded runc agent as node `name` with its API on `port`.
    Agent {
        /// Node name.
        name: String,
        /// Agent API port.
        port: u16,
    },
}

/// Start `skiff server` on a free loopback port with a fresh data dir under `tmp`.
pub async fn start_skiff(bin: &Path, tmp: &Path) -> Result<Server, BenchError> {
    start_skiff_with(bin, tmp, NodeSide::None, |_| Ok(())).await
}

/// Start `skiff server` with `side`; `prepare` runs on the data dir before the server starts
/// (e.g. importing images into the node's store).
pub async fn start_skiff_with(
    bin: &Path,
    tmp: &Path,
    side: NodeSide,
    prepare: impl FnOnce(&Path) -> Result<(), BenchError>,
) -> Result<Server, BenchError> {
    let dir = temp_dir(tmp, "skiff-bench-")?;
    let port = free_port()?;
    let data = dir.path().join("data");
    let log = dir.path().join("skiff.log");
    std::fs::create_dir_all(&data).map_err(|source| BenchError::Read {
        path: data.clone(),
        source,
    })?;
    prepare(&data)?;
    let mut args = vec![
        "server".to_string(),
        "--bind-address".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--data-dir".into(),
        data.display().to_string(),
    ];
    match side {
        NodeSide::None => args.extend([
            "--disable-agent".into(),
            "--disable-scheduler".into(),
            "--disable-controllers".into(),
        ]),
        NodeSide::Scheduler => args.push("--disable-agent".into()),
        // The pod-startup figures were taken without a pod network, and the benchmark runs
        // in this machine's own network namespace, which it must leave alone.
        NodeSide::Agent { name, port } => args.extend([
            "--node-name".into(),
            name,
            "--agent-port".into(),
            port.to_string(),
            "--pod-network".into(),
            "none".into(),
        ]),
    }
    let mut process = Process::spawn("skiff server", bin, &args, &log)?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let pki = data.join("pki");
    // The client certificate exists only once the server has written its PKI.
    let endpoint = || {
        if !data.join("kubeconfig.yaml").exists() {
            return None;
        }
        tls::client_config(&pki)
            .ok()
            .map(|c| Endpoint { addr, tls: Some(c) })
    };
    wait_ready("skiff server", &mut process, endpoint, "/readyz", &log).await?;
    let tls = tls::client_config(&pki)?;
    Ok(Server {
        process,
        endpoint: Endpoint {
            addr,
            tls: Some(tls),
        },
        log,
        dir,
    })
}

/// Start a single-member etcd on free loopback ports with a fresh data dir under `tmp`.
pub async fn start_etcd(bin: &Path, tmp: &Path) -> Result<Server, BenchError> {
    let dir = temp_dir(tmp, "etcd-bench-")?;
    let (client, peer) = (free_port()?, free_port()?);
    let data = dir.path().join("data");
    let log = dir.path().join("etcd.log");
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let args = vec![
        "--name".to_string(),
        "bench".into(),
        "--data-dir".into(),
        data.display().to_string(),
        "--listen-client-urls".into(),
        client_url.clone(),
        "--advertise-client-urls".into(),
        client_url,
        "--listen-peer-urls".into(),
        peer_url.clone(),
        "--initial-advertise-peer-urls".into(),
        peer_url.clone(),
        "--initial-cluster".into(),
        format!("bench={peer_url}"),
    ];
    let mut process = Process::spawn("etcd", bin, &args, &log)?;
    let endpoint = Endpoint {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, client)),
        tls: None,
    };
    let probe_ep = endpoint.clone();
    wait_ready(
        "etcd",
        &mut process,
        move || Some(probe_ep.clone()),
        "/health",
        &log,
    )
    .await?;
    Ok(Server {
        process,
        endpoint,
        log,
        dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_parsing() {
        let cases = [
            (
                "Name:\tskiff\nVmPeak:\t  99999 kB\nVmRSS:\t   23456 kB\nRssAnon:\t 100 kB\n",
                Some(23456),
            ),
            ("VmRSS: 7", Some(7)),
            ("VmRSS:\t12 MB\n", None),
            ("Name:\tx\n", None),
            ("VmRSS:\tlots kB\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_vm_rss(text), want, "{text:?}");
        }
    }

    #[test]
    fn stat_cpu_parsing() {
        let cases = [
            (
                "4242 (skiff) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0 100 0 0",
                Some(Duration::from_millis(3000)),
            ),
            (
                "7 (a b) c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 0 0",
                Some(Duration::from_millis(30)),
            ),
            ("7 (x) R 1 7", None),
            ("no parens at all", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_stat_cpu(text), want, "{text}");
        }
        assert!(own_cpu().is_ok());
    }

    #[test]
    fn system_busy_parsing() {
        let cases = [
            (
                "cpu  100 20 30 5000 70 1 2 3 9 0\ncpu0 50 10 15 2500 35 0 1 1 0 0\n",
                Some(Duration::from_millis(1560)),
            ),
            ("cpu  1 0 0 9\n", Some(Duration::from_millis(10))),
            ("cpu0 1 2 3 4\n", None),
            ("cpu  1 x 3 4\n", None),
            ("cpu  1 2\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_system_busy(text), want, "{text:?}");
        }
        assert!(system_busy().is_ok_and(|d| d > Duration::ZERO));
    }

    #[test]
    fn our_own_rss_is_readable() {
        let text = std::fs::read_to_string("/proc/self/status").expect("proc");
        assert!(parse_vm_rss(&text).is_some_and(|kib| kib > 0));
    }

    #[test]
    fn free_ports_are_bindable() {
        let port = free_port().expect("port");
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the port should still be free");
    }

    #[test]
    fn dropping_a_process_kills_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = Process::spawn(
            "sleep",
            Path::new("sleep"),
            &["60".to_string()],
            &dir.path().join("log"),
        )
        .expect("spawn");
        let status = PathBuf::from(format!("/proc/{}/status", p.pid()));
        assert!(status.exists());
        drop(p);
        // Reaped by drop: the pid no longer exists (it could in theory be reused, not within a test).
        assert!(!status.exists());
    }
}
