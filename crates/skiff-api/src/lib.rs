//! Skiff's API machinery: resource registry, schemas, decoding, discovery and OpenAPI documents.
//! Types and pure logic only; no I/O, no HTTP, no storage.

pub mod decode;
pub mod discovery;
pub mod meta;
pub mod openapi;
pub mod registry;
pub mod schema;
pub mod status;

pub use registry::{Registry, ResourceInfo, SubresourceInfo};
pub use status::{ApiError, Cause};
