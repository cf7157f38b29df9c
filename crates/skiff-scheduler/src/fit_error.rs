//! Why a pod fits nowhere, and upstream's FailedScheduling message for it.

use crate::framework::Status;
use std::collections::BTreeMap;

/// Upstream's sentence for a preemption that cannot help on a node.
pub const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Upstream's sentence for a node without lower-priority pods.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// The outcome of a failed scheduling attempt.
#[derive(Debug, Clone, Default)]
pub struct FitError {
    /// Nodes considered (all nodes with a Node object).
    pub num_all_nodes: usize,
    /// A PreFilter rejection that applied to every node.
    pub pre_filter_msg: Option<String>,
    /// Per node the failing status.
    pub node_statuses: Vec<(String, Status)>,
    /// The PostFilter (preemption) outcome, already prefixed "preemption: ".
    pub post_filter_msg: Option<String>,
}

/// "0/N nodes are available: <sorted 'count reason' list>." as upstream formats it.
pub fn nodes_unavailable(num_all_nodes: usize, statuses: &[(String, Status)]) -> String {
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, st) in statuses {
        for r in &st.reasons {
            *histogram.entry(r.as_str()).or_insert(0) += 1;
        }
    }
    let mut parts: Vec<String> = histogram.iter().map(|(r, n)| format!("{n} {r}")).collect();
    // Upstream sorts the rendered "count reason" strings, so counts lead the order.
    parts.sort();
    format!(
        "0/{num_all_nodes} nodes are available: {}.",
        parts.join(", ")
    )
}

impl FitError {
    /// The message for the PodScheduled condition and the FailedScheduling event.
    pub fn message(&self) -> String {
        let mut msg = match &self.pre_filter_msg {
            Some(pre) => format!("0/{} nodes are available: {pre}.", self.num_all_nodes),
            None if self.num_all_nodes == 0 => "no nodes available to schedule pods".to_string(),
            None => nodes_unavailable(self.num_all_nodes, &self.node_statuses),
        };
        if let Some(post) = &self.post_filter_msg {
            msg.push(' ');
            msg.push_str(post);
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(reasons: &[&str]) -> Status {
        Status {
            code: crate::framework::Code::Unschedulable,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn messages_match_upstream() {
        let taint = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }";
        let cases = [
            (
                FitError {
                    num_all_nodes: 3,
                    node_statuses: vec![
                        ("a".into(), st(&[taint])),
                        ("b".into(), st(&["Insufficient cpu"])),
                        ("c".into(), st(&["Insufficient cpu"])),
                    ],
                    post_filter_msg: Some("preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.".into()),
                    ..Default::default()
                },
                "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
            ),
            (
                FitError {
                    num_all_nodes: 2,
                    node_statuses: vec![
                        ("a".into(), st(&["Insufficient cpu", "Insufficient memory"])),
                        ("b".into(), st(&["Insufficient memory"])),
                    ],
                    ..Default::default()
                },
                "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory.",
            ),
            (FitError::default(), "no nodes available to schedule pods"),
        ];
        for (err, want) in cases {
            assert_eq!(err.message(), want);
        }
    }
}
