//! Integration tests of skiff-store through its public API (one binary: cheap linking).

mod concurrency;
mod crud;
mod durability;
mod failure;
mod watch;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use skiff_store::{Event, SqliteStore, StoreOptions, Watch};

/// Options with a short compaction interval so tests exercise it.
pub fn opts(history: usize) -> StoreOptions {
    StoreOptions {
        history,
        compaction_interval: Duration::from_millis(50),
        batch_max: 64,
    }
}

/// Opens the store file inside `dir`.
pub fn open(dir: &Path, history: usize) -> Arc<SqliteStore> {
    SqliteStore::open(&dir.join("state.db"), opts(history)).expect("open store")
}

/// A small ConfigMap-like object.
pub fn cm(name: &str, data: &str) -> Value {
    json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"default"},"data":{"k":data}})
}

/// Next event, failing the test instead of hanging.
pub async fn next_event(watch: &mut Watch) -> Event {
    match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(err))) => panic!("watch error: {err}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("timed out waiting for an event"),
    }
}

/// Asserts that no event arrives within a short while.
pub async fn assert_quiet(watch: &mut Watch) {
    if let Ok(got) = tokio::time::timeout(Duration::from_millis(100), watch.next()).await {
        panic!("expected no event, got {got:?}");
    }
}

/// `metadata.resourceVersion` of a stored value.
pub fn rv_of(value: &Value) -> &str {
    value["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("<none>")
}
