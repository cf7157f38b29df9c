//! A private network of "hosts" for multi-node tests: each host is a network namespace with
//! one interface on a bridge that lives in a namespace of its own, so nodes share an L2
//! segment, and nothing has a route to the outside or touches this machine's namespace.
//! Everything is removed on drop, even after a panic.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The lab: `hosts[i]` is a namespace name; its address is [`NetLab::ip`].
pub struct NetLab {
    lan: String,
    hosts: Vec<String>,
}

fn ip(args: &[&str]) -> Output {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl NetLab {
    /// `count` hosts on one segment, 192.168.77.10, .11, …/24.
    pub fn new(count: usize) -> NetLab {
        let id = format!(
            "skt-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let lab = NetLab {
            lan: format!("{id}-lan"),
            hosts: (0..count).map(|i| format!("{id}-h{i}")).collect(),
        };
        ip(&["netns", "add", &lab.lan]);
        ip(&["-n", &lab.lan, "link", "add", "lan0", "type", "bridge"]);
        ip(&["-n", &lab.lan, "link", "set", "lan0", "up"]);
        for (i, host) in lab.hosts.iter().enumerate() {
            ip(&["netns", "add", host]);
            let port = format!("p{i}");
            ip(&[
                "-n", &lab.lan, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", host,
            ]);
            ip(&["-n", &lab.lan, "link", "set", &port, "master", "lan0", "up"]);
            ip(&["-n", host, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                host,
                "addr",
                "add",
                &format!("{}/24", lab.ip(i)),
                "dev",
                "eth0",
            ]);
            ip(&["-n", host, "link", "set", "eth0", "up"]);
        }
        lab
    }

    /// Namespace name of host `i`.
    pub fn host(&self, i: usize) -> &str {
        &self.hosts[i]
    }

    /// Address of host `i`.
    pub fn ip(&self, i: usize) -> String {
        format!("192.168.77.{}", 10 + i)
    }

    /// Run a command in host `i`.
    pub fn exec(&self, i: usize, program: &str, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.hosts[i]))
            .args(["--", program])
            .args(args)
            .output()
            .expect("nsenter")
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        for ns in self.hosts.iter().chain(std::iter::once(&self.lan)) {
            // Whatever still runs there (a test that panicked mid-way) goes first.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
