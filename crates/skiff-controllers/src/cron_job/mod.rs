//! The CronJob controller: creates a Job `<cronjob>-<minutes since epoch>` for each
//! scheduled time (in `spec.timeZone`), honouring concurrencyPolicy,
//! startingDeadlineSeconds and suspend, tracks running Jobs in `status.active` and
//! deletes finished Jobs beyond the history limits. The schedule itself is
//! [`schedule`] (no I/O).

pub mod schedule;
mod sync;

use crate::error::ControllerError;
use crate::events::Recorder;
use crate::informer::Informer;
use crate::owner_refs::controller_of;
use crate::work_queue::{self, ReconcileFuture};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The component name on events.
pub const COMPONENT: &str = "cronjob-controller";
/// The annotation recording the time a Job was scheduled for.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// What reconciles share.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// All Jobs.
    pub jobs: Store<Job>,
    /// Event recorder.
    pub events: Recorder,
    /// Per CronJob, the resourceVersion of the last status written, so a reconcile never
    /// acts on a cached CronJob older than its own write (and re-creates a Job).
    written: Mutex<HashMap<String, u64>>,
}

impl Ctx {
    fn wrote(&self, key: &str, cj: &CronJob) {
        if let Some(rv) = numeric_rv(cj) {
            let mut m = self.written.lock().unwrap_or_else(|p| p.into_inner());
            m.insert(key.to_string(), rv);
        }
    }

    fn is_stale(&self, key: &str, cj: &CronJob) -> bool {
        let m = self.written.lock().unwrap_or_else(|p| p.into_inner());
        matches!((m.get(key), numeric_rv(cj)), (Some(w), Some(rv)) if rv < *w)
    }
}

fn numeric_rv(cj: &CronJob) -> Option<u64> {
    cj.metadata.resource_version.as_deref()?.parse().ok()
}

/// Wire the CronJob controller to the shared Job cache and its own; returns its loop.
pub fn register(
    client: &Client,
    jobs: &mut Informer<Job>,
    cron_jobs: &mut Informer<CronJob>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<CronJob>();
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        jobs: jobs.store(),
        events: Recorder::new(client.clone(), COMPONENT),
        written: Mutex::new(HashMap::new()),
    });
    {
        let enqueue = enqueue.clone();
        jobs.on_event(move |job, _| {
            if let Some(r) = controller_of(job).filter(|r| r.kind == "CronJob") {
                enqueue.push(&job.namespace().unwrap_or_default(), &r.name);
            }
        });
    }
    {
        let ctx = ctx.clone();
        cron_jobs.on_event(move |cj, deleted| {
            if deleted {
                let key = format!("{}/{}", cj.namespace().unwrap_or_default(), cj.name_any());
                ctx.written
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
            } else {
                enqueue.push(&cj.namespace().unwrap_or_default(), &cj.name_any());
            }
        });
    }
    let store = cron_jobs.store();
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

fn reconcile(cj: Arc<CronJob>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(sync::reconcile(cj, ctx))
}
