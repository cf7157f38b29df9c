//! NodeResourcesBalancedAllocation: prefer nodes whose CPU and memory use stay balanced.

use crate::framework::{CycleState, Plugin, ScorePlugin, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// The BalancedAllocation score plugin.
#[derive(Debug, Default)]
pub struct BalancedAllocation;

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        "NodeResourcesBalancedAllocation"
    }
}

fn fraction(requested: i64, capacity: i64) -> f64 {
    if capacity <= 0 {
        return 1.0;
    }
    (requested as f64 / capacity as f64).min(1.0)
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let cpu = fraction(
            node.requested.milli_cpu + pod.requests.milli_cpu,
            node.allocatable.milli_cpu,
        );
        let mem = fraction(
            node.requested.memory + pod.requests.memory,
            node.allocatable.memory,
        );
        // With two resources the standard deviation is half their difference.
        let std = (cpu - mem).abs() / 2.0;
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }

    fn weight(&self) -> i64 {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod};

    #[test]
    fn table() {
        let n = node("n", 4000, 4 << 30);
        let cases = [
            (pod("p", 2000, 2 << 30), 100),
            (pod("p", 4000, 0), 50),
            (pod("p", 2000, 0), 75),
        ];
        for (p, want) in cases {
            assert_eq!(
                BalancedAllocation.score(&CycleState::default(), &p, &n),
                want
            );
        }
    }
}
