//! Matching the typed selector objects controllers, the scheduler and the network policy
//! engine hold (`metav1.LabelSelector`, `v1.NodeSelectorRequirement`) against label maps:
//! one implementation of upstream's rules for every in-process caller.

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Whether a selector has no requirements at all (it selects every object).
pub fn label_selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty())
}

/// Whether `labels` satisfy every requirement of `sel`; an empty selector matches
/// everything. Unknown operators match nothing, as a selector upstream cannot convert
/// selects nothing.
pub fn label_selector_matches(
    sel: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let have = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    sel.match_labels
        .iter()
        .flatten()
        .all(|(k, v)| have(k) == Some(v.as_str()))
        && sel.match_expressions.iter().flatten().all(|r| {
            let values = r.values.as_deref().unwrap_or_default();
            set_operator_matches(&r.operator, values, have(&r.key)).unwrap_or(false)
        })
}

/// In/NotIn/Exists/DoesNotExist against one label's value; None for other operators.
fn set_operator_matches(operator: &str, values: &[String], have: Option<&str>) -> Option<bool> {
    let listed = |h: &str| values.iter().any(|v| v == h);
    Some(match operator {
        "In" => have.is_some_and(listed),
        "NotIn" => have.is_none_or(|h| !listed(h)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        _ => return None,
    })
}

/// Whether a node label (or field) value `have` satisfies a node selector requirement:
/// the set operators plus Gt/Lt, which compare the value and the single listed one as
/// integers (a value that is not an integer never matches).
pub fn node_requirement_matches(req: &NodeSelectorRequirement, have: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    if let Some(m) = set_operator_matches(&req.operator, values, have) {
        return m;
    }
    let (Some(h), Some(v)) = (
        have.and_then(|h| h.parse::<i64>().ok()),
        values.first().and_then(|v| v.parse::<i64>().ok()),
    ) else {
        return false;
    };
    match req.operator.as_str() {
        "Gt" => h > v,
        "Lt" => h < v,
        _ => false,
    }
}

/// Whether a node selector term matches a node: every label expression and every field
/// (`metadata.name` is the only field upstream supports) holds. An empty term matches
/// nothing, as upstream.
pub fn node_selector_term_matches(
    term: &NodeSelectorTerm,
    node_name: Option<&str>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    exprs
        .iter()
        .all(|r| node_requirement_matches(r, label(&r.key)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && node_requirement_matches(r, node_name))
}

/// Whether `t` tolerates `taint` (upstream's `Toleration.ToleratesTaint`): same effect or
/// none; same key or none; and Exists, or Equal (the default) with the same value.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: serde_json::Value) -> BTreeMap<String, String> {
        serde_json::from_value(v).expect("labels")
    }

    #[test]
    fn label_selectors_match_like_upstream() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]}
            ]
        }))
        .expect("selector");
        let m = |v| label_selector_matches(&sel, Some(&labels(v)));
        assert!(m(json!({"app": "web", "tier": "a"})));
        assert!(m(json!({"app": "web", "tier": "b", "env": "dev"})));
        assert!(!m(json!({"app": "web", "tier": "c"})));
        assert!(!m(json!({"app": "web", "tier": "a", "canary": "1"})));
        assert!(!m(json!({"app": "web", "tier": "a", "env": "prod"})));
        assert!(!m(json!({"tier": "a"})));
        assert!(!label_selector_matches(&sel, None));
        assert!(!label_selector_is_empty(&sel));
    }

    #[test]
    fn empty_selects_everything_and_unknown_operators_nothing() {
        let empty = LabelSelector::default();
        assert!(label_selector_is_empty(&empty));
        assert!(label_selector_matches(&empty, None));
        let odd: LabelSelector = serde_json::from_value(json!({
            "matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]
        }))
        .expect("selector");
        assert!(!label_selector_matches(
            &odd,
            Some(&labels(json!({"a": "5"})))
        ));
    }

    #[test]
    fn node_requirements_compare_integers() {
        let req = |op: &str, values: &[&str]| NodeSelectorRequirement {
            key: "k".into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        };
        assert!(node_requirement_matches(&req("Gt", &["3"]), Some("4")));
        assert!(!node_requirement_matches(&req("Gt", &["3"]), Some("3")));
        assert!(node_requirement_matches(&req("Lt", &["3"]), Some("-1")));
        assert!(!node_requirement_matches(&req("Lt", &["3"]), Some("x")));
        assert!(!node_requirement_matches(&req("Gt", &["3"]), None));
        assert!(node_requirement_matches(&req("In", &["a", "b"]), Some("b")));
        assert!(node_requirement_matches(&req("NotIn", &["a"]), None));
        assert!(node_requirement_matches(&req("DoesNotExist", &[]), None));
        assert!(!node_requirement_matches(&req("Exists", &[]), None));
        assert!(!node_requirement_matches(&req("Near", &["a"]), Some("a")));
    }

    #[test]
    fn node_terms_need_every_expression_and_know_only_the_name_field() {
        let term: NodeSelectorTerm = serde_json::from_value(json!({
            "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}],
            "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]
        }))
        .expect("term");
        let zone_a = labels(json!({"zone": "a"}));
        assert!(node_selector_term_matches(&term, Some("n1"), Some(&zone_a)));
        assert!(!node_selector_term_matches(
            &term,
            Some("n2"),
            Some(&zone_a)
        ));
        assert!(!node_selector_term_matches(&term, Some("n1"), None));
        let other_field: NodeSelectorTerm = serde_json::from_value(json!({
            "matchFields": [{"key": "spec.unschedulable", "operator": "Exists"}]
        }))
        .expect("term");
        assert!(!node_selector_term_matches(&other_field, Some("n1"), None));
        let empty = NodeSelectorTerm::default();
        assert!(!node_selector_term_matches(
            &empty,
            Some("n1"),
            Some(&zone_a)
        ));
    }
}
