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
//! Error messages are upstream's, word for word: clients print them.

mod error;
mod fields;
mod go_format;
mod labels;
mod validation;

pub use error::SelectorError;
pub use fields::{custom_field_value, field_value, FieldOp, FieldSelector, FieldTerm};
pub use labels::{LabelSelector, Operator, Requirement};
