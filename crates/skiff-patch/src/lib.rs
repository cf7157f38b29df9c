//! Patch engines for the Skiff API server: RFC 6902 JSON patch, RFC 7386 merge patch,
//! Kubernetes strategic merge patch and server-side apply with `managedFields`.
//!
//! Everything here is pure logic over `serde_json::Value`; schema facts (patch strategies,
//! merge keys, list types) come from the caller through [`PatchMeta`].

mod error;
mod meta;
#[cfg(test)]
mod test_meta;
mod value_eq;

pub mod apply;
pub mod json_patch;
pub mod merge_patch;
pub mod strategic;

pub use apply::{conflict_message, ApplyError, Conflict};
pub use error::PatchError;
pub use meta::{FieldInfo, ListKind, NoMeta, PatchMeta};
