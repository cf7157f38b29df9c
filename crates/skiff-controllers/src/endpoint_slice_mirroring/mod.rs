//! The EndpointSlice mirroring controller (upstream's endpointslicemirroring-controller):
//! a Service without a selector whose users (or the API server) write its Endpoints gets
//! EndpointSlices mirroring them, so readers of slices alone (the service proxy, DNS) see
//! those endpoints too. Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"`
//! are not mirrored.

mod desired;

pub use desired::groups;

use crate::endpoint_pods;
use crate::endpoint_slice::{
    enqueue_owner, pack, slices_of, tracker, write, MANAGED_BY_LABEL, SERVICE_NAME_LABEL,
};
use crate::error::ControllerError;
use crate::informer::Informer;
use crate::work_queue::{self, ReconcileFuture};
use futures_util::future::FutureExt;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The managed-by label value of mirrored slices.
pub const COMPONENT: &str = "endpointslicemirroring-controller.k8s.io";
/// Endpoints carrying this label set to "true" are not mirrored.
pub const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Most endpoints in one mirrored slice (upstream's --mirroring-max-endpoints-per-subset).
const MAX_PER_SLICE: usize = 1000;
/// How soon a reconcile that found the slice cache behind its own writes looks again.
const STALE_RETRY: Duration = Duration::from_millis(500);

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All Services.
    pub services: Store<Service>,
    /// All Endpoints.
    pub endpoints: Store<Endpoints>,
    /// All EndpointSlices.
    pub slices: Store<EndpointSlice>,
    /// Writes not yet in the slice cache.
    pub tracker: tracker::Tracker,
}

/// Wire the controller to the shared caches; returns its loop, to be run after the caches
/// are spawned.
pub fn register(
    client: &Client,
    services: &mut Informer<Service>,
    endpoints: &mut Informer<Endpoints>,
    slices: &mut Informer<EndpointSlice>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<Service>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        services: services.store(),
        endpoints: endpoints.store(),
        slices: slices.store(),
        tracker: tracker::Tracker::default(),
    });
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        services.on_event(move |svc, deleted| {
            let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
            if deleted {
                // Mirrored slices are owned by the Service: the garbage collector takes them.
                ctx.tracker.forget(&format!("{ns}/{name}"));
            } else {
                q.push(&ns, &name);
            }
        });
    }
    {
        let q = enqueue.clone();
        endpoints
            .on_event(move |ep, _| q.push(&ep.namespace().unwrap_or_default(), &ep.name_any()));
    }
    {
        let q = enqueue.clone();
        slices.on_event(move |s, _| enqueue_owner(&q, s, COMPONENT));
    }
    let store = services.store();
    let synced = vec![services.synced(), endpoints.synced(), slices.synced()];
    let stop = shutdown.shared();
    async move {
        let ready = crate::informer::all_synced(synced);
        work_queue::drive_when_ready(
            "endpointslice-mirroring-controller",
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

/// The Endpoints to mirror for `svc`, if it should be mirrored at all.
fn mirrored(svc: &Service, ep: Option<Arc<Endpoints>>) -> Option<Arc<Endpoints>> {
    let ep = ep?;
    let skip = ep.labels().get(SKIP_MIRROR_LABEL).map(String::as_str) == Some("true");
    (!endpoint_pods::has_selector(svc) && !skip).then_some(ep)
}

async fn sync(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
    let key = format!("{ns}/{name}");
    let existing = slices_of(&ctx.slices, &ns, &name, COMPONENT);
    if ctx.tracker.stale(&key, &existing) {
        return Ok(Action::requeue(STALE_RETRY));
    }
    let ep = mirrored(&svc, ctx.endpoints.get(&ObjectRef::new(&name).within(&ns)));
    let desired = ep.as_deref().map(groups).unwrap_or_default();
    let plan = if desired.iter().all(|g| g.endpoints.is_empty()) {
        // Nothing to mirror: no slices at all (mirroring keeps no placeholder).
        pack::Plan {
            slices: Vec::new(),
            delete: existing.iter().map(|s| s.name_any()).collect(),
        }
    } else {
        let (ipv4, other): (Vec<_>, Vec<_>) =
            existing.iter().partition(|s| s.address_type == "IPv4");
        let refs: Vec<&EndpointSlice> = ipv4.iter().map(|s| s.as_ref()).collect();
        let mut plan = pack::plan(&refs, desired, MAX_PER_SLICE);
        plan.delete.extend(other.iter().map(|s| s.name_any()));
        plan
    };
    if plan.slices.is_empty() && plan.delete.is_empty() {
        return Ok(Action::await_change());
    }
    let mut labels: BTreeMap<String, String> =
        ep.as_ref().map(|e| e.labels().clone()).unwrap_or_default();
    labels.insert(SERVICE_NAME_LABEL.into(), name.clone());
    labels.insert(MANAGED_BY_LABEL.into(), COMPONENT.into());
    let meta = write::SliceMeta {
        service: &svc,
        labels,
    };
    write::apply(&ctx.client, &ctx.tracker, &key, &existing, plan, &meta).await?;
    Ok(Action::await_change())
}
