//! Client-library compatibility harness for Skiff's API server.
//!
//! The tests in `tests/` drive a real `skiff server` process with kube-rs, the way a
//! third-party controller would; the Python client tests in `tests/clients/python` do the
//! same with the official `kubernetes` package. This library only starts and stops the
//! server: everything a client observes goes over HTTPS.

mod binary;
mod error;
mod server;

pub use binary::locate_skiff_binary;
pub use error::HarnessError;
pub use server::SkiffServer;
