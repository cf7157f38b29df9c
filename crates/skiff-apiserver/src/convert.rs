//! Conversion between versions that share storage (autoscaling/v1 ⇄ autoscaling/v2 HPAs).
//! Objects are stored at the group's preferred version and converted when served or written
//! at another one.

use serde_json::{json, Value};
use skiff_api::ResourceInfo;

/// Convert `obj` to the version `info` serves.
pub fn convert(info: &ResourceInfo, obj: Value) -> Value {
    let from = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let to = info.api_version();
    match (info.kind.as_str(), from.as_str(), to.as_str()) {
        ("HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1") => hpa_v2_to_v1(obj),
        ("HorizontalPodAutoscaler", "autoscaling/v1", "autoscaling/v2") => hpa_v1_to_v2(obj),
        _ => {
            let mut o = obj;
            o["apiVersion"] = json!(to);
            o
        }
    }
}

/// Convert `obj` (at the version `info` serves) to the storage version.
pub fn to_storage(info: &ResourceInfo, obj: Value) -> Value {
    if info.storage_version == info.version || info.storage_version.is_empty() {
        return obj;
    }
    let mut target = info.clone();
    target.version = info.storage_version.clone();
    convert(&target, obj)
}

fn hpa_v2_to_v1(mut o: Value) -> Value {
    o["apiVersion"] = json!("autoscaling/v1");
    let cpu = o
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .and_then(|ms| {
            ms.iter()
                .find(|m| m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu"))
        })
        .and_then(|m| m.pointer("/resource/target/averageUtilization"))
        .cloned();
    if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("metrics");
        spec.remove("behavior");
        if let Some(c) = cpu {
            spec.insert("targetCPUUtilizationPercentage".into(), c);
        }
    }
    let current = o
        .pointer("/status/currentMetrics")
        .and_then(Value::as_array)
        .and_then(|ms| {
            ms.iter()
                .find(|m| m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu"))
        })
        .and_then(|m| m.pointer("/resource/current/averageUtilization"))
        .cloned();
    if let Some(status) = o.get_mut("status").and_then(Value::as_object_mut) {
        status.remove("currentMetrics");
        status.remove("conditions");
        if let Some(c) = current {
            status.insert("currentCPUUtilizationPercentage".into(), c);
        }
    }
    o
}

fn hpa_v1_to_v2(mut o: Value) -> Value {
    o["apiVersion"] = json!("autoscaling/v2");
    if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
        if let Some(t) = spec.remove("targetCPUUtilizationPercentage") {
            spec.insert(
                "metrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": t}}}]),
            );
        }
    }
    if let Some(status) = o.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(c) = status.remove("currentCPUUtilizationPercentage") {
            status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c}}}]),
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_round_trips_cpu_target() {
        let reg = skiff_api::Registry::builtin();
        let v1 = reg
            .get("autoscaling", "v1", "horizontalpodautoscalers")
            .expect("v1");
        let v2obj = json!({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","spec":{"minReplicas":1,"maxReplicas":5,
            "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":70}}}]}});
        let as_v1 = convert(&v1, v2obj.clone());
        assert_eq!(as_v1["spec"]["targetCPUUtilizationPercentage"], 70);
        assert_eq!(
            to_storage(&v1, as_v1)["spec"]["metrics"],
            v2obj["spec"]["metrics"]
        );
    }
}
