//! `backoffLimitPerIndex`: every completion index of an Indexed Job gets its own retry
//! budget and back-off, so one bad index neither stalls nor fails the others (upstream's
//! independent indexes). A replacement pod carries its index's failure count in an
//! annotation; the failed pod it replaces keeps its tracking finalizer until the
//! replacement exists, so a count is never lost between the two.

use super::failure_policy::evaluate;
use super::indexes;
use super::rules;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Counted failures of the pod's index before this pod (set on each replacement pod).
pub const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// Failures of the pod's index a podFailurePolicy `Ignore` rule did not count.
pub const INDEX_IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";

/// `spec.backoffLimitPerIndex` of an Indexed Job.
pub fn limit(job: &Job) -> Option<i32> {
    rules::indexed(job)
        .then(|| job.spec.as_ref()?.backoff_limit_per_index)
        .flatten()
}

/// `spec.maxFailedIndexes`.
pub fn max_failed_indexes(job: &Job) -> Option<i32> {
    job.spec.as_ref()?.max_failed_indexes
}

/// An annotation's count; absent, malformed or negative values count as 0 (as upstream,
/// which tolerates users editing the annotation).
fn annotation_count(pod: &Pod, key: &str) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|n| *n >= 0)
        .unwrap_or(0)
}

/// Counted failures of the pod's index before this pod.
pub fn failure_count(pod: &Pod) -> i32 {
    annotation_count(pod, INDEX_FAILURE_COUNT)
}

/// All failures of the pod's index before this pod, ignored ones included.
fn absolute_failure_count(pod: &Pod) -> i32 {
    failure_count(pod).saturating_add(annotation_count(pod, INDEX_IGNORED_FAILURE_COUNT))
}

/// Whether this pod's failure fails its whole index: a `FailIndex` rule matched, or it is
/// a counted failure with the index's budget already spent (upstream's isIndexFailed).
pub fn fails_index(job: &Job, pod: &Pod, limit: i32) -> bool {
    if !rules::is_pod_failed(pod, job) {
        return false;
    }
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref());
    let verdict = evaluate(policy, pod);
    if verdict.action.as_deref() == Some("FailIndex") {
        return true;
    }
    verdict.counts && failure_count(pod) >= limit
}

/// Failed indexes: those in `status.failedIndexes` plus those of `tracked` pods (still
/// holding the tracking finalizer) whose failure fails their index.
pub fn failed_indexes<'a>(
    job: &Job,
    tracked: impl Iterator<Item = &'a Pod>,
    completions: i32,
    limit: i32,
) -> BTreeSet<i32> {
    let recorded = job
        .status
        .as_ref()
        .and_then(|s| s.failed_indexes.as_deref())
        .unwrap_or("");
    let mut failed = indexes::parse(recorded, completions);
    failed.extend(
        tracked
            .filter(|p| fails_index(job, p, limit))
            .filter_map(|p| indexes::valid_index(p, completions)),
    );
    failed
}

/// Per index still to be retried (not succeeded, not failed, no active pod), the failed
/// pod its replacement will count from: the one with the most failures, the latest on a
/// tie (upstream's getPodsWithDelayedDeletionPerIndex).
pub fn awaiting_replacement(
    job: &Job,
    pods: &[Arc<Pod>],
    settled: &BTreeSet<i32>,
    active: &BTreeSet<i32>,
    completions: i32,
) -> HashMap<i32, Arc<Pod>> {
    let mut out: HashMap<i32, Arc<Pod>> = HashMap::new();
    for pod in pods.iter().filter(|p| rules::is_pod_failed(p, job)) {
        let Some(ix) = indexes::valid_index(pod, completions) else {
            continue;
        };
        if settled.contains(&ix) || active.contains(&ix) {
            continue;
        }
        let newer = |held: &Pod| {
            absolute_failure_count(held) <= absolute_failure_count(pod)
                && rules::finish_time(pod) >= rules::finish_time(held)
        };
        match out.get(&ix) {
            Some(held) if !newer(held) => {}
            _ => {
                out.insert(ix, pod.clone());
            }
        }
    }
    out
}

/// The (counted, ignored) failure annotations for a pod replacing `replaced`.
pub fn replacement_counts(job: &Job, replaced: Option<&Pod>) -> (i32, i32) {
    let Some(pod) = replaced else {
        return (0, 0);
    };
    let counted = failure_count(pod);
    let ignored = annotation_count(pod, INDEX_IGNORED_FAILURE_COUNT);
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref());
    if evaluate(policy, pod).counts {
        (counted.saturating_add(1), ignored)
    } else {
        (counted, ignored.saturating_add(1))
    }
}

/// How long the index of `replaced` must still wait before its next pod: the usual
/// back-off, counted over this index's failures alone.
pub fn backoff_remaining(replaced: Option<&Pod>, now: Timestamp) -> Duration {
    let Some(pod) = replaced else {
        return Duration::ZERO;
    };
    let Some(finished) = rules::finish_time(pod) else {
        return Duration::ZERO;
    };
    let failures = usize::try_from(absolute_failure_count(pod)).unwrap_or(0) + 1;
    rules::backoff_left(failures, finished, now)
}

/// Of the `pending` indexes, those whose back-off is over; when none is, also the
/// shortest wait.
pub fn ready_to_start(
    pending: Vec<i32>,
    awaiting: &HashMap<i32, Arc<Pod>>,
    now: Timestamp,
) -> (Vec<i32>, Option<Duration>) {
    let mut ready = Vec::new();
    let mut wait: Option<Duration> = None;
    for ix in pending {
        let left = backoff_remaining(awaiting.get(&ix).map(|p| p.as_ref()), now);
        if left.is_zero() {
            ready.push(ix);
        } else {
            wait = Some(wait.map_or(left, |w| w.min(left)));
        }
    }
    (ready, wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(spec: serde_json::Value) -> Job {
        let mut spec = spec;
        spec["template"] = json!({});
        serde_json::from_value(json!({"metadata": {"name": "j", "namespace": "d"}, "spec": spec}))
            .expect("job")
    }

    fn pod(index: i32, phase: &str, failures: Option<&str>, exit: i32, at: &str) -> Arc<Pod> {
        let mut annotations =
            json!({"batch.kubernetes.io/job-completion-index": index.to_string()});
        if let Some(f) = failures {
            annotations[INDEX_FAILURE_COUNT] = json!(f);
        }
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": format!("p{index}"), "namespace": "d",
                             "creationTimestamp": "2025-01-01T00:00:00Z",
                             "annotations": annotations},
                "status": {"phase": phase, "containerStatuses": [{
                    "name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": exit, "finishedAt": at}}
                }]}
            }))
            .expect("pod"),
        )
    }

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn an_index_fails_once_its_budget_is_spent_or_a_fail_index_rule_matches() {
        let j = job(json!({"completions": 4, "completionMode": "Indexed",
        "backoffLimitPerIndex": 1,
        "podFailurePolicy": {"rules": [
            {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}},
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}}
        ]}}));
        assert_eq!(limit(&j), Some(1));
        let first = pod(0, "Failed", None, 1, "2025-01-01T00:00:05Z");
        let second = pod(0, "Failed", Some("1"), 1, "2025-01-01T00:00:30Z");
        let fatal = pod(1, "Failed", None, 42, "2025-01-01T00:00:05Z");
        let ignored = pod(2, "Failed", Some("5"), 7, "2025-01-01T00:00:05Z");
        assert!(!fails_index(&j, &first, 1));
        assert!(fails_index(&j, &second, 1));
        assert!(fails_index(&j, &fatal, 1));
        assert!(!fails_index(&j, &ignored, 1));
        let all = [&first, &second, &fatal, &ignored];
        let failed = failed_indexes(&j, all.iter().map(|p| p.as_ref()), 4, 1);
        assert_eq!(failed.into_iter().collect::<Vec<_>>(), vec![0, 1]);
        // What status already records stays failed.
        let mut recorded = j.clone();
        recorded.status = Some(serde_json::from_value(json!({"failedIndexes": "3"})).expect("s"));
        let failed = failed_indexes(&recorded, std::iter::empty(), 4, 1);
        assert_eq!(failed.into_iter().collect::<Vec<_>>(), vec![3]);
        // Without Indexed completion there is no per-index limit.
        assert_eq!(
            limit(&job(json!({"completions": 4, "backoffLimitPerIndex": 1}))),
            None
        );
    }

    #[test]
    fn replacements_count_from_the_latest_failure_of_their_index() {
        let j = job(json!({"completions": 3, "completionMode": "Indexed",
            "backoffLimitPerIndex": 3,
            "podFailurePolicy": {"rules": [
                {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}}]}}));
        let older = pod(0, "Failed", None, 1, "2025-01-01T00:00:05Z");
        let newer = pod(0, "Failed", Some("1"), 7, "2025-01-01T00:00:30Z");
        let other = pod(1, "Failed", None, 1, "2025-01-01T00:00:05Z");
        let done = pod(2, "Failed", None, 1, "2025-01-01T00:00:05Z");
        let pods = vec![older.clone(), newer.clone(), other.clone(), done];
        let settled: BTreeSet<i32> = [2].into_iter().collect();
        let awaiting = awaiting_replacement(&j, &pods, &settled, &BTreeSet::new(), 3);
        assert_eq!(awaiting.len(), 2);
        assert!(Arc::ptr_eq(&awaiting[&0], &newer));
        // Index 1 has an active pod again: nothing awaits there.
        let active: BTreeSet<i32> = [1].into_iter().collect();
        assert!(!awaiting_replacement(&j, &pods, &settled, &active, 3).contains_key(&1));
        // An ignored failure raises only the ignored count; a counted one the count.
        assert_eq!(replacement_counts(&j, Some(&newer)), (1, 1));
        assert_eq!(replacement_counts(&j, Some(&older)), (1, 0));
        assert_eq!(replacement_counts(&j, None), (0, 0));
    }

    #[test]
    fn each_index_backs_off_on_its_own() {
        let first = pod(0, "Failed", None, 1, "2025-01-01T00:00:00Z");
        let third = pod(1, "Failed", Some("2"), 1, "2025-01-01T00:00:00Z");
        let now = t("2025-01-01T00:00:04Z");
        assert_eq!(backoff_remaining(Some(&first), now), Duration::from_secs(6));
        assert_eq!(
            backoff_remaining(Some(&third), now),
            Duration::from_secs(36)
        );
        let awaiting: HashMap<i32, Arc<Pod>> = [(0, first), (1, third)].into_iter().collect();
        assert_eq!(
            ready_to_start(vec![0, 1, 2], &awaiting, now),
            (vec![2], Some(Duration::from_secs(6)))
        );
        assert_eq!(
            ready_to_start(vec![0, 1], &awaiting, t("2025-01-01T00:00:20Z")),
            (vec![0], Some(Duration::from_secs(20)))
        );
    }
}
