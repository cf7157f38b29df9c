//! Node lifecycle (upstream's node lifecycle and taint eviction controllers):
//!
//! - [`monitor`]: a node whose agent neither renewed its Lease nor posted status within the
//!   grace period gets its conditions set to Unknown and its pods marked not ready; taints
//!   follow the conditions (`node.kubernetes.io/unreachable` and `not-ready`, NoSchedule and
//!   NoExecute, the pressure taints and `unschedulable` for cordoned nodes) and go when the
//!   node recovers;
//! - [`taint_eviction`]: pods on a node with NoExecute taints they do not tolerate are
//!   deleted at once, those tolerating them with tolerationSeconds after that long, and
//!   their controllers replace them elsewhere.
//!
//! New NoExecute taints are rate-limited per zone ([`zones`]). Pure decisions are in
//! [`health`], [`taints`] and [`zones`].

pub mod health;
mod monitor;
mod taint_eviction;
pub mod taints;
pub mod zones;

use crate::error::ControllerError;
use crate::informer::Informer;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinSet;

/// Node lifecycle settings (kube-controller-manager's flags of the same names).
#[derive(Debug, Clone)]
pub struct Config {
    /// --node-monitor-grace-period: how long a running node may go unheard before it is
    /// marked Unknown.
    pub grace_period: Duration,
    /// --node-startup-grace-period: the same for a node that never posted Ready.
    pub startup_grace_period: Duration,
    /// --node-monitor-period: how often node health is checked.
    pub monitor_period: Duration,
    /// Per-zone limits on starting evictions.
    pub rates: zones::Rates,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            // Upstream's defaults since v1.32 (the grace period was 40 s before).
            grace_period: Duration::from_secs(50),
            startup_grace_period: Duration::from_secs(60),
            monitor_period: Duration::from_secs(5),
            rates: zones::Rates::default(),
        }
    }
}

/// Wire node lifecycle and taint eviction to the shared pod cache; the returned loop
/// starts its own Node and Lease caches and runs until `shutdown`.
pub fn register(
    client: &Client,
    pods: &Informer<Pod>,
    cfg: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let client = client.clone();
    let pods = pods.store();
    async move {
        let nodes = Informer::<Node>::new();
        let leases = Informer::<Lease>::new();
        let (node_store, lease_store) = (nodes.store(), leases.store());
        let mut caches = JoinSet::new();
        nodes.spawn(&client, &mut caches);
        leases.spawn(&client, &mut caches);
        let ready = async {
            crate::informer::store_ready(&node_store).await
                && crate::informer::store_ready(&lease_store).await
                && crate::informer::store_ready(&pods).await
        };
        let mut shutdown = std::pin::pin!(shutdown);
        let ok = tokio::select! {
            ok = ready => ok,
            _ = &mut shutdown => return Ok(()),
        };
        if !ok {
            return Err(ControllerError::CacheNotReady("Node"));
        }
        let monitor = monitor::Monitor::new(
            client.clone(),
            node_store.clone(),
            lease_store,
            pods.clone(),
            cfg,
        );
        let eviction = taint_eviction::TaintEviction::new(client, node_store, pods);
        tokio::select! {
            _ = monitor.run() => {}
            _ = eviction.run() => {}
            _ = &mut shutdown => {}
        }
        caches.abort_all();
        Ok(())
    }
}
