//! NodeName: a pod naming a node fits only that node.

use crate::framework::{CycleState, FilterPlugin, Plugin, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// Upstream's reason string.
pub const REASON: &str = "node(s) didn't match the requested node name";

/// The NodeName plugin.
#[derive(Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match &pod.node_name {
            Some(n) if *n != node.name => Status::unresolvable(REASON),
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod};

    #[test]
    fn table() {
        let n = node("a", 1, 1);
        for (want, ok) in [(None, true), (Some("a"), true), (Some("b"), false)] {
            let mut p = pod("p", 0, 0);
            p.node_name = want.map(String::from);
            assert_eq!(
                NodeName.filter(&CycleState::default(), &p, &n).is_success(),
                ok
            );
        }
    }
}
