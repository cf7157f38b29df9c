//! Counting finished pods through the `batch.kubernetes.io/job-tracking` finalizer
//! (upstream's trackJobStatusAndRemoveFinalizers): a finished pod's UID first goes to
//! `status.uncountedTerminatedPods`, then its finalizer is removed, then it moves to the
//! `succeeded` / `failed` counters; the finished condition is recorded once nothing is
//! left uncounted or terminating.

use super::failure_policy::evaluate;
use super::indexes;
use super::orphans::remove_tracking_finalizer;
use super::rules;
use super::sync::{uid, Pass, MAX_UNCOUNTED};
use crate::error::ControllerError;
use futures_util::future::join_all;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Count finished pods through `uncountedTerminatedPods`, drop their finalizers, and
/// record the finished condition once nothing is left uncounted or terminating
/// (upstream's trackJobStatusAndRemoveFinalizers).
pub(super) async fn track(
    pass: &mut Pass<'_>,
    mut needs_flush: bool,
    unc_succeeded: &HashSet<&str>,
    unc_failed: &HashSet<&str>,
) -> Result<(), ControllerError> {
    let job = pass.job.clone();
    let indexed = rules::indexed(&job);
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref());
    let failing = pass
        .finished
        .as_ref()
        .is_some_and(|c| c.type_ != "SuccessCriteriaMet");
    let mut with_finalizer: HashSet<String> = pass
        .pods
        .iter()
        .filter(|p| pass.tracked(p))
        .map(|p| uid(p).to_string())
        .collect();
    let mut status = job.status.clone().unwrap_or_default();
    let mut uncounted = status.uncounted_terminated_pods.take().unwrap_or_default();
    needs_flush |= move_counted(&mut status, &mut uncounted, &with_finalizer);
    let mut to_release: Vec<Arc<Pod>> = Vec::new();
    let mut reached_max = false;
    for pod in pass.pods.iter().filter(|p| pass.tracked(p)) {
        let failed = rules::is_pod_failed(pod, &job);
        let succeeded = crate::pod_state::phase(pod) == "Succeeded";
        // A failed pod whose index is retried keeps its finalizer until the replacement
        // exists: the replacement's failure count is read from it.
        let can_release = job.metadata.deletion_timestamp.is_some()
            || pass.finished.is_some()
            || succeeded
            || (failed && !pass.awaits_replacement(pod));
        if !can_release {
            continue;
        }
        to_release.push(pod.clone());
        let id = uid(pod).to_string();
        if succeeded && !unc_failed.contains(id.as_str()) {
            if !indexed && !unc_succeeded.contains(id.as_str()) {
                uncounted.succeeded.get_or_insert_default().push(id);
                needs_flush = true;
            }
        } else if (failed || failing)
            && !unc_failed.contains(id.as_str())
            && pass.index_ok(pod)
            && evaluate(policy, pod).counts
        {
            uncounted.failed.get_or_insert_default().push(id);
            needs_flush = true;
        }
        let held = uncounted.succeeded.as_ref().map_or(0, Vec::len)
            + uncounted.failed.as_ref().map_or(0, Vec::len);
        if held >= MAX_UNCOUNTED {
            // The rest waits for the next sync, which the status update triggers.
            reached_max = true;
            break;
        }
    }
    if indexed {
        let s = indexes::format(&pass.succeeded_indexes);
        if status.completed_indexes.as_deref().unwrap_or("") != s {
            needs_flush = true;
        }
        status.completed_indexes = (!s.is_empty()).then_some(s);
        if let Some(failed) = &pass.failed_indexes {
            let s = indexes::format(failed);
            if status.failed_indexes.as_deref() != Some(s.as_str()) {
                needs_flush = true;
            }
            status.failed_indexes = Some(s);
        }
        status.succeeded = Some(pass.succeeded).filter(|n| *n != 0);
    }
    let mut conditions = status.conditions.take().unwrap_or_default();
    if let Some(f) = pass.finished.take() {
        pass.finished = Some(match f.type_.as_str() {
            "FailureTarget" => {
                conditions.push(f.clone());
                needs_flush = true;
                rules::condition(
                    "Failed",
                    "True",
                    f.reason.as_deref().unwrap_or(""),
                    f.message.as_deref().unwrap_or(""),
                    pass.now,
                )
            }
            "SuccessCriteriaMet" => {
                if !conditions.iter().any(|c| c.type_ == "SuccessCriteriaMet") {
                    conditions.push(f.clone());
                    needs_flush = true;
                }
                rules::condition(
                    "Complete",
                    "True",
                    f.reason.as_deref().unwrap_or(""),
                    f.message.as_deref().unwrap_or(""),
                    pass.now,
                )
            }
            _ => f,
        });
    }
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    status.uncounted_terminated_pods = Some(uncounted.clone());
    pass.job.status = Some(status);
    if needs_flush {
        write_status(pass).await?;
        needs_flush = false;
    }
    // Drop finalizers of the pods now recorded (or to be forgotten).
    let api: Api<Pod> = Api::namespaced(
        pass.ctx.client.clone(),
        &job.namespace().unwrap_or_default(),
    );
    let results = join_all(to_release.iter().map(|p| {
        let api = api.clone();
        async move { (uid(p).to_string(), remove_tracking_finalizer(&api, p).await) }
    }))
    .await;
    let mut release_error = None;
    for (id, r) in results {
        match r {
            Ok(()) => {
                pass.ctx.expect_finalizer_removed(&pass.key, &id);
                with_finalizer.remove(&id);
            }
            Err(e) => {
                release_error.get_or_insert(ControllerError::api(format!(
                    "removing the tracking finalizer of a pod of job {}",
                    job.name_any()
                ))(e));
            }
        }
    }
    let mut status = pass.job.status.clone().unwrap_or_default();
    let mut uncounted = status.uncounted_terminated_pods.take().unwrap_or_default();
    needs_flush |= move_counted(&mut status, &mut uncounted, &with_finalizer);
    let nothing_uncounted = uncounted.succeeded.as_ref().is_none_or(Vec::is_empty)
        && uncounted.failed.as_ref().is_none_or(Vec::is_empty);
    status.uncounted_terminated_pods = Some(uncounted);
    let mut finished_now = None;
    if let Some(f) = pass.finished.clone() {
        if !reached_max && nothing_uncounted && pass.terminating == 0 {
            let mut conditions = status.conditions.take().unwrap_or_default();
            rules::ensure_condition(
                &mut conditions,
                &f.type_,
                &f.status,
                f.reason.as_deref().unwrap_or(""),
                f.message.as_deref().unwrap_or(""),
                pass.now,
            );
            status.conditions = Some(conditions);
            if f.type_ == "Complete" {
                status.completion_time = Some(Time(pass.now));
            }
            needs_flush = true;
            finished_now = Some(f);
        } else if pass.terminating > 0 {
            // Deleted pods finish by the clock of their grace period, with events.
            pass.requeue_in(Duration::from_secs(1));
        }
    }
    pass.job.status = Some(status);
    if needs_flush {
        write_status(pass).await?;
        if let Some(f) = finished_now {
            record_finished(pass, &f).await;
        }
    }
    match release_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Move UIDs whose pods lost their finalizer (or are gone) from `uncounted` to the
/// counters; returns whether anything moved.
fn move_counted(
    status: &mut JobStatus,
    uncounted: &mut UncountedTerminatedPods,
    with_finalizer: &HashSet<String>,
) -> bool {
    let mut changed = false;
    for (list, counter) in [
        (&mut uncounted.succeeded, &mut status.succeeded),
        (&mut uncounted.failed, &mut status.failed),
    ] {
        let Some(l) = list.as_mut() else { continue };
        let before = l.len();
        l.retain(|u| with_finalizer.contains(u));
        let moved = (before - l.len()) as i32;
        if moved > 0 {
            *counter = Some(counter.unwrap_or(0) + moved);
            changed = true;
        }
        if l.is_empty() {
            *list = None;
        }
    }
    changed
}

async fn write_status(pass: &mut Pass<'_>) -> Result<(), ControllerError> {
    let api: Api<Job> = Api::namespaced(
        pass.ctx.client.clone(),
        &pass.job.namespace().unwrap_or_default(),
    );
    let name = pass.job.name_any();
    let updated = api
        .replace_status(&name, &PostParams::default(), &pass.job)
        .await
        .map_err(ControllerError::api(format!(
            "updating status of job {name}"
        )))?;
    pass.ctx.wrote(&pass.key, &updated);
    pass.job.metadata.resource_version = updated.metadata.resource_version;
    Ok(())
}

async fn record_finished(pass: &Pass<'_>, f: &JobCondition) {
    let job = &pass.job;
    if f.type_ == "Complete" {
        let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
        if rules::completions(job).is_some_and(|c| succeeded > c) {
            pass.ctx
                .events
                .warning(
                    job,
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                )
                .await;
        }
        pass.ctx
            .events
            .normal(job, "Completed", "Job completed")
            .await;
    } else {
        pass.ctx
            .events
            .warning(
                job,
                f.reason.as_deref().unwrap_or(""),
                f.message.as_deref().unwrap_or(""),
            )
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncounted_pods_move_to_counters_once_released() {
        let mut status = JobStatus {
            succeeded: Some(1),
            ..Default::default()
        };
        let mut uncounted = UncountedTerminatedPods {
            succeeded: Some(vec!["a".into(), "b".into()]),
            failed: Some(vec!["c".into()]),
        };
        let still_held: HashSet<String> = ["b".to_string()].into_iter().collect();
        assert!(move_counted(&mut status, &mut uncounted, &still_held));
        assert_eq!((status.succeeded, status.failed), (Some(2), Some(1)));
        assert_eq!(uncounted.succeeded, Some(vec!["b".to_string()]));
        assert_eq!(uncounted.failed, None);
        assert!(!move_counted(&mut status, &mut uncounted, &still_held));
    }
}
