//! What one reconcile of a StatefulSet does to its pods, decided without I/O (upstream's
//! updateStatefulSet): replace finished pods, create missing ones, fix identities, delete
//! pods scaled away from the highest ordinal down, then roll pods to the update revision
//! from the highest ordinal down.
//!
//! OrderedReady ("monotonic") sets take one step at a time and only when every lower
//! ordinal is Running, Ready and available; Parallel sets act on every pod at once (a
//! rolling update still replaces one pod at a time).

use super::identity::{ordinal, pod_revision};
use crate::pod_state::{is_available, phase, ready_since};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use std::collections::HashSet;

/// One ordinal of `[start, start + replicas)`.
#[derive(Debug)]
pub struct Slot<'a> {
    /// The ordinal.
    pub ordinal: i32,
    /// The pod in the cache, if there is one.
    pub pod: Option<&'a Pod>,
    /// The pod's identity labels, claims or claim references need fixing.
    pub needs_fix: bool,
    /// A claim of this ordinal still belongs to an earlier pod (garbage collection will
    /// delete it): the pod must not be created before it is gone.
    pub claim_stale: bool,
}

/// What a reconcile sees.
#[derive(Debug)]
pub struct Input<'a> {
    /// The ordinals the set wants, lowest first.
    pub slots: Vec<Slot<'a>>,
    /// Pods with ordinals outside the range.
    pub condemned: Vec<&'a Pod>,
    /// OrderedReady (true) or Parallel.
    pub monotonic: bool,
    /// spec.minReadySeconds.
    pub min_ready_seconds: i32,
    /// OnDelete: pods are replaced only when a user deletes them.
    pub on_delete: bool,
    /// Pods below this index (ordinal - start) keep the current revision.
    pub partition: i32,
    /// The update revision's name.
    pub update_revision: &'a str,
    /// The clock, for minReadySeconds.
    pub now: Timestamp,
}

/// One write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete a Failed (`failed`) or Succeeded pod; it is created again once gone.
    Recreate {
        /// Pod name.
        name: String,
        /// Failed rather than Succeeded.
        failed: bool,
    },
    /// Create the claims and the pod of an ordinal.
    Create(i32),
    /// Fix the identity labels, claims and claim references of an ordinal's pod.
    Fix(i32),
    /// Delete a pod scaled away.
    ScaleDown(String),
    /// Delete a pod so it comes back at the update revision.
    Update(String),
}

fn running_and_ready(p: &Pod) -> bool {
    phase(p) == "Running" && ready_since(p).is_some()
}

fn terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

fn healthy(p: &Pod) -> bool {
    running_and_ready(p) && !terminating(p)
}

fn available(p: &Pod, input: &Input) -> bool {
    running_and_ready(p) && is_available(p, input.min_ready_seconds, input.now)
}

/// The writes to make, in order.
pub fn plan(input: &Input) -> Vec<Action> {
    let mut out = Vec::new();
    let mut touched: HashSet<String> = HashSet::new();
    if !replicas(input, &mut out, &mut touched) {
        return out;
    }
    if !condemned(input, &mut out, &mut touched) {
        return out;
    }
    if !input.on_delete {
        rolling_update(input, &mut out, &touched);
    }
    out
}

/// The replicas pass; false when an OrderedReady set must stop here.
fn replicas(input: &Input, out: &mut Vec<Action>, touched: &mut HashSet<String>) -> bool {
    let block = input.monotonic;
    for slot in &input.slots {
        let Some(pod) = slot.pod else {
            if !slot.claim_stale {
                out.push(Action::Create(slot.ordinal));
            }
            if block {
                return false;
            }
            continue;
        };
        if matches!(phase(pod), "Failed" | "Succeeded") {
            if !terminating(pod) {
                out.push(Action::Recreate {
                    name: pod.name_any(),
                    failed: phase(pod) == "Failed",
                });
                touched.insert(pod.name_any());
            }
            if block {
                return false;
            }
            continue;
        }
        // Before waiting on it: a Pending pod may be waiting for a claim to be recreated.
        if slot.needs_fix && !terminating(pod) {
            out.push(Action::Fix(slot.ordinal));
        }
        if block && (terminating(pod) || !available(pod, input)) {
            return false;
        }
    }
    true
}

/// The scale-down pass (highest ordinal first); false when an OrderedReady set must stop.
fn condemned(input: &Input, out: &mut Vec<Action>, touched: &mut HashSet<String>) -> bool {
    let mut condemned = input.condemned.clone();
    condemned.sort_by_key(|p| std::cmp::Reverse(ordinal(p).unwrap_or(-1)));
    // Every replica is available here in OrderedReady mode, so the first unavailable pod
    // is the lowest-ordinal condemned one: it may go even though it is unhealthy.
    let first_unavailable = condemned
        .iter()
        .rev()
        .find(|p| !available(p, input) || terminating(p))
        .map(|p| p.name_any());
    for pod in condemned {
        if terminating(pod) {
            if input.monotonic {
                return false;
            }
            continue;
        }
        let first = first_unavailable.as_deref() == Some(pod.name_any().as_str());
        if input.monotonic && !available(pod, input) && !first {
            return false;
        }
        out.push(Action::ScaleDown(pod.name_any()));
        touched.insert(pod.name_any());
        if input.monotonic {
            return false;
        }
    }
    true
}

/// The rolling update: replace the highest-ordinal pod not at the update revision once
/// every pod above it is healthy.
fn rolling_update(input: &Input, out: &mut Vec<Action>, touched: &HashSet<String>) {
    let min = input.partition.max(0) as usize;
    for slot in input.slots.iter().skip(min).rev() {
        // A pod being created now comes at the update revision but is not healthy yet.
        let Some(pod) = slot.pod else { return };
        if touched.contains(&pod.name_any()) {
            return;
        }
        if pod_revision(pod) != input.update_revision && !terminating(pod) {
            out.push(Action::Update(pod.name_any()));
            return;
        }
        if !healthy(pod) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ord: i32, phase: &str, ready: bool, rev: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("web-{ord}"), "labels": {"controller-revision-hash": rev}},
            "status": {"phase": phase, "conditions": [{
                "type": "Ready", "status": if ready { "True" } else { "False" },
                "lastTransitionTime": "2025-01-01T00:00:00Z"
            }]}
        }))
        .expect("pod")
    }

    fn input<'a>(pods: &'a [Pod], replicas: i32, monotonic: bool) -> Input<'a> {
        let slots = (0..replicas)
            .map(|o| Slot {
                ordinal: o,
                pod: pods.iter().find(|p| ordinal(p) == Some(o)),
                needs_fix: false,
                claim_stale: false,
            })
            .collect();
        let condemned = pods
            .iter()
            .filter(|p| ordinal(p).is_some_and(|o| o >= replicas))
            .collect();
        Input {
            slots,
            condemned,
            monotonic,
            min_ready_seconds: 0,
            on_delete: false,
            partition: 0,
            update_revision: "new",
            now: "2025-01-02T00:00:00Z".parse().expect("now"),
        }
    }

    #[test]
    fn ordered_ready_creates_one_at_a_time_after_its_predecessor_is_ready() {
        assert_eq!(plan(&input(&[], 3, true)), [Action::Create(0)]);
        let pods = [pod(0, "Running", false, "new")];
        assert!(plan(&input(&pods, 3, true)).is_empty());
        let pods = [pod(0, "Running", true, "new")];
        assert_eq!(plan(&input(&pods, 3, true)), [Action::Create(1)]);
    }

    #[test]
    fn parallel_creates_everything_at_once() {
        assert_eq!(
            plan(&input(&[], 3, false)),
            [Action::Create(0), Action::Create(1), Action::Create(2)]
        );
    }

    #[test]
    fn min_ready_seconds_holds_the_next_pod() {
        let pods = [pod(0, "Running", true, "new")];
        let mut i = input(&pods, 2, true);
        i.min_ready_seconds = 3600 * 48;
        assert!(plan(&i).is_empty());
    }

    #[test]
    fn finished_pods_are_recreated() {
        let pods = [
            pod(0, "Failed", false, "new"),
            pod(1, "Succeeded", false, "new"),
        ];
        assert_eq!(
            plan(&input(&pods, 2, false)),
            [
                Action::Recreate {
                    name: "web-0".into(),
                    failed: true
                },
                Action::Recreate {
                    name: "web-1".into(),
                    failed: false
                }
            ]
        );
        assert_eq!(plan(&input(&pods, 2, true)).len(), 1, "ordered: one step");
    }

    #[test]
    fn scale_down_goes_from_the_highest_ordinal_one_at_a_time() {
        let pods: Vec<Pod> = (0..3).map(|o| pod(o, "Running", true, "new")).collect();
        assert_eq!(
            plan(&input(&pods, 1, true)),
            [Action::ScaleDown("web-2".into())]
        );
        let mut terminating = pods.clone();
        terminating[2].metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::UNIX_EPOCH),
        );
        assert!(plan(&input(&terminating, 1, true)).is_empty());
        assert_eq!(
            plan(&input(&pods, 1, false)),
            [
                Action::ScaleDown("web-2".into()),
                Action::ScaleDown("web-1".into())
            ]
        );
    }

    #[test]
    fn an_unhealthy_replica_blocks_scale_down_when_ordered() {
        let pods = [
            pod(0, "Running", false, "new"),
            pod(1, "Running", true, "new"),
        ];
        assert!(plan(&input(&pods, 1, true)).is_empty());
    }

    #[test]
    fn rolling_update_replaces_from_the_top_and_honours_the_partition() {
        let pods: Vec<Pod> = (0..3).map(|o| pod(o, "Running", true, "old")).collect();
        assert_eq!(
            plan(&input(&pods, 3, true)),
            [Action::Update("web-2".into())]
        );
        let mut mixed = pods.clone();
        mixed[2] = pod(2, "Running", false, "new");
        assert!(plan(&input(&mixed, 3, false)).is_empty(), "waits for web-2");
        mixed[2] = pod(2, "Running", true, "new");
        assert_eq!(
            plan(&input(&mixed, 3, true)),
            [Action::Update("web-1".into())]
        );
        let mut i = input(&mixed, 3, true);
        i.partition = 2;
        assert!(
            plan(&i).is_empty(),
            "web-0 and web-1 are below the partition"
        );
        let mut i = input(&pods, 3, true);
        i.on_delete = true;
        assert!(plan(&i).is_empty());
    }

    #[test]
    fn identity_fixes_and_stale_claims() {
        let pods = [pod(0, "Running", true, "new")];
        let mut i = input(&pods, 2, true);
        i.slots[0].needs_fix = true;
        i.slots[1].claim_stale = true;
        assert_eq!(plan(&i), [Action::Fix(0)]);
    }
}
