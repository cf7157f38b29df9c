//! Which nodes a DaemonSet's pods belong on (upstream's NodeShouldRunDaemonPod): the
//! template's nodeName, nodeSelector and required node affinity, and its tolerations (plus
//! those every daemon pod gets) against the node's taints. Daemon pods are pinned to their
//! node with a required `metadata.name` affinity term so the scheduler places them.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, Taint, Toleration,
};

/// The field a daemon pod's node affinity term selects its node by.
const NAME_FIELD: &str = "metadata.name";

/// Taint effects that keep a new pod off a node.
const SCHEDULE_EFFECTS: &[&str] = &["NoSchedule", "NoExecute"];
/// Taint effects that also evict a running pod.
const EXECUTE_EFFECTS: &[&str] = &["NoExecute"];

/// Whether a DaemonSet wants a pod on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// A pod should be created here if none runs.
    pub should_run: bool,
    /// A pod already here may keep running (only NoSchedule taints are untolerated).
    pub should_continue: bool,
}

/// The tolerations upstream adds to every daemon pod, so node conditions turned into taints
/// never evict or block it (AddOrUpdateDaemonPodTolerations); network-unavailable only for
/// host-network pods.
fn default_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Toleration::default()
    };
    let mut v = vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        v.push(t("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    v
}

/// Add the default daemon tolerations to `spec`; one the template already has with the same
/// key, operator, value and effect is replaced in place (upstream's AddOrUpdateToleration).
pub fn add_default_tolerations(spec: &mut PodSpec) {
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for d in default_tolerations(spec.host_network == Some(true)) {
        let same = |t: &Toleration| {
            t.key == d.key && t.operator == d.operator && t.value == d.value && t.effect == d.effect
        };
        match tolerations.iter_mut().find(|t| same(t)) {
            Some(t) => *t = d,
            None => tolerations.push(d),
        }
    }
}

/// Whether some taint with one of `effects` is tolerated by none of `tolerations`.
fn has_untolerated(taints: &[Taint], tolerations: &[Toleration], effects: &[&str]) -> bool {
    taints
        .iter()
        .filter(|t| effects.contains(&t.effect.as_str()))
        .any(|taint| {
            !tolerations
                .iter()
                .any(|t| skiff_selectors::tolerates(t, taint))
        })
}

/// Whether `node` satisfies the pod's nodeSelector and required node affinity (any term).
pub fn fits_node_affinity(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    selector_ok
        && required.is_none_or(|r| {
            r.node_selector_terms.iter().any(|t| {
                skiff_selectors::node_selector_term_matches(
                    t,
                    node.metadata.name.as_deref(),
                    node.metadata.labels.as_ref(),
                )
            })
        })
}

/// Whether the DaemonSet should run a pod on `node`, and whether one already there may stay.
pub fn placement(ds: &DaemonSet, node: &Node) -> Placement {
    const NO: Placement = Placement {
        should_run: false,
        should_continue: false,
    };
    let Some(mut spec) = ds.spec.as_ref().and_then(|s| s.template.spec.clone()) else {
        return NO;
    };
    let node_name = node.metadata.name.as_deref().unwrap_or("");
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != node_name)
    {
        return NO;
    }
    if !fits_node_affinity(&spec, node) {
        return NO;
    }
    add_default_tolerations(&mut spec);
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    if has_untolerated(taints, tolerations, SCHEDULE_EFFECTS) {
        return Placement {
            should_run: false,
            should_continue: !has_untolerated(taints, tolerations, EXECUTE_EFFECTS),
        };
    }
    Placement {
        should_run: true,
        should_continue: true,
    }
}

/// The node a daemon pod is for: its nodeName once bound, else the node its affinity pins it
/// to (upstream's GetTargetNodeName).
pub fn target_node(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == NAME_FIELD && r.operator == "In")
        .and_then(|r| match r.values.as_deref() {
            Some([one]) => Some(one.as_str()),
            _ => None,
        })
}

/// `affinity` with its required node terms replaced by one pinning the pod to `node`
/// (preferred terms and pod (anti-)affinity are kept), as upstream's
/// ReplaceDaemonSetPodNodeNameNodeAffinity.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let mut affinity = affinity.unwrap_or_default();
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    na.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: NAME_FIELD.into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    });
    affinity
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn ds(spec: Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}}, "spec": spec}
            }
        }))
        .expect("daemonset")
    }

    fn node(name: &str, labels: Value, taints: Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints}
        }))
        .expect("node")
    }

    const RUN: Placement = Placement {
        should_run: true,
        should_continue: true,
    };

    #[test]
    fn node_selector_and_affinity_choose_nodes() {
        let d = ds(json!({
            "containers": [{"name": "c", "image": "busybox"}],
            "nodeSelector": {"disk": "ssd"},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n9"]}]}
                ]
            }}}
        }));
        assert_eq!(
            placement(
                &d,
                &node("n1", json!({"disk": "ssd", "zone": "a"}), json!([]))
            ),
            RUN
        );
        assert_eq!(
            placement(&d, &node("n9", json!({"disk": "ssd"}), json!([]))),
            RUN,
            "the second term matches by name"
        );
        let off = placement(
            &d,
            &node("n2", json!({"disk": "hdd", "zone": "a"}), json!([])),
        );
        assert!(!off.should_run && !off.should_continue);
        let off = placement(
            &d,
            &node("n3", json!({"disk": "ssd", "zone": "b"}), json!([])),
        );
        assert!(!off.should_run && !off.should_continue);
    }

    #[test]
    fn taints_block_new_pods_and_noexecute_evicts() {
        let d = ds(json!({"containers": [{"name": "c", "image": "busybox"}],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}]}));
        let ns = |k: &str, v: &str, e: &str| json!([{"key": k, "value": v, "effect": e}]);
        // Default tolerations cover node conditions and cordoned nodes.
        assert_eq!(
            placement(
                &d,
                &node(
                    "n",
                    json!({}),
                    ns("node.kubernetes.io/not-ready", "", "NoExecute")
                )
            ),
            RUN
        );
        assert_eq!(
            placement(
                &d,
                &node(
                    "n",
                    json!({}),
                    ns("node.kubernetes.io/unschedulable", "", "NoSchedule")
                )
            ),
            RUN
        );
        assert_eq!(
            placement(
                &d,
                &node("n", json!({}), ns("dedicated", "infra", "NoSchedule"))
            ),
            RUN
        );
        assert_eq!(
            placement(
                &d,
                &node("n", json!({}), ns("dedicated", "db", "NoSchedule"))
            ),
            Placement {
                should_run: false,
                should_continue: true
            },
            "a NoSchedule taint keeps running pods"
        );
        assert_eq!(
            placement(
                &d,
                &node("n", json!({}), ns("dedicated", "db", "NoExecute"))
            ),
            Placement {
                should_run: false,
                should_continue: false
            }
        );
        // network-unavailable is tolerated only by host-network daemons.
        let taint = ns("node.kubernetes.io/network-unavailable", "", "NoSchedule");
        assert!(!placement(&d, &node("n", json!({}), taint.clone())).should_run);
        let host =
            ds(json!({"containers": [{"name": "c", "image": "busybox"}], "hostNetwork": true}));
        assert_eq!(placement(&host, &node("n", json!({}), taint)), RUN);
        // PreferNoSchedule never blocks.
        assert_eq!(
            placement(&d, &node("n", json!({}), ns("x", "y", "PreferNoSchedule"))),
            RUN
        );
    }

    #[test]
    fn template_node_name_restricts_to_that_node() {
        let d = ds(json!({"containers": [{"name": "c", "image": "busybox"}], "nodeName": "n1"}));
        assert_eq!(placement(&d, &node("n1", json!({}), json!([]))), RUN);
        assert!(!placement(&d, &node("n2", json!({}), json!([]))).should_run);
    }

    #[test]
    fn default_tolerations_are_added_once_in_order() {
        let mut spec: PodSpec = serde_json::from_value(json!({
            "containers": [],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
                {"key": "mine", "operator": "Exists"}
            ]
        }))
        .expect("spec");
        add_default_tolerations(&mut spec);
        add_default_tolerations(&mut spec);
        let t = spec.tolerations.expect("tolerations");
        let keys: Vec<_> = t.iter().map(|t| t.key.as_deref().unwrap_or("")).collect();
        assert_eq!(
            keys,
            [
                "node.kubernetes.io/not-ready",
                "mine",
                "node.kubernetes.io/unreachable",
                "node.kubernetes.io/disk-pressure",
                "node.kubernetes.io/memory-pressure",
                "node.kubernetes.io/pid-pressure",
                "node.kubernetes.io/unschedulable"
            ]
        );
        assert_eq!(t[0].toleration_seconds, None, "replaced by the default");
    }

    #[test]
    fn pods_are_pinned_and_their_node_read_back() {
        let preferred: Affinity = serde_json::from_value(json!({"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "preference": {"matchExpressions": [{"key": "x", "operator": "Exists"}]}}]
        }}))
        .expect("affinity");
        let a = pin_to_node(Some(preferred), "n7");
        let v = serde_json::to_value(&a).expect("json");
        assert_eq!(
            v["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json!({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]})
        );
        assert!(v["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"].is_array());
        let pod = Pod {
            spec: Some(PodSpec {
                affinity: Some(a),
                ..PodSpec::default()
            }),
            ..Pod::default()
        };
        assert_eq!(target_node(&pod), Some("n7"));
        let mut bound = pod.clone();
        if let Some(s) = bound.spec.as_mut() {
            s.node_name = Some("n8".into());
        }
        assert_eq!(target_node(&bound), Some("n8"));
        assert_eq!(target_node(&Pod::default()), None);
    }
}
