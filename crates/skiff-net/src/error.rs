//! Errors of node networking.

use std::path::Path;

/// What went wrong setting up or tearing down the network.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A local file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A command (`ip`, `nsenter`, `nft`) failed; its stderr.
    #[error("{command}: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed.
        stderr: String,
    },
    /// The pod subnet has no free address.
    #[error("no IP addresses available in range set: {0}")]
    Exhausted(String),
    /// The node has no pod subnet yet.
    #[error("network is not ready: {0}")]
    NotReady(String),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
}

impl NetError {
    /// An I/O error on `path`.
    pub fn io(what: &'static str, path: &Path, source: std::io::Error) -> NetError {
        NetError::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }
}
