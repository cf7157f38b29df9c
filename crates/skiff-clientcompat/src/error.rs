//! Errors of the test harness.

use std::path::PathBuf;

/// Why the harness could not provide a running server.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Neither `SKIFF_BIN` nor the workspace target directory holds a `skiff` binary.
    #[error("no skiff binary found (looked at: {}); build it with `cargo build -p skiff` or set SKIFF_BIN", display_paths(.tried))]
    BinaryNotFound {
        /// Every path that was checked, in order.
        tried: Vec<PathBuf>,
    },
    /// `SKIFF_BIN` names a path that is not a file.
    #[error("SKIFF_BIN={} is not a file", .0.display())]
    BadSkiffBin(PathBuf),
    /// The binary given to start is not a file.
    #[error("{} is not a file (build it with `cargo build -p skiff`)", .0.display())]
    MissingBinary(PathBuf),
    /// A filesystem or process operation failed.
    #[error("{what}")]
    Io {
        /// What the harness was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The server exited before it became reachable.
    #[error("skiff server exited early ({status}); log:\n{log}")]
    ExitedEarly {
        /// Exit status as printed by std.
        status: String,
        /// The server's stderr so far.
        log: String,
    },
    /// The server did not write its kubeconfig and listen in time.
    #[error("skiff server not reachable after {seconds}s; log:\n{log}")]
    NotReady {
        /// How long the harness waited.
        seconds: u64,
        /// The server's stderr so far.
        log: String,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Wrap an I/O error with what the harness was doing.
pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}
