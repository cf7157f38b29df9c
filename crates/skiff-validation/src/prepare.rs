//! Registry-side preparation upstream does before validation (`rest.BeforeCreate`,
//! `rest.BeforeUpdate`, strategies' `PrepareForCreate`/`PrepareForUpdate`) where the
//! result is visible to clients or needed for validation to pass.

use serde_json::{Map, Value};

use crate::batch;

/// Prepares a new object. Call after `metadata.uid` is assigned and before
/// `validate_create`: today this generates the Job selector and pod labels.
pub fn prepare_for_create(group: &str, kind: &str, obj: &mut Value) {
    if (group, kind) == ("batch", "Job") {
        batch::generate_job_selector(obj);
    }
    if (group, kind) == ("apps", "DaemonSet") {
        set_template_generation(obj, None);
    }
}

/// Prepares an update before `validate_update`: system metadata the request left
/// out is inherited from the stored object, and a Service keeps its allocated
/// cluster IPs and node ports when the request does not name them (as after
/// `kubectl replace`).
pub fn prepare_for_update(group: &str, kind: &str, new: &mut Value, old: &Value) {
    inherit_system_meta(new, old);
    if (group, kind) == ("", "Service") {
        inherit_service_allocations(new, old);
    }
    if (group, kind) == ("apps", "DaemonSet") {
        set_template_generation(new, Some(old));
    }
}

/// Where apps/v1 shows a DaemonSet's (internal) spec.templateGeneration.
const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// The template generation is server-owned: 1 on create (or the client's value if higher,
/// as upstream), and on update the stored value, plus one when spec.template changed. The
/// DaemonSet controller labels pods with it (pod-template-generation).
fn set_template_generation(obj: &mut Value, old: Option<&Value>) {
    let read = |v: &Value| {
        v.get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(TEMPLATE_GENERATION))
            .and_then(Value::as_str)
            .and_then(|g| g.parse::<i64>().ok())
    };
    let generation = match old {
        None => read(obj).filter(|g| *g >= 1).unwrap_or(1),
        Some(old) => {
            let stored = read(old).unwrap_or(1);
            let changed = old.pointer("/spec/template") != obj.pointer("/spec/template");
            stored + i64::from(changed)
        }
    };
    let Some(meta) = crate::json::ensure_obj(obj, "metadata") else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Some(a) = annotations.as_object_mut() {
        a.insert(
            TEMPLATE_GENERATION.into(),
            Value::from(generation.to_string()),
        );
    }
}

fn inherit_system_meta(new: &mut Value, old: &Value) {
    let Some(old_meta) = old.get("metadata").and_then(Value::as_object) else {
        return;
    };
    let Some(new_meta) = crate::json::ensure_obj(new, "metadata") else {
        return;
    };
    let absent = |m: &Map<String, Value>, k: &str| {
        m.get(k)
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
    };
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        if absent(new_meta, field) && !absent(old_meta, field) {
            if let Some(v) = old_meta.get(field) {
                new_meta.insert(field.to_string(), v.clone());
            }
        }
    }
}

fn needs_node_port(spec: &Value) -> bool {
    matches!(
        spec.get("type").and_then(Value::as_str),
        Some("NodePort" | "LoadBalancer")
    )
}

fn inherit_service_allocations(new: &mut Value, old: &Value) {
    let Some(old_spec) = old.get("spec") else {
        return;
    };
    let Some(new_spec) = new.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    let ty = |s: &Value| {
        s.get("type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string()
    };
    if ty(old_spec) == "ExternalName" || ty(new_spec) == "ExternalName" {
        return;
    }
    let empty = |s: &Value, k: &str| {
        s.get(k).is_none_or(|v| {
            v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(Vec::is_empty)
        })
    };
    if empty(new_spec, "clusterIP") && empty(new_spec, "clusterIPs") {
        for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if let (Some(v), Some(m)) = (old_spec.get(k).cloned(), new_spec.as_object_mut()) {
                m.insert(k.to_string(), v);
            }
        }
    }
    if needs_node_port(old_spec) && needs_node_port(new_spec) {
        let ports = |s: &Value| {
            s.get("ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let node_port = |p: &Value| p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        let old_ports = ports(old_spec);
        let new_used: Vec<i64> = ports(new_spec)
            .iter()
            .map(node_port)
            .filter(|n| *n != 0)
            .collect();
        if let Some(Value::Array(new_ports)) = new_spec.get_mut("ports") {
            for p in new_ports.iter_mut() {
                if node_port(p) != 0 {
                    continue;
                }
                let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                let inherited = old_ports
                    .iter()
                    .find(|o| o.get("name").and_then(Value::as_str).unwrap_or("") == name)
                    .map(node_port)
                    .unwrap_or(0);
                if inherited != 0 && !new_used.contains(&inherited) {
                    if let Some(m) = p.as_object_mut() {
                        m.insert("nodePort".into(), Value::from(inherited));
                    }
                }
            }
        }
        if empty(new_spec, "healthCheckNodePort") {
            if let (Some(v), Some(m)) = (
                old_spec.get("healthCheckNodePort").cloned(),
                new_spec.as_object_mut(),
            ) {
                m.insert("healthCheckNodePort".into(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn daemon_set_template_generation_follows_the_template() {
        let mut ds = json!({"metadata": {"name": "a"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}});
        prepare_for_create("apps", "DaemonSet", &mut ds);
        assert_eq!(ds["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
        let old = ds.clone();
        let mut same = old.clone();
        same["spec"]["minReadySeconds"] = json!(5);
        same["metadata"]["annotations"][TEMPLATE_GENERATION] = json!("9");
        prepare_for_update("apps", "DaemonSet", &mut same, &old);
        assert_eq!(same["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
        let mut changed = old.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("x:2");
        prepare_for_update("apps", "DaemonSet", &mut changed, &old);
        assert_eq!(changed["metadata"]["annotations"][TEMPLATE_GENERATION], "2");
    }

    #[test]
    fn update_inherits_system_fields_and_allocations() {
        let old = json!({
            "metadata": {"name": "web", "uid": "u1", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"type": "NodePort", "clusterIP": "10.43.0.9", "clusterIPs": ["10.43.0.9"], "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}
        });
        let mut new = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}});
        prepare_for_update("", "Service", &mut new, &old);
        assert_eq!(new["metadata"]["uid"], "u1");
        assert_eq!(new["metadata"]["creationTimestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(new["spec"]["clusterIP"], "10.43.0.9");
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
        let mut to_cluster_ip = json!({"metadata": {"name": "web"}, "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80}]}});
        prepare_for_update("", "Service", &mut to_cluster_ip, &old);
        assert!(
            to_cluster_ip["spec"]["ports"][0].get("nodePort").is_none(),
            "node ports are not kept for ClusterIP"
        );
    }
}
