//! InterPodAffinity: required pod affinity/anti-affinity (the incoming pod's and existing
//! pods' anti-affinity) filter by topology domain; preferred terms score.

use crate::framework::{
    CycleState, FilterPlugin, Plugin, PreFilterPlugin, ScorePlugin, Status, MAX_NODE_SCORE,
};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::selector::label_selector_matches;
use crate::snapshot::Snapshot;
use k8s_openapi::api::core::v1::PodAffinityTerm;
use std::collections::{HashMap, HashSet};

/// Reason: the incoming pod's required affinity is not met.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Reason: the incoming pod's required anti-affinity is violated.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Reason: an existing pod's anti-affinity would be violated.
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

const KEY: &str = "InterPodAffinity";
const SCORE_KEY: &str = "InterPodAffinity/score";

/// Whether `term`, written by a pod in `owner_ns`, selects `target`.
///
/// A namespaceSelector other than the empty one (all namespaces) needs namespace labels,
/// which the snapshot does not hold; such selectors select no extra namespaces.
pub fn term_selects(term: &PodAffinityTerm, owner_ns: &str, target: &PodInfo) -> bool {
    let listed = term.namespaces.as_deref().unwrap_or(&[]);
    let all_namespaces = term.namespace_selector.as_ref().is_some_and(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
    });
    let ns_ok = all_namespaces
        || listed.contains(&target.namespace)
        || (listed.is_empty() && term.namespace_selector.is_none() && owner_ns == target.namespace);
    ns_ok && label_selector_matches(term.label_selector.as_ref(), &target.labels)
}

/// Pre-computed topology domains for the filter.
#[derive(Debug, Default)]
struct FilterState {
    /// (topologyKey, value) domains an existing pod's anti-affinity forbids.
    existing_anti: HashSet<(String, String)>,
    /// Per required affinity term: domains holding a matching pod.
    affinity: Vec<HashSet<String>>,
    /// Whether no pod anywhere matches the affinity terms (first-pod exception).
    no_affinity_match: bool,
    /// Per required anti-affinity term: domains holding a matching pod.
    anti: Vec<HashSet<String>>,
}

/// The InterPodAffinity plugin.
#[derive(Debug, Default)]
pub struct InterPodAffinity;

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        KEY
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let mut fs = FilterState::default();
        for (node_name, existing) in snapshot.anti_affinity_pods() {
            let Some(node) = snapshot.node(node_name) else {
                continue;
            };
            for term in &existing.required_anti_affinity {
                if term_selects(term, &existing.namespace, pod) {
                    if let Some(v) = node.labels.get(&term.topology_key) {
                        fs.existing_anti
                            .insert((term.topology_key.clone(), v.clone()));
                    }
                }
            }
        }
        if !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty() {
            fs.affinity = vec![HashSet::new(); pod.required_affinity.len()];
            fs.anti = vec![HashSet::new(); pod.required_anti_affinity.len()];
            for node in snapshot.nodes() {
                for existing in &node.pods {
                    for (i, term) in pod.required_affinity.iter().enumerate() {
                        if term_selects(term, &pod.namespace, existing) {
                            if let Some(v) = node.labels.get(&term.topology_key) {
                                fs.affinity[i].insert(v.clone());
                            }
                        }
                    }
                    for (i, term) in pod.required_anti_affinity.iter().enumerate() {
                        if term_selects(term, &pod.namespace, existing) {
                            if let Some(v) = node.labels.get(&term.topology_key) {
                                fs.anti[i].insert(v.clone());
                            }
                        }
                    }
                }
            }
            fs.no_affinity_match = fs.affinity.iter().all(|d| d.is_empty());
        }
        if fs.existing_anti.is_empty()
            && pod.required_affinity.is_empty()
            && pod.required_anti_affinity.is_empty()
        {
            return Status::skip();
        }
        state.write(KEY, fs);
        Status::success()
    }
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(fs) = state.read::<FilterState>(KEY) else {
            return Status::error("InterPodAffinity: PreFilter state missing");
        };
        for (i, term) in pod.required_affinity.iter().enumerate() {
            let Some(v) = node.labels.get(&term.topology_key) else {
                return Status::unresolvable(REASON_AFFINITY);
            };
            let domain_ok = fs.affinity.get(i).is_some_and(|d| d.contains(v));
            // Upstream lets the first pod of a self-affine group land anywhere, or the
            // group could never start.
            let self_match = fs.no_affinity_match
                && pod
                    .required_affinity
                    .iter()
                    .all(|t| term_selects(t, &pod.namespace, pod));
            if !domain_ok && !self_match {
                return Status::unresolvable(REASON_AFFINITY);
            }
        }
        for (i, term) in pod.required_anti_affinity.iter().enumerate() {
            if let Some(v) = node.labels.get(&term.topology_key) {
                if fs.anti.get(i).is_some_and(|d| d.contains(v)) {
                    return Status::unschedulable(REASON_ANTI_AFFINITY);
                }
            }
        }
        if !fs.existing_anti.is_empty()
            && node
                .labels
                .iter()
                .any(|(k, v)| fs.existing_anti.contains(&(k.clone(), v.clone())))
        {
            return Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> bool {
        let mut domains: HashMap<(String, String), i64> = HashMap::new();
        if pod.preferred_affinity.is_empty() && pod.preferred_anti_affinity.is_empty() {
            return false;
        }
        for node in snapshot.nodes() {
            for existing in &node.pods {
                let weighted = pod
                    .preferred_affinity
                    .iter()
                    .map(|w| (w, 1))
                    .chain(pod.preferred_anti_affinity.iter().map(|w| (w, -1)));
                for (w, sign) in weighted {
                    let term = &w.pod_affinity_term;
                    if term_selects(term, &pod.namespace, existing) {
                        if let Some(v) = node.labels.get(&term.topology_key) {
                            *domains
                                .entry((term.topology_key.clone(), v.clone()))
                                .or_insert(0) += sign * i64::from(w.weight);
                        }
                    }
                }
            }
        }
        state.write(SCORE_KEY, domains);
        true
    }

    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(domains) = state.read::<HashMap<(String, String), i64>>(SCORE_KEY) else {
            return 0;
        };
        if domains.is_empty() {
            return 0;
        }
        domains
            .iter()
            .filter(|((k, v), _)| node.labels.get(k) == Some(v))
            .map(|(_, s)| *s)
            .sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        // Scores can be negative (anti-affinity), so scale min..max onto 0..100.
        let (min, max) = scores
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(*s), hi.max(*s)));
        let span = max - min;
        for s in scores.iter_mut() {
            *s = if span == 0 {
                0
            } else {
                MAX_NODE_SCORE * (*s - min) / span
            };
        }
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

    fn term(app: &str, key: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), app.to_string())])),
                ..Default::default()
            }),
            topology_key: key.into(),
            ..Default::default()
        }
    }

    fn labelled(name: &str, app: &str) -> PodInfo {
        let mut p = pod(name, 0, 0);
        p.labels.insert("app".into(), app.into());
        p
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::new();
        for (name, zone) in [("a", "z1"), ("b", "z1"), ("c", "z2")] {
            let mut n = Node::default();
            n.metadata.name = Some(name.into());
            n.metadata.labels = Some(BTreeMap::from([
                ("zone".to_string(), zone.to_string()),
                ("kubernetes.io/hostname".to_string(), name.to_string()),
            ]));
            let mut info = crate::NodeInfo::from_node(&n);
            info.taints.clear();
            s.upsert_node_info(info);
        }
        let mut db = labelled("db", "db");
        db.node_name = Some("a".into());
        s.add_or_update_bound_pod(db);
        s
    }

    fn run(s: &Snapshot, p: &PodInfo) -> Vec<(String, bool)> {
        let mut st = CycleState::default();
        assert!(InterPodAffinity.pre_filter(&mut st, p, s).is_success());
        s.nodes()
            .map(|n| {
                (
                    n.name.clone(),
                    InterPodAffinity.filter(&st, p, n).is_success(),
                )
            })
            .collect()
    }

    fn names(v: Vec<(String, bool)>) -> Vec<String> {
        v.into_iter()
            .filter(|(_, ok)| *ok)
            .map(|(n, _)| n)
            .collect()
    }

    #[test]
    fn affinity_follows_the_zone() {
        let s = snapshot();
        let mut p = labelled("web", "web");
        p.required_affinity = vec![term("db", "zone")];
        assert_eq!(names(run(&s, &p)), vec!["a", "b"]);
    }

    #[test]
    fn anti_affinity_avoids_the_host() {
        let s = snapshot();
        let mut p = labelled("db2", "db");
        p.required_anti_affinity = vec![term("db", "kubernetes.io/hostname")];
        assert_eq!(names(run(&s, &p)), vec!["b", "c"]);
    }

    #[test]
    fn existing_pods_anti_affinity_is_respected() {
        let mut s = snapshot();
        let mut guard = labelled("guard", "guard");
        guard.required_anti_affinity = vec![term("web", "zone")];
        guard.node_name = Some("c".into());
        s.add_or_update_bound_pod(guard);
        let p = labelled("web", "web");
        let out = run(&s, &p);
        assert_eq!(names(out), vec!["a", "b"]);
    }

    #[test]
    fn first_pod_of_a_self_affine_group_may_land_anywhere() {
        let s = snapshot();
        let mut p = labelled("cache", "cache");
        p.required_affinity = vec![term("cache", "zone")];
        assert_eq!(names(run(&s, &p)), vec!["a", "b", "c"]);
    }
}
