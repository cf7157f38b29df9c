//! The Deployment controller: rolls a pod template out through ReplicaSets named
//! `<deployment>-<pod-template-hash>`, RollingUpdate within maxSurge/maxUnavailable or
//! Recreate, and reports revision, progress (progressDeadlineSeconds) and availability the
//! way kubectl's rollout commands read them. Rules without I/O are in [`rules`].

mod hash;
pub mod rules;
mod scale;
mod sync;

pub use hash::{pod_template_hash, safe_encode};

use crate::error::ControllerError;
use crate::events::Recorder;
use crate::informer::Informer;
use crate::owner_refs::controller_of;
use crate::work_queue::{self, Enqueue, ReconcileFuture};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// The label (and selector term) telling a deployment's ReplicaSets apart.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The component name on events.
pub const COMPONENT: &str = "deployment-controller";

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All Deployments.
    pub deployments: Store<Deployment>,
    /// All ReplicaSets.
    pub replica_sets: Store<ReplicaSet>,
    /// All pods (Recreate waits for old pods to be gone).
    pub pods: Store<Pod>,
    /// Event recorder.
    pub events: Recorder,
}

fn enqueue_owner_of_rs(ctx: &Ctx, q: &Enqueue<Deployment>, rs: &ReplicaSet) {
    let ns = rs.namespace().unwrap_or_default();
    match controller_of(rs) {
        Some(r) if r.kind == "Deployment" => q.push(&ns, &r.name),
        Some(_) => {}
        None => {
            for d in ctx.deployments.state() {
                if d.namespace().as_deref() != Some(ns.as_str()) {
                    continue;
                }
                let sel = d.spec.as_ref().map(|s| &s.selector);
                if sel.is_some_and(|s| {
                    !skiff_selectors::label_selector_is_empty(s)
                        && skiff_selectors::label_selector_matches(s, rs.metadata.labels.as_ref())
                }) {
                    q.push(&ns, &d.name_any());
                }
            }
        }
    }
}

/// Wire the controller to the shared caches; returns its loop.
pub fn register(
    client: &Client,
    pods: &mut Informer<Pod>,
    replica_sets: &mut Informer<ReplicaSet>,
    deployments: &mut Informer<Deployment>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<Deployment>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        deployments: deployments.store(),
        replica_sets: replica_sets.store(),
        pods: pods.store(),
        events: Recorder::new(client.clone(), COMPONENT),
    });
    {
        let q = enqueue.clone();
        deployments.on_event(move |d, deleted| {
            if !deleted {
                q.push(&d.namespace().unwrap_or_default(), &d.name_any());
            }
        });
    }
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        replica_sets.on_event(move |rs, _| enqueue_owner_of_rs(&ctx, &q, rs));
    }
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        // Recreate waits for the old pods to be gone: their deletion moves it on.
        pods.on_event(move |pod, deleted| {
            if !deleted {
                return;
            }
            let Some(r) = controller_of(pod).filter(|r| r.kind == "ReplicaSet") else {
                return;
            };
            let ns = pod.namespace().unwrap_or_default();
            if let Some(rs) = ctx.replica_sets.get(&ObjectRef::new(&r.name).within(&ns)) {
                enqueue_owner_of_rs(&ctx, &q, &rs);
            }
        });
    }
    let store = deployments.store();
    async move {
        work_queue::drive(
            COMPONENT,
            reconcile,
            work_queue::retry_after_error,
            ctx,
            store,
            dequeue,
            shutdown,
        )
        .await;
        Ok(())
    }
}

fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(sync::reconcile(d, ctx))
}
