//! Controller errors.

use thiserror::Error;

/// Why a reconcile or a controller failed.
#[derive(Debug, Error)]
pub enum ControllerError {
    /// An API request failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done ("binding claim default/data").
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The shared caches never filled (their watches stopped).
    #[error("the {0} cache stopped before it was ready")]
    CacheNotReady(&'static str),
    /// A controller stream ended while the manager was running.
    #[error("controller {0} stopped")]
    Stopped(&'static str),
}

impl ControllerError {
    /// Wrap a client error with what was being done.
    pub fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> ControllerError {
        let action = action.into();
        move |source| ControllerError::Api { action, source }
    }

    /// The HTTP status of an API error, if it has one.
    pub fn http_code(&self) -> Option<u16> {
        match self {
            ControllerError::Api {
                source: kube::Error::Api(status),
                ..
            } => Some(status.code),
            _ => None,
        }
    }
}
