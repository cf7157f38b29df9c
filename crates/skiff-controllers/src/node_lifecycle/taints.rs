//! Which taints a node's conditions call for, and whether a pod's tolerations let it stay
//! on a node with NoExecute taints (and for how long), without I/O.

use k8s_openapi::api::core::v1::{Node, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

/// The node's Ready condition is False.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The node controller lost contact with the node (Ready is Unknown).
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// spec.unschedulable is set (cordoned).
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// NoExecute: pods not tolerating the taint are evicted.
pub const NO_EXECUTE: &str = "NoExecute";
/// NoSchedule: new pods not tolerating the taint are not scheduled there.
pub const NO_SCHEDULE: &str = "NoSchedule";

/// The keys the controller owns per effect: it adds and removes only these.
const NO_SCHEDULE_KEYS: &[&str] = &[
    NOT_READY,
    UNREACHABLE,
    UNSCHEDULABLE,
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/network-unavailable",
];

/// The status of condition `type_` ("" when absent).
pub fn condition_status<'a>(node: &'a Node, type_: &str) -> &'a str {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .map_or("", |c| c.status.as_str())
}

/// NoSchedule taint keys the node's conditions and spec call for (upstream's
/// TaintNodesByCondition).
fn wanted_no_schedule(node: &Node) -> Vec<&'static str> {
    let mut keys = Vec::new();
    match condition_status(node, "Ready") {
        "False" => keys.push(NOT_READY),
        "Unknown" => keys.push(UNREACHABLE),
        _ => {}
    }
    for (cond, key) in [
        ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
        ("DiskPressure", "node.kubernetes.io/disk-pressure"),
        ("PIDPressure", "node.kubernetes.io/pid-pressure"),
        (
            "NetworkUnavailable",
            "node.kubernetes.io/network-unavailable",
        ),
    ] {
        if condition_status(node, cond) == "True" {
            keys.push(key);
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        keys.push(UNSCHEDULABLE);
    }
    keys
}

/// The NoExecute taint key the Ready condition calls for, when `evicting` (the controller
/// stops tainting while every node is down: the fault is then more likely its own).
fn wanted_no_execute(node: &Node, evicting: bool) -> Option<&'static str> {
    if !evicting {
        return None;
    }
    match condition_status(node, "Ready") {
        "False" => Some(NOT_READY),
        "Unknown" => Some(UNREACHABLE),
        _ => None,
    }
}

/// The node's taints after the controller's pass, or None when they are already right.
/// Taints the controller does not own are kept as they are; a NoExecute taint it keeps
/// keeps its timeAdded.
pub fn reconcile(node: &Node, evicting: bool, now: Timestamp) -> Option<Vec<Taint>> {
    let current: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let no_schedule = wanted_no_schedule(node);
    let no_execute = wanted_no_execute(node, evicting);
    let owned = |t: &Taint| match t.effect.as_str() {
        NO_SCHEDULE => NO_SCHEDULE_KEYS.contains(&t.key.as_str()),
        NO_EXECUTE => t.key == NOT_READY || t.key == UNREACHABLE,
        _ => false,
    };
    let mut next: Vec<Taint> = current
        .iter()
        .filter(|t| {
            !owned(t)
                || match t.effect.as_str() {
                    NO_SCHEDULE => no_schedule.contains(&t.key.as_str()),
                    _ => no_execute == Some(t.key.as_str()),
                }
        })
        .cloned()
        .collect();
    let has =
        |v: &[Taint], key: &str, effect: &str| v.iter().any(|t| t.key == key && t.effect == effect);
    for key in no_schedule {
        if !has(&next, key, NO_SCHEDULE) {
            next.push(Taint {
                key: key.into(),
                effect: NO_SCHEDULE.into(),
                value: None,
                time_added: None,
            });
        }
    }
    if let Some(key) = no_execute {
        if !has(&next, key, NO_EXECUTE) {
            next.push(Taint {
                key: key.into(),
                effect: NO_EXECUTE.into(),
                value: None,
                time_added: Some(Time(now)),
            });
        }
    }
    (next != current).then_some(next)
}

pub use skiff_selectors::tolerates;

/// What the taint eviction controller does with a pod on a node with these NoExecute taints.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No NoExecute taint, or tolerated forever: leave the pod alone.
    Stay,
    /// Delete the pod now: some taint is not tolerated.
    Evict,
    /// Delete the pod after this long, unless the taints go first.
    EvictAfter(Duration),
}

/// Decide for a pod with `tolerations` on a node with `taints` (only NoExecute ones count).
pub fn verdict(tolerations: &[Toleration], taints: &[Taint]) -> Verdict {
    let taints: Vec<&Taint> = taints.iter().filter(|t| t.effect == NO_EXECUTE).collect();
    if taints.is_empty() {
        return Verdict::Stay;
    }
    let mut used: Vec<&Toleration> = Vec::new();
    for taint in taints {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Verdict::Evict;
        }
        used.extend(matching);
    }
    // The shortest tolerationSeconds among the tolerations used decides; only when none
    // sets one is the pod tolerated forever.
    let mut min: Option<i64> = None;
    for t in used {
        if let Some(s) = t.toleration_seconds {
            if s <= 0 {
                return Verdict::Evict;
            }
            min = Some(min.map_or(s, |m| m.min(s)));
        }
    }
    match min {
        None => Verdict::Stay,
        Some(s) => Verdict::EvictAfter(Duration::from_secs(s.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(ready: &str, unschedulable: bool, taints: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "spec": {"unschedulable": unschedulable, "taints": taints},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}
        }))
        .expect("node")
    }

    fn keys(taints: &[Taint]) -> Vec<String> {
        taints
            .iter()
            .map(|t| format!("{}:{}", t.key, t.effect))
            .collect()
    }

    fn toleration(v: serde_json::Value) -> Toleration {
        serde_json::from_value(v).expect("toleration")
    }

    #[test]
    fn unknown_ready_gets_unreachable_taints_and_recovery_removes_them() {
        let now = Timestamp::UNIX_EPOCH;
        let n = node(
            "Unknown",
            false,
            json!([{"key": "own", "effect": "NoSchedule"}]),
        );
        let t = reconcile(&n, true, now).expect("changed");
        assert_eq!(
            keys(&t),
            [
                "own:NoSchedule",
                "node.kubernetes.io/unreachable:NoSchedule",
                "node.kubernetes.io/unreachable:NoExecute"
            ]
        );
        assert!(t[2].time_added.is_some() && t[1].time_added.is_none());
        // NotReady swaps unreachable for not-ready.
        let n = node("False", false, serde_json::to_value(&t).expect("json"));
        let t = reconcile(&n, true, now).expect("changed");
        assert_eq!(
            keys(&t),
            [
                "own:NoSchedule",
                "node.kubernetes.io/not-ready:NoSchedule",
                "node.kubernetes.io/not-ready:NoExecute"
            ]
        );
        let n = node("True", false, serde_json::to_value(&t).expect("json"));
        assert_eq!(
            keys(&reconcile(&n, true, now).expect("changed")),
            ["own:NoSchedule"]
        );
        let n = node("True", false, json!([]));
        assert_eq!(reconcile(&n, true, now), None);
    }

    #[test]
    fn cordon_taints_and_no_execute_waits_while_every_node_is_down() {
        let now = Timestamp::UNIX_EPOCH;
        let n = node("True", true, json!([]));
        assert_eq!(
            keys(&reconcile(&n, true, now).expect("changed")),
            ["node.kubernetes.io/unschedulable:NoSchedule"]
        );
        let n = node(
            "Unknown",
            false,
            json!([{"key": UNREACHABLE, "effect": "NoExecute"}]),
        );
        assert_eq!(
            keys(&reconcile(&n, false, now).expect("changed")),
            ["node.kubernetes.io/unreachable:NoSchedule"]
        );
    }

    #[test]
    fn tolerations_match_like_upstream() {
        let taint = Taint {
            key: UNREACHABLE.into(),
            effect: NO_EXECUTE.into(),
            value: None,
            time_added: None,
        };
        assert!(tolerates(
            &toleration(json!({"operator": "Exists"})),
            &taint
        ));
        assert!(tolerates(
            &toleration(json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"})),
            &taint
        ));
        assert!(tolerates(&toleration(json!({"key": UNREACHABLE})), &taint));
        assert!(!tolerates(
            &toleration(json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"})),
            &taint
        ));
        assert!(!tolerates(
            &toleration(json!({"key": NOT_READY, "operator": "Exists"})),
            &taint
        ));
        assert!(!tolerates(
            &toleration(json!({"key": UNREACHABLE, "value": "x"})),
            &taint
        ));
    }

    #[test]
    fn verdicts_take_the_shortest_toleration() {
        let taints = [Taint {
            key: UNREACHABLE.into(),
            effect: NO_EXECUTE.into(),
            value: None,
            time_added: None,
        }];
        assert_eq!(verdict(&[], &taints), Verdict::Evict);
        assert_eq!(verdict(&[], &[]), Verdict::Stay);
        let forever = toleration(json!({"operator": "Exists"}));
        assert_eq!(
            verdict(std::slice::from_ref(&forever), &taints),
            Verdict::Stay
        );
        let t300 = toleration(
            json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}),
        );
        let t5 = toleration(
            json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}),
        );
        assert_eq!(
            verdict(&[forever, t300.clone(), t5], &taints),
            Verdict::EvictAfter(Duration::from_secs(5))
        );
        let t0 = toleration(
            json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}),
        );
        assert_eq!(verdict(&[t300, t0], &taints), Verdict::Evict);
    }
}
