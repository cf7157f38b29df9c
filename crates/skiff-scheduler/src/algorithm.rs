//! One scheduling cycle over the snapshot: PreFilter, Filter over a sample of nodes,
//! Score, select. Pure; the caller reserves and binds.

use crate::fit_error::FitError;
use crate::framework::{Code, CycleState, FilterPlugin, PreFilterPlugin, ScorePlugin, Status};
use crate::node_info::NodeInfo;
use crate::plugins::{
    balanced_allocation::BalancedAllocation, inter_pod_affinity::InterPodAffinity,
    node_affinity::NodeAffinity, node_name::NodeName, node_ports::NodePorts,
    node_resources_fit::NodeResourcesFit, node_unschedulable::NodeUnschedulable,
    pod_topology_spread::PodTopologySpread, taint_toleration::TaintToleration,
    volume_binding::VolumeBinding,
};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use std::sync::Arc;

/// Below this many nodes every node is evaluated (upstream's minFeasibleNodesToFind).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Lowest adaptive percentage of nodes to score.
pub const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// How many feasible nodes to look for before scoring (upstream's
/// numFeasibleNodesToFind); `percentage` 0 means adaptive (50% - nodes/125, min 5%).
pub fn num_feasible_nodes_to_find(percentage: u32, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100 {
        return num_all_nodes;
    }
    let pct = if percentage == 0 {
        50usize
            .saturating_sub(num_all_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE)
    } else {
        percentage as usize
    };
    (num_all_nodes * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The plugins of one profile.
#[derive(Clone)]
pub struct Framework {
    /// PreFilter plugins.
    pub pre_filters: Vec<Arc<dyn PreFilterPlugin>>,
    /// Filter plugins, in evaluation order (the first failure decides a node).
    pub filters: Vec<Arc<dyn FilterPlugin>>,
    /// Score plugins.
    pub scorers: Vec<Arc<dyn ScorePlugin>>,
}

impl Default for Framework {
    /// Upstream's default profile (of the volume plugins, VolumeBinding), in upstream's order.
    fn default() -> Framework {
        let taints = Arc::new(TaintToleration);
        let affinity = Arc::new(NodeAffinity);
        let fit = Arc::new(NodeResourcesFit);
        let spread = Arc::new(PodTopologySpread);
        let inter = Arc::new(InterPodAffinity);
        let volumes = Arc::new(VolumeBinding);
        Framework {
            pre_filters: vec![volumes.clone(), spread.clone(), inter.clone()],
            filters: vec![
                Arc::new(NodeUnschedulable),
                Arc::new(NodeName),
                taints.clone(),
                affinity.clone(),
                Arc::new(NodePorts),
                fit.clone(),
                volumes,
                spread.clone(),
                inter.clone(),
            ],
            scorers: vec![
                taints,
                affinity,
                fit,
                Arc::new(BalancedAllocation),
                spread,
                inter,
            ],
        }
    }
}

impl Framework {
    /// Run PreFilter plugins; an error is a rejection on every node.
    pub fn run_pre_filters(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<CycleState, Status> {
        let mut state = CycleState::default();
        for p in &self.pre_filters {
            let st = p.pre_filter(&mut state, pod, snapshot);
            match st.code {
                Code::Success => {}
                Code::Skip => state.skip_filter(p.name()),
                _ => return Err(st),
            }
        }
        Ok(state)
    }

    /// Run Filter plugins on one node; the first failure is the node's status.
    pub fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for f in &self.filters {
            if state.filter_skipped(f.name()) {
                continue;
            }
            let st = f.filter(state, pod, node);
            if !st.is_success() {
                return st;
            }
        }
        Status::success()
    }
}

/// A successful cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: String,
    /// Nodes filtered.
    pub evaluated: usize,
    /// Feasible nodes found.
    pub feasible: usize,
}

/// A failed cycle: the fit error, plus the cycle state for preemption.
pub struct Unschedulable {
    /// Why.
    pub fit: FitError,
    /// The PreFilter state (None if PreFilter itself rejected the pod).
    pub state: Option<CycleState>,
}

/// The scheduling algorithm: the framework plus sampling state.
#[derive(Clone)]
pub struct Algorithm {
    /// The plugins.
    pub framework: Framework,
    /// percentageOfNodesToScore; 0 = adaptive.
    pub percentage_of_nodes_to_score: u32,
    next_start: usize,
}

impl Algorithm {
    /// An algorithm with the given plugins and sampling percentage.
    pub fn new(framework: Framework, percentage_of_nodes_to_score: u32) -> Algorithm {
        Algorithm {
            framework,
            percentage_of_nodes_to_score,
            next_start: 0,
        }
    }

    /// Pick a node for `pod`.
    pub fn schedule(
        &mut self,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<ScheduleResult, Box<Unschedulable>> {
        let num_all = snapshot.num_nodes();
        if num_all == 0 {
            return Err(Box::new(Unschedulable {
                fit: FitError::default(),
                state: None,
            }));
        }
        let state = match self.framework.run_pre_filters(pod, snapshot) {
            Ok(s) => s,
            Err(st) => {
                return Err(Box::new(Unschedulable {
                    fit: FitError {
                        num_all_nodes: num_all,
                        pre_filter_msg: Some(st.reasons.join(", ")),
                        ..Default::default()
                    },
                    state: None,
                }))
            }
        };
        let want = num_feasible_nodes_to_find(self.percentage_of_nodes_to_score, num_all);
        let (slots, known) = snapshot.slots();
        let len = slots.len();
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(want.min(len));
        let mut failed: Vec<(String, Status)> = Vec::new();
        let mut evaluated = 0;
        let mut processed = 0;
        // Rotate the starting node so sampling spreads pods over the whole cluster.
        let start = self.next_start % len.max(1);
        while processed < len && feasible.len() < want {
            let i = (start + processed) % len;
            processed += 1;
            if !known[i] {
                continue;
            }
            evaluated += 1;
            let node = &slots[i];
            let st = self.framework.run_filters(&state, pod, node);
            match st.code {
                Code::Success => feasible.push(node),
                _ => failed.push((node.name.clone(), st)),
            }
        }
        self.next_start = (start + processed) % len.max(1);
        if feasible.is_empty() {
            return Err(Box::new(Unschedulable {
                fit: FitError {
                    num_all_nodes: num_all,
                    node_statuses: failed,
                    ..Default::default()
                },
                state: Some(state),
            }));
        }
        let node = if feasible.len() == 1 {
            feasible[0].name.clone()
        } else {
            self.select(pod, snapshot, state, &feasible)
        };
        Ok(ScheduleResult {
            node,
            evaluated,
            feasible: feasible.len(),
        })
    }

    fn select(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        mut state: CycleState,
        feasible: &[&NodeInfo],
    ) -> String {
        let mut totals = vec![0i64; feasible.len()];
        let mut scores = vec![0i64; feasible.len()];
        for s in &self.framework.scorers {
            if !s.pre_score(&mut state, pod, snapshot) {
                continue;
            }
            for (slot, node) in scores.iter_mut().zip(feasible) {
                *slot = s.score(&state, pod, node);
            }
            s.normalize(&mut scores);
            let w = s.weight();
            for (t, v) in totals.iter_mut().zip(&scores) {
                *t += v * w;
            }
        }
        let best = totals
            .iter()
            .enumerate()
            .max_by(|(ia, a), (ib, b)| a.cmp(b).then(ib.cmp(ia)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        feasible[best].name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{pod, taint};

    #[test]
    fn sampling_table() {
        let cases = [
            (0, 50, 50),
            (0, 100, 100),
            (0, 1000, 420),
            (0, 5000, 500),
            (0, 10000, 500),
            (30, 1000, 300),
            (100, 5000, 5000),
            (0, 300, 144),
        ];
        for (pct, n, want) in cases {
            assert_eq!(num_feasible_nodes_to_find(pct, n), want, "pct={pct} n={n}");
        }
    }

    fn snapshot(n: usize) -> Snapshot {
        let mut s = Snapshot::new();
        for i in 0..n {
            let mut info = crate::plugins::testutil::node(&format!("n{i}"), 4000, 8 << 30);
            if i == 0 {
                info.taints = vec![taint(
                    "node-role.kubernetes.io/control-plane",
                    "",
                    "NoSchedule",
                )];
            }
            s.upsert_node_info(info);
        }
        s
    }

    #[test]
    fn picks_least_allocated_node() {
        let mut s = snapshot(3);
        s.assume(&pod("busy", 3000, 1 << 30), "n1");
        let mut alg = Algorithm::new(Framework::default(), 0);
        let r = alg
            .schedule(&pod("p", 500, 1 << 30), &s)
            .ok()
            .map(|r| r.node);
        assert_eq!(r.as_deref(), Some("n2"));
    }

    #[test]
    fn upstream_message_for_taint_and_cpu() {
        let s = snapshot(3);
        let mut alg = Algorithm::new(Framework::default(), 0);
        let Err(e) = alg.schedule(&pod("p", 5000, 0), &s) else {
            panic!("a 5-cpu pod must not fit 4-cpu nodes");
        };
        assert_eq!(
            e.fit.message(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."
        );
    }

    #[test]
    fn assumed_pods_count_against_nodes() {
        let mut s = snapshot(2);
        let mut alg = Algorithm::new(Framework::default(), 0);
        let mut placed = 0;
        for i in 0..10 {
            let p = pod(&format!("p{i}"), 1000, 0);
            if let Ok(r) = alg.schedule(&p, &s) {
                s.assume(&p, &r.node);
                placed += 1;
            }
        }
        // Only n1 is untainted: four 1-cpu pods fit its 4 cpus.
        assert_eq!(placed, 4);
        s.forget("default/p0");
        s.forget("default/p0");
        assert!(alg.schedule(&pod("again", 1000, 0), &s).is_ok());
    }
}
