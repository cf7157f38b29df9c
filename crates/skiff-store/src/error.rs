//! Errors returned by the store.

use std::sync::Arc;

use crate::object::{Rev, StoredObject};

/// A boxed, shareable backend failure (SQLite, I/O, ...). Shared so one failed batch can
/// report the same cause to every waiter.
pub type BackendError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a store operation can fail with; the API server maps each to a `Status`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The key does not exist (404 NotFound).
    #[error("key not found")]
    NotFound,
    /// `create` found the key already present (409 AlreadyExists).
    #[error("key already exists")]
    AlreadyExists,
    /// The object's current revision differs from the expected one (409 Conflict).
    #[error("revision conflict: current revision is {}", current.mod_rev)]
    Conflict {
        /// The object as it is now, so the caller can retry or report.
        current: Arc<StoredObject>,
    },
    /// The requested revision is older than the oldest retained event (410 Gone).
    #[error("revision {requested} is compacted (oldest retained is {compacted})")]
    Gone {
        /// The revision the caller asked to start after.
        requested: Rev,
        /// The store's compaction point at the time of the request.
        compacted: Rev,
    },
    /// The value cannot be stored (not a JSON object, bad metadata, empty key).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// The durable backend failed; the operation did not take effect unless stated otherwise.
    #[error("storage backend error: {0}")]
    Backend(#[source] BackendError),
    /// The store was closed; no more writes are accepted.
    #[error("store is closed")]
    Closed,
}

impl StoreError {
    /// Wraps any backend error.
    pub fn backend<E: std::error::Error + Send + Sync + 'static>(err: E) -> Self {
        StoreError::Backend(Arc::new(err))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::backend(err)
    }
}
