//! core/v1 defaults: Pod, Service, Secret, PVC, PV, Namespace, LimitRange, RC.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::pod::{default_pod_requests_from_limits, default_pod_spec};
use crate::json::{ensure_obj, set_default};

/// Pod: PodSpec defaults plus requests copied from limits.
pub fn default_pod(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
        default_pod_requests_from_limits(spec);
        default_pod_spec(spec);
    }
}

/// Service: ClusterIP, None affinity, TCP ports, targetPort = port, traffic policies,
/// and (as the registry's allocator would on a single-stack IPv4 cluster) IP families.
pub fn default_service(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "sessionAffinity", json!("None"));
    let affinity = spec
        .get("sessionAffinity")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(m) = spec.as_object_mut() {
        if affinity == "None" {
            m.remove("sessionAffinityConfig");
        } else if affinity == "ClientIP" {
            let has_timeout = m
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                m.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
    }
    set_default(spec, "type", json!("ClusterIP"));
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut() {
            set_default(p, "protocol", json!("TCP"));
            let unset = match p.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(v) => v.as_i64() == Some(0),
            };
            if unset {
                if let (Some(port), Some(m)) = (p.get("port").cloned(), p.as_object_mut()) {
                    m.insert("targetPort".into(), port);
                }
            }
        }
    }
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") || (ty == "ClusterIP" && has_external_ips)
    {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if ty != "ExternalName" {
        let cluster_ip = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !cluster_ip.is_empty() {
            set_default(spec, "clusterIPs", json!([cluster_ip]));
        }
        // Headless services without a selector get both families, as upstream does.
        let selectorless = spec
            .get("selector")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty());
        if cluster_ip == "None" && selectorless {
            set_default(spec, "ipFamilyPolicy", json!("RequireDualStack"));
            set_default(spec, "ipFamilies", json!(["IPv4", "IPv6"]));
        } else {
            set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
            set_default(spec, "ipFamilies", json!(["IPv4"]));
        }
    }
}

/// Secret: type Opaque; `stringData` merged into `data` (base64) and dropped, as the
/// v1 → internal conversion does.
pub fn default_secret(obj: &mut Value) {
    set_default(obj, "type", json!("Opaque"));
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(string_data)) = m.remove("stringData") else {
        return;
    };
    if string_data.is_empty() {
        return;
    }
    let data = m.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in string_data {
            let s = v.as_str().unwrap_or("");
            d.insert(
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(s)),
            );
        }
    }
}

/// PersistentVolumeClaim: volumeMode Filesystem, status.phase Pending.
pub fn default_pvc(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
        set_default(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = ensure_obj(obj, "status") {
        status.entry("phase").or_insert(json!("Pending"));
    }
}

/// PersistentVolume: Retain, Filesystem, status.phase Pending.
pub fn default_pv(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
        set_default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        set_default(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = ensure_obj(obj, "status") {
        status.entry("phase").or_insert(json!("Pending"));
    }
}

/// Namespace: the `kubernetes.io/metadata.name` label, spec.finalizers [kubernetes]
/// (set by the registry on create) and status.phase Active.
pub fn default_namespace(obj: &mut Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !name.is_empty() {
        if let Some(labels) = ensure_obj(obj, "metadata").and_then(|m| {
            let l = m
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            if l.is_null() {
                *l = Value::Object(Map::new());
            }
            l.as_object_mut()
        }) {
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
    if let Some(spec) = ensure_obj(obj, "spec") {
        spec.entry("finalizers").or_insert(json!(["kubernetes"]));
    }
    if let Some(status) = ensure_obj(obj, "status") {
        status.entry("phase").or_insert(json!("Active"));
    }
}

/// LimitRange Container items: default ← max, defaultRequest ← default, then ← min.
pub fn default_limit_range(obj: &mut Value) {
    let Some(Value::Array(items)) = obj.pointer_mut("/spec/limits") else {
        return;
    };
    for item in items.iter_mut() {
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        let get = |item: &Value, k: &str| {
            item.get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let (max, min) = (get(item, "max"), get(item, "min"));
        let mut default = get(item, "default");
        for (k, v) in &max {
            default.entry(k.clone()).or_insert(v.clone());
        }
        let mut request = get(item, "defaultRequest");
        for (k, v) in default.iter().chain(min.iter()) {
            request.entry(k.clone()).or_insert(v.clone());
        }
        if let Some(m) = item.as_object_mut() {
            if !default.is_empty() {
                m.insert("default".into(), Value::Object(default));
            }
            if !request.is_empty() {
                m.insert("defaultRequest".into(), Value::Object(request));
            }
        }
    }
}

/// ReplicationController: selector and labels from the template, replicas 1.
pub fn default_replication_controller(obj: &mut Value) {
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .filter(|l| l.is_object())
        .cloned();
    if let Some(labels) = labels {
        if let Some(spec) = obj.get_mut("spec") {
            let empty = spec
                .get("selector")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty());
            if empty {
                if let Some(m) = spec.as_object_mut() {
                    m.insert("selector".into(), labels.clone());
                }
            }
        }
        if let Some(meta) = ensure_obj(obj, "metadata") {
            if meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty())
            {
                meta.insert("labels".into(), labels);
            }
        }
    }
    if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
        set_default(spec, "replicas", json!(1));
        super::workloads::default_template(spec);
    }
}

/// Endpoints: ports default to TCP.
pub fn default_endpoints(obj: &mut Value) {
    let Some(Value::Array(subsets)) = obj.get_mut("subsets") else {
        return;
    };
    for s in subsets.iter_mut() {
        if let Some(Value::Array(ports)) = s.get_mut("ports") {
            for p in ports.iter_mut() {
                set_default(p, "protocol", json!("TCP"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_defaults_table() {
        let cases = [
            (
                json!({"spec": {"selector": {"app": "w"}, "ports": [{"port": 80}]}}),
                json!({"selector": {"app": "w"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}),
            ),
            (
                json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http"}]}}),
                json!({"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}], "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": true, "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}),
            ),
            (
                json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}}),
                json!({"type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None"}),
            ),
            (
                json!({"spec": {"clusterIP": "None", "ports": [{"port": 5432}]}}),
                json!({"clusterIP": "None", "ports": [{"port": 5432, "protocol": "TCP", "targetPort": 5432}], "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster", "clusterIPs": ["None"], "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}),
            ),
        ];
        for (mut input, want) in cases {
            default_service(&mut input);
            assert_eq!(input["spec"], want);
        }
    }

    #[test]
    fn secret_defaults() {
        let mut s = json!({"stringData": {"user": "admin"}, "data": {"a": "YQ=="}});
        default_secret(&mut s);
        assert_eq!(
            s,
            json!({"data": {"a": "YQ==", "user": "YWRtaW4="}, "type": "Opaque"})
        );
    }

    #[test]
    fn namespace_pvc_limitrange_rc() {
        let mut ns = json!({"metadata": {"name": "b2connect"}});
        default_namespace(&mut ns);
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "b2connect"
        );
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        let mut pvc = json!({"spec": {"accessModes": ["ReadWriteOnce"]}});
        default_pvc(&mut pvc);
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");
        let mut lr = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}});
        default_limit_range(&mut lr);
        assert_eq!(lr["spec"]["limits"][0]["default"], json!({"cpu": "2"}));
        assert_eq!(
            lr["spec"]["limits"][0]["defaultRequest"],
            json!({"cpu": "2", "memory": "64Mi"})
        );
        let mut rc = json!({"spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}}});
        default_replication_controller(&mut rc);
        assert_eq!(rc["spec"]["selector"], json!({"app": "x"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "x"}));
        assert_eq!(rc["spec"]["replicas"], 1);
    }
}
