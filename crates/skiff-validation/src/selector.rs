//! metav1.LabelSelector validation and matching (JSON form), plus label maps.

use serde_json::Value;

use crate::error::FieldError;
use crate::json::{arr_at, child, index, obj_at, str_or_empty};
use crate::names::{validate_label_key, validate_label_value};

/// Validates a label map (`metadata.labels`, `spec.selector` of a Service, nodeSelector).
pub fn validate_labels(labels: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(map) = labels.and_then(Value::as_object) else {
        return errs;
    };
    for (k, v) in map {
        for msg in validate_label_key(k) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        let val = v.as_str().unwrap_or("");
        for msg in validate_label_value(val) {
            errs.push(FieldError::invalid(path, val, msg));
        }
    }
    errs
}

/// Validates a `LabelSelector` (matchLabels + matchExpressions).
pub fn validate_label_selector(sel: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = validate_labels(sel.get("matchLabels"), &child(path, "matchLabels"));
    let exprs_path = child(path, "matchExpressions");
    for (i, expr) in arr_at(sel, "matchExpressions").iter().enumerate() {
        let p = index(&exprs_path, i);
        let values = arr_at(expr, "values");
        match str_or_empty(expr, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        child(&p, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        child(&p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                child(&p, "operator"),
                other,
                &["In", "NotIn", "Exists", "DoesNotExist"],
            )),
        }
        let key = str_or_empty(expr, "key");
        for msg in validate_label_key(key) {
            errs.push(FieldError::invalid(child(&p, "key"), key, msg));
        }
        for (j, v) in values.iter().enumerate() {
            let s = v.as_str().unwrap_or("");
            for msg in validate_label_value(s) {
                errs.push(FieldError::invalid(index(&child(&p, "values"), j), s, msg));
            }
        }
    }
    errs
}

/// Whether a LabelSelector has no requirements at all (it then matches everything).
pub fn selector_is_empty(sel: &Value) -> bool {
    obj_at(sel, "matchLabels").is_none_or(|m| m.is_empty())
        && arr_at(sel, "matchExpressions").is_empty()
}

/// Whether `labels` satisfy the selector. Invalid operators never match.
pub fn selector_matches(sel: &Value, labels: Option<&Value>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    if let Some(ml) = obj_at(sel, "matchLabels") {
        for (k, v) in ml {
            if get(k) != v.as_str() {
                return false;
            }
        }
    }
    for expr in arr_at(sel, "matchExpressions") {
        let key = str_or_empty(expr, "key");
        let values: Vec<&str> = arr_at(expr, "values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let have = get(key);
        let ok = match str_or_empty(expr, "operator") {
            "In" => have.is_some_and(|h| values.contains(&h)),
            "NotIn" => have.is_none_or(|h| !values.contains(&h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether a plain map selector (Service, ReplicationController) matches `labels`.
pub fn map_selector_matches(sel: Option<&Value>, labels: Option<&Value>) -> bool {
    let Some(sel) = sel.and_then(Value::as_object) else {
        return true;
    };
    sel.iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matching_table() {
        let labels = json!({"app": "web", "tier": "fe"});
        let cases = [
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "db"}}), false),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["fe"]}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]}),
                false,
            ),
            (json!({}), true),
        ];
        for (sel, want) in cases {
            assert_eq!(selector_matches(&sel, Some(&labels)), want, "{sel}");
        }
    }

    #[test]
    fn validation_table() {
        let cases = [
            (json!({"matchLabels": {"app": "web"}}), vec![]),
            (
                json!({"matchLabels": {"bad key": "web"}}),
                vec!["s.matchLabels"],
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
                vec!["s.matchExpressions[0].values"],
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                vec!["s.matchExpressions[0].values"],
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}),
                vec!["s.matchExpressions[0].operator"],
            ),
        ];
        for (sel, want) in cases {
            let got: Vec<String> = validate_label_selector(&sel, "s")
                .into_iter()
                .map(|e| e.field)
                .collect();
            assert_eq!(got, want, "{sel}");
        }
    }
}
