//! The arithmetic of a PodDisruptionBudget, without I/O: how many pods it expects and
//! needs healthy, which evictions the API server recorded are still pending, and the status
//! and DisruptionAllowed condition that follow (upstream's pkg/controller/disruption).

use crate::pod_state;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;
use thiserror::Error;

/// How long an eviction recorded in `status.disruptedPods` waits for the pod's deletion
/// before the controller stops counting it (upstream's DeletionTimeout).
pub const DELETION_TIMEOUT: SignedDuration = SignedDuration::from_secs(120);
/// The condition type the controller maintains.
pub const CONDITION: &str = "DisruptionAllowed";

/// Why a budget's numbers cannot be computed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BudgetError {
    /// A string value that is not an integer percentage ("50%").
    #[error("invalid value for IntOrString: invalid type: string is not a percentage")]
    NotPercent,
    /// A percentage whose number does not parse.
    #[error("invalid value {0:?}: invalid syntax")]
    BadPercent(String),
    /// A selected pod's controller cannot be found or has no scale.
    #[error("found no controllers for pod {0:?}")]
    NoController(String),
}

/// `v` as an absolute number of pods out of `total` (percentages rounded up), as upstream's
/// GetScaledValueFromIntOrPercent with roundUp.
pub fn scaled_value(v: &IntOrString, total: i32) -> Result<i32, BudgetError> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let digits = s.strip_suffix('%').ok_or(BudgetError::NotPercent)?;
            let pct: i64 = digits
                .parse()
                .map_err(|_| BudgetError::BadPercent(s.clone()))?;
            let scaled = (pct * i64::from(total) + 99).div_euclid(100);
            Ok(i32::try_from(scaled).unwrap_or(i32::MAX))
        }
    }
}

/// Whether the budget needs its pods' controllers' scale: maxUnavailable, or minAvailable
/// given as a percentage.
pub fn needs_scale(pdb: &PodDisruptionBudget) -> bool {
    let Some(spec) = pdb.spec.as_ref() else {
        return false;
    };
    spec.max_unavailable.is_some() || matches!(spec.min_available, Some(IntOrString::String(_)))
}

/// `(expectedPods, desiredHealthy)`: `pods` is how many pods the selector matches, `scale`
/// the sum of their controllers' replicas (needed only when [`needs_scale`]).
pub fn expected_and_desired(
    pdb: &PodDisruptionBudget,
    pods: i32,
    scale: Option<i32>,
) -> Result<(i32, i32), BudgetError> {
    let spec = pdb.spec.clone().unwrap_or_default();
    if let Some(max) = &spec.max_unavailable {
        let expected = scale.unwrap_or(pods);
        let max = scaled_value(max, expected)?;
        return Ok((expected, (expected - max).max(0)));
    }
    match &spec.min_available {
        Some(IntOrString::Int(min)) => Ok((pods, *min)),
        Some(v @ IntOrString::String(_)) => {
            let expected = scale.unwrap_or(pods);
            Ok((expected, scaled_value(v, expected)?))
        }
        // Neither field (validation forbids it): nothing may be disrupted beyond what exists.
        None => Ok((pods, pods)),
    }
}

/// The evictions still awaiting their pod's deletion, the moment the earliest of them
/// expires (the controller then looks again), and the pods whose eviction expired without
/// a deletion (upstream warns about each: NotDeleted).
pub struct Disrupted {
    /// Pod name → when the API server processed its eviction.
    pub pending: BTreeMap<String, Time>,
    /// When the earliest pending entry expires.
    pub recheck: Option<Timestamp>,
    /// Pods evicted more than [`DELETION_TIMEOUT`] ago but still not being deleted.
    pub expired: Vec<String>,
}

/// Sort `pdb.status.disruptedPods` against the pods that still exist at `now`.
pub fn disrupted(pdb: &PodDisruptionBudget, pods: &[&Pod], now: Timestamp) -> Disrupted {
    let recorded = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref());
    let mut out = Disrupted {
        pending: BTreeMap::new(),
        recheck: None,
        expired: Vec::new(),
    };
    let Some(recorded) = recorded else {
        return out;
    };
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(at) = recorded.get(&name) else {
            continue;
        };
        let Ok(deadline) = at.0.checked_add(DELETION_TIMEOUT) else {
            continue;
        };
        if deadline < now {
            out.expired.push(name);
        } else {
            out.recheck = Some(out.recheck.map_or(deadline, |r| r.min(deadline)));
            out.pending.insert(name, at.clone());
        }
    }
    out
}

/// Pods counted healthy: Ready, not being deleted, and not evicted-but-pending.
pub fn healthy(pods: &[&Pod], pending: &BTreeMap<String, Time>) -> i32 {
    let n = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| !pending.contains_key(p.metadata.name.as_deref().unwrap_or("")))
        .filter(|p| pod_state::ready_since(p).is_some())
        .count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Set the DisruptionAllowed condition, keeping its transition time unless the status flips.
fn set_condition(
    status: &mut PodDisruptionBudgetStatus,
    ok: bool,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let value = if ok { "True" } else { "False" };
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let previous = conditions
        .iter()
        .find(|c| c.type_ == CONDITION)
        .filter(|c| c.status == value)
        .map(|c| c.last_transition_time.clone());
    conditions.retain(|c| c.type_ != CONDITION);
    conditions.push(Condition {
        type_: CONDITION.into(),
        status: value.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: status.observed_generation,
        last_transition_time: previous.unwrap_or(Time(now)),
    });
}

/// The status for the counted numbers.
pub fn status(
    pdb: &PodDisruptionBudget,
    current_healthy: i32,
    desired_healthy: i32,
    expected_pods: i32,
    pending: BTreeMap<String, Time>,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let allowed = if expected_pods <= 0 {
        0
    } else {
        (current_healthy - desired_healthy).max(0)
    };
    let mut s = pdb.status.clone().unwrap_or_default();
    s.current_healthy = current_healthy;
    s.desired_healthy = desired_healthy;
    s.expected_pods = expected_pods;
    s.disruptions_allowed = allowed;
    // Empty means absent on the wire (upstream omits an empty map).
    s.disrupted_pods = (!pending.is_empty()).then_some(pending);
    s.observed_generation = pdb.metadata.generation;
    let reason = if allowed > 0 {
        "SufficientPods"
    } else {
        "InsufficientPods"
    };
    set_condition(&mut s, allowed > 0, reason, "", now);
    s
}

/// The fail-safe status when the numbers cannot be computed: nothing may be disrupted.
pub fn failed(
    pdb: &PodDisruptionBudget,
    err: &BudgetError,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut s = pdb.status.clone().unwrap_or_default();
    s.disruptions_allowed = 0;
    set_condition(&mut s, false, "SyncFailed", &err.to_string(), now);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pdb(spec: serde_json::Value, status: serde_json::Value) -> PodDisruptionBudget {
        serde_json::from_value(json!({
            "metadata": {"name": "b", "namespace": "ns", "generation": 3},
            "spec": spec, "status": status
        }))
        .expect("pdb")
    }

    fn pod(name: &str, ready: bool, deleting: bool) -> Pod {
        let mut meta = json!({"name": name});
        if deleting {
            meta["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        }
        serde_json::from_value(json!({
            "metadata": meta,
            "status": {"conditions": [{"type": "Ready",
                "status": if ready { "True" } else { "False" }}]}
        }))
        .expect("pod")
    }

    #[test]
    fn percentages_round_up_and_ints_pass_through() {
        let s = |v: &str| IntOrString::String(v.into());
        assert_eq!(scaled_value(&s("50%"), 3), Ok(2));
        assert_eq!(scaled_value(&s("10%"), 10), Ok(1));
        assert_eq!(scaled_value(&s("1%"), 10), Ok(1));
        assert_eq!(scaled_value(&s("0%"), 10), Ok(0));
        assert_eq!(scaled_value(&s("100%"), 7), Ok(7));
        assert_eq!(scaled_value(&IntOrString::Int(4), 2), Ok(4));
        assert_eq!(scaled_value(&s("5"), 2), Err(BudgetError::NotPercent));
        assert_eq!(
            scaled_value(&s("x%"), 2),
            Err(BudgetError::BadPercent("x%".into()))
        );
    }

    #[test]
    fn expected_and_desired_follow_the_budget_kind() {
        let min1 = pdb(json!({"minAvailable": 1}), json!({}));
        assert!(!needs_scale(&min1));
        assert_eq!(expected_and_desired(&min1, 2, None), Ok((2, 1)));
        let min_pct = pdb(json!({"minAvailable": "50%"}), json!({}));
        assert!(needs_scale(&min_pct));
        assert_eq!(expected_and_desired(&min_pct, 2, Some(3)), Ok((3, 2)));
        let max1 = pdb(json!({"maxUnavailable": 1}), json!({}));
        assert!(needs_scale(&max1));
        assert_eq!(expected_and_desired(&max1, 1, Some(2)), Ok((2, 1)));
        let max_pct = pdb(json!({"maxUnavailable": "30%"}), json!({}));
        assert_eq!(expected_and_desired(&max_pct, 10, Some(10)), Ok((10, 7)));
        let too_many = pdb(json!({"maxUnavailable": 5}), json!({}));
        assert_eq!(expected_and_desired(&too_many, 2, Some(2)), Ok((2, 0)));
    }

    #[test]
    fn healthy_pods_exclude_unready_deleting_and_pending_evictions() {
        let a = pod("a", true, false);
        let b = pod("b", true, false);
        let c = pod("c", false, false);
        let d = pod("d", true, true);
        let pods = [&a, &b, &c, &d];
        let mut pending = BTreeMap::new();
        assert_eq!(healthy(&pods, &pending), 2);
        pending.insert("b".to_string(), Time(Timestamp::UNIX_EPOCH));
        assert_eq!(healthy(&pods, &pending), 1);
    }

    #[test]
    fn disrupted_entries_expire_after_two_minutes() {
        let now: Timestamp = "2025-01-01T00:10:00Z".parse().expect("time");
        let b = pdb(
            json!({"minAvailable": 1}),
            json!({"disruptedPods": {
                "fresh": "2025-01-01T00:09:00Z",
                "stale": "2025-01-01T00:07:00Z",
                "deleting": "2025-01-01T00:09:30Z",
                "gone": "2025-01-01T00:09:30Z"
            }, "currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}),
        );
        let fresh = pod("fresh", true, false);
        let stale = pod("stale", true, false);
        let deleting = pod("deleting", true, true);
        let d = disrupted(&b, &[&fresh, &stale, &deleting], now);
        assert_eq!(d.pending.keys().collect::<Vec<_>>(), ["fresh"]);
        assert_eq!(d.expired, ["stale"]);
        assert_eq!(
            d.recheck,
            Some("2025-01-01T00:11:00Z".parse().expect("time"))
        );
    }

    #[test]
    fn status_allows_the_surplus_and_sets_the_condition() {
        let now: Timestamp = "2025-01-01T00:00:00Z".parse().expect("time");
        let b = pdb(json!({"minAvailable": 1}), json!({}));
        let s = status(&b, 2, 1, 2, BTreeMap::new(), now);
        assert_eq!(s.disruptions_allowed, 1);
        assert_eq!(s.observed_generation, Some(3));
        let c = &s.conditions.as_ref().expect("conditions")[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            ("DisruptionAllowed", "True", "SufficientPods")
        );
        let s = status(&b, 1, 1, 2, BTreeMap::new(), now);
        assert_eq!(s.disruptions_allowed, 0);
        let c = &s.conditions.as_ref().expect("conditions")[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "InsufficientPods")
        );
        // No expected pods: nothing to disrupt even when the minimum is 0.
        let zero = pdb(json!({"minAvailable": 0}), json!({}));
        assert_eq!(
            status(&zero, 0, 0, 0, BTreeMap::new(), now).disruptions_allowed,
            0
        );
        let f = failed(&b, &BudgetError::NoController("p".into()), now);
        assert_eq!(f.disruptions_allowed, 0);
        let c = &f.conditions.as_ref().expect("conditions")[0];
        assert_eq!(c.reason, "SyncFailed");
        assert_eq!(c.message, "found no controllers for pod \"p\"");
    }

    #[test]
    fn condition_keeps_its_transition_time_while_unchanged() {
        let t0: Timestamp = "2025-01-01T00:00:00Z".parse().expect("time");
        let t1: Timestamp = "2025-01-01T00:05:00Z".parse().expect("time");
        let mut b = pdb(json!({"minAvailable": 1}), json!({}));
        b.status = Some(status(&b, 2, 1, 2, BTreeMap::new(), t0));
        let again = status(&b, 3, 1, 3, BTreeMap::new(), t1);
        let c = &again.conditions.as_ref().expect("conditions")[0];
        assert_eq!(c.last_transition_time.0, t0);
        let flipped = status(&b, 1, 1, 3, BTreeMap::new(), t1);
        let c = &flipped.conditions.as_ref().expect("conditions")[0];
        assert_eq!(c.last_transition_time.0, t1);
    }
}
