//! VolumeBinding: a pod's PersistentVolumeClaims must exist, be bound to volumes usable on
//! the node (node affinity), or — for WaitForFirstConsumer claims — be satisfiable on the
//! node by an available volume or by the class's provisioner. Immediate claims must be
//! bound before the pod is scheduled. The PreBind half (selecting the node on delayed
//! claims and waiting for them to bind) is [`crate::actions::prebind_claims`].

use crate::framework::{CycleState, FilterPlugin, Plugin, PreFilterPlugin, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use skiff_controllers::volume_match::{
    claim_class, find_matching_volume, is_delay_binding, node_affinity_matches,
    node_selector_matches, NodeRef, NO_PROVISIONER,
};
use std::sync::Arc;

/// Upstream's reason for a bound volume that cannot be used on a node.
pub const NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
/// Upstream's reason when a delayed claim has no volume and no provisioning on a node.
pub const BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
/// Upstream's reason for claims bound to volumes that do not exist.
pub const PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
/// Upstream's PreFilter reason for unbound Immediate claims.
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

const NAME: &str = "VolumeBinding";

/// What PreFilter found for the pod.
#[derive(Default)]
pub struct PodVolumes {
    /// Volumes of bound claims (None: the claim names a volume that does not exist).
    pub bound: Vec<Option<Arc<PersistentVolume>>>,
    /// Delayed (WaitForFirstConsumer) claims to bind on the chosen node, with their class.
    pub to_bind: Vec<(Arc<PersistentVolumeClaim>, Option<Arc<StorageClass>>)>,
    /// Volumes a delayed claim may bind to.
    pub candidates: Vec<Arc<PersistentVolume>>,
}

/// Sort a pod's claims as upstream's GetPodVolumeClaims does; `Err` is the PreFilter
/// rejection.
pub fn pod_volumes(pod: &PodInfo, snapshot: &Snapshot) -> Result<PodVolumes, Status> {
    let cat = &snapshot.volumes;
    let mut out = PodVolumes::default();
    for name in &pod.claims {
        let Some(pvc) = cat.claim(&pod.namespace, name) else {
            return Err(Status::unresolvable(format!(
                "persistentvolumeclaim \"{name}\" not found"
            )));
        };
        if pvc.metadata.deletion_timestamp.is_some() {
            return Err(Status::unresolvable(format!(
                "persistentvolumeclaim \"{name}\" is being deleted"
            )));
        }
        let volume_name = pvc
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .unwrap_or("");
        if !volume_name.is_empty() {
            out.bound.push(cat.volume(volume_name).cloned());
            continue;
        }
        let class = cat.class(claim_class(pvc)).cloned();
        if !is_delay_binding(class.as_deref()) {
            return Err(Status::unresolvable(UNBOUND_IMMEDIATE));
        }
        out.to_bind.push((pvc.clone(), class));
    }
    if !out.to_bind.is_empty() {
        out.candidates = cat.volumes().cloned().collect();
    }
    Ok(out)
}

/// Whether a delayed claim can be satisfied on `node`.
pub fn claim_fits(
    pvc: &PersistentVolumeClaim,
    class: Option<&StorageClass>,
    candidates: &[Arc<PersistentVolume>],
    node: &NodeInfo,
) -> bool {
    let node_ref = NodeRef {
        name: &node.name,
        labels: &node.labels,
    };
    if find_matching_volume(
        pvc,
        candidates.iter().map(|v| v.as_ref()),
        true,
        Some(node_ref),
    )
    .is_some()
    {
        return true;
    }
    // Dynamic provisioning: the class must have a provisioner whose topology allows the node.
    let Some(class) = class.filter(|c| c.provisioner != NO_PROVISIONER) else {
        return false;
    };
    match class.allowed_topologies.as_deref() {
        None | Some([]) => true,
        Some(terms) => {
            let sel = k8s_openapi::api::core::v1::NodeSelector {
                node_selector_terms: terms
                    .iter()
                    .map(|t| k8s_openapi::api::core::v1::NodeSelectorTerm {
                        match_expressions: Some(
                            t.match_label_expressions
                                .iter()
                                .flatten()
                                .map(|e| k8s_openapi::api::core::v1::NodeSelectorRequirement {
                                    key: e.key.clone(),
                                    operator: "In".into(),
                                    values: Some(e.values.clone()),
                                })
                                .collect(),
                        ),
                        match_fields: None,
                    })
                    .collect(),
            };
            node_selector_matches(&sel, &node.name, &node.labels)
        }
    }
}

/// The VolumeBinding plugin.
#[derive(Debug, Default)]
pub struct VolumeBinding;

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }
}

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        if pod.claims.is_empty() {
            return Status::skip();
        }
        match pod_volumes(pod, snapshot) {
            Ok(v) => {
                state.write(NAME, v);
                Status::success()
            }
            Err(st) => st,
        }
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(v) = state.read::<PodVolumes>(NAME) else {
            return Status::success();
        };
        for pv in &v.bound {
            match pv {
                None => return Status::unresolvable(PV_NOT_EXIST),
                Some(pv) if !node_affinity_matches(pv, &node.name, &node.labels) => {
                    return Status::unresolvable(NODE_CONFLICT)
                }
                Some(_) => {}
            }
        }
        for (pvc, class) in &v.to_bind {
            if !claim_fits(pvc, class.as_deref(), &v.candidates, node) {
                return Status::unresolvable(BIND_CONFLICT);
            }
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testutil::{node, pod};
    use serde_json::json;

    fn catalog(objs: serde_json::Value) -> Snapshot {
        let mut s = Snapshot::new();
        for o in objs.as_array().into_iter().flatten() {
            match o["kind"].as_str() {
                Some("PersistentVolumeClaim") => s
                    .volumes
                    .upsert_claim(serde_json::from_value(o.clone()).expect("pvc")),
                Some("PersistentVolume") => s
                    .volumes
                    .upsert_volume(serde_json::from_value(o.clone()).expect("pv")),
                _ => s
                    .volumes
                    .upsert_class(serde_json::from_value(o.clone()).expect("class")),
            }
        }
        s
    }

    fn claim(name: &str, class: &str, volume: &str) -> serde_json::Value {
        json!({"kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default", "uid": name},
               "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class, "volumeName": volume,
                        "resources": {"requests": {"storage": "1Gi"}}}})
    }

    fn class(name: &str, provisioner: &str, mode: &str) -> serde_json::Value {
        json!({"kind": "StorageClass", "metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode})
    }

    fn local_pv(name: &str, class: &str, host: &str, claim_ref: Option<&str>) -> serde_json::Value {
        let mut v = json!({"kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": class,
                     "local": {"path": "/x"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}},
            "status": {"phase": "Available"}});
        if let Some(c) = claim_ref {
            v["spec"]["claimRef"] = json!({"namespace": "default", "name": c, "uid": c});
            v["status"]["phase"] = json!("Bound");
        }
        v
    }

    fn host(name: &str) -> NodeInfo {
        let mut n = node(name, 4000, 8 << 30);
        n.labels
            .insert("kubernetes.io/hostname".into(), name.into());
        n
    }

    /// PreFilter then Filter on nodes a and b: Err(reason) from PreFilter, else per node
    /// the failure reason ("" = fits).
    fn decide(s: &Snapshot, claims: &[&str]) -> Result<Vec<String>, String> {
        let mut p = pod("p", 0, 0);
        p.claims = claims.iter().map(|c| c.to_string()).collect();
        let mut state = CycleState::default();
        let st = VolumeBinding.pre_filter(&mut state, &p, s);
        if st.code == Code::Skip {
            return Ok(vec![]);
        }
        if !st.is_success() {
            return Err(st.reasons.join(","));
        }
        Ok(["a", "b"]
            .iter()
            .map(|n| VolumeBinding.filter(&state, &p, &host(n)).reasons.join(","))
            .collect())
    }

    #[test]
    fn decisions() {
        let s = catalog(json!([
            class(
                "local-path",
                "rancher.io/local-path",
                "WaitForFirstConsumer"
            ),
            class("manual", NO_PROVISIONER, "WaitForFirstConsumer"),
            class("fast", "example.com/fast", "Immediate"),
            local_pv("on-a", "local-path", "a", Some("bound")),
            local_pv("static-b", "manual", "b", None),
            claim("bound", "local-path", "on-a"),
            claim("dangling", "local-path", "missing"),
            claim("wffc", "local-path", ""),
            claim("static", "manual", ""),
            claim("immediate", "fast", ""),
            claim("noclass", "", ""),
        ]));
        assert_eq!(decide(&s, &[]), Ok(vec![]));
        assert_eq!(
            decide(&s, &["nope"]),
            Err("persistentvolumeclaim \"nope\" not found".into())
        );
        assert_eq!(decide(&s, &["immediate"]), Err(UNBOUND_IMMEDIATE.into()));
        assert_eq!(decide(&s, &["noclass"]), Err(UNBOUND_IMMEDIATE.into()));
        assert_eq!(
            decide(&s, &["bound"]),
            Ok(vec!["".into(), NODE_CONFLICT.into()])
        );
        assert_eq!(
            decide(&s, &["dangling"]),
            Ok(vec![PV_NOT_EXIST.into(), PV_NOT_EXIST.into()])
        );
        assert_eq!(decide(&s, &["wffc"]), Ok(vec!["".into(), "".into()]));
        assert_eq!(
            decide(&s, &["static"]),
            Ok(vec![BIND_CONFLICT.into(), "".into()])
        );
        assert_eq!(
            decide(&s, &["bound", "static"]),
            Ok(vec![BIND_CONFLICT.into(), NODE_CONFLICT.into()])
        );
    }

    #[test]
    fn deleting_claim_is_rejected() {
        let mut c = claim("gone", "local-path", "");
        c["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        let s = catalog(json!([c]));
        assert_eq!(
            decide(&s, &["gone"]),
            Err("persistentvolumeclaim \"gone\" is being deleted".into())
        );
    }
}
