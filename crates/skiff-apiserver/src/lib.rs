//! Skiff's API server: a kube-apiserver-compatible HTTPS front end over the object store.

pub mod auth;
pub mod convert;
pub mod gc;
pub mod handlers;
pub mod http;
pub mod join;
pub mod metered;
pub mod metrics;
pub mod metrics_api;
pub mod objects;
pub mod pki;
pub mod relay;
pub mod route;
pub mod sa_auth;
pub mod sa_token;
pub mod schema_meta;
pub mod server;
pub mod state;

pub use state::{ApiServer, Config};
