//! PersistentVolume, PersistentVolumeClaim and StorageClass validation.

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{arr_at, child, key, obj_at, str_or_empty};
use crate::names::{validate_dns1123_subdomain, validate_qualified_name};
use crate::quantity::Quantity;
use crate::selector::validate_label_selector;

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const PV_NON_SOURCE_FIELDS: &[&str] = &[
    "capacity",
    "accessModes",
    "claimRef",
    "persistentVolumeReclaimPolicy",
    "storageClassName",
    "mountOptions",
    "volumeMode",
    "nodeAffinity",
    "volumeAttributesClassName",
];

fn validate_access_modes(spec: &Value, path: &str, required_detail: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let modes = arr_at(spec, "accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(path, required_detail));
    }
    for m in modes {
        let m = m.as_str().unwrap_or("");
        if !ACCESS_MODES.contains(&m) {
            errs.push(FieldError::not_supported(path, m, ACCESS_MODES));
        }
    }
    errs
}

fn validate_volume_mode(spec: &Value, path: &str) -> Vec<FieldError> {
    match spec.get("volumeMode").and_then(Value::as_str) {
        Some(m) if !matches!(m, "Block" | "Filesystem") => {
            vec![FieldError::not_supported(path, m, &["Block", "Filesystem"])]
        }
        _ => Vec::new(),
    }
}

fn positive_quantity(v: &Value, path: &str) -> Vec<FieldError> {
    match Quantity::from_json(v) {
        Ok(q) if q.is_negative() || q.is_zero() => vec![FieldError::invalid(
            path,
            q.canonical(),
            "must be greater than zero",
        )],
        Ok(_) => Vec::new(),
        Err(e) => vec![FieldError::invalid(path, v.clone(), e.to_string())],
    }
}

/// PersistentVolumeClaim spec.
pub fn validate_pvc(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = validate_access_modes(
        spec,
        "spec.accessModes",
        "at least 1 access mode is required",
    );
    if let Some(sel) = spec.get("selector").filter(|s| !s.is_null()) {
        errs.extend(validate_label_selector(sel, "spec.selector"));
    }
    let storage_path = key("spec.resources", "storage");
    match spec
        .get("resources")
        .and_then(|r| r.get("requests"))
        .and_then(|r| r.get("storage"))
    {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(v) => errs.extend(positive_quantity(v, &storage_path)),
    }
    if let Some(sc) = spec
        .get("storageClassName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        for msg in validate_dns1123_subdomain(sc) {
            errs.push(FieldError::invalid("spec.storageClassName", sc, msg));
        }
    }
    errs.extend(validate_volume_mode(spec, "spec.volumeMode"));
    errs
}

/// PVC update: the spec is frozen except `resources.requests` (bound claims),
/// `volumeAttributesClassName`, and a one-time `volumeName` bind.
pub fn validate_pvc_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let (ns, os) = (
        new.get("spec").unwrap_or(&null),
        old.get("spec").unwrap_or(&null),
    );
    let bound = new.get("status").map(|s| str_or_empty(s, "phase")) == Some("Bound");
    let strip = |spec: &Value, is_old: bool| {
        let mut s = spec.clone();
        if let Some(m) = s.as_object_mut() {
            m.remove("volumeAttributesClassName");
            if bound {
                if let Some(Value::Object(r)) = m.get_mut("resources") {
                    r.remove("requests");
                }
            }
            if is_old && str_or_empty(os, "volumeName").is_empty() {
                m.remove("volumeName");
            }
        }
        s
    };
    let mut ns_cmp = strip(ns, false);
    if str_or_empty(os, "volumeName").is_empty() {
        if let Some(m) = ns_cmp.as_object_mut() {
            m.remove("volumeName");
        }
    }
    if ns_cmp != strip(os, true) {
        return vec![FieldError::forbidden("spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims")];
    }
    Vec::new()
}

/// PersistentVolume spec.
pub fn validate_pv(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = validate_access_modes(spec, "spec.accessModes", "");
    match obj_at(spec, "capacity") {
        None => errs.push(FieldError::required("spec.capacity", "")),
        Some(cap) if cap.is_empty() => errs.push(FieldError::required("spec.capacity", "")),
        Some(cap) => {
            if !cap.contains_key("storage") || cap.len() > 1 {
                errs.push(FieldError::not_supported(
                    "spec.capacity",
                    Value::Object(cap.clone()),
                    &["storage"],
                ));
            }
            for (r, q) in cap {
                errs.extend(positive_quantity(q, &key("spec.capacity", r)));
            }
        }
    }
    let sources: Vec<&String> = spec
        .as_object()
        .map(|m| {
            m.keys()
                .filter(|k| !PV_NON_SOURCE_FIELDS.contains(&k.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if sources.is_empty() {
        errs.push(FieldError::required("spec", "must specify a volume type"));
    }
    for extra in sources.iter().skip(1) {
        errs.push(FieldError::forbidden(
            child("spec", extra),
            "may not specify more than 1 volume type",
        ));
    }
    if let Some(p) = spec
        .get("persistentVolumeReclaimPolicy")
        .and_then(Value::as_str)
    {
        if !matches!(p, "Delete" | "Recycle" | "Retain") {
            errs.push(FieldError::not_supported(
                "spec.persistentVolumeReclaimPolicy",
                p,
                &["Delete", "Recycle", "Retain"],
            ));
        }
    }
    errs.extend(validate_volume_mode(spec, "spec.volumeMode"));
    errs
}

/// StorageClass (top-level fields, no spec).
pub fn validate_storage_class(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let prov = str_or_empty(obj, "provisioner");
    if prov.is_empty() {
        errs.push(FieldError::required("provisioner", ""));
    } else {
        for msg in validate_qualified_name(&prov.to_lowercase()) {
            errs.push(FieldError::invalid("provisioner", prov, msg));
        }
    }
    if let Some(p) = obj.get("reclaimPolicy").and_then(Value::as_str) {
        if !p.is_empty() && !matches!(p, "Delete" | "Retain") {
            errs.push(FieldError::not_supported(
                "reclaimPolicy",
                p,
                &["Delete", "Retain"],
            ));
        }
    }
    match obj.get("volumeBindingMode").and_then(Value::as_str) {
        None => errs.push(FieldError::required("volumeBindingMode", "")),
        Some("Immediate" | "WaitForFirstConsumer") => {}
        Some(other) => errs.push(FieldError::not_supported(
            "volumeBindingMode",
            other,
            &["Immediate", "WaitForFirstConsumer"],
        )),
    }
    if obj_at(obj, "parameters").is_some_and(|p| p.len() > 512) {
        errs.push(FieldError::too_many(
            "parameters",
            obj_at(obj, "parameters").map_or(0, |p| p.len()),
            512,
        ));
    }
    errs
}

/// StorageClass update: provisioner, parameters, reclaimPolicy and binding mode are frozen.
pub fn validate_storage_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let norm = |v: Option<&Value>| {
        v.filter(|x| !x.is_null() && x.as_object().is_none_or(|m| !m.is_empty()))
            .cloned()
    };
    if norm(new.get("parameters")) != norm(old.get("parameters")) {
        errs.push(FieldError::forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    if new.get("provisioner") != old.get("provisioner") {
        errs.push(FieldError::forbidden(
            "provisioner",
            "updates to provisioner are forbidden.",
        ));
    }
    if new.get("reclaimPolicy") != old.get("reclaimPolicy") {
        errs.push(FieldError::forbidden(
            "reclaimPolicy",
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    if new.get("volumeBindingMode") != old.get("volumeBindingMode") {
        errs.push(FieldError::immutable(
            "volumeBindingMode",
            new.get("volumeBindingMode").cloned().unwrap_or(Value::Null),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn pvc_table() {
        let cases = [
            (json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Gi"}}, "storageClassName": "fast-ssd", "volumeMode": "Filesystem"}}), vec![]),
            (json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}}), vec!["spec.accessModes: Required value: at least 1 access mode is required"]),
            (json!({"spec": {"accessModes": ["ReadWriteOnce"]}}), vec!["spec.resources[storage]: Required value"]),
            (json!({"spec": {"accessModes": ["RWO"], "resources": {"requests": {"storage": "0"}}}}), vec![
                "spec.accessModes: Unsupported value: \"RWO\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
            ]),
        ];
        for (obj, want) in cases {
            assert_eq!(msgs(validate_pvc(&obj)), want, "{obj}");
        }
    }

    #[test]
    fn pvc_update_rules() {
        let old = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Bound"}});
        let mut grow = old.clone();
        grow["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert!(validate_pvc_update(&grow, &old).is_empty());
        let mut modes = old.clone();
        modes["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        assert_eq!(msgs(validate_pvc_update(&modes, &old)), vec!["spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"]);
        let mut bind = old.clone();
        bind["spec"]["volumeName"] = json!("pv-1");
        assert!(validate_pvc_update(&bind, &old).is_empty());
    }

    #[test]
    fn pv_and_storage_class() {
        let pv = json!({"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/x"}, "persistentVolumeReclaimPolicy": "Retain"}});
        assert!(validate_pv(&pv).is_empty());
        let none =
            json!({"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}});
        assert_eq!(
            msgs(validate_pv(&none)),
            vec!["spec: Required value: must specify a volume type"]
        );
        let sc = json!({"provisioner": "", "volumeBindingMode": "Later"});
        assert_eq!(msgs(validate_storage_class(&sc)), vec![
            "provisioner: Required value",
            "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
        ]);
        let old = json!({"provisioner": "a", "volumeBindingMode": "Immediate"});
        let new = json!({"provisioner": "b", "volumeBindingMode": "Immediate"});
        assert_eq!(
            msgs(validate_storage_class_update(&new, &old)),
            vec!["provisioner: Forbidden: updates to provisioner are forbidden."]
        );
    }
}
