//! Label selectors: the `labelSelector` string syntax and `metav1.LabelSelector` objects.

mod from_json;
mod lexer;
mod parser;
mod requirement;
mod selector;

#[cfg(test)]
mod tests;

pub use requirement::{Operator, Requirement};
pub use selector::LabelSelector;
