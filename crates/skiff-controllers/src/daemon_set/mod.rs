//! The DaemonSet controller: one pod per eligible node ([`placement`]), pinned there with a
//! required `metadata.name` node affinity so the scheduler binds it; template history as
//! ControllerRevisions ([`revisions`]) whose hash labels the pods; RollingUpdate within
//! maxUnavailable / maxSurge or OnDelete ([`rules`]); status the way `kubectl rollout status`
//! reads it.

mod backoff;
pub mod placement;
mod revisions;
pub mod rules;
mod sync;

use crate::error::ControllerError;
use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::Informer;
use crate::owner_refs::controller_of;
use crate::work_queue::{self, Enqueue, ReconcileFuture};
use futures_util::future::FutureExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// The component name on events.
pub const COMPONENT: &str = "daemonset-controller";
/// Most pods created or deleted in one pass (upstream's BurstReplicas).
const BURST: usize = 250;

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All DaemonSets.
    pub daemon_sets: Store<DaemonSet>,
    /// All pods.
    pub pods: Store<Pod>,
    /// All nodes.
    pub nodes: Store<Node>,
    /// All ControllerRevisions.
    pub revisions: Store<ControllerRevision>,
    /// Pod writes not yet seen in the pod cache.
    pub expectations: Expectations,
    /// Event recorder.
    pub events: Recorder,
    /// Back-off for deleting failed pods, per set generation and node.
    backoff: backoff::Backoff,
}

/// `namespace/name` of a DaemonSet.
fn key_of(ds: &DaemonSet) -> String {
    format!("{}/{}", ds.namespace().unwrap_or_default(), ds.name_any())
}

/// The part of a node a DaemonSet's placement can depend on: heartbeats that change only
/// condition timestamps must not wake every DaemonSet (upstream's shouldIgnoreNodeUpdate).
fn node_fingerprint(node: &Node) -> u64 {
    let mut h = DefaultHasher::new();
    node.metadata.labels.hash(&mut h);
    if let Some(spec) = &node.spec {
        serde_json::to_string(&spec.taints)
            .unwrap_or_default()
            .hash(&mut h);
        spec.unschedulable.hash(&mut h);
    }
    for c in node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
    {
        (&c.type_, &c.status).hash(&mut h);
    }
    h.finish()
}

/// Enqueue every DaemonSet in `ns` whose selector matches `labels`.
fn enqueue_matching(
    sets: &Store<DaemonSet>,
    q: &Enqueue<DaemonSet>,
    ns: &str,
    labels: Option<&BTreeMap<String, String>>,
) {
    for ds in sets.state() {
        if ds.namespace().as_deref() != Some(ns) {
            continue;
        }
        if ds.spec.as_ref().is_some_and(|s| {
            !skiff_selectors::label_selector_is_empty(&s.selector)
                && skiff_selectors::label_selector_matches(&s.selector, labels)
        }) {
            q.push(ns, &ds.name_any());
        }
    }
}

/// Wire the controller to the shared caches; returns its loop, to be run after the caches
/// are spawned.
pub fn register(
    client: &Client,
    pods: &mut Informer<Pod>,
    nodes: &mut Informer<Node>,
    revisions: &mut Informer<ControllerRevision>,
    daemon_sets: &mut Informer<DaemonSet>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<DaemonSet>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        daemon_sets: daemon_sets.store(),
        pods: pods.store(),
        nodes: nodes.store(),
        revisions: revisions.store(),
        expectations: Expectations::default(),
        events: Recorder::new(client.clone(), COMPONENT),
        backoff: backoff::Backoff::default(),
    });
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        daemon_sets.on_event(move |ds, deleted| {
            if deleted {
                ctx.expectations.forget(&key_of(ds));
            } else {
                q.push(&ds.namespace().unwrap_or_default(), &ds.name_any());
            }
        });
    }
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        pods.on_event(move |pod, deleted| {
            let ns = pod.namespace().unwrap_or_default();
            match controller_of(pod) {
                Some(r) if r.kind == "DaemonSet" => {
                    let gone = deleted || pod.metadata.deletion_timestamp.is_some();
                    ctx.expectations
                        .observe(&format!("{ns}/{}", r.name), &pod.name_any(), gone);
                    q.push(&ns, &r.name);
                }
                Some(_) => {}
                // An orphan: every set that could adopt it looks at it.
                None if !deleted => {
                    enqueue_matching(&ctx.daemon_sets, &q, &ns, pod.metadata.labels.as_ref())
                }
                None => {}
            }
        });
    }
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        let seen: Mutex<HashMap<String, u64>> = Mutex::new(HashMap::new());
        nodes.on_event(move |node, deleted| {
            let name = node.name_any();
            let fp = node_fingerprint(node);
            let changed = {
                let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                if deleted {
                    seen.remove(&name);
                    true
                } else {
                    seen.insert(name, fp) != Some(fp)
                }
            };
            if changed {
                for ds in ctx.daemon_sets.state() {
                    q.push(&ds.namespace().unwrap_or_default(), &ds.name_any());
                }
            }
        });
    }
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        revisions.on_event(move |rev, _| {
            let ns = rev.namespace().unwrap_or_default();
            match controller_of(rev) {
                Some(r) if r.kind == "DaemonSet" => q.push(&ns, &r.name),
                Some(_) => {}
                None => enqueue_matching(&ctx.daemon_sets, &q, &ns, rev.metadata.labels.as_ref()),
            }
        });
    }
    let store = daemon_sets.store();
    let stop = shutdown.shared();
    async move {
        // A pass over half-filled caches would create pods nodes already run, or delete pods
        // bound for nodes not yet listed: wait for every first list.
        let caches = ctx.clone();
        let ready = async move {
            crate::informer::store_ready(&caches.daemon_sets).await;
            crate::informer::store_ready(&caches.pods).await;
            crate::informer::store_ready(&caches.nodes).await;
            crate::informer::store_ready(&caches.revisions).await;
        };
        work_queue::drive_when_ready(COMPONENT, reconcile, ctx, store, dequeue, ready, stop).await;
        Ok(())
    }
}

fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(sync::reconcile(ds, ctx))
}
