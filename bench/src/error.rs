//! Errors of the benchmark harness.

use std::path::PathBuf;

/// Everything that can stop a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file (PEM, /proc status) could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file (PEM, /proc status) did not hold what we need.
    #[error("{path}: {what}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What was missing.
        what: &'static str,
    },
    /// rustls rejected the client configuration.
    #[error("building the TLS client configuration")]
    Tls(#[source] rustls::Error),
    /// A process (skiff, etcd) could not be started.
    #[error("starting {program}")]
    Spawn {
        /// The program.
        program: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A process did not become ready in time.
    #[error("{what} did not become ready within {secs} s{detail}")]
    NotReady {
        /// The process.
        what: String,
        /// How long we waited.
        secs: u64,
        /// The last error seen, if any (already formatted with a leading separator).
        detail: String,
    },
    /// A process exited while we still needed it.
    #[error("{what} exited early: {status}")]
    Exited {
        /// The process.
        what: String,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// Connecting a TCP socket failed.
    #[error("connecting to {addr}")]
    Connect {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {addr}")]
    Handshake {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An HTTP exchange failed at the protocol level.
    #[error("HTTP {context}")]
    Http {
        /// What was being done.
        context: &'static str,
        /// The hyper error.
        #[source]
        source: hyper::Error,
    },
    /// A request could not be built (bad path or header).
    #[error("building a request")]
    Request(#[source] http::Error),
    /// The server answered with an unexpected status.
    #[error("{method} {path}: expected {expected}, got {status}: {body}")]
    Status {
        /// The method.
        method: String,
        /// The path.
        path: String,
        /// The expected status.
        expected: u16,
        /// The received status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// A response body was not the JSON we expected.
    #[error("{context}: unexpected response body")]
    Body {
        /// What was being read.
        context: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A workload finished with failed requests.
    #[error("{phase}: {failed} of {total} requests failed; first failure: {first}")]
    Failures {
        /// The benchmark phase.
        phase: String,
        /// Failed requests.
        failed: usize,
        /// All requests.
        total: usize,
        /// The first failure.
        first: String,
    },
    /// A worker task panicked or was cancelled.
    #[error("a worker task failed")]
    Join(#[source] tokio::task::JoinError),
    /// The run was interrupted (SIGINT).
    #[error("interrupted")]
    Interrupted,
    /// A node-side benchmark step failed.
    #[error("{0}")]
    Node(String),
}
