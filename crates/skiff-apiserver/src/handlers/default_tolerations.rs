//! The DefaultTolerationSeconds admission plugin on pod create: a pod that does not
//! tolerate the `node.kubernetes.io/not-ready` or `unreachable` NoExecute taints itself
//! gets a toleration for each with tolerationSeconds (300 by default), so a lost node's
//! pods are evicted after that long rather than at once.

use serde_json::{json, Value};

/// Taint the node lifecycle controller puts on nodes whose Ready condition is False.
const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint it puts on nodes it lost contact with.
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Whether some toleration already covers `key`'s NoExecute taint (upstream counts an empty
/// key and an empty effect as covering, whatever the operator).
fn covered(tolerations: &[Value], key: &str) -> bool {
    tolerations.iter().any(|t| {
        let k = t.get("key").and_then(Value::as_str).unwrap_or("");
        let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
        (k == key || k.is_empty()) && (effect == "NoExecute" || effect.is_empty())
    })
}

/// Add the default tolerations to a new pod.
pub fn admit(pod: &mut Value, not_ready_seconds: i64, unreachable_seconds: i64) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let existing: Vec<Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut added = Vec::new();
    for (key, seconds) in [
        (NOT_READY, not_ready_seconds),
        (UNREACHABLE, unreachable_seconds),
    ] {
        if !covered(&existing, key) {
            added.push(
                json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": seconds}),
            );
        }
    }
    if !added.is_empty() {
        let mut all = existing;
        all.extend(added);
        spec.insert("tolerations".into(), Value::Array(all));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_both_tolerations_unless_they_have_their_own() {
        let mut pod = json!({"spec": {"containers": []}});
        admit(&mut pod, 300, 300);
        assert_eq!(
            pod["spec"]["tolerations"],
            json!([
                {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ])
        );
        let mut own = json!({"spec": {"tolerations": [
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 7},
            {"key": "other", "operator": "Exists"}
        ]}});
        admit(&mut own, 10, 20);
        assert_eq!(
            own["spec"]["tolerations"],
            json!([
                {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 7},
                {"key": "other", "operator": "Exists"},
                {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
            ])
        );
        // Tolerating everything (empty key, any effect) needs nothing more.
        let mut all = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        admit(&mut all, 300, 300);
        assert_eq!(all["spec"]["tolerations"], json!([{"operator": "Exists"}]));
        // A NoSchedule toleration for the key does not cover NoExecute.
        let mut ns = json!({"spec": {"tolerations": [
            {"key": NOT_READY, "operator": "Exists", "effect": "NoSchedule"}]}});
        admit(&mut ns, 300, 300);
        assert_eq!(ns["spec"]["tolerations"].as_array().map(Vec::len), Some(3));
    }
}
