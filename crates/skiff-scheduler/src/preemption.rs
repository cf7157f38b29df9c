//! PostFilter preemption: find one node where evicting lower-priority pods lets the
//! pod fit, preferring choices that violate fewer PodDisruptionBudgets.

use crate::algorithm::Framework;
use crate::fit_error::{nodes_unavailable, FitError, NO_VICTIMS, PREEMPTION_NOT_HELPFUL};
use crate::framework::{Code, CycleState, Status};
use crate::pod_info::PodInfo;
use crate::selector::label_selector_matches;
use crate::snapshot::Snapshot;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::sync::Arc;

/// What preemption needs of a PodDisruptionBudget.
#[derive(Debug, Clone)]
pub struct PdbInfo {
    /// Namespace of the budget.
    pub namespace: String,
    /// Pods it covers.
    pub selector: Option<LabelSelector>,
    /// status.disruptionsAllowed.
    pub disruptions_allowed: i32,
}

impl PdbInfo {
    /// Extract from the object.
    pub fn from_pdb(pdb: &PodDisruptionBudget) -> PdbInfo {
        PdbInfo {
            namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
            selector: pdb.spec.as_ref().and_then(|s| s.selector.clone()),
            disruptions_allowed: pdb
                .status
                .as_ref()
                .map(|s| s.disruptions_allowed)
                .unwrap_or(0),
        }
    }
}

/// A chosen preemption.
#[derive(Debug, Clone)]
pub struct Preemption {
    /// The node the preemptor is nominated to.
    pub node: String,
    /// Pods to delete.
    pub victims: Vec<Arc<PodInfo>>,
}

/// Count victims whose eviction a PDB does not allow, consuming the budgets.
fn pdb_violations(victims: &[Arc<PodInfo>], pdbs: &[PdbInfo]) -> (Vec<bool>, usize) {
    let mut allowed: Vec<i32> = pdbs.iter().map(|p| p.disruptions_allowed).collect();
    let mut flags = Vec::with_capacity(victims.len());
    for v in victims {
        let mut violates = false;
        for (i, pdb) in pdbs.iter().enumerate() {
            if pdb.namespace == v.namespace
                && label_selector_matches(pdb.selector.as_ref(), &v.labels)
            {
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violates = true;
                }
            }
        }
        flags.push(violates);
    }
    let n = flags.iter().filter(|f| **f).count();
    (flags, n)
}

/// Try preemption after `fit` (the failed cycle); on failure returns the PostFilter
/// message ("preemption: ...") for the FailedScheduling event.
pub fn preempt(
    framework: &Framework,
    state: &CycleState,
    pod: &PodInfo,
    snapshot: &Snapshot,
    fit: &FitError,
    pdbs: &[PdbInfo],
) -> Result<Preemption, String> {
    if !pod.can_preempt {
        return Err("preemption: not eligible due to preemptionPolicy=Never.".to_string());
    }
    let mut statuses: Vec<(String, Status)> = Vec::new();
    // (pdb violations, highest victim priority, priority sum, victim count) per candidate.
    let mut best: Option<((usize, i32, i64, usize), Preemption)> = None;
    for (name, st) in &fit.node_statuses {
        if st.code != Code::Unschedulable {
            statuses.push((name.clone(), Status::unresolvable(PREEMPTION_NOT_HELPFUL)));
            continue;
        }
        let Some(node) = snapshot.node(name) else {
            continue;
        };
        let mut trial = node.clone();
        let mut potential: Vec<Arc<PodInfo>> = node
            .pods
            .iter()
            .filter(|p| p.priority < pod.priority)
            .cloned()
            .collect();
        if potential.is_empty() {
            statuses.push((name.clone(), Status::unresolvable(NO_VICTIMS)));
            continue;
        }
        for v in &potential {
            trial.remove_pod(&v.namespace, &v.name);
        }
        let st = framework.run_filters(state, pod, &trial);
        if !st.is_success() {
            statuses.push((name.clone(), st));
            continue;
        }
        // Reprieve as many as possible, most important first, PDB-protected ones before
        // the rest so budgets are violated only when unavoidable.
        potential.sort_by_key(|v| std::cmp::Reverse(v.priority));
        let (flags, _) = pdb_violations(&potential, pdbs);
        let (protected, free): (Vec<_>, Vec<_>) =
            potential.into_iter().zip(flags).partition(|(_, f)| *f);
        let mut victims = Vec::new();
        for (v, _) in protected.into_iter().chain(free) {
            trial.add_pod(v.clone());
            if !framework.run_filters(state, pod, &trial).is_success() {
                trial.remove_pod(&v.namespace, &v.name);
                victims.push(v);
            }
        }
        let (_, violations) = pdb_violations(&victims, pdbs);
        let key = (
            violations,
            victims.iter().map(|v| v.priority).max().unwrap_or(i32::MIN),
            victims.iter().map(|v| i64::from(v.priority)).sum(),
            victims.len(),
        );
        if best.as_ref().is_none_or(|(k, _)| key < *k) {
            best = Some((
                key,
                Preemption {
                    node: name.clone(),
                    victims,
                },
            ));
        }
    }
    match best {
        Some((_, p)) => Ok(p),
        None => Err(format!(
            "preemption: {}",
            nodes_unavailable(fit.num_all_nodes, &statuses)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Algorithm;
    use crate::plugins::testutil::{node, pod, taint};
    use std::collections::BTreeMap;

    fn prio(name: &str, cpu: i64, priority: i32, node: &str) -> PodInfo {
        let mut p = pod(name, cpu, 0);
        p.priority = priority;
        p.node_name = Some(node.into());
        p.labels.insert("app".into(), name.into());
        p
    }

    fn run(s: &Snapshot, p: &PodInfo, pdbs: &[PdbInfo]) -> Result<Preemption, String> {
        let mut alg = Algorithm::new(Framework::default(), 0);
        let Err(e) = alg.schedule(p, s) else {
            panic!("pod unexpectedly fits")
        };
        let state = e.state.unwrap_or_default();
        preempt(&alg.framework, &state, p, s, &e.fit, pdbs)
    }

    fn cluster() -> Snapshot {
        let mut s = Snapshot::new();
        s.upsert_node_info(node("a", 2000, 1 << 30));
        s.upsert_node_info(node("b", 2000, 1 << 30));
        s.add_or_update_bound_pod(prio("a-low", 1500, 1, "a"));
        s.add_or_update_bound_pod(prio("b-mid", 1500, 5, "b"));
        s
    }

    #[test]
    fn evicts_the_lowest_priority_victims() {
        let s = cluster();
        let p = prio("big", 1000, 10, "");
        let got = run(
            &s,
            &PodInfo {
                node_name: None,
                ..p
            },
            &[],
        )
        .map(|p| (p.node, p.victims.len()));
        assert_eq!(got, Ok(("a".to_string(), 1)));
    }

    #[test]
    fn respects_pod_disruption_budgets() {
        let s = cluster();
        let pdb = PdbInfo {
            namespace: "default".into(),
            selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("app".to_string(), "a-low".to_string())])),
                ..Default::default()
            }),
            disruptions_allowed: 0,
        };
        let mut p = prio("big", 1000, 10, "");
        p.node_name = None;
        let got = run(&s, &p, &[pdb]).map(|p| p.node);
        assert_eq!(got, Ok("b".to_string()));
    }

    #[test]
    fn not_helpful_message() {
        let mut s = Snapshot::new();
        let mut tainted = node("t", 1000, 1 << 30);
        tainted.taints = vec![taint(
            "node-role.kubernetes.io/control-plane",
            "",
            "NoSchedule",
        )];
        s.upsert_node_info(tainted);
        s.upsert_node_info(node("x", 1000, 1 << 30));
        let p = pod("p", 2000, 0);
        assert_eq!(
            run(&s, &p, &[]).map(|p| p.node),
            Err("preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.".to_string())
        );
        let mut never = pod("p", 2000, 0);
        never.can_preempt = false;
        assert_eq!(
            run(&s, &never, &[]).map(|p| p.node),
            Err("preemption: not eligible due to preemptionPolicy=Never.".to_string())
        );
    }
}
