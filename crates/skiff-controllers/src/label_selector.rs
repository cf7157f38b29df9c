//! Matching labels against a `LabelSelector` (matchLabels and matchExpressions).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Whether a selector has no requirements at all (it would select every object).
pub fn is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty())
}

/// Whether `labels` satisfy every requirement of `sel`. Unknown operators match nothing,
/// as a selector that cannot be parsed selects nothing upstream.
pub fn matches(sel: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let by_labels = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    by_labels
        && sel.match_expressions.iter().flatten().all(|r| {
            let values = r.values.as_deref().unwrap_or_default();
            let have = labels.get(&r.key);
            match r.operator.as_str() {
                "In" => have.is_some_and(|v| values.contains(v)),
                "NotIn" => have.is_none_or(|v| !values.contains(v)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_match_like_upstream() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]}
            ]
        }))
        .expect("selector");
        let l = |v: serde_json::Value| -> BTreeMap<String, String> {
            serde_json::from_value(v).expect("labels")
        };
        assert!(matches(&sel, Some(&l(json!({"app": "web", "tier": "a"})))));
        assert!(!matches(&sel, Some(&l(json!({"app": "web", "tier": "c"})))));
        assert!(!matches(
            &sel,
            Some(&l(json!({"app": "web", "tier": "a", "canary": "1"})))
        ));
        assert!(!matches(
            &sel,
            Some(&l(json!({"app": "web", "tier": "a", "env": "prod"})))
        ));
        assert!(!matches(&sel, None));
        assert!(is_empty(&LabelSelector::default()));
        assert!(matches(&LabelSelector::default(), None));
    }
}
