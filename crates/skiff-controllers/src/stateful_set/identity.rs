//! A StatefulSet pod's stable identity: its name `<set>-<ordinal>`, hostname and
//! subdomain, its identity labels, and the claims `<template>-<set>-<ordinal>` its volumes
//! point at (upstream's stateful_set_utils).

use crate::history::HASH_LABEL;
use crate::owner_refs::controller_ref;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

/// Label holding the pod's own name (the headless Service can select one pod by it).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Label holding the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// spec.replicas (defaulted to 1).
pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0)
}

/// spec.ordinals.start (0 when unset).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
        .max(0)
}

/// The parent set name and ordinal encoded in a pod name (`web-3` → `web`, 3).
pub fn parent_and_ordinal(pod_name: &str) -> Option<(&str, i32)> {
    let (parent, ord) = pod_name.rsplit_once('-')?;
    // Upstream parses with a `(.*)-([0-9]+)$` pattern: digits only, no sign.
    if ord.is_empty() || !ord.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, ord.parse().ok()?))
}

/// The pod's ordinal, if its name has one.
pub fn ordinal(pod: &Pod) -> Option<i32> {
    parent_and_ordinal(pod.metadata.name.as_deref().unwrap_or("")).map(|(_, o)| o)
}

/// Whether `pod` is named as a member of `set` (upstream's isMemberOf).
pub fn is_member_of(set: &StatefulSet, pod: &Pod) -> bool {
    parent_and_ordinal(pod.metadata.name.as_deref().unwrap_or(""))
        .is_some_and(|(parent, _)| parent == set.name_any())
}

/// Whether `ordinal` lies in `[start, start + replicas)`.
pub fn in_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && ordinal < start + replicas(set)
}

/// `<set>-<ordinal>`.
pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.name_any())
}

/// `<template>-<set>-<ordinal>`.
pub fn claim_name(template: &str, set: &StatefulSet, ordinal: i32) -> String {
    format!("{template}-{}-{ordinal}", set.name_any())
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

/// The claims the pod at `ordinal` uses, as they are created: the template's metadata and
/// spec, the claim name, the set's namespace, and the set's selector labels.
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let selector = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|t| {
            let tname = t.metadata.name.clone().unwrap_or_default();
            let mut labels = t.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(&tname, set, ordinal)),
                    namespace: set.namespace(),
                    labels: (!labels.is_empty()).then_some(labels),
                    annotations: t.metadata.annotations.clone(),
                    finalizers: t.metadata.finalizers.clone(),
                    ..ObjectMeta::default()
                },
                spec: t.spec.clone(),
                status: None,
            }
        })
        .collect()
}

/// The pod volume name for each claim template with the claim it must point at.
fn expected_volumes(set: &StatefulSet, ordinal: i32) -> Vec<(String, String)> {
    claim_templates(set)
        .iter()
        .map(|t| {
            let tname = t.metadata.name.clone().unwrap_or_default();
            let claim = claim_name(&tname, set, ordinal);
            (tname, claim)
        })
        .collect()
}

/// A new pod for `ordinal` from `template` (the template of the revision it is created
/// at), labelled with `revision`.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let tmeta = template.metadata.clone().unwrap_or_default();
    let name = pod_name(set, ordinal);
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(HASH_LABEL.into(), revision.to_string());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    spec.subdomain = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
    // The claim volumes replace template volumes of the same name.
    let expected = expected_volumes(set, ordinal);
    let mut volumes: Vec<Volume> = expected
        .iter()
        .map(|(vol, claim)| Volume {
            name: vol.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: None,
            }),
            ..Volume::default()
        })
        .collect();
    volumes.extend(
        spec.volumes
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|v| !expected.iter().any(|(n, _)| *n == v.name)),
    );
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.namespace(),
            labels: Some(labels),
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![controller_ref(set)]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The identity labels `pod` lacks or has wrong (name and index), empty when it matches.
pub fn identity_fixes(set: &StatefulSet, pod: &Pod) -> Vec<(&'static str, String)> {
    let Some(ord) = ordinal(pod) else {
        return Vec::new();
    };
    let labels = pod.metadata.labels.as_ref();
    let want = [
        (POD_NAME_LABEL, pod_name(set, ord)),
        (POD_INDEX_LABEL, ord.to_string()),
    ];
    want.into_iter()
        .filter(|(k, v)| labels.and_then(|l| l.get(*k)) != Some(v))
        .collect()
}

/// Whether every claim template has a pod volume pointing at the right claim.
pub fn storage_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(ord) = ordinal(pod) else {
        return false;
    };
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    expected_volumes(set, ord).iter().all(|(vol, claim)| {
        volumes.iter().any(|v| {
            v.name == *vol
                && v.persistent_volume_claim
                    .as_ref()
                    .is_some_and(|c| c.claim_name == *claim)
        })
    })
}

/// The revision label of a pod ("" when unset).
pub fn pod_revision(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL))
        .map(String::as_str)
        .unwrap_or("")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn set() -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "set-uid"},
            "spec": {
                "replicas": 3,
                "serviceName": "nginx",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{"name": "c", "image": "busybox:1.36"}],
                        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
                    }
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data", "labels": {"tier": "db"}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                    "status": {"phase": "Pending"}
                }]
            }
        }))
        .expect("set")
    }

    #[test]
    fn names_parse_and_build() {
        assert_eq!(parent_and_ordinal("web-12"), Some(("web", 12)));
        assert_eq!(parent_and_ordinal("my-web-0"), Some(("my-web", 0)));
        assert_eq!(parent_and_ordinal("web-x"), None);
        // As upstream's `(.*)-([0-9]+)$`: the parent keeps the extra dash.
        assert_eq!(parent_and_ordinal("web--1"), Some(("web-", 1)));
        assert_eq!(parent_and_ordinal("web"), None);
        let s = set();
        assert_eq!(pod_name(&s, 2), "web-2");
        assert_eq!(claim_name("data", &s, 2), "data-web-2");
        assert!(in_range(&s, 0) && in_range(&s, 2) && !in_range(&s, 3));
    }

    #[test]
    fn new_pods_carry_identity_storage_and_revision() {
        let s = set();
        let t = s.spec.as_ref().expect("spec").template.clone();
        let p = new_pod(&s, &t, 1, "web-abc");
        assert_eq!(p.name_any(), "web-1");
        let l = p.metadata.labels.as_ref().expect("labels");
        assert_eq!(l[POD_NAME_LABEL], "web-1");
        assert_eq!(l[POD_INDEX_LABEL], "1");
        assert_eq!(l[HASH_LABEL], "web-abc");
        assert_eq!(l["app"], "web");
        let spec = p.spec.as_ref().expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some("web-1"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let vols = spec.volumes.as_ref().expect("volumes");
        assert_eq!(vols.len(), 2, "the template's `data` volume is replaced");
        let data = vols.iter().find(|v| v.name == "data").expect("data");
        assert_eq!(
            data.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str()),
            Some("data-web-1")
        );
        let r = &p.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!((r.kind.as_str(), r.controller), ("StatefulSet", Some(true)));
        assert!(identity_fixes(&s, &p).is_empty());
        assert!(storage_matches(&s, &p));
        assert_eq!(pod_revision(&p), "web-abc");
    }

    #[test]
    fn claims_get_selector_labels_and_no_status() {
        let s = set();
        let c = &claims_for(&s, 0)[0];
        assert_eq!(c.name_any(), "data-web-0");
        assert_eq!(c.metadata.namespace.as_deref(), Some("default"));
        let l = c.metadata.labels.as_ref().expect("labels");
        assert_eq!((l["app"].as_str(), l["tier"].as_str()), ("web", "db"));
        assert!(c.status.is_none());
    }

    #[test]
    fn missing_identity_labels_are_found() {
        let s = set();
        let t = s.spec.as_ref().expect("spec").template.clone();
        let mut p = new_pod(&s, &t, 0, "r");
        if let Some(l) = p.metadata.labels.as_mut() {
            l.remove(POD_INDEX_LABEL);
        }
        assert_eq!(identity_fixes(&s, &p), vec![(POD_INDEX_LABEL, "0".into())]);
        if let Some(spec) = p.spec.as_mut() {
            spec.volumes = None;
        }
        assert!(!storage_matches(&s, &p));
    }
}
