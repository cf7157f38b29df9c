//! The pod network of one node: a Linux bridge holding the node's pod subnet gateway, and a
//! veth pair per pod sandbox — `eth0` inside the pod's network namespace with an address from
//! [`Ipam`], the other end a port of the bridge (what the CNI bridge + host-local plugins do
//! for containerd).

use crate::cidr::Ipv4Cidr;
use crate::command::{ip_batch, run, sysctl};
use crate::error::NetError;
use crate::ipam::Ipam;
use skiff_cri::{BoxFuture, PodNetwork, RuntimeError};
use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// The bridge's name in each node's network namespace.
pub const BRIDGE: &str = "skiff0";
/// How long a sandbox waits for the node's pod subnet before failing (and being retried).
const SUBNET_WAIT: Duration = Duration::from_secs(30);

/// Settings of a node's pod network.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    /// Where allocations are kept.
    pub ipam_dir: PathBuf,
    /// MTU of pod interfaces (smaller under VXLAN).
    pub mtu: u32,
}

/// The node's bridge and pod interfaces.
#[derive(Debug)]
pub struct BridgeNetwork {
    cfg: BridgeConfig,
    ipam: Ipam,
    subnet_tx: watch::Sender<Option<Ipv4Cidr>>,
    subnet: watch::Receiver<Option<Ipv4Cidr>>,
}

impl BridgeNetwork {
    /// A network with no subnet yet: sandboxes wait until [`BridgeNetwork::configure`].
    pub fn new(cfg: BridgeConfig) -> Result<BridgeNetwork, NetError> {
        let ipam = Ipam::open(&cfg.ipam_dir)?;
        let (subnet_tx, subnet) = watch::channel(None);
        Ok(BridgeNetwork {
            cfg,
            ipam,
            subnet_tx,
            subnet,
        })
    }

    /// The node's pod subnet, once configured.
    pub fn subnet(&self) -> Option<Ipv4Cidr> {
        *self.subnet.borrow()
    }

    /// Create (or check) the bridge with the subnet's gateway address and let the node
    /// forward pod traffic; then sandboxes may attach.
    pub async fn configure(&self, subnet: Ipv4Cidr) -> Result<(), NetError> {
        if self.subnet() == Some(subnet) {
            return Ok(());
        }
        let gateway = subnet
            .gateway()
            .ok_or_else(|| NetError::Invalid(format!("pod CIDR {subnet} has no host addresses")))?;
        let exists = run("ip", &["link", "show", BRIDGE], None).await.is_ok();
        let mut lines = Vec::new();
        if !exists {
            lines.push(format!("link add {BRIDGE} type bridge"));
        }
        lines.push(format!(
            "addr replace {gateway}/{} dev {BRIDGE}",
            subnet.prefix()
        ));
        lines.push(format!("link set {BRIDGE} up"));
        ip_batch(&lines).await?;
        sysctl("net.ipv4.ip_forward", "1")?;
        // Bridged traffic between pods of this node passes the inet hooks, so service DNAT
        // replies and NetworkPolicy see it (br_netfilter; per namespace on current kernels).
        if let Err(e) = sysctl("net.bridge.bridge-nf-call-iptables", "1") {
            tracing::warn!(error = %e, "bridged pod traffic will bypass nftables");
        }
        tracing::info!(%subnet, bridge = BRIDGE, "pod network configured");
        self.subnet_tx.send_replace(Some(subnet));
        Ok(())
    }

    async fn wait_subnet(&self) -> Result<Ipv4Cidr, NetError> {
        let mut rx = self.subnet.clone();
        let waited = tokio::time::timeout(SUBNET_WAIT, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(s)) => (*s).ok_or_else(|| NetError::NotReady("no pod CIDR".into())),
            _ => Err(NetError::NotReady(
                "the node has no pod CIDR (spec.podCIDR) yet".into(),
            )),
        }
    }

    /// Give the sandbox `eth0` with an address on the bridge; returns the address.
    pub async fn attach_sandbox(
        &self,
        sandbox_id: &str,
        netns: &Path,
    ) -> Result<Ipv4Addr, NetError> {
        let subnet = self.wait_subnet().await?;
        let gateway = subnet
            .gateway()
            .ok_or_else(|| NetError::Invalid(format!("pod CIDR {subnet} has no host addresses")))?;
        let pid = netns_pid(netns)?;
        let ip = self.ipam.allocate(subnet, sandbox_id)?;
        let host_if = host_interface(sandbox_id);
        let mtu = self.cfg.mtu;
        // A retry after a half-done attach finds the old pair: start over.
        let _ = run("ip", &["link", "del", &host_if], None).await;
        let made = ip_batch(&[
            format!("link add {host_if} mtu {mtu} type veth peer name eth0 mtu {mtu} netns {pid}"),
            format!("link set {host_if} master {BRIDGE}"),
            // A pod reaching itself through a Service leaves and re-enters the same port.
            format!("link set {host_if} type bridge_slave hairpin on"),
            format!("link set {host_if} up"),
        ])
        .await;
        let inside = match made {
            Ok(()) => {
                let netns_arg = format!("--net={}", netns.display());
                run(
                    "nsenter",
                    &[&netns_arg, "ip", "-batch", "-"],
                    Some(&format!(
                        "link set lo up\nlink set eth0 up\naddr add {ip}/{} dev eth0\nroute add default via {gateway} dev eth0\n",
                        subnet.prefix()
                    )),
                )
                .await
                .map(|_| ())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = inside {
            let _ = run("ip", &["link", "del", &host_if], None).await;
            self.ipam.release(sandbox_id);
            return Err(e);
        }
        Ok(ip)
    }

    /// Remove the sandbox's interface pair and free its address. Idempotent.
    pub async fn detach_sandbox(&self, sandbox_id: &str) -> Result<(), NetError> {
        let host_if = host_interface(sandbox_id);
        match run("ip", &["link", "del", &host_if], None).await {
            Ok(_) => {}
            // Gone with its namespace, or never made.
            Err(NetError::Command { stderr, .. })
                if stderr.contains("Cannot find device") || stderr.contains("does not exist") => {}
            Err(e) => return Err(e),
        }
        self.ipam.release(sandbox_id);
        Ok(())
    }

    /// Free the addresses of sandboxes that no longer exist (a crash between attach and
    /// detach); `live` are the sandbox ids the runtime still has.
    pub async fn collect_garbage(&self, live: &[String]) {
        for (ip, owner) in self.ipam.allocations() {
            if !live.contains(&owner) {
                tracing::info!(%ip, sandbox = %owner, "releasing the address of a sandbox that is gone");
                let _ = self.detach_sandbox(&owner).await;
            }
        }
    }
}

/// The bridge-side interface of a sandbox: `veth` + 8 hex digits of its id's hash (interface
/// names are at most 15 bytes).
pub fn host_interface(sandbox_id: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    sandbox_id.hash(&mut h);
    format!("veth{:08x}", h.finish() as u32)
}

/// The process id in a `/proc/<pid>/ns/net` path (`ip link … netns` takes a pid).
fn netns_pid(netns: &Path) -> Result<u32, NetError> {
    let s = netns.to_string_lossy();
    s.strip_prefix("/proc/")
        .and_then(|r| r.strip_suffix("/ns/net"))
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| NetError::Invalid(format!("unsupported network namespace path {s}")))
}

fn to_runtime(e: NetError) -> RuntimeError {
    RuntimeError::Failed(format!("plugin type=\"bridge\" failed (add): {e}"))
}

impl PodNetwork for BridgeNetwork {
    fn attach(
        &self,
        sandbox_id: &str,
        netns: &Path,
    ) -> BoxFuture<'_, Result<String, RuntimeError>> {
        let (id, netns) = (sandbox_id.to_string(), netns.to_path_buf());
        Box::pin(async move {
            self.attach_sandbox(&id, &netns)
                .await
                .map(|ip| ip.to_string())
                .map_err(to_runtime)
        })
    }

    fn detach(&self, sandbox_id: &str) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let id = sandbox_id.to_string();
        Box::pin(async move {
            self.detach_sandbox(&id).await.map_err(|e| {
                RuntimeError::Failed(format!("plugin type=\"bridge\" failed (delete): {e}"))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_pids_parse() {
        let n = host_interface("0123456789abcdef0123456789abcdef");
        assert!(n.len() <= 15 && n.starts_with("veth"), "{n}");
        assert_eq!(n, host_interface("0123456789abcdef0123456789abcdef"));
        assert_ne!(n, host_interface("other"));
        assert_eq!(netns_pid(Path::new("/proc/42/ns/net")).unwrap(), 42);
        assert!(netns_pid(Path::new("/var/run/netns/x")).is_err());
    }
}
