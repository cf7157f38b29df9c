//! Which PersistentVolume fits a PersistentVolumeClaim: upstream's matching rules
//! (storage class, access modes, capacity, label selector, volume mode, pre-binding, node
//! affinity), pure so the PV controller and the scheduler's VolumeBinding plugin agree.

use crate::quantity;
use k8s_openapi::api::core::v1::{NodeSelector, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use std::collections::BTreeMap;

/// Set on a claim once the controller finished binding it.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Set on a claim or volume whose binding the controller (not the user) established.
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The node the scheduler chose for a WaitForFirstConsumer claim.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The provisioner expected to create a volume for a claim.
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// The deprecated form of [`ANN_STORAGE_PROVISIONER`], still set by upstream.
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// The provisioner that created a volume.
pub const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// Marks the default StorageClass.
pub const ANN_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// The deprecated form of [`ANN_DEFAULT_CLASS`].
pub const ANN_BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// The deprecated claim annotation naming its class.
pub const ANN_BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
/// Provisioner of classes whose volumes are only ever created by hand.
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The claim's class name ("" = no class), honouring the beta annotation as upstream does.
pub fn claim_class(pvc: &PersistentVolumeClaim) -> &str {
    if let Some(c) = annotation(&pvc.metadata, ANN_BETA_STORAGE_CLASS) {
        return c;
    }
    pvc.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The volume's class name ("" = no class).
pub fn volume_class(pv: &PersistentVolume) -> &str {
    if let Some(c) = annotation(&pv.metadata, ANN_BETA_STORAGE_CLASS) {
        return c;
    }
    pv.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// Whether binding of claims of `class` waits for a pod (WaitForFirstConsumer).
pub fn is_delay_binding(class: Option<&StorageClass>) -> bool {
    class.and_then(|c| c.volume_binding_mode.as_deref()) == Some("WaitForFirstConsumer")
}

/// Whether a class is marked default.
pub fn is_default_class(class: &StorageClass) -> bool {
    [ANN_DEFAULT_CLASS, ANN_BETA_DEFAULT_CLASS]
        .iter()
        .any(|k| annotation(&class.metadata, k) == Some("true"))
}

/// The requested storage of a claim in bytes (0 when absent or unparsable).
pub fn requested_bytes(pvc: &PersistentVolumeClaim) -> i128 {
    pvc.spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| quantity::bytes(&q.0))
        .unwrap_or(0)
}

/// The capacity of a volume in bytes (0 when absent or unparsable).
pub fn capacity_bytes(pv: &PersistentVolume) -> i128 {
    pv.spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .and_then(|q| quantity::bytes(&q.0))
        .unwrap_or(0)
}

/// Whether a volume's claimRef names this claim (a uid in the ref must match too).
pub fn is_bound_to_claim(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name.as_deref() == pvc.metadata.name.as_deref()
        && r.namespace.as_deref() == pvc.metadata.namespace.as_deref()
        && r.uid
            .as_deref()
            .is_none_or(|u| u.is_empty() || Some(u) == pvc.metadata.uid.as_deref())
}

/// Whether a node selector matches a node: any term whose expressions all hold (matchFields
/// knows metadata.name only); an empty term matches nothing, as upstream.
pub fn node_selector_matches(
    sel: &NodeSelector,
    node_name: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    sel.node_selector_terms
        .iter()
        .any(|t| skiff_selectors::node_selector_term_matches(t, Some(node_name), Some(labels)))
}

/// Whether a volume may be used on a node (no required node affinity = anywhere).
pub fn node_affinity_matches(
    pv: &PersistentVolume,
    node_name: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    match pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
    {
        Some(sel) => node_selector_matches(sel, node_name, labels),
        None => true,
    }
}

fn volume_mode_pv(pv: &PersistentVolume) -> &str {
    pv.spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem")
}

fn volume_mode_pvc(pvc: &PersistentVolumeClaim) -> &str {
    pvc.spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem")
}

/// Whether the volume offers every access mode the claim asks for.
pub fn access_modes_fit(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    let have = pv
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or(&[]);
    pvc.spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or(&[])
        .iter()
        .all(|m| have.contains(m))
}

/// The node a match is made for (WaitForFirstConsumer claims once a node is chosen).
#[derive(Debug, Clone, Copy)]
pub struct NodeRef<'a> {
    /// Node name.
    pub name: &'a str,
    /// Node labels.
    pub labels: &'a BTreeMap<String, String>,
}

/// Upstream's FindMatchingVolume: the volume pre-bound to the claim if it fits, else the
/// smallest Available, unclaimed volume of the claim's class with the access modes,
/// capacity, labels and volume mode asked for. With `delay_binding` and no `node`, only
/// pre-bound volumes are considered (the scheduler picks the node first). With a `node`,
/// volumes that cannot be used there are skipped.
pub fn find_matching_volume<'a>(
    pvc: &PersistentVolumeClaim,
    volumes: impl IntoIterator<Item = &'a PersistentVolume>,
    delay_binding: bool,
    node: Option<NodeRef<'_>>,
) -> Option<&'a PersistentVolume> {
    let requested = requested_bytes(pvc);
    let class = claim_class(pvc);
    let selector = pvc.spec.as_ref().and_then(|s| s.selector.as_ref());
    let mut best: Option<(&PersistentVolume, i128)> = None;
    for pv in volumes {
        if pv.metadata.deletion_timestamp.is_some() || volume_mode_pv(pv) != volume_mode_pvc(pvc) {
            continue;
        }
        let size = capacity_bytes(pv);
        let node_ok = node.is_none_or(|n| node_affinity_matches(pv, n.name, n.labels));
        if is_bound_to_claim(pv, pvc) {
            if size >= requested && volume_class(pv) == class && node_ok {
                return Some(pv);
            }
            continue;
        }
        if node.is_none() && delay_binding {
            continue;
        }
        let spec = pv.spec.as_ref();
        let available = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available");
        let labels = pv.metadata.labels.clone().unwrap_or_default();
        if spec.and_then(|s| s.claim_ref.as_ref()).is_some()
            || !available
            || selector.is_some_and(|s| !skiff_selectors::label_selector_matches(s, Some(&labels)))
            || volume_class(pv) != class
            || !node_ok
            || !access_modes_fit(pv, pvc)
            || size < requested
        {
            continue;
        }
        if best.is_none_or(|(_, b)| size < b) {
            best = Some((pv, size));
        }
    }
    best.map(|(pv, _)| pv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pv(name: &str, v: serde_json::Value) -> PersistentVolume {
        let mut base = json!({"metadata": {"name": name},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                     "storageClassName": "manual", "hostPath": {"path": "/x"}},
            "status": {"phase": "Available"}});
        merge(&mut base, v);
        serde_json::from_value(base).expect("pv")
    }

    fn pvc(v: serde_json::Value) -> PersistentVolumeClaim {
        let mut base = json!({"metadata": {"name": "data", "namespace": "ns", "uid": "u1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                     "resources": {"requests": {"storage": "5Gi"}}}});
        merge(&mut base, v);
        serde_json::from_value(base).expect("pvc")
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn pick(
        claim: &PersistentVolumeClaim,
        vols: &[PersistentVolume],
        delay: bool,
    ) -> Option<String> {
        find_matching_volume(claim, vols, delay, None).and_then(|p| p.metadata.name.clone())
    }

    #[test]
    fn matching_table() {
        let small = pv("small", json!({"spec": {"capacity": {"storage": "6Gi"}}}));
        let big = pv("big", json!({}));
        let tiny = pv("tiny", json!({"spec": {"capacity": {"storage": "1Gi"}}}));
        let other_class = pv("other", json!({"spec": {"storageClassName": "fast"}}));
        let rwx = pv("rwx", json!({"spec": {"accessModes": ["ReadWriteMany"]}}));
        let claimed = pv(
            "claimed",
            json!({"spec": {"claimRef": {"namespace": "ns", "name": "x"}}}),
        );
        let released = pv("released", json!({"status": {"phase": "Released"}}));
        let block = pv("block", json!({"spec": {"volumeMode": "Block"}}));
        let labelled = pv(
            "labelled",
            json!({"metadata": {"labels": {"tier": "db"}}, "spec": {"capacity": {"storage": "20Gi"}}}),
        );
        let prebound = pv(
            "prebound",
            json!({"spec": {"capacity": {"storage": "50Gi"}, "claimRef": {"namespace": "ns", "name": "data"}}}),
        );
        let all = [
            small.clone(),
            big.clone(),
            tiny.clone(),
            other_class.clone(),
            rwx.clone(),
            claimed.clone(),
            released.clone(),
            block.clone(),
        ];
        // Smallest fitting volume wins; class, modes, claimRef, phase, volumeMode filter.
        assert_eq!(pick(&pvc(json!({})), &all, false).as_deref(), Some("small"));
        assert_eq!(
            pick(
                &pvc(json!({"spec": {"resources": {"requests": {"storage": "8Gi"}}}})),
                &all,
                false
            )
            .as_deref(),
            Some("big")
        );
        assert_eq!(
            pick(
                &pvc(json!({"spec": {"resources": {"requests": {"storage": "1Ti"}}}})),
                &all,
                false
            ),
            None
        );
        assert_eq!(
            pick(
                &pvc(json!({"spec": {"storageClassName": "fast"}})),
                &all,
                false
            )
            .as_deref(),
            Some("other")
        );
        assert_eq!(
            pick(
                &pvc(json!({"spec": {"accessModes": ["ReadWriteMany"]}})),
                &all,
                false
            )
            .as_deref(),
            Some("rwx")
        );
        assert_eq!(
            pick(&pvc(json!({"spec": {"volumeMode": "Block"}})), &all, false).as_deref(),
            Some("block")
        );
        // Selector.
        let with_labelled = [small.clone(), labelled.clone()];
        assert_eq!(
            pick(
                &pvc(json!({"spec": {"selector": {"matchLabels": {"tier": "db"}}}})),
                &with_labelled,
                false
            )
            .as_deref(),
            Some("labelled")
        );
        // A volume pre-bound to the claim wins even though bigger, and even when delayed.
        let with_prebound = [small.clone(), prebound.clone()];
        assert_eq!(
            pick(&pvc(json!({})), &with_prebound, false).as_deref(),
            Some("prebound")
        );
        assert_eq!(
            pick(&pvc(json!({})), &with_prebound, true).as_deref(),
            Some("prebound")
        );
        // Delayed binding without a node considers pre-bound volumes only.
        assert_eq!(
            pick(&pvc(json!({})), std::slice::from_ref(&small), true),
            None
        );
    }

    #[test]
    fn node_affinity_restricts_matches() {
        let local = pv(
            "local",
            json!({"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["a"]}]}]}}}}),
        );
        let la = BTreeMap::from([("kubernetes.io/hostname".to_string(), "a".to_string())]);
        let lb = BTreeMap::from([("kubernetes.io/hostname".to_string(), "b".to_string())]);
        let claim = pvc(json!({}));
        let vols = [local.clone()];
        assert!(find_matching_volume(
            &claim,
            &vols,
            true,
            Some(NodeRef {
                name: "a",
                labels: &la
            })
        )
        .is_some());
        assert!(find_matching_volume(
            &claim,
            &vols,
            true,
            Some(NodeRef {
                name: "b",
                labels: &lb
            })
        )
        .is_none());
        assert!(node_affinity_matches(&local, "a", &la));
        assert!(!node_affinity_matches(&local, "b", &lb));
        let by_field: NodeSelector = serde_json::from_value(json!({"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}))
        .expect("sel");
        assert!(node_selector_matches(&by_field, "b", &la));
        let empty: NodeSelector =
            serde_json::from_value(json!({"nodeSelectorTerms": [{}]})).expect("sel");
        assert!(!node_selector_matches(&empty, "a", &la));
    }
}
