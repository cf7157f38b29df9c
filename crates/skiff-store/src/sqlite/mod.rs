//! The SQLite-backed store: durable copy on disk, serving copy in memory.

mod schema;
mod writer;

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::cache::Cache;
use crate::encode::check_value;
use crate::error::StoreError;
use crate::object::{Rev, StoredObject};
use crate::options::StoreOptions;
use crate::store::{BoxFuture, Store};
use crate::watch::Watch;
use writer::{Command, Op, Writer};

/// A [`Store`] kept in SQLite (WAL, synchronous=FULL) and served from memory.
#[derive(Debug)]
pub struct SqliteStore {
    cache: Arc<Cache>,
    commands: mpsc::Sender<Command>,
}

/// Ends watches even if the writer thread dies unexpectedly.
struct StopOnDrop(Arc<Cache>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.mark_stopped();
    }
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`; revisions continue from the last run. Fails
    /// if another process (or store in this process) has the file open.
    pub fn open(path: &Path, opts: StoreOptions) -> Result<Arc<Self>, StoreError> {
        Self::start(Some(path), opts)
    }

    /// A store in SQLite's memory: same semantics, no durability. For tests.
    pub fn open_in_memory(opts: StoreOptions) -> Result<Arc<Self>, StoreError> {
        Self::start(None, opts)
    }

    fn start(path: Option<&Path>, opts: StoreOptions) -> Result<Arc<Self>, StoreError> {
        let conn = schema::open_connection(path)?;
        let loaded = schema::load(&conn, opts.history)?;
        tracing::info!(
            path = ?path,
            objects = loaded.state.kv.len(),
            events = loaded.state.ring.len(),
            revision = loaded.state.rev,
            "store opened"
        );
        let cache = Arc::new(Cache::new(loaded.state));
        let (commands, rx) = mpsc::channel();
        let writer = Writer::new(conn, Arc::clone(&cache), rx, opts, loaded.disk_compacted);
        let guard = StopOnDrop(Arc::clone(&cache));
        let span = tracing::info_span!("store_writer", path = ?path);
        std::thread::Builder::new()
            .name("skiff-store-writer".into())
            .spawn(move || {
                let _guard = guard;
                let _span = span.entered();
                writer.run();
            })
            .map_err(StoreError::backend)?;
        Ok(Arc::new(SqliteStore { cache, commands }))
    }

    /// Drops watch history up to `rev` (capped at the current revision) in memory and on
    /// disk, like kube-apiserver's periodic etcd compaction; returns the new compaction point.
    pub fn compact(&self, rev: Rev) -> BoxFuture<'_, Result<Rev, StoreError>> {
        Box::pin(async move {
            self.cache.check_open()?;
            let (reply, rx) = oneshot::channel();
            self.commands
                .send(Command::Compact { rev, reply })
                .map_err(|_| StoreError::Closed)?;
            rx.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    /// Queues one write and waits until it is durable (or rejected).
    fn submit(&self, key: String, op: Op) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>> {
        Box::pin(async move {
            self.cache.check_open()?;
            let (reply, rx) = oneshot::channel();
            self.commands
                .send(Command::Write { key, op, reply })
                .map_err(|_| StoreError::Closed)?;
            // A dropped reply means the writer stopped before reaching this write.
            rx.await.unwrap_or(Err(StoreError::Closed))
        })
    }
}

impl Store for SqliteStore {
    fn create(
        &self,
        key: String,
        value: Value,
    ) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>> {
        if let Err(err) = check_value(&key, &value) {
            return Box::pin(async move { Err(err) });
        }
        self.submit(key, Op::Create(value))
    }

    fn update(
        &self,
        key: String,
        expected: Option<Rev>,
        value: Value,
    ) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>> {
        if let Err(err) = check_value(&key, &value) {
            return Box::pin(async move { Err(err) });
        }
        self.submit(key, Op::Update(expected, value))
    }

    fn delete(
        &self,
        key: String,
        expected: Option<Rev>,
    ) -> BoxFuture<'_, Result<Arc<StoredObject>, StoreError>> {
        self.submit(key, Op::Delete(expected))
    }

    fn get(&self, key: &str) -> Option<Arc<StoredObject>> {
        self.cache.get(key)
    }

    fn list(&self, prefix: &str) -> (Vec<Arc<StoredObject>>, Rev) {
        self.cache.list(prefix)
    }

    fn watch(&self, prefix: &str, from: Rev) -> Result<Watch, StoreError> {
        Watch::start(Arc::clone(&self.cache), prefix, from)
    }

    fn current_revision(&self) -> Rev {
        self.cache.current_revision()
    }

    fn compacted_revision(&self) -> Rev {
        self.cache.compacted_revision()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.cache.begin_close();
            let (reply, rx) = oneshot::channel();
            if self.commands.send(Command::Close { reply }).is_ok() {
                // Err only if the writer is already gone, i.e. closed.
                let _ = rx.await;
            }
        })
    }
}

/// An in-memory SQLite store with default options, for tests of other crates.
pub fn memory_store() -> Result<Arc<SqliteStore>, StoreError> {
    SqliteStore::open_in_memory(StoreOptions::default())
}
