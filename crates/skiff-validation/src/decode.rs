//! Checks kube-apiserver performs while decoding (before validation), answered with
//! 400 BadRequest rather than 422: Secret base64 data and resource quantities.

use serde_json::Value;

use crate::config::check_secret_base64;
use crate::quantity::Quantity;

/// Keys whose object values are maps of resource name → Quantity.
const QUANTITY_MAPS: &[&str] = &[
    "limits",
    "requests",
    "hard",
    "capacity",
    "allocatable",
    "max",
    "min",
    "default",
    "defaultRequest",
];

/// The 400 message upstream gives when a built-in object cannot be decoded, e.g.
/// `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0`.
/// `None` when the object decodes. Custom resources (unknown kinds) are not checked.
pub fn check_decode(group: &str, version: &str, kind: &str, obj: &Value) -> Option<String> {
    if !is_builtin_group(group) {
        return None;
    }
    if (group, kind) == ("", "Secret") {
        if let Some(msg) = check_secret_base64(obj) {
            return Some(msg);
        }
    }
    find_bad_quantity(obj, None).map(|e| {
        format!(
            "{kind} in version {} cannot be handled as a {kind}: {e}",
            crate::error::go_quote(version)
        )
    })
}

fn is_builtin_group(group: &str) -> bool {
    group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io")
}

fn find_bad_quantity(v: &Value, parent_key: Option<&str>) -> Option<String> {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let is_quantity_map = QUANTITY_MAPS.contains(&k.as_str()) && child.is_object();
                // `limits` of a LimitRange is a list, and names like `default` only carry
                // quantities inside resources/limit items, so only object maps are checked.
                if is_quantity_map && parent_key != Some("metadata") {
                    if let Some(map) = child.as_object() {
                        for q in map.values() {
                            if let Err(e) = Quantity::from_json(q) {
                                if q.is_string() || q.is_number() {
                                    return Some(e.to_string());
                                }
                            }
                        }
                    }
                }
                if k == "sizeLimit" {
                    if let Err(e) = Quantity::from_json(child) {
                        return Some(e.to_string());
                    }
                }
                if k != "metadata" || parent_key.is_some() {
                    if let Some(e) = find_bad_quantity(child, Some(k)) {
                        return Some(e);
                    }
                }
            }
            None
        }
        Value::Array(items) => items.iter().find_map(|i| find_bad_quantity(i, parent_key)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decode_table() {
        let dep = |cpu: Value| json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": cpu}}}]}}}});
        let cases = [
            ("apps", "Deployment", dep(json!("500m")), None),
            ("apps", "Deployment", dep(json!(1)), None),
            (
                "apps",
                "Deployment",
                dep(json!("lots")),
                Some("Deployment in version \"v1\" cannot be handled as a Deployment: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
            ),
            ("", "Secret", json!({"data": {"k": "<base64-encoded>"}}), Some("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 0")),
            ("monitoring.coreos.com", "ServiceMonitor", json!({"spec": {"resources": {"limits": {"cpu": "lots"}}}}), None),
            ("", "ResourceQuota", json!({"spec": {"hard": {"pods": "ten"}}}), Some("ResourceQuota in version \"v1\" cannot be handled as a ResourceQuota: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")),
        ];
        for (group, kind, obj, want) in cases {
            assert_eq!(
                check_decode(group, "v1", kind, &obj).as_deref(),
                want,
                "{kind}"
            );
        }
    }
}
