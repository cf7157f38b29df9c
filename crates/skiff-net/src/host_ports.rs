//! hostPort: a container port published on the node's addresses (what the CNI portmap plugin
//! does). A small table of its own, rebuilt whole in one transaction when the node's pods
//! change: DNAT of local-address traffic on the host port to the pod, and masquerade for
//! connections the node itself opens (their source would be unroutable from the pod's view).

use crate::error::NetError;
use crate::nft::Nft;
use std::fmt::Write;
use std::net::Ipv4Addr;

/// The table hostPorts live in.
pub const HOST_PORT_TABLE: &str = "skiff-hostports";

/// One published port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostPort {
    /// tcp, udp or sctp.
    pub protocol: String,
    /// The node port.
    pub host_port: u16,
    /// Only this node address (None: any local address).
    pub host_ip: Option<Ipv4Addr>,
    /// The pod.
    pub pod_ip: Ipv4Addr,
    /// The container port.
    pub container_port: u16,
}

/// The batch replacing the table with `ports`.
pub fn render(ports: &[HostPort]) -> String {
    let t = HOST_PORT_TABLE;
    let mut b = format!("add table ip {t}\ndelete table ip {t}\n");
    if ports.is_empty() {
        return b;
    }
    let _ = writeln!(b, "table ip {t} {{");
    // Before the Service proxy's chains (dstnat), as the portmap plugin's run first.
    for (chain, hook) in [("prerouting", "prerouting"), ("output", "output")] {
        let _ = writeln!(
            b,
            "  chain {chain} {{ type nat hook {hook} priority -105; fib daddr type local jump hostports; }}"
        );
    }
    let _ = writeln!(b, "  chain hostports {{");
    for p in ports {
        let daddr = p
            .host_ip
            .map(|ip| format!("ip daddr {ip} "))
            .unwrap_or_default();
        let _ = writeln!(
            b,
            "    {daddr}{} dport {} meta mark set mark or 0x8000 dnat to {}:{}",
            p.protocol, p.host_port, p.pod_ip, p.container_port
        );
    }
    let _ = writeln!(b, "  }}");
    let _ = writeln!(
        b,
        "  chain postrouting {{ type nat hook postrouting priority 95; meta mark & 0x8000 == 0x8000 fib saddr type local masquerade; }}"
    );
    let _ = writeln!(b, "}}");
    b
}

/// Make the node's hostPort rules exactly `ports`.
pub async fn apply(nft: &Nft, ports: &[HostPort]) -> Result<(), NetError> {
    nft.apply(&render(ports)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_rule_per_port_and_an_empty_table_when_none() {
        let ports = [HostPort {
            protocol: "tcp".into(),
            host_port: 8088,
            host_ip: None,
            pod_ip: Ipv4Addr::new(10, 42, 0, 5),
            container_port: 80,
        }];
        let b = render(&ports);
        assert!(b.starts_with("add table ip skiff-hostports\ndelete table ip skiff-hostports\n"));
        assert!(
            b.contains("tcp dport 8088 meta mark set mark or 0x8000 dnat to 10.42.0.5:80"),
            "{b}"
        );
        assert_eq!(render(&[]).lines().count(), 2);
        // The kernel accepts it (`nft -c` checks without changing the ruleset).
        let checked = std::process::Command::new("nft")
            .args(["-c", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().expect("stdin").write_all(b.as_bytes())?;
                child.wait_with_output()
            })
            .expect("run nft -c");
        assert!(
            checked.status.success(),
            "{}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}
