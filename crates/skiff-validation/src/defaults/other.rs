//! Defaults for autoscaling, networking, storage, scheduling, RBAC and CRDs.

use serde_json::{json, Value};

use crate::json::set_default;

/// HPA: minReplicas 1; v2 also gets a cpu-80% metric when empty and filled-in behavior.
pub fn default_hpa(version: &str, obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "minReplicas", json!(1));
    if version == "v1" {
        return;
    }
    let empty = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if empty {
        if let Some(m) = spec.as_object_mut() {
            m.insert(
                "metrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
            );
        }
    }
    if let Some(b) = spec.get_mut("behavior").filter(|b| b.is_object()) {
        default_scaling_rules(
            b,
            "scaleUp",
            0,
            json!([{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]),
        );
        default_scaling_rules(
            b,
            "scaleDown",
            300,
            json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
        );
    }
}

fn default_scaling_rules(behavior: &mut Value, dir: &str, window: i64, policies: Value) {
    set_default(behavior, dir, json!({}));
    if let Some(r) = behavior.get_mut(dir) {
        set_default(r, "stabilizationWindowSeconds", json!(window));
        set_default(r, "selectPolicy", json!("Max"));
        set_default(r, "policies", policies);
    }
}

/// NetworkPolicy: TCP ports; policyTypes [Ingress] (+ Egress when egress rules exist).
pub fn default_network_policy(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    for dir in ["ingress", "egress"] {
        if let Some(Value::Array(rules)) = spec.get_mut(dir) {
            for r in rules.iter_mut() {
                if let Some(Value::Array(ports)) = r.get_mut("ports") {
                    for p in ports.iter_mut() {
                        set_default(p, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
    let empty = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if empty {
        let has_egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty());
        let types = if has_egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
        if let Some(m) = spec.as_object_mut() {
            m.insert("policyTypes".into(), types);
        }
    }
}

/// StorageClass: reclaimPolicy Delete, volumeBindingMode Immediate.
pub fn default_storage_class(obj: &mut Value) {
    set_default(obj, "reclaimPolicy", json!("Delete"));
    set_default(obj, "volumeBindingMode", json!("Immediate"));
}

/// PriorityClass: preemptionPolicy PreemptLowerPriority.
pub fn default_priority_class(obj: &mut Value) {
    set_default(obj, "preemptionPolicy", json!("PreemptLowerPriority"));
}

/// Bindings: roleRef.apiGroup and User/Group subjects' apiGroup default to RBAC.
pub fn default_binding(obj: &mut Value) {
    if let Some(rr) = obj.get_mut("roleRef").filter(|r| r.is_object()) {
        if rr
            .get("apiGroup")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            if let Some(m) = rr.as_object_mut() {
                m.insert("apiGroup".into(), json!(crate::rbac::RBAC_GROUP));
            }
        }
    }
    if let Some(Value::Array(subjects)) = obj.get_mut("subjects") {
        for s in subjects.iter_mut() {
            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            let empty = s
                .get("apiGroup")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if empty && matches!(kind, "User" | "Group") {
                if let Some(m) = s.as_object_mut() {
                    m.insert("apiGroup".into(), json!(crate::rbac::RBAC_GROUP));
                }
            }
        }
    }
}

/// CRD: singular = lowercase kind, listKind = kind + "List", conversion None.
pub fn default_crd(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    if let Some(names) = spec.get_mut("names").filter(|n| n.is_object()) {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !kind.is_empty() {
            set_default(names, "singular", json!(kind.to_lowercase()));
            set_default(names, "listKind", json!(format!("{kind}List")));
        }
    }
    set_default(spec, "conversion", json!({"strategy": "None"}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_defaults() {
        let mut v2 = json!({"spec": {"maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        default_hpa("v2", &mut v2);
        assert_eq!(v2["spec"]["minReplicas"], 1);
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert_eq!(
            v2["spec"]["behavior"]["scaleDown"],
            json!({"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]})
        );
        assert_eq!(
            v2["spec"]["behavior"]["scaleUp"]["policies"][0],
            json!({"type": "Pods", "value": 4, "periodSeconds": 15})
        );
        let mut no_behavior = json!({"spec": {"maxReplicas": 5}});
        default_hpa("v2", &mut no_behavior);
        assert!(no_behavior["spec"].get("behavior").is_none());
        let mut v1 = json!({"spec": {"maxReplicas": 5}});
        default_hpa("v1", &mut v1);
        assert!(v1["spec"].get("metrics").is_none());
    }

    #[test]
    fn misc_defaults() {
        let mut np = json!({"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}});
        default_network_policy(&mut np);
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
        let mut sc = json!({"provisioner": "x"});
        default_storage_class(&mut sc);
        assert_eq!(
            (sc["reclaimPolicy"].clone(), sc["volumeBindingMode"].clone()),
            (json!("Delete"), json!("Immediate"))
        );
        let mut rb = json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]});
        default_binding(&mut rb);
        assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert!(rb["subjects"][1].get("apiGroup").is_none());
        let mut crd =
            json!({"spec": {"names": {"kind": "ServiceMonitor", "plural": "servicemonitors"}}});
        default_crd(&mut crd);
        assert_eq!(crd["spec"]["names"]["listKind"], "ServiceMonitorList");
        assert_eq!(crd["spec"]["names"]["singular"], "servicemonitor");
    }
}
