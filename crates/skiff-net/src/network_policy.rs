//! NetworkPolicy enforcement for the pods of this node: watch Pods, Namespaces and
//! NetworkPolicies, recompute the policy rules after a burst of changes and commit the
//! difference in one nft transaction.

use crate::error::NetError;
use crate::nft::table_epoch;
use crate::policy_rules::{diff_batch, policy_rules, NamespaceLabels, PolicyRules};
use crate::service_proxy::ProxyConfig;
use futures_util::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Wait after a failed sync before programming everything again.
const RETRY: Duration = Duration::from_secs(1);

/// `namespace/name`.
fn key<K: kube::Resource>(obj: &K) -> String {
    let m = obj.meta();
    format!(
        "{}/{}",
        m.namespace.as_deref().unwrap_or(""),
        m.name.as_deref().unwrap_or("")
    )
}

/// Objects of one kind, kept current from a watch.
struct Cache<K> {
    items: HashMap<String, K>,
    relist: Option<HashMap<String, K>>,
    synced: bool,
}

impl<K: kube::Resource> Cache<K> {
    fn new() -> Cache<K> {
        Cache {
            items: HashMap::new(),
            relist: None,
            synced: false,
        }
    }

    /// Apply one watch event; true when the visible contents may have changed.
    fn step(&mut self, ev: Event<K>) -> bool {
        match ev {
            Event::Init => {
                self.relist = Some(HashMap::new());
                false
            }
            Event::InitApply(obj) => {
                self.relist
                    .get_or_insert_with(HashMap::new)
                    .insert(key(&obj), obj);
                false
            }
            Event::InitDone => {
                self.items = self.relist.take().unwrap_or_default();
                self.synced = true;
                true
            }
            Event::Apply(obj) => {
                self.items.insert(key(&obj), obj);
                true
            }
            Event::Delete(obj) => self.items.remove(&key(&obj)).is_some(),
        }
    }
}

/// Programs the policy chains of one node.
pub struct PolicyEngine {
    cfg: ProxyConfig,
    programmed: Option<PolicyRules>,
    epoch: watch::Receiver<u64>,
}

impl PolicyEngine {
    /// An engine whose first sync programs everything.
    pub fn new(cfg: ProxyConfig) -> PolicyEngine {
        PolicyEngine {
            cfg,
            programmed: None,
            epoch: table_epoch(),
        }
    }

    /// Commit the rules for the given cluster state (only the difference to the last
    /// commit, unless the table was rebuilt or a commit failed since).
    pub async fn sync(
        &mut self,
        pods: &[&Pod],
        namespaces: &NamespaceLabels,
        policies: &[&NetworkPolicy],
    ) -> Result<(), NetError> {
        if self.epoch.has_changed().unwrap_or(false) {
            self.epoch.mark_unchanged();
            self.programmed = None;
        }
        let new = policy_rules(&self.cfg.node_name, pods, namespaces, policies);
        let batch = match &self.programmed {
            Some(old) if *old == new => return Ok(()),
            Some(old) => diff_batch(&self.cfg.table, old, &new, false),
            None => diff_batch(&self.cfg.table, &PolicyRules::default(), &new, true),
        };
        let committed = self.cfg.nft.apply(&batch).await;
        self.programmed = committed.is_ok().then_some(new);
        committed
    }
}

type Events<K> = Pin<Box<dyn Stream<Item = Result<Event<K>, watcher::Error>> + Send>>;

fn events<K>(api: Api<K>) -> Events<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed()
}

/// Enforce NetworkPolicies for this node's pods until `shutdown` turns true (rules stay).
pub async fn run_network_policy(
    client: kube::Client,
    cfg: ProxyConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), NetError> {
    let debounce = cfg.debounce;
    let mut engine = PolicyEngine::new(cfg);
    let mut epoch = table_epoch();
    let mut pod_events = events(Api::<Pod>::all(client.clone()));
    let mut ns_events = events(Api::<Namespace>::all(client.clone()));
    let mut np_events = events(Api::<NetworkPolicy>::all(client));
    let (mut pods, mut nss, mut nps) = (Cache::new(), Cache::new(), Cache::new());
    let mut due: Option<Instant> = Some(Instant::now());
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let ready = pods.synced && nss.synced && nps.synced;
        let changed = tokio::select! {
            c = shutdown.changed() => {
                if c.is_err() {
                    return Ok(());
                }
                false
            }
            c = epoch.changed() => c.is_ok(),
            ev = pod_events.next() => step(&mut pods, ev, "pods")?,
            ev = ns_events.next() => step(&mut nss, ev, "namespaces")?,
            ev = np_events.next() => step(&mut nps, ev, "networkpolicies")?,
            _ = sleep_until(due.filter(|_| ready)) => {
                due = None;
                let pod_list: Vec<&Pod> = pods.items.values().collect();
                let ns_labels: NamespaceLabels = nss
                    .items
                    .values()
                    .filter_map(|n: &Namespace| {
                        Some((n.metadata.name.clone()?, n.metadata.labels.clone().unwrap_or_default()))
                    })
                    .collect();
                let np_list: Vec<&NetworkPolicy> = nps.items.values().collect();
                if let Err(e) = engine.sync(&pod_list, &ns_labels, &np_list).await {
                    tracing::error!(error = %e, "syncing network policy rules");
                    due = Some(Instant::now() + RETRY);
                }
                false
            }
        };
        if changed && due.is_none() {
            due = Some(Instant::now() + debounce);
        }
    }
}

/// Feed one watch item to `cache`; Ok(true) when a sync is needed, Err when the stream ended.
fn step<K: kube::Resource>(
    cache: &mut Cache<K>,
    ev: Option<Result<Event<K>, watcher::Error>>,
    what: &str,
) -> Result<bool, NetError> {
    match ev {
        Some(Ok(ev)) => Ok(cache.step(ev)),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "watching {what}");
            Ok(false)
        }
        None => Err(NetError::NotReady(format!("the {what} watch ended"))),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
