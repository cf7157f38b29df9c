//! The Job controller: runs pods until `completions` succeed (or, without completions,
//! until one succeeds), `parallelism` at a time, re-creating failed pods after an
//! exponential back-off until `backoffLimit`, `activeDeadlineSeconds` or a
//! `podFailurePolicy` rule fails the Job; Indexed jobs give each pod a completion index.
//!
//! Results are counted as upstream does: every pod carries the
//! `batch.kubernetes.io/job-tracking` finalizer; a finished pod is first recorded in
//! `status.uncountedTerminatedPods`, then its finalizer is removed, then it moves to the
//! `succeeded`/`failed` counters — so a pod deleted right after it finished is never lost
//! nor counted twice. The Job finishes through the interim `SuccessCriteriaMet` /
//! `FailureTarget` conditions, becoming `Complete` / `Failed` once no pod is terminating.
//! Rules without I/O live in [`rules`], [`indexes`], [`per_index`] (backoffLimitPerIndex)
//! and [`failure_policy`];
//! [`ttl`] is the TTL-after-finished controller.

pub mod failure_policy;
pub mod indexes;
mod orphans;
pub mod per_index;
pub mod rules;
mod sync;
mod tracking;
pub mod ttl;

use crate::error::ControllerError;
use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::Informer;
use crate::owner_refs::controller_of;
use crate::work_queue::{self, ReconcileFuture};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The component name on events.
pub const COMPONENT: &str = "job-controller";

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All pods.
    pub pods: Store<Pod>,
    /// All Jobs.
    pub jobs: Store<Job>,
    /// Pod creations and deletions not yet seen in the pod cache.
    pub expectations: Expectations,
    /// Per Job, pods whose tracking finalizer this controller removed and the pod cache
    /// still shows (their results are already in the Job's counters).
    removed_finalizers: Mutex<HashMap<String, HashSet<String>>>,
    /// Per Job, the resourceVersion of the last status this controller wrote, so a
    /// reconcile never acts on a cached Job older than its own write.
    written: Mutex<HashMap<String, u64>>,
    /// Event recorder.
    pub events: Recorder,
}

impl Ctx {
    fn expect_finalizer_removed(&self, key: &str, uid: &str) {
        let mut m = self
            .removed_finalizers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        m.entry(key.to_string())
            .or_default()
            .insert(uid.to_string());
    }

    fn finalizer_removal_observed(&self, key: &str, uid: &str) {
        let mut m = self
            .removed_finalizers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get_mut(key) {
            s.remove(uid);
            if s.is_empty() {
                m.remove(key);
            }
        }
    }

    fn finalizers_being_removed(&self, key: &str) -> HashSet<String> {
        let m = self
            .removed_finalizers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        m.get(key).cloned().unwrap_or_default()
    }

    fn wrote(&self, key: &str, job: &Job) {
        if let Some(rv) = numeric_rv(job) {
            let mut m = self.written.lock().unwrap_or_else(|p| p.into_inner());
            m.insert(key.to_string(), rv);
        }
    }

    /// Whether the cached `job` predates this controller's last status write.
    fn is_stale(&self, key: &str, job: &Job) -> bool {
        let m = self.written.lock().unwrap_or_else(|p| p.into_inner());
        match (m.get(key), numeric_rv(job)) {
            (Some(w), Some(rv)) => rv < *w,
            _ => false,
        }
    }

    fn forget(&self, key: &str) {
        self.expectations.forget(key);
        self.removed_finalizers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Skiff's resourceVersions are its store's revision numbers; an opaque one never
/// compares as stale.
fn numeric_rv(job: &Job) -> Option<u64> {
    job.metadata.resource_version.as_deref()?.parse().ok()
}

/// `namespace/name` of an object.
pub fn key_of<K: ResourceExt>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Wire the Job controller to the shared caches; returns its loop.
pub fn register(
    client: &Client,
    pods: &mut Informer<Pod>,
    jobs: &mut Informer<Job>,
    shutdown: impl Future<Output = ()> + Send + Clone + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<Job>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        pods: pods.store(),
        jobs: jobs.store(),
        expectations: Expectations::default(),
        removed_finalizers: Mutex::new(HashMap::new()),
        written: Mutex::new(HashMap::new()),
        events: Recorder::new(client.clone(), COMPONENT),
    });
    let orphans = orphans::Cleaner::new(client.clone());
    {
        let ctx = ctx.clone();
        let enqueue = enqueue.clone();
        let orphans = orphans.handle();
        pods.on_event(move |pod, deleted| {
            let ns = pod.namespace().unwrap_or_default();
            let owner = controller_of(pod).filter(|r| r.kind == "Job");
            let tracked = rules::has_tracking_finalizer(pod);
            let Some(r) = owner else {
                // A pod the garbage collector released: nobody else will drop the finalizer.
                if tracked && !deleted {
                    orphans.push(pod);
                }
                return;
            };
            let key = format!("{ns}/{}", r.name);
            let gone = deleted || pod.metadata.deletion_timestamp.is_some();
            ctx.expectations.observe(&key, &pod.name_any(), gone);
            if deleted || !tracked {
                ctx.finalizer_removal_observed(&key, pod.uid().as_deref().unwrap_or(""));
            }
            let known = ctx
                .jobs
                .get(&kube::runtime::reflector::ObjectRef::new(&r.name).within(&ns))
                .is_some_and(|j| j.metadata.uid.as_deref() == Some(r.uid.as_str()));
            if known {
                enqueue.push(&ns, &r.name);
            } else if tracked && !deleted {
                // Its Job is gone (or not cached yet: the cleaner asks the API first).
                orphans.push(pod);
            }
        });
    }
    {
        let ctx = ctx.clone();
        let enqueue = enqueue.clone();
        let orphans = orphans.handle();
        jobs.on_event(move |job, deleted| {
            if deleted {
                ctx.forget(&key_of(job));
                // Its pods may see no further event (finished ones stay put): look at
                // every one still holding the finalizer.
                let uid = job.metadata.uid.as_deref().unwrap_or("");
                for pod in ctx.pods.state() {
                    if rules::has_tracking_finalizer(&pod)
                        && controller_of(pod.as_ref()).is_some_and(|r| r.uid == uid)
                    {
                        orphans.push(&pod);
                    }
                }
            } else {
                enqueue.push(&job.namespace().unwrap_or_default(), &job.name_any());
            }
        });
    }
    let store = jobs.store();
    async move {
        let cleaner = tokio::spawn(orphans.run(shutdown.clone()));
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
        cleaner.abort();
        Ok(())
    }
}

fn reconcile(job: Arc<Job>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(sync::reconcile(job, ctx))
}
