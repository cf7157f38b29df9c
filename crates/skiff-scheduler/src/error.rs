//! Scheduler errors.

use thiserror::Error;

/// Why the scheduler stopped or an API action failed.
#[derive(Debug, Error)]
pub enum SchedulerError {
    /// An API request failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done ("binding default/web to node-1").
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// A pod's WaitForFirstConsumer claims did not bind in time after the node was chosen.
    #[error("binding volumes of {pod}: claims {claims:?} not bound after {seconds}s")]
    VolumeBindTimeout {
        /// "namespace/name" of the pod.
        pod: String,
        /// The claims still unbound.
        claims: Vec<String>,
        /// How long was waited.
        seconds: u64,
    },
    /// Every watch stream ended, which the watcher never does while healthy.
    #[error("the watch streams of nodes and pods ended")]
    WatchesEnded,
}

impl SchedulerError {
    /// Wrap a client error with what was being done.
    pub fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> SchedulerError {
        let action = action.into();
        move |source| SchedulerError::Api { action, source }
    }

    /// The HTTP status of an API error, if it has one.
    pub fn http_code(&self) -> Option<u16> {
        match self {
            SchedulerError::Api {
                source: kube::Error::Api(status),
                ..
            } => Some(status.code),
            _ => None,
        }
    }
}
