//! The Endpoints controller (upstream's endpoint-controller): every Service with a selector
//! gets an Endpoints object of its name listing the pods it selects ([`subsets`]);
//! Services without a selector keep the Endpoints their users write. Deleting a Service
//! deletes its Endpoints.

mod subsets;
mod sync;
pub mod trigger_time;

pub use subsets::desired;

use crate::endpoint_pods::PodServices;
use crate::error::ControllerError;
use crate::informer::Informer;
use crate::work_queue::{self, ReconcileFuture};
use futures_util::future::FutureExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::DeleteParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// The component name on events and metrics.
pub const COMPONENT: &str = "endpoint-controller";
/// Endpoints the API server's leader election once kept: never this controller's to delete.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All Services.
    pub services: Store<Service>,
    /// All pods.
    pub pods: Store<Pod>,
    /// All Endpoints.
    pub endpoints: Store<Endpoints>,
    /// Trigger times already observed.
    pub triggers: trigger_time::Tracker,
}

/// Delete the Endpoints `namespace/name` (its Service is gone); a missing one is fine.
fn delete_endpoints(client: &Client, namespace: String, name: String) {
    let api: Api<Endpoints> = Api::namespaced(client.clone(), &namespace);
    tokio::spawn(async move {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => tracing::warn!(%namespace, %name, error = %e, "deleting Endpoints"),
        }
    });
}

/// Wire the controller to the shared caches; returns its loop, to be run after the caches
/// are spawned.
pub fn register(
    client: &Client,
    pods: &mut Informer<Pod>,
    services: &mut Informer<Service>,
    endpoints: &mut Informer<Endpoints>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<Service>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        services: services.store(),
        pods: pods.store(),
        endpoints: endpoints.store(),
        triggers: trigger_time::Tracker::default(),
    });
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        services.on_event(move |svc, deleted| {
            let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
            if deleted {
                ctx.triggers.forget(&ns, &name);
                delete_endpoints(&ctx.client, ns, name);
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
        // Someone else edited or deleted a managed Endpoints: put it back.
        let q = enqueue.clone();
        endpoints
            .on_event(move |ep, _| q.push(&ep.namespace().unwrap_or_default(), &ep.name_any()));
    }
    let store = services.store();
    let synced = vec![services.synced(), pods.synced(), endpoints.synced()];
    let stop = shutdown.shared();
    async move {
        let caches = ctx.clone();
        let ready = async move {
            crate::informer::all_synced(synced).await;
            // Endpoints whose Service went away while no controller ran.
            for ep in caches.endpoints.state() {
                let ns = ep.namespace().unwrap_or_default();
                let svc = ObjectRef::<Service>::new(&ep.name_any()).within(&ns);
                if caches.services.get(&svc).is_none()
                    && !ep.annotations().contains_key(LEADER_ANNOTATION)
                {
                    delete_endpoints(&caches.client, ns, ep.name_any());
                }
            }
        };
        work_queue::drive_when_ready(COMPONENT, reconcile, ctx, store, dequeue, ready, stop).await;
        Ok(())
    }
}

fn reconcile(svc: Arc<Service>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(sync::reconcile(svc, ctx))
}
