//! NodeAffinity: nodeSelector and required node affinity filter; preferred terms score.

use crate::framework::{default_normalize, CycleState, FilterPlugin, Plugin, ScorePlugin, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::selector::node_term_matches;

/// Upstream's reason string.
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// Whether the node satisfies the pod's nodeSelector and required node affinity.
pub fn required_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    let selector_ok = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    selector_ok
        && pod.required_node_affinity.as_ref().is_none_or(|ns| {
            ns.node_selector_terms
                .iter()
                .any(|t| node_term_matches(t, &node.name, &node.labels))
        })
}

/// The NodeAffinity plugin.
#[derive(Debug, Default)]
pub struct NodeAffinity;

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if required_matches(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(REASON)
        }
    }
}

impl ScorePlugin for NodeAffinity {
    fn pre_score(&self, _: &mut CycleState, pod: &PodInfo, _: &crate::snapshot::Snapshot) -> bool {
        !pod.preferred_node_affinity.is_empty()
    }

    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        pod.preferred_node_affinity
            .iter()
            .filter(|p| node_term_matches(&p.preference, &node.name, &node.labels))
            .map(|p| i64::from(p.weight))
            .sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(scores, false);
    }

    fn weight(&self) -> i64 {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod};
    use k8s_openapi::api::core::v1::{
        NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm,
    };

    fn term(key: &str, op: &str, values: &[&str]) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            match_fields: None,
        }
    }

    #[test]
    fn filter_table() {
        let mut n = node("n1", 1, 1);
        n.labels.insert("disk".into(), "ssd".into());
        n.labels.insert("gen".into(), "5".into());
        let cases: Vec<(Option<(&str, &str)>, Option<NodeSelectorTerm>, bool)> = vec![
            (None, None, true),
            (Some(("disk", "ssd")), None, true),
            (Some(("disk", "hdd")), None, false),
            (None, Some(term("disk", "In", &["ssd", "nvme"])), true),
            (None, Some(term("disk", "NotIn", &["ssd"])), false),
            (None, Some(term("gen", "Gt", &["4"])), true),
            (None, Some(term("gen", "Lt", &["4"])), false),
            (None, Some(term("zone", "DoesNotExist", &[])), true),
            (None, Some(term("zone", "Exists", &[])), false),
        ];
        for (sel, t, ok) in cases {
            let mut p = pod("p", 0, 0);
            if let Some((k, v)) = sel {
                p.node_selector.insert(k.into(), v.into());
            }
            p.required_node_affinity = t.clone().map(|t| NodeSelector {
                node_selector_terms: vec![t],
            });
            let st = NodeAffinity.filter(&CycleState::default(), &p, &n);
            assert_eq!(st.is_success(), ok, "{sel:?} {t:?}");
        }
    }

    #[test]
    fn match_fields_metadata_name() {
        let n = node("n1", 1, 1);
        let mut p = pod("p", 0, 0);
        let mut t = term("x", "In", &[]);
        t.match_expressions = None;
        t.match_fields = Some(vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec!["n1".into()]),
        }]);
        p.required_node_affinity = Some(NodeSelector {
            node_selector_terms: vec![t],
        });
        assert!(NodeAffinity
            .filter(&CycleState::default(), &p, &n)
            .is_success());
    }

    #[test]
    fn preferred_terms_add_weights() {
        let mut n = node("n1", 1, 1);
        n.labels.insert("disk".into(), "ssd".into());
        let mut p = pod("p", 0, 0);
        p.preferred_node_affinity = vec![
            PreferredSchedulingTerm {
                weight: 10,
                preference: term("disk", "In", &["ssd"]),
            },
            PreferredSchedulingTerm {
                weight: 5,
                preference: term("disk", "In", &["hdd"]),
            },
        ];
        assert_eq!(NodeAffinity.score(&CycleState::default(), &p, &n), 10);
    }
}
