//! The storage interface the API server uses.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::error::StoreError;
use crate::object::{Rev, StoredObject};
use crate::watch::Watch;

/// A boxed, sendable future (no `futures` dependency needed).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Storage used by the API server. Writes are durable when the future resolves (acknowledged
/// writes survive kill -9 and power loss). Reads come from memory and see every acknowledged
/// write.
pub trait Store: Send + Sync + 'static {
    /// Creates `key`; fails AlreadyExists. The store sets `metadata.resourceVersion` (string).
    fn create(
        &self,
        key: String,
        value: Value,
    ) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>>;

    /// Replaces `key` if its mod_rev == `expected` (None = unconditional); NotFound or
    /// Conflict{current}.
    fn update(
        &self,
        key: String,
        expected: Option<Rev>,
        value: Value,
    ) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>>;

    /// Deletes `key` if its mod_rev == `expected` (None = unconditional); returns the deleted
    /// object with resourceVersion = the delete's revision. NotFound or Conflict{current}.
    fn delete(
        &self,
        key: String,
        expected: Option<Rev>,
    ) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>>;

    /// The current object at `key`.
    fn get(&self, key: &str) -> Option<Arc<StoredObject>>;

    /// Every object whose key starts with `prefix`, sorted by key, and the store revision of
    /// that snapshot.
    fn list(&self, prefix: &str) -> (Vec<Arc<StoredObject>>, Rev);

    /// Events with rev > `from` whose key starts with `prefix`, then live ones. Gone if
    /// `from` is older than the compaction point (so `from == 0` is Gone: callers list first).
    fn watch(&self, prefix: &str, from: Rev) -> Result<Watch, StoreError>;

    /// Revision of the last acknowledged write (1 for a fresh store, like etcd).
    fn current_revision(&self) -> Rev;

    /// Oldest revision a watch may start from (events after it are retained).
    fn compacted_revision(&self) -> Rev;

    /// Flushes and closes; later writes fail Closed. Idempotent.
    fn close(&self) -> BoxFuture<'_, ()>;
}
