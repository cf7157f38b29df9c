//! Field selectors: the `fieldSelector` string syntax and per-resource selectable fields.

mod custom;
mod resources;
mod selector;

#[cfg(test)]
mod tests;

pub use custom::custom_field_value;
pub use resources::field_value;
pub use selector::{FieldOp, FieldSelector, FieldTerm};
