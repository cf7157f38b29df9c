//! The TTL-after-finished controller: deletes a finished Job (with background
//! propagation, so its pods follow) `ttlSecondsAfterFinished` after it finished.

use super::{key_of, rules};
use crate::error::ControllerError;
use crate::informer::Informer;
use crate::work_queue::{self, ReconcileFuture};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::{Api, Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The component name (upstream's ttl-after-finished-controller).
pub const COMPONENT: &str = "ttl-after-finished-controller";

/// What reconciles share.
pub struct Ctx {
    client: Client,
}

/// When the Job expires, if it finished and has a TTL.
pub fn expires_at(job: &Job) -> Option<Timestamp> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let cond = rules::finished(job)?;
    let finished = cond
        .last_transition_time
        .as_ref()
        .or(job.status.as_ref()?.completion_time.as_ref())?
        .0;
    finished
        .checked_add(SignedDuration::from_secs(i64::from(ttl)))
        .ok()
}

/// Wire the controller to the Job cache; returns its loop.
pub fn register(
    client: &Client,
    jobs: &mut Informer<Job>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), ControllerError>> + Send + 'static {
    let (enqueue, dequeue) = work_queue::queue::<Job>();
    jobs.on_event(move |job, deleted| {
        if !deleted && job.metadata.deletion_timestamp.is_none() && expires_at(job).is_some() {
            enqueue.push(&job.namespace().unwrap_or_default(), &job.name_any());
        }
    });
    let ctx = Arc::new(Ctx {
        client: client.clone(),
    });
    let store = jobs.store();
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

fn reconcile(job: Arc<Job>, ctx: Arc<Ctx>) -> ReconcileFuture {
    Box::pin(async move {
        let Some(at) = expires_at(&job) else {
            return Ok(Action::await_change());
        };
        let left = at.duration_since(Timestamp::now());
        if left.is_positive() {
            let left = Duration::try_from(left).unwrap_or(Duration::from_secs(1));
            return Ok(Action::requeue(left));
        }
        // Re-read: the TTL may have been changed or the Job replaced since it was cached.
        let api: Api<Job> =
            Api::namespaced(ctx.client.clone(), &job.namespace().unwrap_or_default());
        let name = job.name_any();
        let Some(fresh) = api
            .get_opt(&name)
            .await
            .map_err(ControllerError::api(format!(
                "reading job {}",
                key_of(job.as_ref())
            )))?
        else {
            return Ok(Action::await_change());
        };
        if fresh.metadata.uid != job.metadata.uid || fresh.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        match expires_at(&fresh) {
            Some(at) if !at.duration_since(Timestamp::now()).is_positive() => {}
            _ => return Ok(Action::requeue(Duration::from_secs(1))),
        }
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions {
                uid: fresh.metadata.uid.clone(),
                resource_version: fresh.metadata.resource_version.clone(),
            }),
            ..Default::default()
        };
        match api.delete(&name, &dp).await {
            Ok(_) => Ok(Action::await_change()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(Action::await_change()),
            Err(e) => Err(ControllerError::api(format!("deleting expired job {name}"))(e)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_counts_from_the_finish_condition() {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": "j"},
            "spec": {"ttlSecondsAfterFinished": 30, "template": {}},
            "status": {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}]}
        }))
        .expect("job");
        assert_eq!(
            expires_at(&job),
            Some("2025-01-01T00:00:30Z".parse().expect("time"))
        );
        let mut running = job.clone();
        running.status = None;
        assert_eq!(expires_at(&running), None);
    }
}
