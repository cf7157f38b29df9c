//! The EndpointSlice controller (upstream's endpointslice-controller): every Service with a
//! selector gets `discovery.k8s.io/v1` EndpointSlices listing the pods it selects
//! ([`desired`]), at most [`MAX_PER_SLICE`] endpoints each, packed with little churn
//! ([`pack`]), owned by the Service.

pub mod desired;
pub mod pack;
pub mod tracker;
pub mod write;

use crate::endpoint_pods::{self, PodServices, HEADLESS_LABEL};
use crate::error::ControllerError;
use crate::informer::Informer;
use crate::work_queue::{self, Enqueue, ReconcileFuture};
use futures_util::future::FutureExt;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The component name on metrics, and the managed-by label value.
pub const COMPONENT: &str = "endpointslice-controller.k8s.io";
/// Label naming the Service a slice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// Most endpoints in one slice (upstream's --max-endpoints-per-slice default).
pub const MAX_PER_SLICE: usize = 100;
/// How soon a reconcile that found the slice cache behind its own writes looks again.
const STALE_RETRY: Duration = Duration::from_millis(500);

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All Services.
    pub services: Store<Service>,
    /// All pods.
    pub pods: Store<Pod>,
    /// All nodes (for zones).
    pub nodes: Store<Node>,
    /// All EndpointSlices.
    pub slices: Store<EndpointSlice>,
    /// Writes not yet in the slice cache.
    pub tracker: tracker::Tracker,
}

/// The slices in `ns` labelled as belonging to Service `name` and managed by `managed_by`.
pub fn slices_of(
    slices: &Store<EndpointSlice>,
    ns: &str,
    name: &str,
    managed_by: &str,
) -> Vec<Arc<EndpointSlice>> {
    slices
        .state()
        .into_iter()
        .filter(|s| {
            s.namespace().as_deref() == Some(ns)
                && s.labels().get(SERVICE_NAME_LABEL).map(String::as_str) == Some(name)
                && s.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(managed_by)
        })
        .collect()
}

/// Enqueue the Service a slice managed by `managed_by` belongs to.
pub fn enqueue_owner(q: &Enqueue<Service>, slice: &EndpointSlice, managed_by: &str) {
    if slice.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(managed_by) {
        if let Some(svc) = slice.labels().get(SERVICE_NAME_LABEL) {
            q.push(&slice.namespace().unwrap_or_default(), svc);
        }
    }
}

/// Wire the controller to the shared caches; returns its loop, to be run after the caches
/// are spawned.
pub fn register(
    client: &Client,
    pods: &mut Informer<Pod>,
    nodes: &mut Informer<Node>,
    services: &mut Informer<Service>,
    slices: &mut Informer<EndpointSlice>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<Service>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        services: services.store(),
        pods: pods.store(),
        nodes: nodes.store(),
        slices: slices.store(),
        tracker: tracker::Tracker::default(),
    });
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        services.on_event(move |svc, deleted| {
            let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
            if deleted {
                // Its slices are owned by it: the garbage collector removes them.
                ctx.tracker.forget(&format!("{ns}/{name}"));
            } else {
                q.push(&ns, &name);
            }
        });
    }
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        let index = PodServices::default();
        pods.on_event(move |pod, deleted| index.enqueue(&ctx.services, &q, pod, deleted));
    }
    {
        let q = enqueue.clone();
        slices.on_event(move |s, _| enqueue_owner(&q, s, COMPONENT));
    }
    {
        // A node's zone is on its endpoints: a zone change rewrites them.
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        let zones: Mutex<HashMap<String, Option<String>>> = Mutex::new(HashMap::new());
        nodes.on_event(move |node, deleted| {
            let zone = node.labels().get(desired::ZONE_LABEL).cloned();
            let changed = {
                let mut z = zones.lock().unwrap_or_else(|p| p.into_inner());
                if deleted {
                    z.remove(&node.name_any()).flatten().is_some()
                } else {
                    z.insert(node.name_any(), zone.clone()).unwrap_or(None) != zone
                }
            };
            if changed {
                for svc in ctx.services.state() {
                    if endpoint_pods::has_selector(&svc) {
                        q.push(&svc.namespace().unwrap_or_default(), &svc.name_any());
                    }
                }
            }
        });
    }
    let store = services.store();
    let synced = vec![
        services.synced(),
        pods.synced(),
        nodes.synced(),
        slices.synced(),
    ];
    let stop = shutdown.shared();
    async move {
        let ready = crate::informer::all_synced(synced);
        work_queue::drive_when_ready(
            "endpointslice-controller",
            reconcile,
            ctx,
            store,
            dequeue,
            ready,
            stop,
        )
        .await;
        Ok(())
    }
}

fn reconcile(svc: Arc<Service>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(sync(svc, ctx))
}

/// The labels of a Service's slices (upstream's setEndpointSliceLabels): the Service's
/// own, the headless marker when it has no cluster IP, and the two reserved labels.
pub fn slice_labels(svc: &Service, managed_by: &str) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = svc
        .labels()
        .iter()
        .filter(|(k, _)| k.as_str() != SERVICE_NAME_LABEL && k.as_str() != MANAGED_BY_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if endpoint_pods::has_cluster_ip(svc) {
        labels.remove(HEADLESS_LABEL);
    } else {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(SERVICE_NAME_LABEL.into(), svc.name_any());
    labels.insert(MANAGED_BY_LABEL.into(), managed_by.into());
    labels
}

async fn sync(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
    let key = format!("{ns}/{name}");
    let existing = slices_of(&ctx.slices, &ns, &name, COMPONENT);
    if ctx.tracker.stale(&key, &existing) {
        return Ok(Action::requeue(STALE_RETRY));
    }
    let external = svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName");
    let plan = if !endpoint_pods::has_selector(&svc) || external {
        // Nothing of ours belongs to it any more (the mirroring controller may take over).
        pack::Plan {
            slices: Vec::new(),
            delete: existing.iter().map(|s| s.name_any()).collect(),
        }
    } else {
        let all_pods = ctx.pods.state();
        let pods: Vec<&Pod> = all_pods
            .iter()
            .map(|p| p.as_ref())
            .filter(|p| endpoint_pods::selects(&svc, p))
            .collect();
        let zone_of = |node: &str| {
            ctx.nodes
                .get(&ObjectRef::new(node))
                .and_then(|n| n.labels().get(desired::ZONE_LABEL).cloned())
        };
        let groups = desired::desired(&svc, &pods, zone_of);
        // Only IPv4 slices are ours to keep; any other address type goes.
        let (ipv4, other): (Vec<_>, Vec<_>) =
            existing.iter().partition(|s| s.address_type == "IPv4");
        let refs: Vec<&EndpointSlice> = ipv4.iter().map(|s| s.as_ref()).collect();
        let mut plan = pack::plan(&refs, groups, MAX_PER_SLICE);
        plan.delete.extend(other.iter().map(|s| s.name_any()));
        plan
    };
    let meta = write::SliceMeta {
        service: &svc,
        labels: slice_labels(&svc, COMPONENT),
    };
    write::apply(&ctx.client, &ctx.tracker, &key, &existing, plan, &meta).await?;
    Ok(Action::await_change())
}
