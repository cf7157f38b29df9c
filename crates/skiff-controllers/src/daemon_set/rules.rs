//! The DaemonSet controller's decisions, without I/O: which pods a node needs or must lose
//! (upstream's podsShouldBeOnNode), which old pods a rolling update replaces now within
//! maxUnavailable / maxSurge (rollingUpdate), and the status counts.

use super::placement::Placement;
use crate::deployment::rules::scaled_value;
use crate::pod_state::{is_available, phase, ready_since};
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// The pod label carrying the template generation a pod was made from.
pub const GENERATION_LABEL: &str = "pod-template-generation";
/// The DaemonSet annotation the API server keeps the template generation in (apps/v1's
/// encoding of the internal spec.templateGeneration).
pub const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// The DaemonSet's template generation, when the annotation holds a number.
pub fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.metadata
        .annotations
        .as_ref()?
        .get(TEMPLATE_GENERATION)?
        .parse()
        .ok()
}

/// Whether `pod` runs the current template: same revision hash, or (pods made before hashes)
/// the same template generation (upstream's IsPodUpdated).
pub fn is_updated(pod: &Pod, hash: &str, generation: Option<i64>) -> bool {
    let labels = pod.metadata.labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    let hash_matches = !hash.is_empty() && label(crate::history::HASH_LABEL) == Some(hash);
    let generation_matches =
        generation.is_some_and(|g| label(GENERATION_LABEL) == Some(g.to_string().as_str()));
    hash_matches || generation_matches
}

fn bound(p: &Pod) -> bool {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

/// Scheduled pods first, then oldest first, then by name (upstream's
/// podByCreationTimestampAndPhase).
pub fn sort_oldest_first(pods: &mut [&Pod]) {
    pods.sort_by(|a, b| {
        bound(b).cmp(&bound(a)).then_with(|| {
            let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            match created(a).cmp(&created(b)) {
                Ordering::Equal => a.metadata.name.cmp(&b.metadata.name),
                o => o,
            }
        })
    });
}

/// Seconds a new pod must be ready before it counts as available.
pub fn min_ready_seconds(ds: &DaemonSet) -> i32 {
    ds.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

/// Whether the update strategy is OnDelete (pods are replaced only when users delete them).
pub fn is_on_delete(ds: &DaemonSet) -> bool {
    strategy_type(ds) == "OnDelete"
}

fn strategy_type(ds: &DaemonSet) -> &str {
    ds.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

fn rolling(ds: &DaemonSet) -> Option<&k8s_openapi::api::apps::v1::RollingUpdateDaemonSet> {
    if strategy_type(ds) != "RollingUpdate" {
        return None;
    }
    ds.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
}

/// maxSurge scaled against `desired` nodes, rounded up; 0 unless RollingUpdate.
pub fn surge_count(ds: &DaemonSet, desired: i32) -> i32 {
    rolling(ds)
        .and_then(|r| r.max_surge.as_ref())
        .map(|v| scaled_value(v, desired, true))
        .unwrap_or(0)
}

/// maxUnavailable scaled against `desired` nodes, rounded up; 0 unless RollingUpdate.
pub fn unavailable_count(ds: &DaemonSet, desired: i32) -> i32 {
    rolling(ds)
        .and_then(|r| r.max_unavailable.as_ref())
        .map(|v| scaled_value(v, desired, true))
        .unwrap_or(0)
}

/// Whether a rolling update may run an old and a new pod side by side on a node.
pub fn allows_surge(ds: &DaemonSet) -> bool {
    surge_count(ds, 1) != 0
}

/// What one node needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NodePlan {
    /// A pod must be created on the node.
    pub create: bool,
    /// Pods to delete (excess, or the node no longer wants them).
    pub delete: Vec<String>,
    /// Failed pods to delete (with a FailedDaemonPod event, subject to back-off).
    pub failed: Vec<String>,
    /// Succeeded pods to delete (with a SucceededDaemonPod event).
    pub succeeded: Vec<String>,
}

/// What `pods` (the daemon pods for one node, `None` when it has none) need given the node's
/// placement; `surge` when the strategy allows an old and a new pod together.
pub fn plan_node(
    place: Placement,
    pods: Option<&[&Pod]>,
    hash: &str,
    surge: bool,
    min_ready: i32,
    now: Timestamp,
) -> NodePlan {
    let mut plan = NodePlan::default();
    let Some(pods) = pods else {
        plan.create = place.should_run;
        return plan;
    };
    if !place.should_continue {
        plan.delete = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        return plan;
    }
    let mut running: Vec<&Pod> = Vec::new();
    for p in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let name = p.metadata.name.clone().unwrap_or_default();
        match phase(p) {
            "Failed" => plan.failed.push(name),
            "Succeeded" => plan.succeeded.push(name),
            _ => running.push(p),
        }
    }
    sort_oldest_first(&mut running);
    if !surge {
        // Keep the oldest; a replacement for a failed pod comes once its deletion is seen.
        plan.delete.extend(
            running
                .iter()
                .skip(1)
                .filter_map(|p| p.metadata.name.clone()),
        );
        return plan;
    }
    if running.len() <= 1 {
        plan.create = running.is_empty() && place.should_run;
        return plan;
    }
    // Surging: keep the oldest new pod and the oldest old pod; the old one goes once it is
    // not ready or the new one is available.
    let label = |p: &Pod| {
        p.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(crate::history::HASH_LABEL))
            .cloned()
    };
    let (mut oldest_new, mut oldest_old): (Option<&Pod>, Option<&Pod>) = (None, None);
    for p in running {
        let slot = if label(p).as_deref() == Some(hash) {
            &mut oldest_new
        } else {
            &mut oldest_old
        };
        if slot.is_none() {
            *slot = Some(p);
        } else if let Some(n) = p.metadata.name.clone() {
            plan.delete.push(n);
        }
    }
    if let (Some(new), Some(old)) = (oldest_new, oldest_old) {
        if ready_since(old).is_none() || is_available(new, min_ready, now) {
            plan.delete.extend(old.metadata.name.clone());
        }
    }
    plan
}

/// The rolling update's step: old pods to delete now and nodes to surge a new pod onto.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RollingPlan {
    /// Old pods to delete (the manage pass then creates their replacements).
    pub delete: Vec<String>,
    /// Nodes that get a new pod beside their old one.
    pub create_on: Vec<String>,
}

/// The newest-template pod and the old pod on a node, or `None` when there are several of
/// either (the manage pass prunes those first). Terminating pods are ignored.
fn new_and_old<'a>(
    pods: &[&'a Pod],
    hash: &str,
    generation: Option<i64>,
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for p in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let slot = if is_updated(p, hash, generation) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(*p);
    }
    Some((new, old))
}

/// One rolling-update step over `by_node` (daemon pods grouped by target node), given each
/// existing node's placement (upstream's rollingUpdate, surge and non-surge).
pub fn rolling_update(
    ds: &DaemonSet,
    placements: &HashMap<String, Placement>,
    by_node: &BTreeMap<String, Vec<&Pod>>,
    hash: &str,
    now: Timestamp,
) -> RollingPlan {
    let generation = template_generation(ds);
    let min_ready = min_ready_seconds(ds);
    let available = |p: &Pod| is_available(p, min_ready, now);
    // Nodes that should run a pod but have none count too (as unavailable).
    let mut by_node: BTreeMap<&str, &[&Pod]> = by_node
        .iter()
        .map(|(n, pods)| (n.as_str(), pods.as_slice()))
        .collect();
    let mut desired = 0;
    for (name, p) in placements {
        if p.should_run {
            desired += 1;
            by_node.entry(name.as_str()).or_insert(&[]);
        }
    }
    let mut max_surge = surge_count(ds, desired);
    let mut max_unavailable = unavailable_count(ds, desired);
    if desired > 0 && max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    max_surge = max_surge.max(0);
    let mut plan = RollingPlan::default();
    if max_surge == 0 {
        let mut unavailable = 0;
        let mut candidates = Vec::new();
        for pods in by_node.values() {
            let Some((new, old)) = new_and_old(pods, hash, generation) else {
                unavailable += 1;
                continue;
            };
            match (new, old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(new), None) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                (None, Some(old)) => {
                    if !available(old) {
                        plan.delete.extend(old.metadata.name.clone());
                        unavailable += 1;
                    } else if unavailable < max_unavailable {
                        candidates.extend(old.metadata.name.clone());
                    }
                }
            }
        }
        let room = (max_unavailable - unavailable).max(0) as usize;
        plan.delete.extend(candidates.into_iter().take(room));
        return plan;
    }
    let should_run = |n: &str| placements.get(n).is_some_and(|p| p.should_run);
    let mut surged = 0;
    let mut available_count = 0;
    let mut sunset = Vec::new();
    let mut allowed = Vec::new();
    let mut candidates = Vec::new();
    for (node, pods) in &by_node {
        let Some((new, old)) = new_and_old(pods, hash, generation) else {
            surged += 1;
            continue;
        };
        if let Some(p) = old.or(new) {
            if available(p) {
                available_count += 1;
            }
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) if !available(old) => {
                if should_run(node) {
                    allowed.push(node.to_string());
                } else {
                    plan.delete.extend(old.metadata.name.clone());
                }
            }
            (None, Some(old)) => {
                if !should_run(node) {
                    sunset.extend(old.metadata.name.clone());
                } else if surged < max_surge {
                    candidates.push(node.to_string());
                }
            }
            (Some(new), Some(old)) => {
                if available(new) {
                    plan.delete.extend(old.metadata.name.clone());
                } else {
                    surged += 1;
                }
            }
        }
    }
    // Pods on nodes that stopped matching go only while enough others are available.
    let deletable = (available_count - desired).max(0) as usize;
    plan.delete.extend(sunset.into_iter().take(deletable));
    let room = (max_surge - surged).max(0) as usize;
    plan.create_on = allowed;
    plan.create_on.extend(candidates.into_iter().take(room));
    plan
}

/// The status counts over every node (upstream's updateDaemonSetStatus); collisionCount and
/// conditions are carried over, observedGeneration only when this pass acted on the spec.
pub fn compute_status(
    ds: &DaemonSet,
    placements: &HashMap<String, Placement>,
    by_node: &BTreeMap<String, Vec<&Pod>>,
    hash: &str,
    observed: bool,
    now: Timestamp,
) -> DaemonSetStatus {
    let generation = template_generation(ds);
    let min_ready = min_ready_seconds(ds);
    let old = ds.status.clone().unwrap_or_default();
    let (mut desired, mut current, mut misscheduled) = (0, 0, 0);
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for (node, place) in placements {
        let pods = by_node.get(node).filter(|p| !p.is_empty());
        if !place.should_run {
            if pods.is_some() {
                misscheduled += 1;
            }
            continue;
        }
        desired += 1;
        let Some(pods) = pods else { continue };
        current += 1;
        let mut pods = pods.clone();
        sort_oldest_first(&mut pods);
        let pod = pods[0];
        if ready_since(pod).is_some() {
            ready += 1;
            if is_available(pod, min_ready, now) {
                available += 1;
            }
        }
        if is_updated(pod, hash, generation) {
            updated += 1;
        }
    }
    let nz = |v: i32| (v != 0).then_some(v);
    DaemonSetStatus {
        collision_count: old.collision_count,
        conditions: old.conditions,
        current_number_scheduled: current,
        desired_number_scheduled: desired,
        number_available: nz(available),
        number_misscheduled: misscheduled,
        number_ready: ready,
        number_unavailable: nz(desired - available),
        observed_generation: if observed {
            ds.metadata.generation
        } else {
            old.observed_generation
        },
        updated_number_scheduled: nz(updated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const RUN: Placement = Placement {
        should_run: true,
        should_continue: true,
    };
    const NOW: &str = "2026-01-01T00:10:00Z";

    fn now() -> Timestamp {
        NOW.parse().expect("time")
    }

    fn pod(name: &str, node: &str, hash: &str, phase: &str, ready: bool, created: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created,
                "labels": {"controller-revision-hash": hash}},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": phase, "conditions": [{"type": "Ready",
                "status": if ready { "True" } else { "False" },
                "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        }))
        .expect("pod")
    }

    fn ds(strategy: Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "agent", "generation": 2,
                "annotations": {"deprecated.daemonset.template.generation": "2"}},
            "spec": {"selector": {}, "template": {}, "updateStrategy": strategy}
        }))
        .expect("daemonset")
    }

    #[test]
    fn a_node_gets_one_pod_and_loses_extras_and_failures() {
        let t = now();
        assert!(plan_node(RUN, None, "h", false, 0, t).create);
        let a = pod("a", "n", "h", "Running", true, "2026-01-01T00:00:00Z");
        let b = pod("b", "n", "h", "Running", true, "2026-01-01T00:01:00Z");
        let f = pod("f", "n", "h", "Failed", false, "2026-01-01T00:02:00Z");
        let plan = plan_node(RUN, Some(&[&b, &a, &f]), "h", false, 0, t);
        assert_eq!(plan.delete, ["b"], "the oldest pod stays");
        assert_eq!(plan.failed, ["f"]);
        assert!(!plan.create);
        let plan = plan_node(RUN, Some(&[&f]), "h", false, 0, t);
        assert!(
            !plan.create,
            "the replacement waits for the failed pod to go"
        );
        let off = Placement {
            should_run: false,
            should_continue: false,
        };
        assert_eq!(
            plan_node(off, Some(&[&a, &b]), "h", false, 0, t).delete,
            ["a", "b"]
        );
        let noschedule = Placement {
            should_run: false,
            should_continue: true,
        };
        assert_eq!(
            plan_node(noschedule, Some(&[&a]), "h", false, 0, t),
            NodePlan::default()
        );
        assert!(!plan_node(noschedule, None, "h", false, 0, t).create);
    }

    #[test]
    fn surge_keeps_old_pod_until_new_one_is_available() {
        let t = now();
        let old = pod("old", "n", "h1", "Running", true, "2026-01-01T00:00:00Z");
        let new_unready = pod("new", "n", "h2", "Running", false, "2026-01-01T00:01:00Z");
        let new_ready = pod("new", "n", "h2", "Running", true, "2026-01-01T00:01:00Z");
        assert!(
            plan_node(RUN, Some(&[&old, &new_unready]), "h2", true, 0, t)
                .delete
                .is_empty()
        );
        assert_eq!(
            plan_node(RUN, Some(&[&old, &new_ready]), "h2", true, 0, t).delete,
            ["old"]
        );
    }

    #[test]
    fn rolling_update_without_surge_respects_max_unavailable() {
        let d = ds(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
        );
        let pods: Vec<Pod> = (0..3)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("n{i}"),
                    "old",
                    "Running",
                    true,
                    "2026-01-01T00:00:00Z",
                )
            })
            .collect();
        let mut by_node = BTreeMap::new();
        let mut placements = HashMap::new();
        for (i, p) in pods.iter().enumerate() {
            by_node.insert(format!("n{i}"), vec![p]);
            placements.insert(format!("n{i}"), RUN);
        }
        let plan = rolling_update(&d, &placements, &by_node, "new", now());
        assert_eq!(plan.delete, ["p0"]);
        assert!(plan.create_on.is_empty());
        // n0 now runs an unavailable new pod: nothing more may go.
        let fresh = pod("q0", "n0", "new", "Running", false, "2026-01-01T00:05:00Z");
        by_node.insert("n0".into(), vec![&fresh]);
        assert_eq!(
            rolling_update(&d, &placements, &by_node, "new", now()),
            RollingPlan::default()
        );
        // An unavailable old pod is replaced regardless of the budget.
        let sick = pod("p2", "n2", "old", "Running", false, "2026-01-01T00:00:00Z");
        by_node.insert("n2".into(), vec![&sick]);
        assert_eq!(
            rolling_update(&d, &placements, &by_node, "new", now()).delete,
            ["p2"]
        );
    }

    #[test]
    fn rolling_update_with_percentages_and_surge() {
        let d = ds(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "50%"}}),
        );
        let pods: Vec<Pod> = (0..3)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("n{i}"),
                    "old",
                    "Running",
                    true,
                    "2026-01-01T00:00:00Z",
                )
            })
            .collect();
        let mut by_node = BTreeMap::new();
        let mut placements = HashMap::new();
        for (i, p) in pods.iter().enumerate() {
            by_node.insert(format!("n{i}"), vec![p]);
            placements.insert(format!("n{i}"), RUN);
        }
        // 50% of 3 rounds up to 2 surge pods.
        let plan = rolling_update(&d, &placements, &by_node, "new", now());
        assert!(plan.delete.is_empty());
        assert_eq!(plan.create_on, ["n0", "n1"]);
        let ready_new = pod("q0", "n0", "new", "Running", true, "2026-01-01T00:05:00Z");
        by_node.insert("n0".into(), vec![&pods[0], &ready_new]);
        let plan = rolling_update(&d, &placements, &by_node, "new", now());
        assert_eq!(plan.delete, ["p0"]);
        assert_eq!(plan.create_on, ["n1", "n2"]);
    }

    #[test]
    fn on_delete_never_rolls() {
        let d = ds(json!({"type": "OnDelete"}));
        assert!(is_on_delete(&d));
        assert_eq!(surge_count(&d, 10), 0);
        assert_eq!(unavailable_count(&d, 10), 0);
    }

    #[test]
    fn status_counts_nodes() {
        let d = ds(json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}));
        let a = pod("a", "n0", "new", "Running", true, "2026-01-01T00:00:00Z");
        let b = pod("b", "n1", "old", "Running", false, "2026-01-01T00:00:00Z");
        let c = pod("c", "n3", "old", "Running", true, "2026-01-01T00:00:00Z");
        let mut generation_only = pod("g", "n2", "x", "Running", true, "2026-01-01T00:00:00Z");
        if let Some(l) = generation_only.metadata.labels.as_mut() {
            l.insert(GENERATION_LABEL.into(), "2".into());
        }
        let by_node = BTreeMap::from([
            ("n0".to_string(), vec![&a]),
            ("n1".to_string(), vec![&b]),
            ("n2".to_string(), vec![&generation_only]),
            ("n3".to_string(), vec![&c]),
        ]);
        let off = Placement {
            should_run: false,
            should_continue: false,
        };
        let placements = HashMap::from([
            ("n0".to_string(), RUN),
            ("n1".to_string(), RUN),
            ("n2".to_string(), RUN),
            ("n3".to_string(), off),
            ("n4".to_string(), RUN),
        ]);
        let s = compute_status(&d, &placements, &by_node, "new", true, now());
        assert_eq!(s.desired_number_scheduled, 4);
        assert_eq!(s.current_number_scheduled, 3);
        assert_eq!(s.number_misscheduled, 1);
        assert_eq!(s.number_ready, 2);
        assert_eq!(s.number_available, Some(2));
        assert_eq!(s.number_unavailable, Some(2));
        assert_eq!(s.updated_number_scheduled, Some(2));
        assert_eq!(s.observed_generation, Some(2));
        let s = compute_status(&d, &placements, &by_node, "new", false, now());
        assert_eq!(s.observed_generation, None);
    }
}
