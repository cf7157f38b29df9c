//! Routes to the other nodes' pod subnets: straight through each node's address when all
//! nodes share an L2 segment (host-gw), or through a VXLAN overlay when they don't
//! (flannel's two backends; same VNI and UDP port as flannel's vxlan).

use crate::bridge::BRIDGE;
use crate::cidr::Ipv4Cidr;
use crate::command::{ip_batch, run};
use crate::error::NetError;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The route protocol number marking Skiff's routes, so a sync finds and removes its stale
/// ones and never touches anyone else's.
pub const ROUTE_PROTO: u8 = 66;
/// The overlay device.
pub const VXLAN_DEVICE: &str = "skiff.vxlan";
/// The overlay's VNI and UDP port (flannel's defaults).
const VXLAN_ID: u32 = 1;
const VXLAN_PORT: u16 = 8472;
/// Bytes VXLAN encapsulation costs; pod interfaces shrink by this much.
pub const VXLAN_OVERHEAD: u32 = 50;

/// How pod traffic reaches other nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A route per node via its address (one L2 segment).
    HostGw,
    /// A VXLAN overlay (nodes only need UDP between them).
    Vxlan,
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "host-gw" => Ok(Backend::HostGw),
            "vxlan" => Ok(Backend::Vxlan),
            other => Err(format!(
                "unknown pod network backend {other:?} (host-gw, vxlan)"
            )),
        }
    }
}

/// Another node: where its pods live and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its pod subnet.
    pub subnet: Ipv4Cidr,
    /// Its address.
    pub node_ip: Ipv4Addr,
}

/// The overlay MAC of a node: locally administered, derived from its subnet so every node
/// computes every other node's without publishing it.
pub fn vtep_mac(subnet: Ipv4Cidr) -> String {
    let o = subnet.network().octets();
    format!("0e:6b:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// The desired route commands for `peers` (for tests and for [`sync`]).
pub fn route_lines(backend: Backend, peers: &[Peer]) -> Vec<String> {
    peers
        .iter()
        .map(|p| match backend {
            Backend::HostGw => format!(
                "route replace {} via {} proto {ROUTE_PROTO}",
                p.subnet, p.node_ip
            ),
            Backend::Vxlan => format!(
                "route replace {} via {} dev {VXLAN_DEVICE} onlink proto {ROUTE_PROTO}",
                p.subnet,
                p.subnet.network()
            ),
        })
        .collect()
}

/// Make this node's routes to `peers` exactly what they should be: add or fix the missing,
/// remove Skiff routes to subnets no longer listed.
pub async fn sync(
    backend: Backend,
    own_subnet: Ipv4Cidr,
    own_ip: Ipv4Addr,
    peers: &[Peer],
) -> Result<(), NetError> {
    let peers: Vec<Peer> = peers
        .iter()
        .filter(|p| p.subnet != own_subnet)
        .cloned()
        .collect();
    if backend == Backend::Vxlan {
        ensure_vxlan(own_subnet, own_ip).await?;
        for p in &peers {
            let mac = vtep_mac(p.subnet);
            ip_batch(&[format!(
                "neigh replace {} lladdr {mac} dev {VXLAN_DEVICE} nud permanent",
                p.subnet.network()
            )])
            .await?;
            run(
                "bridge",
                &[
                    "fdb",
                    "replace",
                    &mac,
                    "dev",
                    VXLAN_DEVICE,
                    "dst",
                    &p.node_ip.to_string(),
                    "self",
                    "permanent",
                ],
                None,
            )
            .await?;
        }
    }
    let existing = installed().await?;
    let wanted: BTreeMap<Ipv4Cidr, ()> = peers.iter().map(|p| (p.subnet, ())).collect();
    let mut lines = route_lines(backend, &peers);
    for stale in existing
        .keys()
        .filter(|s| !wanted.contains_key(s) && **s != own_subnet)
    {
        lines.push(format!("route del {stale} proto {ROUTE_PROTO}"));
    }
    if lines.is_empty() {
        return Ok(());
    }
    ip_batch(&lines).await
}

/// Skiff's routes now in the table: destination → the rest of the line.
async fn installed() -> Result<BTreeMap<Ipv4Cidr, String>, NetError> {
    let out = run(
        "ip",
        &[
            "-4",
            "-o",
            "route",
            "show",
            "proto",
            &ROUTE_PROTO.to_string(),
        ],
        None,
    )
    .await?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let (dst, rest) = l.split_once(' ')?;
            Some((dst.parse().ok()?, rest.to_string()))
        })
        .collect())
}

async fn ensure_vxlan(own_subnet: Ipv4Cidr, own_ip: Ipv4Addr) -> Result<(), NetError> {
    let mut lines = Vec::new();
    if run("ip", &["link", "show", VXLAN_DEVICE], None)
        .await
        .is_err()
    {
        lines.push(format!(
            "link add {VXLAN_DEVICE} type vxlan id {VXLAN_ID} local {own_ip} dstport {VXLAN_PORT} nolearning"
        ));
    }
    lines.push(format!(
        "link set {VXLAN_DEVICE} address {} mtu {}",
        vtep_mac(own_subnet),
        1500 - VXLAN_OVERHEAD
    ));
    lines.push(format!(
        "addr replace {}/32 dev {VXLAN_DEVICE}",
        own_subnet.network()
    ));
    lines.push(format!("link set {VXLAN_DEVICE} up"));
    ip_batch(&lines).await
}

/// Remove everything this module and the bridge made in the current network namespace
/// (`skiff agent --uninstall`-style cleanup and tests).
pub async fn remove_all() {
    if let Ok(routes) = installed().await {
        let lines: Vec<String> = routes
            .keys()
            .map(|d| format!("route del {d} proto {ROUTE_PROTO}"))
            .collect();
        if !lines.is_empty() {
            let _ = ip_batch(&lines).await;
        }
    }
    for dev in [VXLAN_DEVICE, BRIDGE] {
        let _ = run("ip", &["link", "del", dev], None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_per_backend() {
        let peers = [Peer {
            subnet: "10.42.2.0/24".parse().unwrap(),
            node_ip: Ipv4Addr::new(192, 168, 77, 12),
        }];
        assert_eq!(
            route_lines(Backend::HostGw, &peers),
            ["route replace 10.42.2.0/24 via 192.168.77.12 proto 66"]
        );
        assert_eq!(
            route_lines(Backend::Vxlan, &peers),
            ["route replace 10.42.2.0/24 via 10.42.2.0 dev skiff.vxlan onlink proto 66"]
        );
        assert_eq!(vtep_mac(peers[0].subnet), "0e:6b:0a:2a:02:00");
        assert_eq!("vxlan".parse::<Backend>(), Ok(Backend::Vxlan));
        assert!("flannel".parse::<Backend>().is_err());
    }
}
