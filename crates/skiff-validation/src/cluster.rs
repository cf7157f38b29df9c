//! Cluster-level and policy objects: Namespace, Node, ResourceQuota, LimitRange,
//! PriorityClass, Lease.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{arr_at, child, index, int_at, key, obj_at, str_or_empty};
use crate::names::validate_qualified_name;
use crate::quantity::Quantity;

const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];
/// Highest priority a user-defined PriorityClass may have.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;
const SYSTEM_PRIORITY_CLASSES: &[(&str, i64)] = &[
    ("system-cluster-critical", 2_000_000_000),
    ("system-node-critical", 2_000_001_000),
];

/// Namespace: `spec.finalizers` must be standard or fully qualified.
pub fn validate_namespace(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    for f in arr_at(obj.get("spec").unwrap_or(&null), "finalizers") {
        let f = f.as_str().unwrap_or("");
        for msg in validate_qualified_name(f) {
            errs.push(FieldError::invalid("spec.finalizers", f, msg));
        }
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
            errs.push(FieldError::invalid(
                "spec.finalizers",
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// Node: taints must have a key and a known effect.
pub fn validate_node(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut seen = HashSet::new();
    for (i, t) in arr_at(spec, "taints").iter().enumerate() {
        let p = index("spec.taints", i);
        let k = str_or_empty(t, "key");
        if k.is_empty() {
            errs.push(FieldError::required(child(&p, "key"), ""));
        } else {
            for msg in validate_qualified_name(k) {
                errs.push(FieldError::invalid(child(&p, "key"), k, msg));
            }
        }
        let effect = str_or_empty(t, "effect");
        match effect {
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            "" => errs.push(FieldError::required(child(&p, "effect"), "")),
            other => errs.push(FieldError::not_supported(
                child(&p, "effect"),
                other,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            )),
        }
        if !seen.insert((k.to_string(), effect.to_string())) {
            errs.push(FieldError::duplicate(&p, t.clone()));
        }
    }
    errs
}

fn is_integer_resource(name: &str) -> bool {
    matches!(
        name,
        "pods"
            | "services"
            | "replicationcontrollers"
            | "resourcequotas"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || name.starts_with("count/")
}

/// ResourceQuota `spec.hard`: valid names, non-negative quantities, integers where counted.
pub fn validate_resource_quota(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    if let Some(hard) = obj_at(spec, "hard") {
        for (name, v) in hard {
            let p = key("spec.hard", name);
            for msg in validate_qualified_name(name) {
                errs.push(FieldError::invalid(&p, name.as_str(), msg));
            }
            match Quantity::from_json(v) {
                Ok(q) => {
                    if q.is_negative() {
                        errs.push(FieldError::invalid(
                            &p,
                            q.canonical(),
                            "must be greater than or equal to 0",
                        ));
                    }
                    if is_integer_resource(name) && q.canonical().ends_with(['m', 'u', 'n']) {
                        errs.push(FieldError::invalid(&p, q.canonical(), "must be an integer"));
                    }
                }
                Err(e) => errs.push(FieldError::invalid(&p, v.clone(), e.to_string())),
            }
        }
    }
    for (i, s) in arr_at(spec, "scopes").iter().enumerate() {
        let s = s.as_str().unwrap_or("");
        let known = [
            "Terminating",
            "NotTerminating",
            "BestEffort",
            "NotBestEffort",
            "PriorityClass",
            "CrossNamespacePodAffinity",
            "VolumeAttributesClass",
        ];
        if !known.contains(&s) {
            errs.push(FieldError::invalid(
                index("spec.scopes", i),
                s,
                "unsupported scope",
            ));
        }
    }
    errs
}

/// LimitRange: known types, unique per type, min <= defaultRequest <= default <= max.
pub fn validate_limit_range(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut types = HashSet::new();
    for (i, item) in arr_at(spec, "limits").iter().enumerate() {
        let p = index("spec.limits", i);
        let ty = str_or_empty(item, "type");
        for msg in validate_qualified_name(ty) {
            errs.push(FieldError::invalid(child(&p, "type"), ty, msg));
        }
        if !ty.contains('/') && !matches!(ty, "Pod" | "Container" | "PersistentVolumeClaim") {
            errs.push(FieldError::invalid(
                child(&p, "type"),
                ty,
                "must be a standard limit type or fully qualified",
            ));
        }
        if !types.insert(ty.to_string()) {
            errs.push(FieldError::duplicate(child(&p, "type"), ty));
        }
        let get = |section: &str, res: &str| {
            item.get(section)
                .and_then(|s| s.get(res))
                .and_then(|v| Quantity::from_json(v).ok())
        };
        let mut names: Vec<&String> = Vec::new();
        for section in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            if let Some(m) = obj_at(item, section) {
                for (res, v) in m {
                    if Quantity::from_json(v).is_err() {
                        errs.push(FieldError::invalid(key(&child(&p, section), res), v.clone(), "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
                    }
                    if !names.contains(&res) {
                        names.push(res);
                    }
                }
            }
        }
        for res in names {
            let kp = key(&p, res);
            let (min, max, def, req) = (
                get("min", res),
                get("max", res),
                get("default", res),
                get("defaultRequest", res),
            );
            let gt = |a: &Option<Quantity>, b: &Option<Quantity>| matches!((a, b), (Some(x), Some(y)) if x.cmp_value(y) == Ordering::Greater);
            let s = |q: &Option<Quantity>| q.map(|q| q.canonical()).unwrap_or_default();
            if gt(&min, &max) {
                errs.push(FieldError::invalid(
                    &kp,
                    s(&min),
                    format!(
                        "min value {} is greater than max value {}",
                        s(&min),
                        s(&max)
                    ),
                ));
            }
            if gt(&min, &req) {
                errs.push(FieldError::invalid(
                    &kp,
                    s(&req),
                    format!(
                        "min value {} is greater than default request value {}",
                        s(&min),
                        s(&req)
                    ),
                ));
            }
            if gt(&req, &max) {
                errs.push(FieldError::invalid(
                    &kp,
                    s(&req),
                    format!(
                        "default request value {} is greater than max value {}",
                        s(&req),
                        s(&max)
                    ),
                ));
            }
            if gt(&req, &def) {
                errs.push(FieldError::invalid(
                    &kp,
                    s(&req),
                    format!(
                        "default request value {} is greater than default limit value {}",
                        s(&req),
                        s(&def)
                    ),
                ));
            }
            if gt(&min, &def) {
                errs.push(FieldError::invalid(
                    &kp,
                    s(&min),
                    format!(
                        "min value {} is greater than default value {}",
                        s(&min),
                        s(&def)
                    ),
                ));
            }
            if gt(&def, &max) {
                errs.push(FieldError::invalid(
                    &kp,
                    s(&max),
                    format!(
                        "default value {} is greater than max value {}",
                        s(&def),
                        s(&max)
                    ),
                ));
            }
        }
    }
    errs
}

/// PriorityClass: reserved `system-` names and the user-definable ceiling.
pub fn validate_priority_class(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = crate::meta::object_name(obj);
    let value = int_at(obj, "value").unwrap_or(0);
    if name.starts_with("system-") {
        let problem = match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((_, v)) if *v != value => {
                Some(format!("value of {name} PriorityClass must be {v}"))
            }
            Some(_) => None,
        };
        if let Some(p) = problem {
            errs.push(FieldError::forbidden("metadata.name", format!("priority class names with 'system-' prefix are reserved for system use only. error: {p}")));
        }
    } else if value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.push(FieldError::forbidden("value", format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}")));
    }
    if let Some(p) = obj.get("preemptionPolicy").and_then(Value::as_str) {
        if !matches!(p, "PreemptLowerPriority" | "Never") {
            errs.push(FieldError::not_supported(
                "preemptionPolicy",
                p,
                &["Never", "PreemptLowerPriority"],
            ));
        }
    }
    errs
}

/// PriorityClass update: value and preemptionPolicy are frozen.
pub fn validate_priority_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if new.get("value") != old.get("value") {
        errs.push(FieldError::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    if new.get("preemptionPolicy") != old.get("preemptionPolicy") {
        errs.push(FieldError::immutable(
            "preemptionPolicy",
            new.get("preemptionPolicy").cloned().unwrap_or(Value::Null),
        ));
    }
    errs
}

/// Lease spec.
pub fn validate_lease(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    if let Some(d) = int_at(spec, "leaseDurationSeconds") {
        if d <= 0 {
            errs.push(FieldError::invalid(
                "spec.leaseDurationSeconds",
                d,
                "must be greater than 0",
            ));
        }
    }
    if let Some(t) = int_at(spec, "leaseTransitions") {
        if t < 0 {
            errs.push(FieldError::invalid(
                "spec.leaseTransitions",
                t,
                "must be greater than or equal to 0",
            ));
        }
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
    fn namespace_finalizers() {
        assert!(validate_namespace(
            &json!({"spec": {"finalizers": ["kubernetes", "example.com/x"]}})
        )
        .is_empty());
        assert_eq!(
            msgs(validate_namespace(&json!({"spec": {"finalizers": ["custom"]}}))),
            vec!["spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"]
        );
    }

    #[test]
    fn limit_range_table() {
        let ok = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "100m"}, "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "200m"}}]}});
        assert!(validate_limit_range(&ok).is_empty());
        let bad = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "2"}}]}});
        assert_eq!(msgs(validate_limit_range(&bad)), vec!["spec.limits[0][cpu]: Invalid value: \"2\": min value 2 is greater than max value 1"]);
        let ty = json!({"spec": {"limits": [{"type": "Thing"}]}});
        assert_eq!(msgs(validate_limit_range(&ty)), vec!["spec.limits[0].type: Invalid value: \"Thing\": must be a standard limit type or fully qualified"]);
    }

    #[test]
    fn quota_and_priority() {
        let q = json!({"spec": {"hard": {"pods": "10", "requests.cpu": "-1"}}});
        assert_eq!(msgs(validate_resource_quota(&q)), vec!["spec.hard[requests.cpu]: Invalid value: \"-1\": must be greater than or equal to 0"]);
        let pc = json!({"metadata": {"name": "high"}, "value": 2_000_000_000i64});
        assert_eq!(
            msgs(validate_priority_class(&pc)),
            vec![
                "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
            ]
        );
        let sys = json!({"metadata": {"name": "system-foo"}, "value": 1});
        assert_eq!(validate_priority_class(&sys)[0].field, "metadata.name");
        let old = json!({"value": 1});
        assert_eq!(
            msgs(validate_priority_class_update(&json!({"value": 2}), &old)),
            vec!["value: Forbidden: may not be changed in an update."]
        );
    }

    #[test]
    fn lease_and_node() {
        assert_eq!(
            msgs(validate_lease(
                &json!({"spec": {"leaseDurationSeconds": 0}})
            )),
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
        assert_eq!(
            msgs(validate_node(&json!({"spec": {"taints": [{"key": "a", "effect": "Sometimes"}]}}))),
            vec!["spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""]
        );
    }
}
