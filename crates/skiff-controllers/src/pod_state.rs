//! What workload controllers read from a pod: active or finished, ready since when,
//! available after minReadySeconds, and which pods to delete first when scaling down.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::cmp::Ordering;
use std::collections::HashMap;

/// The pod's phase ("" when unset).
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Counted by its owner: not finished and not being deleted (upstream's IsPodActive).
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// The node the pod is bound to ("" when unscheduled).
pub fn node(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// When the pod's Ready condition last became True, if it is True (the epoch when the
/// condition has no transition time).
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    let c = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    (c.status == "True").then(|| {
        c.last_transition_time
            .as_ref()
            .map(|t| t.0)
            .unwrap_or(Timestamp::UNIX_EPOCH)
    })
}

/// Ready for at least `min_ready_seconds` at `now` (upstream's IsPodAvailable).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(t) => t
            .checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds)))
            .is_ok_and(|end| end < now),
    }
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn phase_rank(pod: &Pod) -> u8 {
    match phase(pod) {
        "Pending" | "" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

/// Order `pods` so the ones to delete first come first (upstream's ActivePodsWithRanks):
/// unscheduled before scheduled, Pending before Unknown before Running, not ready before
/// ready, lower pod-deletion-cost first, pods sharing a node with more of `related` first,
/// ready for less time first, more restarts first, newer first.
pub fn sort_for_deletion(pods: &mut [&Pod], related: &[&Pod]) {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for p in related {
        let n = node(p);
        if !n.is_empty() {
            *per_node.entry(n).or_default() += 1;
        }
    }
    let rank = |p: &Pod| per_node.get(node(p)).copied().unwrap_or(0);
    pods.sort_by(|a, b| {
        let assigned = |p: &Pod| !node(p).is_empty();
        assigned(a)
            .cmp(&assigned(b))
            .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
            .then_with(|| ready_since(a).is_some().cmp(&ready_since(b).is_some()))
            .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
            .then_with(|| rank(b).cmp(&rank(a)))
            .then_with(|| match (ready_since(a), ready_since(b)) {
                (Some(x), Some(y)) => y.cmp(&x),
                _ => Ordering::Equal,
            })
            .then_with(|| restarts(b).cmp(&restarts(a)))
            .then_with(|| {
                let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
                match (created(a), created(b)) {
                    (Some(x), Some(y)) => y.cmp(&x),
                    (None, Some(_)) => Ordering::Greater,
                    (Some(_), None) => Ordering::Less,
                    (None, None) => Ordering::Equal,
                }
            })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, node: &str, phase: &str, ready: bool, created: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": phase, "conditions": [{
                "type": "Ready", "status": if ready { "True" } else { "False" },
                "lastTransitionTime": "2025-01-01T00:00:00Z"
            }]}
        }))
        .expect("pod")
    }

    #[test]
    fn deletion_prefers_unscheduled_pending_unready_then_newest() {
        let old = pod("old", "n1", "Running", true, "2025-01-01T00:00:00Z");
        let new = pod("new", "n1", "Running", true, "2025-01-02T00:00:00Z");
        let unready = pod("unready", "n1", "Running", false, "2024-01-01T00:00:00Z");
        let pending = pod("pending", "n1", "Pending", false, "2024-01-01T00:00:00Z");
        let unscheduled = pod("unscheduled", "", "Pending", false, "2024-01-01T00:00:00Z");
        let mut pods = vec![&old, &new, &unready, &pending, &unscheduled];
        sort_for_deletion(&mut pods, &[]);
        let names: Vec<_> = pods.iter().map(|p| p.metadata.name.as_deref()).collect();
        assert_eq!(
            names,
            [
                Some("unscheduled"),
                Some("pending"),
                Some("unready"),
                Some("new"),
                Some("old")
            ]
        );
    }

    #[test]
    fn availability_waits_min_ready_seconds() {
        let p = pod("p", "n1", "Running", true, "2025-01-01T00:00:00Z");
        let t0: Timestamp = "2025-01-01T00:00:00Z".parse().expect("time");
        let later = t0.checked_add(SignedDuration::from_secs(11)).expect("time");
        assert!(is_available(&p, 0, t0));
        assert!(!is_available(&p, 10, t0));
        assert!(is_available(&p, 10, later));
        assert!(!is_available(
            &pod("q", "n1", "Running", false, "2025-01-01T00:00:00Z"),
            0,
            later
        ));
    }
}
