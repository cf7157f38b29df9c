//! The deployment rules that need no I/O (upstream's deployment/util): surge and
//! unavailability bounds, replica counts, revision annotations, conditions and status.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// The revision annotation on Deployments and their ReplicaSets.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a ReplicaSet served (after a rollback re-used it).
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// replicas + maxSurge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// Longest revision-history value kept (upstream's default).
const MAX_HISTORY_CHARS: usize = 2000;
/// Annotations never copied from a Deployment to its ReplicaSets.
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// spec.replicas (default 1).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// spec.replicas of a ReplicaSet (default 1).
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// status.availableReplicas of a ReplicaSet.
pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

/// Whether the strategy is Recreate (the default is RollingUpdate).
pub fn is_recreate(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate")
}

/// An int-or-percent scaled against `total`, percentages rounded up or down
/// (upstream's GetScaledValueFromIntOrPercent); malformed values count as 0.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> i32 {
    match v {
        IntOrString::Int(i) => *i,
        IntOrString::String(s) => {
            let Some(p) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
                return 0;
            };
            let prod = p * i64::from(total);
            let v = if round_up {
                (prod + 99).div_euclid(100)
            } else {
                prod.div_euclid(100)
            };
            v as i32
        }
    }
}

/// (maxSurge, maxUnavailable) for a rolling update, never both 0 (upstream's
/// ResolveFenceposts; defaults 25%/25%).
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge = ru
        .and_then(|r| r.max_surge.clone())
        .unwrap_or(quarter.clone());
    let unavail = ru
        .and_then(|r| r.max_unavailable.clone())
        .unwrap_or(quarter);
    let want = replicas(d);
    let s = scaled_value(&surge, want, true);
    let u = scaled_value(&unavail, want, false);
    if s == 0 && u == 0 {
        (0, 1)
    } else {
        (s, u)
    }
}

/// maxSurge in pods (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if is_recreate(d) {
        0
    } else {
        fenceposts(d).0
    }
}

/// maxUnavailable in pods, at most replicas (0 for Recreate or no replicas).
pub fn max_unavailable(d: &Deployment) -> i32 {
    let want = replicas(d);
    if is_recreate(d) || want == 0 {
        0
    } else {
        fenceposts(d).1.min(want)
    }
}

/// The new ReplicaSet's size for the next step (upstream's NewRSNewReplicas).
pub fn new_rs_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    let want = replicas(d);
    if is_recreate(d) {
        return want;
    }
    let current: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
    let max_total = want + fenceposts(d).0;
    let new_now = rs_replicas(new_rs);
    if current >= max_total {
        return new_now;
    }
    let up = (max_total - current).min(want - new_now);
    new_now + up.max(0)
}

/// The revision number a ReplicaSet carries (0 when none or malformed).
pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(rs.metadata.annotations.as_ref(), REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn annotation<'a>(a: Option<&'a BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    a.and_then(|a| a.get(key)).map(String::as_str)
}

/// Bring `rs`'s annotations in line with the deployment for revision `new_revision`
/// (upstream's SetNewReplicaSetAnnotations); returns whether anything changed.
pub fn set_new_rs_annotations(d: &Deployment, rs: &mut ReplicaSet, new_revision: i64) -> bool {
    let before = rs.metadata.annotations.clone();
    let ann = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if !NOT_COPIED.contains(&k.as_str()) {
            ann.insert(k.clone(), v.clone());
        }
    }
    let old: i64 = annotation(Some(ann), REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let old_text = ann.get(REVISION).cloned();
    if old < new_revision {
        ann.insert(REVISION.into(), new_revision.to_string());
        if let Some(prev) = old_text {
            let history = match ann.get(REVISION_HISTORY) {
                Some(h) if !h.is_empty() => format!("{h},{prev}"),
                _ => prev,
            };
            // Keep the newest entries when the history grows past the limit.
            let mut h = history.as_str();
            while h.len() > MAX_HISTORY_CHARS {
                h = h.split_once(',').map_or("", |(_, rest)| rest);
            }
            ann.insert(REVISION_HISTORY.into(), h.to_string());
        }
    }
    if !ann.contains_key(DESIRED_REPLICAS) || !ann.contains_key(MAX_REPLICAS) {
        set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d));
    }
    rs.metadata.annotations != before
}

/// Record the deployment's size on a ReplicaSet; returns whether anything changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let ann = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let a = ann.insert(DESIRED_REPLICAS.into(), desired.to_string());
    let b = ann.insert(MAX_REPLICAS.into(), max.to_string());
    a.as_deref() != Some(&desired.to_string()) || b.as_deref() != Some(&max.to_string())
}

/// A condition of the deployment.
pub fn condition<'a>(s: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.iter().flatten().find(|c| c.type_ == type_)
}

/// A new condition stamped `now`.
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Set a condition (upstream's SetDeploymentCondition): same status and reason leaves
/// the old one (and its times) in place; same status keeps the transition time.
pub fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = condition(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    let conds = s.conditions.get_or_insert_with(Vec::new);
    conds.retain(|x| x.type_ != c.type_);
    conds.push(c);
}

/// Remove a condition.
pub fn remove_condition(s: &mut DeploymentStatus, type_: &str) {
    if let Some(c) = s.conditions.as_mut() {
        c.retain(|x| x.type_ != type_);
        if c.is_empty() {
            s.conditions = None;
        }
    }
}

/// Whether progressDeadlineSeconds is set (it is defaulted to 600).
pub fn progress_deadline(d: &Deployment) -> Option<i32> {
    let v = d
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(600);
    (v != i32::MAX).then_some(v)
}

/// The status computed from the ReplicaSets (upstream's calculateStatus).
pub fn calculate_status(
    d: &Deployment,
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    now: Timestamp,
) -> DeploymentStatus {
    let st = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let available: i32 = all.iter().map(|rs| rs_available(rs)).sum();
    let total: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
    let unavailable = (total - available).max(0);
    let nz = |v: i32| (v != 0).then_some(v);
    let old = d.status.clone().unwrap_or_default();
    let mut s = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: nz(all.iter().map(|rs| st(rs).replicas).sum()),
        updated_replicas: nz(new_rs.map_or(0, |rs| st(rs).replicas)),
        ready_replicas: nz(all
            .iter()
            .map(|rs| st(rs).ready_replicas.unwrap_or(0))
            .sum()),
        available_replicas: nz(available),
        unavailable_replicas: nz(unavailable),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: None,
    };
    if available >= replicas(d) - max_unavailable(d) {
        set_condition(
            &mut s,
            new_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
                now,
            ),
        );
    } else {
        set_condition(
            &mut s,
            new_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
                now,
            ),
        );
    }
    s
}

/// Every replica updated and available, and the spec observed (upstream's
/// DeploymentComplete).
pub fn is_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let want = replicas(d);
    s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Whether the rollout moved since the last status (upstream's DeploymentProgressing).
pub fn is_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let g = |v: Option<i32>| v.unwrap_or(0);
    let old_old = g(old.replicas) - g(old.updated_replicas);
    let new_old = g(new.replicas) - g(new.updated_replicas);
    g(new.updated_replicas) > g(old.updated_replicas)
        || new_old < old_old
        || g(new.ready_replicas) > g(old.ready_replicas)
        || g(new.available_replicas) > g(old.available_replicas)
}

/// Whether the Progressing condition is older than the deadline (upstream's
/// DeploymentTimedOut).
pub fn is_timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(deadline) = progress_deadline(d) else {
        return false;
    };
    let Some(c) = condition(s, "Progressing") else {
        return false;
    };
    match c.reason.as_deref() {
        Some("NewReplicaSetAvailable") => return false,
        Some("ProgressDeadlineExceeded") => return true,
        _ => {}
    }
    let Some(from) = c.last_update_time.as_ref().map(|t| t.0) else {
        return false;
    };
    from.checked_add(SignedDuration::from_secs(i64::from(deadline)))
        .is_ok_and(|end| end < now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(replicas: i32, surge: serde_json::Value, unavail: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavail}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}
            }
        }))
        .expect("deployment")
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailable_down() {
        assert_eq!(fenceposts(&deploy(10, json!("25%"), json!("25%"))), (3, 2));
        assert_eq!(fenceposts(&deploy(6, json!(2), json!(1))), (2, 1));
        assert_eq!(fenceposts(&deploy(1, json!("0%"), json!("10%"))), (0, 1));
        assert_eq!(fenceposts(&deploy(3, json!(0), json!(0))), (0, 1));
        assert_eq!(max_unavailable(&deploy(2, json!(0), json!(5))), 2);
    }

    #[test]
    fn new_replica_set_grows_within_surge() {
        let d = deploy(6, json!(2), json!(1));
        let rs = |n: i32| -> ReplicaSet {
            serde_json::from_value(json!({"metadata": {}, "spec": {"replicas": n, "selector": {}}}))
                .expect("rs")
        };
        let (old, new) = (rs(6), rs(0));
        assert_eq!(new_rs_replicas(&d, &[&old, &new], &new), 2);
        let (old, new) = (rs(5), rs(2));
        assert_eq!(new_rs_replicas(&d, &[&old, &new], &new), 3);
        let (old, new) = (rs(0), rs(6));
        assert_eq!(new_rs_replicas(&d, &[&old, &new], &new), 6);
    }

    #[test]
    fn revision_annotations_keep_history() {
        let mut d = deploy(3, json!(1), json!(0));
        d.metadata.annotations = Some(BTreeMap::from([
            ("kubernetes.io/change-cause".to_string(), "v2".to_string()),
            (REVISION.to_string(), "9".to_string()),
        ]));
        let mut rs: ReplicaSet =
            serde_json::from_value(json!({"metadata": {"annotations": {REVISION: "1"}}}))
                .expect("rs");
        assert!(set_new_rs_annotations(&d, &mut rs, 3));
        let a = rs.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(a[REVISION], "3");
        assert_eq!(a[REVISION_HISTORY], "1");
        assert_eq!(a["kubernetes.io/change-cause"], "v2");
        assert_eq!(a[DESIRED_REPLICAS], "3");
        assert_eq!(a[MAX_REPLICAS], "4");
        assert!(!set_new_rs_annotations(&d, &mut rs, 3));
    }

    #[test]
    fn conditions_keep_times_unless_they_change() {
        let t0: Timestamp = "2025-01-01T00:00:00Z".parse().expect("t");
        let t1: Timestamp = "2025-01-01T00:01:00Z".parse().expect("t");
        let mut s = DeploymentStatus::default();
        set_condition(
            &mut s,
            new_condition(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                "a".into(),
                t0,
            ),
        );
        set_condition(
            &mut s,
            new_condition("Progressing", "True", "ReplicaSetUpdated", "b".into(), t1),
        );
        let c = condition(&s, "Progressing").expect("cond");
        assert_eq!(c.reason.as_deref(), Some("ReplicaSetUpdated"));
        assert_eq!(c.last_transition_time, Some(Time(t0)));
        assert_eq!(c.last_update_time, Some(Time(t1)));
    }
}
