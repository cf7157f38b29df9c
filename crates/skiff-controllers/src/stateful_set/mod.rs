//! The StatefulSet controller: pods with stable names `<set>-<ordinal>`, hostnames and
//! claims `<template>-<set>-<ordinal>` that outlive them, created in order (OrderedReady)
//! or all at once (Parallel), rolled to new templates from the highest ordinal down
//! (RollingUpdate with a partition) or on deletion (OnDelete), with the template history
//! kept as ControllerRevisions so `kubectl rollout history|undo` work.
//!
//! Pure decisions live in [`identity`], [`retention`], [`plan`] and [`status`]; [`sync`]
//! does the writes.

pub mod identity;
pub mod plan;
pub mod retention;
mod revisions;
pub mod status;
mod sync;

use crate::error::ControllerError;
use crate::events::Recorder;
use crate::informer::Informer;
use crate::owner_refs::controller_of;
use crate::work_queue::{self, Enqueue, ReconcileFuture};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// The component name on events.
pub const COMPONENT: &str = "statefulset-controller";

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All StatefulSets.
    pub sets: Store<StatefulSet>,
    /// All pods.
    pub pods: Store<Pod>,
    /// All ControllerRevisions.
    pub revisions: Store<ControllerRevision>,
    /// All PersistentVolumeClaims.
    pub claims: Store<PersistentVolumeClaim>,
    /// Event recorder.
    pub events: Recorder,
}

/// Enqueue the sets an orphan pod could be adopted by.
fn enqueue_matching(ctx: &Ctx, q: &Enqueue<StatefulSet>, pod: &Pod) {
    let ns = pod.namespace().unwrap_or_default();
    for set in ctx.sets.state() {
        if set.namespace().as_deref() != Some(ns.as_str()) {
            continue;
        }
        let sel = set.spec.as_ref().map(|s| &s.selector);
        if sel.is_some_and(|s| {
            !skiff_selectors::label_selector_is_empty(s)
                && skiff_selectors::label_selector_matches(s, pod.metadata.labels.as_ref())
        }) {
            q.push(&ns, &set.name_any());
        }
    }
}

/// Wire the controller to the shared caches; returns its loop.
pub fn register(
    client: &Client,
    pods: &mut Informer<Pod>,
    sets: &mut Informer<StatefulSet>,
    revisions: &mut Informer<ControllerRevision>,
    claims: &mut Informer<PersistentVolumeClaim>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<StatefulSet>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        sets: sets.store(),
        pods: pods.store(),
        revisions: revisions.store(),
        claims: claims.store(),
        events: Recorder::new(client.clone(), COMPONENT),
    });
    {
        let q = enqueue.clone();
        sets.on_event(move |s, deleted| {
            if !deleted {
                q.push(&s.namespace().unwrap_or_default(), &s.name_any());
            }
        });
    }
    {
        let (q, ctx) = (enqueue.clone(), ctx.clone());
        pods.on_event(move |pod, deleted| match controller_of(pod) {
            Some(r) if r.kind == "StatefulSet" => {
                q.push(&pod.namespace().unwrap_or_default(), &r.name)
            }
            Some(_) => {}
            None if !deleted => enqueue_matching(&ctx, &q, pod),
            None => {}
        });
    }
    {
        let q = enqueue.clone();
        revisions.on_event(move |rev, _| {
            if let Some(r) = controller_of(rev).filter(|r| r.kind == "StatefulSet") {
                q.push(&rev.namespace().unwrap_or_default(), &r.name);
            }
        });
    }
    {
        let q = enqueue.clone();
        // A pod waits for a stale claim of its ordinal to be deleted: the deletion of a
        // claim the set owned moves it on; claims owned by pods are covered by the
        // requeue a waiting reconcile asks for.
        claims.on_event(move |claim, deleted| {
            if !deleted {
                return;
            }
            for r in claim.owner_references() {
                if r.kind == "StatefulSet" {
                    q.push(&claim.namespace().unwrap_or_default(), &r.name);
                }
            }
        });
    }
    let store = sets.store();
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

fn reconcile(set: Arc<StatefulSet>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(sync::reconcile(set, ctx))
}
