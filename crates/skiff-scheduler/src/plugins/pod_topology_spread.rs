//! PodTopologySpread: DoNotSchedule constraints filter on skew; ScheduleAnyway
//! constraints score (fewer matching pods in the node's domain is better).

use crate::framework::{
    default_normalize, CycleState, FilterPlugin, Plugin, PreFilterPlugin, ScorePlugin, Status,
};
use crate::node_info::NodeInfo;
use crate::plugins::node_affinity::required_matches;
use crate::pod_info::PodInfo;
use crate::selector::label_selector_matches;
use crate::snapshot::Snapshot;
use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use std::collections::HashMap;

/// Reason: the skew would exceed maxSkew.
pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
/// Reason: the node lacks a constraint's topology key.
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const KEY: &str = "PodTopologySpread";
const SCORE_KEY: &str = "PodTopologySpread/score";

/// Matching-pod counts per domain of one constraint.
#[derive(Debug, Default, Clone)]
struct Counts {
    per_domain: HashMap<String, i64>,
    /// Global minimum, 0 when fewer than minDomains domains exist.
    min: i64,
    self_match: i64,
}

fn count(pod: &PodInfo, c: &TopologySpreadConstraint, snapshot: &Snapshot) -> Counts {
    let mut per_domain: HashMap<String, i64> = HashMap::new();
    for node in snapshot.nodes() {
        // nodeAffinityPolicy defaults to Honor: only nodes the pod could go to count.
        if c.node_affinity_policy.as_deref() != Some("Ignore") && !required_matches(pod, node) {
            continue;
        }
        let Some(domain) = node.labels.get(&c.topology_key) else {
            continue;
        };
        let n = node
            .pods
            .iter()
            .filter(|p| p.namespace == pod.namespace && !p.deleting)
            .filter(|p| label_selector_matches(c.label_selector.as_ref(), &p.labels))
            .count() as i64;
        *per_domain.entry(domain.clone()).or_insert(0) += n;
    }
    let mut min = per_domain.values().copied().min().unwrap_or(0);
    if let Some(min_domains) = c.min_domains {
        if (per_domain.len() as i64) < i64::from(min_domains) {
            min = 0;
        }
    }
    let self_match = i64::from(label_selector_matches(
        c.label_selector.as_ref(),
        &pod.labels,
    ));
    Counts {
        per_domain,
        min,
        self_match,
    }
}

/// The PodTopologySpread plugin.
#[derive(Debug, Default)]
pub struct PodTopologySpread;

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        KEY
    }
}

fn hard(pod: &PodInfo) -> impl Iterator<Item = &TopologySpreadConstraint> {
    pod.topology_spread
        .iter()
        .filter(|c| c.when_unsatisfiable == "DoNotSchedule")
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let counts: Vec<Counts> = hard(pod).map(|c| count(pod, c, snapshot)).collect();
        if counts.is_empty() {
            return Status::skip();
        }
        state.write(KEY, counts);
        Status::success()
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(counts) = state.read::<Vec<Counts>>(KEY) else {
            return Status::error("PodTopologySpread: PreFilter state missing");
        };
        for (c, k) in hard(pod).zip(counts) {
            let Some(domain) = node.labels.get(&c.topology_key) else {
                return Status::unresolvable(REASON_MISSING_LABEL);
            };
            let here = k.per_domain.get(domain).copied().unwrap_or(0);
            if here + k.self_match - k.min > i64::from(c.max_skew) {
                return Status::unschedulable(REASON);
            }
        }
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> bool {
        let soft: Vec<(String, Counts)> = pod
            .topology_spread
            .iter()
            .filter(|c| c.when_unsatisfiable == "ScheduleAnyway")
            .map(|c| (c.topology_key.clone(), count(pod, c, snapshot)))
            .collect();
        if soft.is_empty() {
            return false;
        }
        state.write(SCORE_KEY, soft);
        true
    }

    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(soft) = state.read::<Vec<(String, Counts)>>(SCORE_KEY) else {
            return 0;
        };
        soft.iter()
            .map(|(key, k)| {
                node.labels
                    .get(key)
                    .and_then(|d| k.per_domain.get(d))
                    .copied()
                    .unwrap_or(0)
            })
            .sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(scores, true);
    }

    fn weight(&self) -> i64 {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::pod;
    use k8s_openapi::api::core::v1::Node;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::collections::BTreeMap;

    fn snapshot(zones: &[(&str, &str)], pods: &[(&str, &str)]) -> Snapshot {
        let mut s = Snapshot::new();
        for (name, zone) in zones {
            let mut n = Node::default();
            n.metadata.name = Some(name.to_string());
            if !zone.is_empty() {
                n.metadata.labels = Some(BTreeMap::from([("zone".to_string(), zone.to_string())]));
            }
            let mut info = crate::NodeInfo::from_node(&n);
            info.taints.clear();
            s.upsert_node_info(info);
        }
        for (i, (node, app)) in pods.iter().enumerate() {
            let mut p = pod(&format!("e{i}"), 0, 0);
            p.labels.insert("app".into(), app.to_string());
            p.node_name = Some(node.to_string());
            s.add_or_update_bound_pod(p);
        }
        s
    }

    fn incoming(max_skew: i32, min_domains: Option<i32>, mode: &str) -> PodInfo {
        let mut p = pod("p", 0, 0);
        p.labels.insert("app".into(), "web".into());
        p.topology_spread = vec![TopologySpreadConstraint {
            max_skew,
            min_domains,
            topology_key: "zone".into(),
            when_unsatisfiable: mode.into(),
            label_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
                ..Default::default()
            }),
            ..Default::default()
        }];
        p
    }

    fn feasible(s: &Snapshot, p: &PodInfo) -> Vec<(String, Vec<String>)> {
        let mut st = CycleState::default();
        assert!(PodTopologySpread.pre_filter(&mut st, p, s).is_success());
        s.nodes()
            .map(|n| (n.name.clone(), PodTopologySpread.filter(&st, p, n).reasons))
            .collect()
    }

    #[test]
    fn skew_table() {
        let s = snapshot(
            &[("a", "z1"), ("b", "z2"), ("c", "")],
            &[("a", "web"), ("a", "db")],
        );
        let out = feasible(&s, &incoming(1, None, "DoNotSchedule"));
        assert_eq!(
            out,
            vec![
                ("a".to_string(), vec![REASON.to_string()]),
                ("b".to_string(), vec![]),
                ("c".to_string(), vec![REASON_MISSING_LABEL.to_string()]),
            ]
        );
        // maxSkew 2 tolerates the imbalance.
        assert!(feasible(&s, &incoming(2, None, "DoNotSchedule"))
            .iter()
            .take(2)
            .all(|(_, r)| r.is_empty()));
    }

    #[test]
    fn min_domains_forces_global_minimum_zero() {
        let s = snapshot(&[("a", "z1"), ("b", "z2")], &[("a", "web"), ("b", "web")]);
        // Two domains with one pod each: skew 1 is fine...
        assert!(feasible(&s, &incoming(1, None, "DoNotSchedule"))
            .iter()
            .all(|(_, r)| r.is_empty()));
        // ...but with minDomains 3 the global minimum is 0, so 1 + 1 - 0 > 1.
        assert!(feasible(&s, &incoming(1, Some(3), "DoNotSchedule"))
            .iter()
            .all(|(_, r)| !r.is_empty()));
    }

    #[test]
    fn schedule_anyway_scores_emptier_domains_higher() {
        let s = snapshot(&[("a", "z1"), ("b", "z2")], &[("a", "web"), ("a", "web")]);
        let p = incoming(1, None, "ScheduleAnyway");
        let mut st = CycleState::default();
        PodTopologySpread.pre_score(&mut st, &p, &s);
        let mut scores: Vec<i64> = s
            .nodes()
            .map(|n| PodTopologySpread.score(&st, &p, n))
            .collect();
        PodTopologySpread.normalize(&mut scores);
        assert_eq!(scores, vec![0, 100]);
    }
}
