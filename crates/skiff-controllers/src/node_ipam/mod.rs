//! Node IPAM (upstream's nodeipam range allocator): every Node without `spec.podCIDR`
//! gets the next free `/node_prefix` of the cluster CIDR ([`cidr_set`]) in
//! `spec.podCIDR` and `spec.podCIDRs`. Subnets already on nodes are never handed out again
//! (the used set is rebuilt from the node cache at start), and a deleted node's subnet is
//! released. When none is left the node gets a `CIDRNotAvailable` event and is retried.

pub mod cidr_set;

pub use cidr_set::{Cidr, CidrSet};

use crate::error::ControllerError;
use crate::events::Recorder;
use crate::informer::Informer;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use std::collections::HashMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::sync::mpsc;

/// The component name on events.
pub const COMPONENT: &str = "node-ipam-controller";
/// How long a node that got no subnet waits before the next attempt.
const RETRY: Duration = Duration::from_secs(5);

/// Where node subnets come from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The cluster CIDR; `None` turns allocation off.
    pub cluster_cidr: Option<Cidr>,
    /// The prefix length of each node's subnet.
    pub node_prefix: u8,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            cluster_cidr: Cidr::new(Ipv4Addr::new(10, 42, 0, 0), 16),
            node_prefix: 24,
        }
    }
}

enum Msg {
    Changed(String),
    Deleted(String),
}

/// The subnet a node already has (its first IPv4 podCIDR).
fn node_cidr(node: &Node) -> Option<Cidr> {
    let spec = node.spec.as_ref()?;
    spec.pod_cidrs
        .iter()
        .flatten()
        .chain(spec.pod_cidr.as_ref())
        .find_map(|c| c.parse().ok())
}

/// Allocation state: the subnets and which node holds (or is being given) which.
struct Allocator {
    set: CidrSet,
    held: HashMap<String, Cidr>,
}

impl Allocator {
    /// Record the subnet a node carries, freeing one it was given and no longer has.
    fn observe(&mut self, name: &str, c: Cidr) {
        if let Some(old) = self.held.insert(name.to_string(), c) {
            if old != c {
                self.set.release(old);
            }
        }
        if !self.set.occupy(c) {
            tracing::warn!(node = name, cidr = %c, "node podCIDR is outside the cluster CIDR");
        }
    }

    fn release(&mut self, name: &str) {
        if let Some(c) = self.held.remove(name) {
            self.set.release(c);
        }
    }
}

/// Wire the allocator to the node cache; returns its loop, to be run after the cache is
/// spawned. A disabled allocator returns a loop that waits for shutdown.
pub fn register(
    client: &Client,
    nodes: &mut Informer<Node>,
    cfg: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let set = cfg
        .cluster_cidr
        .and_then(|c| CidrSet::new(c, cfg.node_prefix));
    if cfg.cluster_cidr.is_some() && set.is_none() {
        tracing::error!(cluster = ?cfg.cluster_cidr, prefix = cfg.node_prefix, "node subnets do not fit the cluster CIDR; node IPAM is off");
    }
    let (tx, rx) = mpsc::unbounded_channel();
    if set.is_some() {
        let tx = tx.clone();
        nodes.on_event(move |node, deleted| {
            let name = node.name_any();
            let _ = tx.send(if deleted {
                Msg::Deleted(name)
            } else {
                Msg::Changed(name)
            });
        });
    }
    let store = nodes.store();
    let synced = nodes.synced();
    let client = client.clone();
    async move {
        let Some(set) = set else {
            shutdown.await;
            return Ok(());
        };
        tokio::select! {
            r = run(client, store, set, tx, rx, synced) => r,
            _ = shutdown => Ok(()),
        }
    }
}

async fn run(
    client: Client,
    nodes: Store<Node>,
    set: CidrSet,
    tx: mpsc::UnboundedSender<Msg>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    mut synced: tokio::sync::watch::Receiver<bool>,
) -> Result<(), ControllerError> {
    synced
        .wait_for(|s| *s)
        .await
        .map_err(|_| ControllerError::CacheNotReady("node"))?;
    let events = Recorder::new(client.clone(), COMPONENT);
    let api: Api<Node> = Api::all(client);
    let mut alloc = Allocator {
        set,
        held: HashMap::new(),
    };
    // Every subnet in use first, so none is handed out twice.
    let all = nodes.state();
    for n in &all {
        if let Some(c) = node_cidr(n) {
            alloc.observe(&n.name_any(), c);
        }
    }
    for n in &all {
        let _ = tx.send(Msg::Changed(n.name_any()));
    }
    while let Some(msg) = rx.recv().await {
        let name = match msg {
            Msg::Deleted(name) => {
                alloc.release(&name);
                continue;
            }
            Msg::Changed(name) => name,
        };
        let Some(node) = nodes.get(&ObjectRef::new(&name)) else {
            alloc.release(&name);
            continue;
        };
        if let Some(c) = node_cidr(&node) {
            alloc.observe(&name, c);
            continue;
        }
        // Given one already; the cache has not shown the patch yet.
        if alloc.held.contains_key(&name) {
            continue;
        }
        let Some(c) = alloc.set.allocate() else {
            events
                .normal(
                    node.as_ref(),
                    "CIDRNotAvailable",
                    &format!("Node {name} status is now: CIDRNotAvailable"),
                )
                .await;
            retry_later(&tx, name);
            continue;
        };
        alloc.held.insert(name.clone(), c);
        let patch = json!({"spec": {"podCIDR": c.to_string(), "podCIDRs": [c.to_string()]}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => tracing::info!(node = %name, cidr = %c, "allocated the node's pod CIDR"),
            Err(e) => {
                alloc.release(&name);
                if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                    tracing::warn!(node = %name, error = %e, "setting the node's pod CIDR; retrying");
                    retry_later(&tx, name);
                }
            }
        }
    }
    Ok(())
}

fn retry_later(tx: &mpsc::UnboundedSender<Msg>, name: String) {
    let tx = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(RETRY).await;
        let _ = tx.send(Msg::Changed(name));
    });
}
