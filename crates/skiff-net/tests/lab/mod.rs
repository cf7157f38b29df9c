//! A private "node" for nftables tests: a network namespace with the pod bridge `skiff0`
//! (10.42.0.1/24) and an uplink dummy address (192.168.250.1 on a dead-end veth, default route into it), plus
//! "pods" (child namespaces on veths) that can run busybox httpd and curl. Everything is
//! removed in Drop, also when the test panics.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The node's address on its dummy uplink.
pub const NODE_IP: &str = "192.168.250.1";

/// Run a command; panic with its stderr when it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A node namespace with pods.
pub struct Lab {
    /// The node namespace's name.
    pub node: String,
    pods: Vec<String>,
    servers: Vec<Child>,
    dirs: Vec<tempfile::TempDir>,
}

impl Lab {
    /// A node namespace with the bridge and uplink configured.
    pub fn new() -> Lab {
        assert_eq!(
            rustix_euid(),
            0,
            "the nftables integration tests need root (network namespaces)"
        );
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let node = format!("skt-nft-{}-{n}", std::process::id());
        sh(&["ip", "netns", "add", &node]);
        let lab = Lab {
            node: node.clone(),
            pods: Vec::new(),
            servers: Vec::new(),
            dirs: Vec::new(),
        };
        for cmd in [
            "link set lo up",
            "link add skiff0 type bridge",
            "addr add 10.42.0.1/24 dev skiff0",
            "link set skiff0 up",
            // No dummy module here: a veth pair whose far end goes nowhere.
            "link add uplink0 type veth peer name uplink1",
            "addr add 192.168.250.1/24 dev uplink0",
            "link set uplink1 up",
            "link set uplink0 up",
            "route add default via 192.168.250.2",
        ] {
            let mut args = vec!["ip", "-n", node.as_str()];
            args.extend(cmd.split(' '));
            sh(&args);
        }
        for (key, value) in [
            ("/proc/sys/net/ipv4/ip_forward", "1"),
            ("/proc/sys/net/bridge/bridge-nf-call-iptables", "1"),
        ] {
            sh(&[
                "ip",
                "netns",
                "exec",
                &node,
                "sh",
                "-c",
                &format!("echo {value} > {key}"),
            ]);
        }
        lab
    }

    /// Add a pod with address 10.42.0.<last>; returns its namespace name.
    pub fn pod(&mut self, last: u8) -> String {
        let ns = format!("{}-p{last}", self.node);
        sh(&["ip", "netns", "add", &ns]);
        self.pods.push(ns.clone());
        let host_if = format!("vp{last}");
        sh(&[
            "ip", "-n", &self.node, "link", "add", &host_if, "type", "veth", "peer", "name",
            "eth0", "netns", &ns,
        ]);
        sh(&[
            "ip", "-n", &self.node, "link", "set", &host_if, "master", "skiff0", "up",
        ]);
        let addr = format!("10.42.0.{last}/24");
        for cmd in [
            vec!["link", "set", "lo", "up"],
            vec!["addr", "add", addr.as_str(), "dev", "eth0"],
            vec!["link", "set", "eth0", "up"],
            vec!["route", "add", "default", "via", "10.42.0.1"],
        ] {
            let mut args = vec!["ip", "-n", ns.as_str()];
            args.extend(cmd);
            sh(&args);
        }
        ns
    }

    /// Let the bridge send frames back out of the port of pod 10.42.0.<last> (hairpin),
    /// as a pod reaching itself through a Service needs.
    pub fn hairpin(&self, last: u8) {
        let port = format!("vp{last}");
        sh(&[
            "ip",
            "-n",
            &self.node,
            "link",
            "set",
            &port,
            "type",
            "bridge_slave",
            "hairpin",
            "on",
        ]);
    }

    /// Serve `body` over HTTP on `port` in namespace `ns` (busybox httpd).
    pub fn serve(&mut self, ns: &str, port: u16, body: &str) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("index.html"), body).expect("index.html");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "busybox", "httpd", "-f", "-p"])
            .arg(port.to_string())
            .arg("-h")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("httpd");
        self.servers.push(child);
        self.dirs.push(dir);
    }

    /// GET http://<addr>/ from namespace `ns`; the body, or the error curl printed.
    pub fn get(&self, ns: &str, addr: &str) -> Result<String, String> {
        let out = Command::new("ip")
            // busybox wget crashes on this machine; curl is there.
            .args(["netns", "exec", ns, "curl", "-sS", "--max-time", "2"])
            .arg(format!("http://{addr}/"))
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// Retry `get` until it succeeds (servers take a moment to start).
    pub fn get_eventually(&self, ns: &str, addr: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.get(ns, addr) {
                Ok(body) => return body,
                Err(e) if Instant::now() > deadline => panic!("GET {addr} from {ns}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// `nft list table inet <table>` in the node namespace.
    pub fn list(&self, table: &str) -> String {
        sh(&[
            "ip", "netns", "exec", &self.node, "nft", "list", "table", "inet", table,
        ])
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.pods.iter().chain(std::iter::once(&self.node)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn rustix_euid() -> u32 {
    // Read from /proc so the tests need no extra dependency.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(u32::MAX)
}
