//! The node's side of the pod network: once the node has a pod CIDR, the bridge is set up
//! (and sandboxes may attach); routes to every other node's pod CIDR follow the Node list.

use crate::config::{AgentConfig, PodNetworkSetup};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use skiff_cri::RuntimeService;
use skiff_net::host_ports::HostPort;
use skiff_net::routes::{self, Peer};
use skiff_net::Ipv4Cidr;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Changes arriving within this window are applied together.
const SETTLE: Duration = Duration::from_millis(50);
/// A failed sync is retried after this long.
const RETRY: Duration = Duration::from_secs(5);

/// Keep the bridge and routes in step with the Node list until shutdown.
pub async fn run(
    client: kube::Client,
    cfg: Arc<AgentConfig>,
    net: PodNetworkSetup,
    runtime: Arc<dyn RuntimeService>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Addresses of sandboxes that vanished while the agent was down. Safe only now: nothing
    // attaches before the subnet is configured below.
    if let Ok(live) = runtime.list_sandboxes().await {
        net.bridge.collect_garbage(&live).await;
    }
    let (reader, writer) = reflector::store::<Node>();
    let stream = reflector::reflector(
        writer,
        watcher::watcher(Api::<Node>::all(client), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    let mut stream = std::pin::pin!(stream);
    let own_ip: Option<Ipv4Addr> = cfg.internal_ip.parse().ok();
    let mut dirty = false;
    loop {
        let wait = if dirty {
            SETTLE
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            ev = stream.next() => match ev {
                Some(Ok(_)) => dirty = true,
                Some(Err(e)) => tracing::warn!(error = %e, "node watch failed; retrying"),
                None => return,
            },
            _ = tokio::time::sleep(wait), if dirty => {
                let nodes = reader.state();
                dirty = match sync(&cfg, &net, own_ip, &nodes).await {
                    Ok(()) => false,
                    Err(e) => {
                        tracing::warn!(error = %e, "pod network sync failed; retrying");
                        tokio::time::sleep(RETRY).await;
                        true
                    }
                };
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn sync(
    cfg: &AgentConfig,
    net: &PodNetworkSetup,
    own_ip: Option<Ipv4Addr>,
    nodes: &[Arc<Node>],
) -> Result<(), skiff_net::NetError> {
    let Some(own) = nodes
        .iter()
        .find(|n| n.name_any() == cfg.node_name)
        .and_then(|n| pod_cidr(n))
    else {
        return Ok(());
    };
    if !net.cluster_cidr.contains(own.network()) {
        tracing::warn!(%own, cluster = %net.cluster_cidr, "the node's pod CIDR is outside the cluster CIDR");
    }
    net.bridge.configure(own).await?;
    let peers: Vec<Peer> = nodes
        .iter()
        .filter(|n| n.name_any() != cfg.node_name)
        .filter_map(|n| {
            Some(Peer {
                subnet: pod_cidr(n)?,
                node_ip: internal_ip(n)?,
            })
        })
        .collect();
    let Some(own_ip) = own_ip else {
        return Ok(());
    };
    routes::sync(net.backend, own, own_ip, &peers).await
}

fn pod_cidr(node: &Node) -> Option<Ipv4Cidr> {
    node.spec.as_ref()?.pod_cidr.as_deref()?.parse().ok()
}

fn internal_ip(node: &Node) -> Option<Ipv4Addr> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")?
        .address
        .parse()
        .ok()
}

/// Keep the node's hostPort rules in step with its pods until shutdown.
pub async fn host_ports(
    client: kube::Client,
    node_name: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let nft = skiff_net::Nft::host();
    let (reader, writer) = reflector::store::<Pod>();
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={node_name}"));
    let stream = reflector::reflector(writer, watcher::watcher(Api::<Pod>::all(client), cfg))
        .default_backoff()
        .touched_objects();
    let mut stream = std::pin::pin!(stream);
    let mut applied: Option<Vec<HostPort>> = None;
    let mut dirty = false;
    loop {
        let wait = if dirty {
            SETTLE
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            ev = stream.next() => match ev {
                Some(Ok(_)) => dirty = true,
                Some(Err(e)) => tracing::warn!(error = %e, "pod watch failed; retrying"),
                None => return,
            },
            _ = tokio::time::sleep(wait), if dirty => {
                let mut want: Vec<HostPort> = reader.state().iter().flat_map(|p| pod_host_ports(p)).collect();
                want.sort();
                if applied.as_ref() == Some(&want) {
                    dirty = false;
                    continue;
                }
                match skiff_net::host_ports::apply(&nft, &want).await {
                    Ok(()) => {
                        applied = Some(want);
                        dirty = false;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "hostPort rules failed; retrying");
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// The hostPorts of a running pod with an address of its own (hostNetwork pods bind the
/// node's ports themselves).
fn pod_host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let status = pod.status.as_ref();
    let terminal = matches!(
        status.and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    );
    let pod_ip = status
        .and_then(|s| s.pod_ip.as_deref())
        .and_then(|ip| ip.parse().ok());
    let (Some(pod_ip), false, false) = (pod_ip, terminal, spec.host_network == Some(true)) else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            Some(HostPort {
                protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                host_port: u16::try_from(p.host_port?).ok().filter(|h| *h > 0)?,
                host_ip: p.host_ip.as_deref().and_then(|ip| ip.parse().ok()),
                pod_ip,
                container_port: u16::try_from(p.container_port).ok()?,
            })
        })
        .collect()
}
