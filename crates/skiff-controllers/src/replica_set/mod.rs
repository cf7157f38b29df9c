//! The ReplicaSet and ReplicationController controllers (one implementation, two kinds):
//! keep `spec.replicas` active pods matching the selector, adopting orphans and releasing
//! pods that stopped matching, and report replicas/ready/available in status.
//!
//! Pods created and deleted are tracked as [`Expectations`](crate::expectations) until the
//! pod cache shows them, so a lagging cache never causes a second round of writes.

mod owner;
mod sync;

pub use owner::ReplicaOwner;

use crate::error::ControllerError;
use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::Informer;
use crate::owner_refs::controller_of;
use crate::work_queue::{self, ReconcileFuture};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// Most pods created or deleted in one reconcile (upstream's burstReplicas).
pub const BURST: usize = 500;

/// What reconciles of one kind share.
pub struct Ctx<K: ReplicaOwner> {
    /// API client.
    pub client: Client,
    /// All pods.
    pub pods: Store<Pod>,
    /// All objects of this kind.
    pub owners: Store<K>,
    /// Writes not yet seen in the pod cache.
    pub expectations: Expectations,
    /// Event recorder.
    pub events: Recorder,
}

/// `namespace/name` of an object.
pub fn key_of<K: ResourceExt>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Wire the controller for kind `K` to the shared caches; returns its loop, to be run
/// after the caches are spawned.
pub fn register<K: ReplicaOwner>(
    client: &Client,
    pods: &mut Informer<Pod>,
    owners: &mut Informer<K>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<K>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        pods: pods.store(),
        owners: owners.store(),
        expectations: Expectations::default(),
        events: Recorder::new(client.clone(), K::COMPONENT),
    });
    {
        let ctx = ctx.clone();
        let enqueue = enqueue.clone();
        pods.on_event(move |pod, deleted| {
            let ns = pod.namespace().unwrap_or_default();
            match controller_of(pod) {
                Some(r) if r.kind == K::kind(&()) => {
                    let key = format!("{ns}/{}", r.name);
                    let gone = deleted || pod.metadata.deletion_timestamp.is_some();
                    ctx.expectations.observe(&key, &pod.name_any(), gone);
                    enqueue.push(&ns, &r.name);
                }
                Some(_) => {}
                // An orphan: every owner that could adopt it looks at it.
                None if !deleted => {
                    for owner in ctx.owners.state() {
                        if owner.namespace().as_deref() == Some(ns.as_str())
                            && owner.selector().is_some_and(|s| {
                                !skiff_selectors::label_selector_is_empty(&s)
                                    && skiff_selectors::label_selector_matches(
                                        &s,
                                        pod.metadata.labels.as_ref(),
                                    )
                            })
                        {
                            enqueue.push(&ns, &owner.name_any());
                        }
                    }
                }
                None => {}
            }
        });
    }
    {
        let ctx = ctx.clone();
        let enqueue = enqueue.clone();
        owners.on_event(move |owner, deleted| {
            if deleted {
                ctx.expectations.forget(&key_of(owner));
            } else {
                enqueue.push(&owner.namespace().unwrap_or_default(), &owner.name_any());
            }
        });
    }
    let store = owners.store();
    async move {
        work_queue::drive(
            K::COMPONENT,
            reconcile::<K>,
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

fn reconcile<K: ReplicaOwner>(obj: Arc<K>, ctx: Arc<Ctx<K>>) -> ReconcileFuture {
    Box::pin(sync::reconcile(obj, ctx))
}
