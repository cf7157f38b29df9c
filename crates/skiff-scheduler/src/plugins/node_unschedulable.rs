//! NodeUnschedulable: nodes with spec.unschedulable, unless the pod tolerates the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use crate::framework::{CycleState, FilterPlugin, Plugin, Status};
use crate::node_info::{NodeInfo, TAINT_UNSCHEDULABLE};
use crate::plugins::taint_toleration::tolerates;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::Taint;

/// Upstream's reason string.
pub const REASON: &str = "node(s) were unschedulable";

/// The NodeUnschedulable plugin.
#[derive(Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint = Taint {
            key: TAINT_UNSCHEDULABLE.into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if pod.tolerations.iter().any(|t| tolerates(t, &taint)) {
            Status::success()
        } else {
            Status::unresolvable(REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod, toleration};

    #[test]
    fn table() {
        let mut cordoned = node("n", 1000, 1 << 30);
        cordoned.unschedulable = true;
        let open = node("n", 1000, 1 << 30);
        let mut tolerant = pod("p", 0, 0);
        tolerant.tolerations = vec![toleration(TAINT_UNSCHEDULABLE, "Exists", "", "NoSchedule")];
        let cases = [
            (&open, pod("p", 0, 0), true),
            (&cordoned, pod("p", 0, 0), false),
            (&cordoned, tolerant, true),
        ];
        for (n, p, ok) in cases {
            let st = NodeUnschedulable.filter(&CycleState::default(), &p, n);
            assert_eq!(st.is_success(), ok, "{st:?}");
            if !ok {
                assert_eq!(st.reasons, vec![REASON.to_string()]);
            }
        }
    }
}
