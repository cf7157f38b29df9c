//! Cell formatting helpers shared by several printers (labels, selectors,
//! container lists, access modes, "+ N more..." lists).

use serde_json::{Map, Value};

use crate::json::{arr_at, str_at};

/// labels.FormatLabels: sorted `k=v` pairs joined by ",", or "<none>".
pub(crate) fn format_labels(map: Option<&Map<String, Value>>) -> String {
    let s = labels_string(map);
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s
    }
}

/// labels.Set.String(): sorted `k=v` pairs joined by ",".
fn labels_string(map: Option<&Map<String, Value>>) -> String {
    let Some(map) = map else {
        return String::new();
    };
    let mut pairs: Vec<(&str, &str)> = map
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// metav1.LabelSelectorAsSelector(...).String(); Err when an operator is invalid.
/// A nil or empty selector renders as "".
pub(crate) fn label_selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|v| v.is_object()) else {
        return Ok(String::new());
    };
    // (key, rendered requirement); sorted by key like labels.internalSelector.
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for expr in arr_at(sel, &["matchExpressions"]) {
        let key = str_at(expr, &["key"]);
        let mut values: Vec<&str> = arr_at(expr, &["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let rendered = match str_at(expr, &["operator"]) {
            "In" if !values.is_empty() => format!("{key} in ({})", values.join(",")),
            "NotIn" if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
            // NewRequirement rejects values on the existence operators.
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), rendered));
    }
    // Stable sort: requirements on the same key keep their input order.
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(","))
}

/// metav1.FormatLabelSelector: "<none>" when empty, "<error>" when invalid.
pub(crate) fn format_label_selector(sel: Option<&Value>) -> String {
    match label_selector_string(sel) {
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
        Err(()) => "<error>".to_string(),
    }
}

/// layoutContainerCells: container names and images, each joined by ",".
pub(crate) fn container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// helper.GetAccessModesAsString: "RWO,ROX,RWX,RWOP" in that fixed order.
pub(crate) fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// intstr.IntOrString.String().
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// listWithMoreString: "a,b,c + 2 more...", or "<unset>" when empty.
pub(crate) fn list_with_more(list: &[String], count: usize, max: usize) -> String {
    let ret = list.join(",");
    if count > max {
        return format!("{ret} + {} more...", count - max);
    }
    if ret.is_empty() {
        "<unset>".to_string()
    } else {
        ret
    }
}

/// Sorted, de-duplicated IPs or hostnames of a load balancer status
/// (`status.loadBalancer.ingress[]`), joined by ",". The server prints wide, so
/// nothing is clipped.
pub(crate) fn load_balancer_ingress(ingress: &[Value]) -> String {
    let mut out: Vec<&str> = ingress
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors_render_like_apimachinery() {
        let cases = [
            (json!(null), "<none>"),
            (json!({}), "<none>"),
            (json!({"matchLabels": {"b": "2", "a": "1"}}), "a=1,b=2"),
            (
                json!({"matchLabels": {"app": "web"}, "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                    {"key": "env", "operator": "NotIn", "values": ["prod"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "Exists"}
                ]}),
                "app=web,!canary,env notin (prod),tier in (be,fe),zone",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}),
                "<error>",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
                "<error>",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                "<error>",
            ),
        ];
        for (sel, want) in cases {
            let s = if sel.is_null() { None } else { Some(&sel) };
            assert_eq!(format_label_selector(s), want, "{sel}");
        }
    }

    #[test]
    fn labels_and_access_modes() {
        let m = json!({"z": "1", "a": "b"});
        assert_eq!(format_labels(m.as_object()), "a=b,z=1");
        assert_eq!(format_labels(None), "<none>");
        let modes = json!(["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]);
        assert_eq!(
            access_modes(modes.as_array().map(Vec::as_slice).unwrap_or(&[])),
            "RWO,RWX"
        );
    }

    #[test]
    fn list_with_more_formats() {
        let l = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(list_with_more(&l, 5, 3), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&l, 3, 3), "a,b,c");
        assert_eq!(list_with_more(&[], 0, 3), "<unset>");
    }
}
