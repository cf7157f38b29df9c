//! A `Store` decorator that records the latency of every write in the server's metrics.

use crate::metrics::Metrics;
use serde_json::Value;
use skiff_store::{BoxFuture, Rev, Store, StoreError, StoredObject, Watch};
use std::sync::Arc;
use std::time::Instant;

/// Wraps a store; reads pass through, writes are timed.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    /// Time the writes of `inner` into `metrics`.
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> MeteredStore {
        MeteredStore { inner, metrics }
    }

    fn timed<'a>(
        &'a self,
        op: &'static str,
        fut: BoxFuture<'a, Result<Arc<StoredObject>, StoreError>>,
    ) -> BoxFuture<'a, Result<Arc<StoredObject>, StoreError>> {
        Box::pin(async move {
            let started = Instant::now();
            let r = fut.await;
            self.metrics.store_op(op, started.elapsed().as_secs_f64());
            r
        })
    }
}

impl Store for MeteredStore {
    fn create(
        &self,
        key: String,
        value: Value,
    ) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>> {
        self.timed("create", self.inner.create(key, value))
    }
    fn update(
        &self,
        key: String,
        expected: Option<Rev>,
        value: Value,
    ) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>> {
        self.timed("update", self.inner.update(key, expected, value))
    }
    fn delete(
        &self,
        key: String,
        expected: Option<Rev>,
    ) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>> {
        self.timed("delete", self.inner.delete(key, expected))
    }
    fn get(&self, key: &str) -> Option<Arc<StoredObject>> {
        self.inner.get(key)
    }
    fn list(&self, prefix: &str) -> (Vec<Arc<StoredObject>>, Rev) {
        self.inner.list(prefix)
    }
    fn watch(&self, prefix: &str, from: Rev) -> Result<Watch, StoreError> {
        self.inner.watch(prefix, from)
    }
    fn current_revision(&self) -> Rev {
        self.inner.current_revision()
    }
    fn compacted_revision(&self) -> Rev {
        self.inner.compacted_revision()
    }
    fn close(&self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }
}
