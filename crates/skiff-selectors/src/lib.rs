//! Label and field selectors with kube-apiserver v1.33 semantics.
//!
//! * [`LabelSelector`] parses the `labelSelector` query syntax
//!   (`a=b,c!=d,e in (x,y),!f`) and `metav1.LabelSelector` objects, matches
//!   `metadata.labels`, and prints the canonical form.
//! * [`FieldSelector`] parses the `fieldSelector` query syntax
//!   (`metadata.name=x,status.phase!=Succeeded`, with `\`-escapes), checks
//!   each field is supported for a resource, and matches objects through
//!   [`field_value`], the per-resource table of selectable fields.
//!
//! * [`label_selector_matches`] and [`node_requirement_matches`] apply the typed
//!   `metav1.LabelSelector` and `NodeSelectorRequirement` objects controllers, the
//!   scheduler and network policy hold.
//!
//! Error messages are upstream's, word for word: clients print them.

mod error;
mod fields;
mod go_format;
mod labels;
mod objects;
mod validation;

pub use error::SelectorError;
pub use fields::{custom_field_value, field_value, FieldOp, FieldSelector, FieldTerm};
pub use labels::{LabelSelector, Operator, Requirement};
pub use objects::{
    label_selector_is_empty, label_selector_matches, node_requirement_matches,
    node_selector_term_matches, tolerates,
};
