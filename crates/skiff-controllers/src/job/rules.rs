//! Job decisions without I/O: which pods count as failed or terminating, how many pods
//! should run, the pod-failure back-off, deadlines and condition bookkeeping.

use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// The finalizer keeping a Job's finished pods until their result is counted in status.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// First delay before re-creating a pod after a failure (upstream's
/// DefaultJobPodFailureBackOff); it doubles with each further failure.
pub const POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// Longest delay between pod re-creations (upstream's MaxJobPodFailureBackOff).
pub const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(600);

/// The Job's spec fields with their defaults applied.
pub fn parallelism(job: &Job) -> i32 {
    job.spec.as_ref().and_then(|s| s.parallelism).unwrap_or(1)
}

/// `spec.completions` (None: work-queue semantics).
pub fn completions(job: &Job) -> Option<i32> {
    job.spec.as_ref().and_then(|s| s.completions)
}

/// `spec.backoffLimit` (default 6).
pub fn backoff_limit(job: &Job) -> i32 {
    job.spec.as_ref().and_then(|s| s.backoff_limit).unwrap_or(6)
}

/// Whether the Job is suspended.
pub fn suspended(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.suspend) == Some(true)
}

/// Whether the Job uses Indexed completion (which requires completions).
pub fn indexed(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.completion_mode.as_deref()) == Some("Indexed")
        && completions(job).is_some()
}

/// The Job's conditions.
pub fn conditions(job: &Job) -> &[JobCondition] {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[])
}

/// The condition of type `t` with status True, if present.
pub fn true_condition<'a>(job: &'a Job, t: &str) -> Option<&'a JobCondition> {
    conditions(job)
        .iter()
        .find(|c| c.type_ == t && c.status == "True")
}

/// The finishing condition (Complete or Failed, True), if the Job finished.
pub fn finished(job: &Job) -> Option<&JobCondition> {
    conditions(job)
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
}

/// Whether the pod still carries the Job tracking finalizer.
pub fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == TRACKING_FINALIZER)
}

fn phase(pod: &Pod) -> &str {
    crate::pod_state::phase(pod)
}

/// Replacement pods wait for failed pods to be fully terminated (podReplacementPolicy
/// Failed, implied by a podFailurePolicy).
pub fn only_replace_failed(job: &Job) -> bool {
    let spec = job.spec.as_ref();
    spec.and_then(|s| s.pod_replacement_policy.as_deref()) == Some("Failed")
        || spec.and_then(|s| s.pod_failure_policy.as_ref()).is_some()
}

/// Whether the pod counts as failed for the Job: phase Failed, or (unless only failed
/// pods are replaced) deleted before it succeeded (upstream's isPodFailed).
pub fn is_pod_failed(pod: &Pod, job: &Job) -> bool {
    if phase(pod) == "Failed" {
        return true;
    }
    if only_replace_failed(job) {
        return false;
    }
    pod.metadata.deletion_timestamp.is_some() && phase(pod) != "Succeeded"
}

/// Being deleted and not yet finished (upstream's CountTerminatingPods).
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some() && !matches!(phase(pod), "Succeeded" | "Failed")
}

/// How many pods should be active given what succeeded (upstream's manageJob).
pub fn want_active(job: &Job, succeeded: i32, active: i32) -> i32 {
    let parallelism = parallelism(job).max(0);
    match completions(job) {
        // Work-queue jobs: once one pod succeeded, leave the rest to finish.
        None if succeeded > 0 => active,
        None => parallelism,
        Some(c) => (c - succeeded).clamp(0, parallelism),
    }
}

/// When the pod finished: its last container's finish time, else its deletion or
/// creation time.
pub fn finish_time(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref();
    let from_containers = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c.state
                .as_ref()?
                .terminated
                .as_ref()?
                .finished_at
                .as_ref()
                .map(|t| t.0)
        })
        .max();
    from_containers
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0))
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// How long to wait before creating a replacement pod: 10 s after the latest failure,
/// doubling with each failure since the last success, capped at 10 min. Computed from
/// the Job's finished pods (they stay until the Job is deleted), so it survives restarts.
pub fn backoff_remaining(job: &Job, pods: &[&Pod], now: Timestamp) -> Duration {
    let last_success = pods
        .iter()
        .filter(|p| phase(p) == "Succeeded")
        .filter_map(|p| finish_time(p))
        .max();
    let failures: Vec<Timestamp> = pods
        .iter()
        .filter(|p| is_pod_failed(p, job))
        .filter_map(|p| finish_time(p))
        .filter(|t| last_success.is_none_or(|s| *t > s))
        .collect();
    let Some(last_failure) = failures.iter().max() else {
        return Duration::ZERO;
    };
    backoff_left(failures.len(), *last_failure, now)
}

/// What is left at `now` of the back-off after `failures` failures, the last at
/// `last_failure`: 10 s doubling per failure, capped at 10 min.
pub fn backoff_left(failures: usize, last_failure: Timestamp, now: Timestamp) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(failures - 1).unwrap_or(u32::MAX).min(16);
    let backoff = POD_FAILURE_BACKOFF
        .saturating_mul(1 << exp)
        .min(MAX_POD_FAILURE_BACKOFF);
    let elapsed = now
        .duration_since(last_failure)
        .try_into()
        .unwrap_or(Duration::ZERO);
    backoff.saturating_sub(elapsed)
}

/// With restartPolicy OnFailure, whether container restarts of running pods reached the
/// backoff limit (upstream's pastBackoffLimitOnFailure).
pub fn past_backoff_limit_on_failure(job: &Job, pods: &[&Pod]) -> bool {
    let restart_policy = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.restart_policy.as_deref());
    if restart_policy != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = pods
        .iter()
        .filter(|p| matches!(phase(p), "Running" | "Pending"))
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .map(|c| c.restart_count)
        .sum();
    let limit = backoff_limit(job);
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// Time left before activeDeadlineSeconds passes (zero when past), or None without a
/// deadline, a start time, or while suspended.
pub fn deadline_remaining(job: &Job, now: Timestamp) -> Option<Duration> {
    let secs = job.spec.as_ref()?.active_deadline_seconds?;
    let start = job.status.as_ref()?.start_time.as_ref()?.0;
    if suspended(job) {
        return None;
    }
    let end = start.checked_add(SignedDuration::from_secs(secs)).ok()?;
    Some(end.duration_since(now).try_into().unwrap_or(Duration::ZERO))
}

/// A new condition stamped `now`.
pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: (!reason.is_empty()).then(|| reason.into()),
        message: (!message.is_empty()).then(|| message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Set condition `type_` to `status` (upstream's ensureJobConditionStatus): replaced
/// when status, reason or message differ; a False condition is not added when absent.
/// Returns whether anything changed.
pub fn ensure_condition(
    list: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    if let Some(c) = list.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status
            || c.reason.as_deref().unwrap_or("") != reason
            || c.message.as_deref().unwrap_or("") != message
        {
            *c = condition(type_, status, reason, message, now);
            return true;
        }
        return false;
    }
    if status != "False" {
        list.push(condition(type_, status, reason, message, now));
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(spec: serde_json::Value) -> Job {
        serde_json::from_value(json!({"metadata": {"name": "j"}, "spec": spec})).expect("job")
    }

    fn pod(phase: &str, finished: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"phase": phase, "containerStatuses": [{
                "name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "finishedAt": finished}}
            }]}
        }))
        .expect("pod")
    }

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    #[test]
    fn want_active_follows_completions_and_parallelism() {
        let j = job(json!({"completions": 3, "parallelism": 2, "template": {}}));
        assert_eq!(want_active(&j, 0, 0), 2);
        assert_eq!(want_active(&j, 2, 1), 1);
        assert_eq!(want_active(&j, 4, 0), 0);
        let queue = job(json!({"parallelism": 3, "template": {}}));
        assert_eq!(want_active(&queue, 0, 1), 3);
        // After the first success a work queue starts nothing new.
        assert_eq!(want_active(&queue, 1, 2), 2);
    }

    #[test]
    fn backoff_doubles_per_failure_since_last_success() {
        let j = job(json!({"template": {}}));
        let f1 = pod("Failed", "2025-01-01T00:00:00Z");
        let f2 = pod("Failed", "2025-01-01T00:00:10Z");
        let now = t("2025-01-01T00:00:15Z");
        assert_eq!(backoff_remaining(&j, &[&f1], now), Duration::ZERO);
        // Two failures: 20 s after the latest one, 5 s of which passed.
        assert_eq!(
            backoff_remaining(&j, &[&f1, &f2], now),
            Duration::from_secs(15)
        );
        let ok = pod("Succeeded", "2025-01-01T00:00:05Z");
        assert_eq!(
            backoff_remaining(&j, &[&f1, &ok, &f2], now),
            Duration::from_secs(5)
        );
        let many: Vec<Pod> = (0..12)
            .map(|_| pod("Failed", "2025-01-01T00:00:10Z"))
            .collect();
        let refs: Vec<&Pod> = many.iter().collect();
        assert_eq!(backoff_remaining(&j, &refs, now), Duration::from_secs(595));
    }

    #[test]
    fn deleted_pods_fail_unless_only_failed_pods_are_replaced() {
        let mut p = pod("Running", "2025-01-01T00:00:00Z");
        p.metadata.deletion_timestamp = Some(Time(t("2025-01-01T00:00:00Z")));
        assert!(is_pod_failed(&p, &job(json!({"template": {}}))));
        assert!(is_terminating(&p));
        assert!(!is_pod_failed(
            &p,
            &job(json!({"podReplacementPolicy": "Failed", "template": {}}))
        ));
    }

    #[test]
    fn conditions_change_only_when_different() {
        let now = t("2025-01-01T00:00:00Z");
        let mut list = Vec::new();
        assert!(!ensure_condition(
            &mut list,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
            now
        ));
        assert!(ensure_condition(
            &mut list,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended",
            now
        ));
        assert!(!ensure_condition(
            &mut list,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended",
            now
        ));
        assert!(ensure_condition(
            &mut list,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
            now
        ));
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn deadline_counts_from_start_time() {
        let mut j = job(json!({"activeDeadlineSeconds": 30, "template": {}}));
        assert_eq!(deadline_remaining(&j, t("2025-01-01T00:00:10Z")), None);
        j.status = Some(
            serde_json::from_value(json!({"startTime": "2025-01-01T00:00:00Z"})).expect("status"),
        );
        assert_eq!(
            deadline_remaining(&j, t("2025-01-01T00:00:10Z")),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            deadline_remaining(&j, t("2025-01-01T00:01:00Z")),
            Some(Duration::ZERO)
        );
    }
}
