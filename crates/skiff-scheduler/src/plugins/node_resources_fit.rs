//! NodeResourcesFit: requests must fit allocatable minus what is already requested;
//! scoring prefers the least allocated nodes (LeastAllocated strategy).

use crate::framework::{CycleState, FilterPlugin, Plugin, ScorePlugin, Status, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The reasons a pod does not fit, in upstream's order and wording.
pub fn insufficient(pod: &PodInfo, node: &NodeInfo) -> Vec<String> {
    let mut out = Vec::new();
    let (want, used, have) = (&pod.requests, &node.requested, &node.allocatable);
    if used.pods + 1 > have.pods {
        out.push("Too many pods".to_string());
    }
    if want.milli_cpu > 0 && want.milli_cpu > have.milli_cpu - used.milli_cpu {
        out.push("Insufficient cpu".to_string());
    }
    if want.memory > 0 && want.memory > have.memory - used.memory {
        out.push("Insufficient memory".to_string());
    }
    if want.ephemeral_storage > 0
        && want.ephemeral_storage > have.ephemeral_storage - used.ephemeral_storage
    {
        out.push("Insufficient ephemeral-storage".to_string());
    }
    for (name, v) in &want.scalar {
        if *v == 0 {
            continue;
        }
        let cap = have.scalar.get(name).copied().unwrap_or(0);
        let taken = used.scalar.get(name).copied().unwrap_or(0);
        if *v > cap - taken {
            out.push(format!("Insufficient {name}"));
        }
    }
    out
}

/// The NodeResourcesFit plugin.
#[derive(Debug, Default)]
pub struct NodeResourcesFit;

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let reasons = insufficient(pod, node);
        if reasons.is_empty() {
            Status::success()
        } else {
            Status {
                code: crate::framework::Code::Unschedulable,
                reasons,
            }
        }
    }
}

fn least_allocated(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

impl ScorePlugin for NodeResourcesFit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let cpu = least_allocated(
            node.non_zero_milli_cpu + pod.non_zero_milli_cpu,
            node.allocatable.milli_cpu,
        );
        let mem = least_allocated(
            node.non_zero_memory + pod.non_zero_memory,
            node.allocatable.memory,
        );
        (cpu + mem) / 2
    }

    fn weight(&self) -> i64 {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod};
    use std::sync::Arc;

    #[test]
    fn filter_table() {
        let gi = 1i64 << 30;
        let mut busy = node("busy", 2000, 4 * gi);
        busy.add_pod(Arc::new(pod("e", 1500, gi)));
        let cases: Vec<(i64, i64, &[&str])> = vec![
            (500, gi, &[]),
            (501, gi, &["Insufficient cpu"]),
            (100, 3 * gi + 1, &["Insufficient memory"]),
            (4000, 8 * gi, &["Insufficient cpu", "Insufficient memory"]),
            (0, 0, &[]),
        ];
        for (cpu, mem, want) in cases {
            let st = NodeResourcesFit.filter(&CycleState::default(), &pod("p", cpu, mem), &busy);
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(st.reasons, want, "cpu={cpu} mem={mem}");
        }
    }

    #[test]
    fn pods_count_and_extended_resources() {
        let mut full = node("n", 1000, 1 << 30);
        full.allocatable.pods = 1;
        full.add_pod(Arc::new(pod("e", 0, 0)));
        let st = NodeResourcesFit.filter(&CycleState::default(), &pod("p", 0, 0), &full);
        assert_eq!(st.reasons, vec!["Too many pods".to_string()]);

        let mut gpu = node("g", 1000, 1 << 30);
        gpu.allocatable.scalar.insert("example.com/gpu".into(), 1);
        let mut p = pod("p", 0, 0);
        p.requests.scalar.insert("example.com/gpu".into(), 2);
        let st = NodeResourcesFit.filter(&CycleState::default(), &p, &gpu);
        assert_eq!(st.reasons, vec!["Insufficient example.com/gpu".to_string()]);
    }

    #[test]
    fn least_allocated_prefers_emptier_nodes() {
        let empty = node("a", 4000, 4 << 30);
        let mut half = node("b", 4000, 4 << 30);
        half.add_pod(Arc::new(pod("e", 2000, 2 << 30)));
        let p = pod("p", 1000, 1 << 30);
        let s_empty = NodeResourcesFit.score(&CycleState::default(), &p, &empty);
        let s_half = NodeResourcesFit.score(&CycleState::default(), &p, &half);
        assert_eq!((s_empty, s_half), (75, 25));
    }
}
