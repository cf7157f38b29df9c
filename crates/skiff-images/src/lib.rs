//! The node agent's OCI image store: a content store in OCI image layout, layers unpacked
//! once each for overlayfs, `docker save` / OCI archive import, registry pulls (mirrors,
//! insecure registries, bearer and basic auth) and garbage collection.
//! [`ImageStore`] implements [`skiff_cri::ImageService`].

#![warn(missing_docs)]

pub mod auth;
pub mod content;
pub mod db;
pub mod decompress;
pub mod digest;
pub mod gc;
pub mod http;
mod import;
pub mod layers;
pub mod manifest;
mod pull;
pub mod reference;
pub mod registry;
pub mod registry_config;
mod store;
pub mod unpack;

pub use digest::Digest;
pub use gc::GcReport;
pub use reference::Reference;
pub use registry_config::RegistryConfig;
pub use store::ImageStore;
