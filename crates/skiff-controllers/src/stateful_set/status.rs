//! A StatefulSet's status as upstream computes it: pod counts by readiness and revision,
//! the current and update revisions, and a finished rolling update promoting the update
//! revision to current.

use super::identity::pod_revision;
use crate::pod_state::{is_available, phase, ready_since};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

/// Whether the set rolls pods itself (RollingUpdate, the default) rather than OnDelete.
pub fn is_rolling_update(set: &StatefulSet) -> bool {
    set.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t != "OnDelete")
}

/// The status for `pods` (every pod the set owns, in range or not).
pub fn compute(
    set: &StatefulSet,
    pods: &[&Pod],
    current_revision: &str,
    update_revision: &str,
    collision_count: i32,
    now: Timestamp,
) -> StatefulSetStatus {
    let min_ready = set
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let (mut replicas, mut ready, mut available, mut current, mut updated) = (0, 0, 0, 0, 0);
    for p in pods {
        let created = !phase(p).is_empty();
        if created {
            replicas += 1;
        }
        if phase(p) == "Running" && ready_since(p).is_some() {
            ready += 1;
            if is_available(p, min_ready, now) {
                available += 1;
            }
        }
        if created && p.metadata.deletion_timestamp.is_none() {
            let rev = pod_revision(p);
            if rev == current_revision {
                current += 1;
            }
            if rev == update_revision {
                updated += 1;
            }
        }
    }
    let mut current_revision = current_revision.to_string();
    // A finished rolling update makes the update revision current.
    if is_rolling_update(set) && updated == replicas && ready == replicas {
        current = updated;
        current_revision = update_revision.to_string();
    }
    let nz = |v: i32| (v != 0).then_some(v);
    StatefulSetStatus {
        observed_generation: set.metadata.generation,
        replicas,
        ready_replicas: nz(ready),
        // Not omitted when zero in the Go API.
        available_replicas: Some(available),
        current_replicas: nz(current),
        updated_replicas: nz(updated),
        current_revision: Some(current_revision),
        update_revision: Some(update_revision.to_string()),
        collision_count: Some(collision_count),
        conditions: set.status.as_ref().and_then(|s| s.conditions.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(phase: &str, ready: bool, rev: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "labels": {"controller-revision-hash": rev}},
            "status": {"phase": phase, "conditions": [{
                "type": "Ready", "status": if ready { "True" } else { "False" },
                "lastTransitionTime": "2025-01-01T00:00:00Z"
            }]}
        }))
        .expect("pod")
    }

    fn set(strategy: &str) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 4},
            "spec": {
                "selector": {}, "template": {},
                "updateStrategy": {"type": strategy}
            }
        }))
        .expect("set")
    }

    #[test]
    fn counts_by_readiness_and_revision() {
        let pods = [
            pod("Running", true, "a"),
            pod("Running", false, "b"),
            pod("Pending", false, "b"),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let now = "2025-01-02T00:00:00Z".parse().expect("now");
        let s = compute(&set("RollingUpdate"), &refs, "a", "b", 0, now);
        assert_eq!(s.replicas, 3);
        assert_eq!(s.ready_replicas, Some(1));
        assert_eq!(s.available_replicas, Some(1));
        assert_eq!(s.current_replicas, Some(1));
        assert_eq!(s.updated_replicas, Some(2));
        assert_eq!(s.current_revision.as_deref(), Some("a"));
        assert_eq!(s.update_revision.as_deref(), Some("b"));
        assert_eq!(s.observed_generation, Some(4));
        assert_eq!(s.collision_count, Some(0));
    }

    #[test]
    fn a_finished_rollout_promotes_the_update_revision() {
        let pods = [pod("Running", true, "b"), pod("Running", true, "b")];
        let refs: Vec<&Pod> = pods.iter().collect();
        let now = "2025-01-02T00:00:00Z".parse().expect("now");
        let s = compute(&set("RollingUpdate"), &refs, "a", "b", 0, now);
        assert_eq!(s.current_revision.as_deref(), Some("b"));
        assert_eq!(s.current_replicas, Some(2));
        // OnDelete never promotes (as upstream).
        let s = compute(&set("OnDelete"), &refs, "a", "b", 0, now);
        assert_eq!(s.current_revision.as_deref(), Some("a"));
        assert_eq!(s.current_replicas, None);
    }
}
