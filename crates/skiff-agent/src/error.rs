//! The agent's error type.

/// Why the agent (or one of its parts) failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A request to the API server failed.
    #[error("api request failed: {0}")]
    Kube(#[from] kube::Error),
    /// Local I/O failed (data dir, volumes, logs).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The container runtime failed.
    #[error("runtime: {0}")]
    Runtime(#[from] skiff_cri::RuntimeError),
    /// The image service failed.
    #[error("image: {0}")]
    Image(#[from] skiff_cri::ImageError),
    /// The configuration is unusable.
    #[error("invalid agent configuration: {0}")]
    Config(String),
}
