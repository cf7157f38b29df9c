//! NodePorts: a pod's host ports must be free on the node.

use crate::framework::{CycleState, FilterPlugin, Plugin, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// Upstream's reason string.
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// The NodePorts plugin.
#[derive(Debug, Default)]
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        "NodePorts"
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let clash = pod
            .host_ports
            .iter()
            .any(|want| node.used_ports.iter().any(|used| used.conflicts(want)));
        if clash {
            Status::unschedulable(REASON)
        } else {
            Status::success()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod};
    use crate::pod_info::HostPort;
    use std::sync::Arc;

    fn hp(ip: &str, proto: &str, port: i32) -> HostPort {
        HostPort {
            ip: ip.into(),
            protocol: proto.into(),
            port,
        }
    }

    #[test]
    fn table() {
        let cases = [
            (hp("", "TCP", 80), hp("", "TCP", 80), false),
            (hp("", "TCP", 80), hp("", "UDP", 80), true),
            (hp("10.0.0.1", "TCP", 80), hp("10.0.0.2", "TCP", 80), true),
            (hp("0.0.0.0", "TCP", 80), hp("10.0.0.2", "TCP", 80), false),
            (hp("", "TCP", 80), hp("", "TCP", 81), true),
        ];
        for (used, want, ok) in cases {
            let mut n = node("n", 1000, 1 << 30);
            let mut existing = pod("e", 0, 0);
            existing.host_ports = vec![used.clone()];
            n.add_pod(Arc::new(existing));
            let mut p = pod("p", 0, 0);
            p.host_ports = vec![want.clone()];
            let st = NodePorts.filter(&CycleState::default(), &p, &n);
            assert_eq!(st.is_success(), ok, "{used:?} vs {want:?}");
        }
    }
}
