//! Test harness: start a real `skiff server` on a free loopback port with a fresh data dir,
//! drive it with the real kubectl, and clean up (process and data) on drop, even on panic.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Eviction thresholds of test nodes: memory only. The test machine's disk is shared and
/// often near kubelet's 10% line; DiskPressure would taint the nodes and fail unrelated tests.
const TEST_EVICTION_HARD: &str = "memory.available<100Mi";

/// Kills a spawned process (and reaps it) when the test ends, even on failure.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running server.
pub struct Cluster {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// HTTPS port.
    pub port: u16,
    /// Which node-side components the server runs.
    node: Node,
    /// Extra `skiff server` flags.
    extra_args: Vec<String>,
    /// The network namespace ("host") the server and kubectl run in, and the server's
    /// address there; None = this machine's namespace, without a pod network.
    host: Option<(String, String)>,
}

/// Node-side components of a test server.
#[derive(Clone, Copy, PartialEq)]
enum Node {
    /// API only: no scheduler, no agent.
    None,
    /// Scheduler, no agent (simulated nodes join from outside).
    SchedulerOnly,
    /// Scheduler and the embedded runc agent on this port.
    Agent(u16),
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Result of a kubectl run.
pub struct Run {
    /// Exit status success.
    pub ok: bool,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Cluster {
    /// Start an API-only server (no node agent, no scheduler) and wait until kubectl can
    /// reach it.
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Cluster {
            child: None,
            dir,
            port: free_port(),
            node: Node::None,
            extra_args: Vec::new(),
            host: None,
        };
        c.spawn();
        c
    }

    /// Start an API-only server with extra `skiff server` flags.
    pub fn start_api_with_args(args: &[&str]) -> Cluster {
        let mut c = Cluster {
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            port: free_port(),
            node: Node::None,
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            host: None,
        };
        c.spawn();
        c
    }

    /// Start a server with the scheduler but no node agent of its own (for simulated nodes).
    pub fn start_scheduler_only() -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Cluster {
            child: None,
            dir,
            port: free_port(),
            node: Node::SchedulerOnly,
            extra_args: Vec::new(),
            host: None,
        };
        c.spawn();
        c
    }

    /// Start a server with its node agent (runc) and scheduler, after importing the offline
    /// busybox image (`busybox:1.36`) into its image store. Pods in tests must use that image
    /// with imagePullPolicy IfNotPresent: nothing may be pulled from outside.
    pub fn start_with_agent() -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Cluster {
            child: None,
            dir,
            port: free_port(),
            node: Node::Agent(free_port()),
            extra_args: Vec::new(),
            host: None,
        };
        import_busybox(c.scratch(), &c.data_dir());
        c.spawn();
        c
    }

    /// A server with its agent and the pod network, inside network namespace `netns` (a
    /// [`crate::netlab::NetLab`] host) whose address is `ip`; kubectl runs there too.
    pub fn start_in_host(netns: &str, ip: &str, args: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Cluster {
            child: None,
            dir,
            port: free_port(),
            node: Node::Agent(free_port()),
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            host: Some((netns.to_string(), ip.to_string())),
        };
        import_busybox(c.scratch(), &c.data_dir());
        c.spawn();
        c
    }

    /// A command run in the cluster's host namespace.
    pub fn command(&self, program: &str) -> Command {
        match &self.host {
            Some((netns, _)) => {
                let mut cmd = Command::new("nsenter");
                cmd.arg(format!("--net=/run/netns/{netns}"))
                    .args(["--", program]);
                cmd
            }
            None => Command::new(program),
        }
    }

    /// Like [`Cluster::start_with_agent`], with extra `skiff server` flags (e.g. a short
    /// `--node-monitor-grace-period`).
    pub fn start_with_agent_args(args: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Cluster {
            child: None,
            dir,
            port: free_port(),
            node: Node::Agent(free_port()),
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            host: None,
        };
        import_busybox(c.scratch(), &c.data_dir());
        c.spawn();
        c
    }

    /// Start `skiff agent` as another node that joins this cluster with the join token
    /// (`skiff token`), on its own data dir and agent port, with busybox imported.
    pub fn join_agent(&self, name: &str) -> JoinedAgent {
        let data = self.scratch().join(format!("agent-{name}"));
        std::fs::create_dir_all(&data).expect("agent data dir");
        import_busybox(self.scratch(), &data);
        let mut agent = JoinedAgent {
            child: None,
            data,
            name: name.to_string(),
            port: free_port(),
            server: format!("https://127.0.0.1:{}", self.port),
            token: self.join_token(),
            host: None,
            extra_args: Vec::new(),
        };
        agent.start();
        agent
    }

    /// Like [`Cluster::join_agent`], in network namespace `netns` whose address is `ip`,
    /// joining through the server's host address, with the pod network.
    pub fn join_agent_in(&self, name: &str, netns: &str, ip: &str) -> JoinedAgent {
        self.join_agent_in_with(name, netns, ip, &[])
    }

    /// Like [`Cluster::join_agent_in`], with extra `skiff agent` flags.
    pub fn join_agent_in_with(
        &self,
        name: &str,
        netns: &str,
        ip: &str,
        args: &[&str],
    ) -> JoinedAgent {
        let server_ip = &self.host.as_ref().expect("a cluster in a netns host").1;
        let data = self.scratch().join(format!("agent-{name}"));
        std::fs::create_dir_all(&data).expect("agent data dir");
        import_busybox(self.scratch(), &data);
        let mut agent = JoinedAgent {
            child: None,
            data,
            name: name.to_string(),
            port: free_port(),
            server: format!("https://{server_ip}:{}", self.port),
            token: self.join_token(),
            host: Some((netns.to_string(), ip.to_string())),
            extra_args: args.iter().map(|a| a.to_string()).collect(),
        };
        agent.start();
        agent
    }

    /// Start `count` simulated nodes (`sim-0`…) against this server and wait until all of
    /// them are registered; they go with the returned guard.
    pub fn simulated_nodes(&self, count: u32) -> ChildGuard {
        let agent = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["agent", "--simulated", "--count", &count.to_string()])
            .args(["--node-name", "sim", "--kubeconfig"])
            .arg(self.data_dir().join("kubeconfig.yaml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("skiff agent --simulated");
        let guard = ChildGuard(agent);
        let names: Vec<String> = (0..count).map(|i| format!("sim-{i}")).collect();
        self.wait_for(
            "simulated nodes",
            &[
                "get",
                "nodes",
                "-l",
                "skiff.dev/simulated=true",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ],
            &names.join(" "),
        );
        guard
    }

    /// The join token `skiff token` prints for this server.
    pub fn join_token(&self) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["token", "--data-dir"])
            .arg(self.data_dir())
            .output()
            .expect("skiff token");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log file");
        let mut cmd = self.command(env!("CARGO_BIN_EXE_skiff"));
        cmd.args(["server", "--port", &self.port.to_string(), "--data-dir"])
            .arg(self.data_dir());
        match &self.host {
            Some((_, ip)) => cmd.args(["--bind-address", "0.0.0.0", "--node-ip", ip]),
            // Tests share this machine's namespace: no bridge, routes or nft rules there,
            // and concurrent servers must not contend for the DNS port.
            None => {
                cmd.args(["--pod-network", "none"]);
                if !self.extra_args.iter().any(|a| a.contains("dns")) {
                    cmd.args(["--dns-port", "0"]);
                }
                &mut cmd
            }
        };
        if !self.extra_args.iter().any(|a| a.contains("eviction")) {
            cmd.args(["--eviction-hard", TEST_EVICTION_HARD]);
        }
        match self.node {
            Node::SchedulerOnly => cmd.args(["--disable-agent"]),
            Node::Agent(p) => cmd.args([
                "--agent-port",
                &p.to_string(),
                "--node-name",
                &format!("e2e-{}", self.port),
            ]),
            Node::None => cmd.args([
                "--disable-agent",
                "--disable-scheduler",
                "--disable-controllers",
            ]),
        };
        cmd.args(&self.extra_args);
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start skiff server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.data_dir().join("kubeconfig.yaml").exists() {
                let r = self.kubectl(&["get", "--raw", "/readyz"]);
                if r.ok {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not become ready:\n{}", self.log());
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A scratch directory for test files.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Stop the server with a signal and wait for it (SIGTERM = graceful, SIGKILL = crash).
    pub fn stop(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not exit after SIG{signal}");
        }
    }

    /// Send a signal without waiting.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status();
        }
    }

    /// Wait up to `timeout` for the server to exit; its exit code, or None if still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Some(status.code().unwrap_or(-1));
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Start the server again on the same data dir and port.
    pub fn restart(&mut self) {
        self.stop("TERM");
        self.spawn();
    }

    /// Start again after a crash.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// Run kubectl against this cluster.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_env(args, &[])
    }

    /// Run kubectl with extra environment variables.
    pub fn kubectl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", self.data_dir().join("kubeconfig.yaml"))
            .env("HOME", self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .output()
            .expect("run kubectl")
            .into()
    }

    /// Run kubectl with `input` on stdin.
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command("kubectl")
            .args(args)
            .env("KUBECONFIG", self.data_dir().join("kubeconfig.yaml"))
            .env("HOME", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("kubectl output").into()
    }

    /// Run kubectl and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.kubectl(args);
        assert!(
            r.ok,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}\nserver log tail: {}",
            r.stdout,
            r.stderr,
            tail(&self.log())
        );
        r.stdout
    }

    /// Apply a manifest from a string; require success.
    pub fn apply(&self, manifest: &str) -> String {
        let r = self.kubectl_stdin(&["apply", "-f", "-"], manifest);
        assert!(r.ok, "apply failed:\n{}\n{}", r.stdout, r.stderr);
        r.stdout
    }

    /// Run kubectl and require failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let r = self.kubectl(args);
        assert!(
            !r.ok,
            "kubectl {args:?} unexpectedly succeeded:\n{}",
            r.stdout
        );
        r.stderr
    }

    /// Parse `kubectl get -o json` output.
    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a: Vec<&str> = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl json")
    }

    /// Poll `kubectl args` (about 60 s) until its trimmed stdout equals `want`.
    pub fn wait_for(&self, what: &str, args: &[&str], want: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = String::new();
        while Instant::now() < deadline {
            let r = self.kubectl(args);
            last = format!("{}{}", r.stdout, r.stderr);
            if r.ok && r.stdout.trim() == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!(
            "{what}: wanted {want:?}, last saw {last:?}\nserver log:\n{}",
            tail(&self.log())
        );
    }

    /// Wait until this server's embedded node (`e2e-<port>`) is Ready; returns its name.
    pub fn wait_node_ready(&self) -> String {
        let node = format!("e2e-{}", self.port);
        self.wait_for(
            "node ready",
            &[
                "get",
                "node",
                &node,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
            "True",
        );
        node
    }

    /// Write a file into the scratch dir.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.scratch().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if matches!(self.node, Node::Agent(_)) {
            cleanup_node(&self.data_dir());
        }
    }
}

/// Build the offline busybox image (once per scratch dir) and import it into `data`'s store.
fn import_busybox(scratch: &Path, data: &Path) {
    let tar = scratch.join("busybox.tar");
    if !tar.exists() {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/build-busybox-image.sh");
        let built = Command::new(&script)
            .arg(&tar)
            .arg("busybox:1.36")
            .output()
            .expect("build busybox image");
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
    }
    let imported = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["image", "import", "--data-dir"])
        .arg(data)
        .arg(&tar)
        .output()
        .expect("skiff image import");
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
}

/// A `skiff agent` process joined to a test cluster; stopped and cleaned up on drop.
pub struct JoinedAgent {
    child: Option<Child>,
    /// The agent's data directory.
    pub data: PathBuf,
    /// Its node name.
    pub name: String,
    /// Its HTTPS API port.
    pub port: u16,
    server: String,
    token: String,
    /// Network namespace and address, as for [`Cluster`].
    host: Option<(String, String)>,
    /// Extra `skiff agent` flags.
    extra_args: Vec<String>,
}

impl JoinedAgent {
    /// Start (or start again) the agent process.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.join("agent.log"))
            .expect("agent log");
        let mut cmd = match &self.host {
            Some((netns, ip)) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{netns}"))
                    .args(["--", env!("CARGO_BIN_EXE_skiff")]);
                c.args(["agent", "--node-ip", ip]);
                c
            }
            None => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_skiff"));
                c.args(["agent", "--node-ip", "127.0.0.1", "--pod-network", "none"]);
                c
            }
        };
        let child = cmd
            .args(["--server", &self.server, "--token", &self.token])
            .args(["--node-name", &self.name])
            .args(["--eviction-hard", TEST_EVICTION_HARD])
            .args(&self.extra_args)
            .args(["--agent-port", &self.port.to_string(), "--data-dir"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start skiff agent");
        self.child = Some(child);
    }

    /// Stop the agent process (SIGKILL: like a crash; containers keep running).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The agent's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("agent.log")).unwrap_or_default()
    }
}

impl Drop for JoinedAgent {
    fn drop(&mut self) {
        self.kill();
        cleanup_node(&self.data);
    }
}

/// Remove everything the node agent made under `data`: runc containers (which stops their
/// shims), mounts, and the pods' cgroups.
fn cleanup_node(data: &Path) {
    let runc_root = data.join("runtime/runc");
    let mut pod_uids = Vec::new();
    if let Ok(out) = Command::new("runc")
        .arg("--root")
        .arg(&runc_root)
        .args(["list", "-q"])
        .output()
    {
        for id in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
        {
            let _ = Command::new("runc")
                .arg("--root")
                .arg(&runc_root)
                .args(["delete", "--force", id])
                .status();
        }
    }
    if let Ok(entries) = std::fs::read_dir(data.join("runtime/containers")) {
        for e in entries.flatten() {
            if let Some(uid) = e.file_name().to_string_lossy().split('_').next() {
                pod_uids.push(uid.to_string());
            }
        }
    }
    // Unmount deepest first.
    let prefix = data.to_string_lossy().to_string();
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = Command::new("umount").args(["-l", &m]).status();
    }
    for ctrl in [
        "cpu", "cpuacct", "memory", "pids", "blkio", "cpuset", "devices", "freezer", "systemd",
        "unified",
    ] {
        for qos in ["guaranteed", "burstable", "besteffort"] {
            for uid in &pod_uids {
                let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{ctrl}/skiff/{qos}/pod{uid}"));
            }
        }
    }
}

/// Path of a seed manifest shipped beside the repository (../shared/fixtures/seeds).
pub fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/seeds")
        .join(name)
}
