//! The scheduler's view of selectors: upstream's nil-selector rule for affinity terms on top
//! of skiff-selectors' matching.

use k8s_openapi::api::core::v1::NodeSelectorTerm;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Whether `labels` match a metav1.LabelSelector; `None` selects nothing (as upstream
/// treats a nil selector in affinity terms), an empty selector selects everything.
pub fn label_selector_matches(
    sel: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> bool {
    sel.is_some_and(|s| skiff_selectors::label_selector_matches(s, Some(labels)))
}

/// Whether a node selector term matches a node: all its label expressions hold
/// (matchFields supports metadata.name only, as upstream). An empty term matches nothing.
pub fn node_term_matches(
    term: &NodeSelectorTerm,
    node_name: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    skiff_selectors::node_selector_term_matches(term, Some(node_name), Some(labels))
}
