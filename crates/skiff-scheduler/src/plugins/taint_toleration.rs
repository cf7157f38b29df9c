//! TaintToleration: NoSchedule/NoExecute taints must be tolerated; untolerated
//! PreferNoSchedule taints lower the score.

use crate::framework::{default_normalize, CycleState, FilterPlugin, Plugin, ScorePlugin, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::Taint;

pub use skiff_selectors::tolerates;

/// Upstream's reason for an untolerated taint.
pub fn untolerated_reason(taint: &Taint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key,
        taint.value.as_deref().unwrap_or("")
    )
}

/// The TaintToleration plugin.
#[derive(Debug, Default)]
pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let untolerated = node.taints.iter().find(|t| {
            (t.effect == "NoSchedule" || t.effect == "NoExecute")
                && !pod.tolerations.iter().any(|tol| tolerates(tol, t))
        });
        match untolerated {
            Some(t) => Status::unresolvable(untolerated_reason(t)),
            None => Status::success(),
        }
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        node.taints
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule")
            .filter(|t| {
                !pod.tolerations.iter().any(|tol| {
                    let effect = tol.effect.as_deref().unwrap_or("");
                    (effect.is_empty() || effect == "PreferNoSchedule") && tolerates(tol, t)
                })
            })
            .count() as i64
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(scores, true);
    }

    fn weight(&self) -> i64 {
        3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod, taint, toleration};

    #[test]
    fn toleration_table() {
        let t = taint("k", "v", "NoSchedule");
        let cases = [
            (toleration("k", "Equal", "v", "NoSchedule"), true),
            (toleration("k", "Equal", "v", ""), true),
            (toleration("k", "Equal", "x", "NoSchedule"), false),
            (toleration("k", "Exists", "", "NoSchedule"), true),
            (toleration("", "Exists", "", ""), true),
            (toleration("k", "Exists", "", "NoExecute"), false),
            (toleration("other", "Exists", "", ""), false),
        ];
        for (tol, ok) in cases {
            assert_eq!(tolerates(&tol, &t), ok, "{tol:?}");
        }
    }

    #[test]
    fn filter_reports_the_first_untolerated_taint() {
        let mut n = node("n", 1, 1);
        n.taints = vec![
            taint("soft", "", "PreferNoSchedule"),
            taint("node-role.kubernetes.io/control-plane", "", "NoSchedule"),
        ];
        let st = TaintToleration.filter(&CycleState::default(), &pod("p", 0, 0), &n);
        assert_eq!(
            st.reasons,
            vec![
                "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
                    .to_string()
            ]
        );
        let mut p = pod("p", 0, 0);
        p.tolerations = vec![toleration(
            "node-role.kubernetes.io/control-plane",
            "Exists",
            "",
            "NoSchedule",
        )];
        assert!(TaintToleration
            .filter(&CycleState::default(), &p, &n)
            .is_success());
        assert_eq!(TaintToleration.score(&CycleState::default(), &p, &n), 1);
    }

    #[test]
    fn fewer_prefer_no_schedule_taints_score_higher() {
        let mut scores = vec![0, 1, 2];
        TaintToleration.normalize(&mut scores);
        assert_eq!(scores, vec![100, 50, 0]);
    }
}
