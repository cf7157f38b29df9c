//! Field selectors on custom resources (CRD `selectableFields`, GA in v1.32).
//!
//! A CRD version lists `selectableFields[].jsonPath` such as `.spec.color`;
//! clients select on the path without its leading dot (`spec.color`), on
//! `metadata.name`, and on `metadata.namespace` when the CRD is namespaced
//! (apiextensions' `crConverter.ConvertFieldLabel`).

use serde_json::Value;

use super::selector::{FieldOp, FieldSelector};
use crate::SelectorError;

/// The field label a `selectableFields[].jsonPath` is selected by.
fn label_of(json_path: &str) -> &str {
    json_path.strip_prefix('.').unwrap_or(json_path)
}

/// The value of a custom resource field as upstream exposes it: strings
/// as-is, integers and booleans formatted like Go; absent or other types
/// read as "".
pub fn custom_field_value(obj: &Value, field: &str) -> String {
    let found = field.split('.').try_fold(obj, |v, k| v.get(k));
    match found {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(|i| i.to_string())
            .or_else(|| n.as_u64().map(|u| u.to_string()))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

impl FieldSelector {
    /// Check every field is `metadata.name`, `metadata.namespace` (namespaced
    /// CRDs only) or one of the served version's `selectableFields` JSON
    /// paths (given with or without the leading dot).
    pub fn validate_for_custom(
        &self,
        cluster_scoped: bool,
        selectable: &[&str],
    ) -> Result<(), SelectorError> {
        for t in self.terms() {
            let known = t.field == "metadata.name"
                || (!cluster_scoped && t.field == "metadata.namespace")
                || selectable.iter().any(|p| label_of(p) == t.field);
            if !known {
                return Err(SelectorError::UnsupportedField {
                    field: t.field.clone(),
                    message: format!("field label not supported: {}", t.field),
                });
            }
        }
        Ok(())
    }

    /// Whether a custom resource matches; call
    /// [`FieldSelector::validate_for_custom`] first to reject unknown fields.
    pub fn matches_custom(&self, obj: &Value) -> bool {
        self.terms().iter().all(|t| {
            let have = custom_field_value(obj, &t.field);
            match t.op {
                FieldOp::Equals => have == t.value,
                FieldOp::NotEquals => have != t.value,
            }
        })
    }
}
