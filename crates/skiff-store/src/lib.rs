//! Skiff's object store: etcd3-like MVCC semantics, as kube-apiserver relies on them, over an
//! embedded SQLite database with an in-memory serving copy and watch cache.
//!
//! # Model
//! One cluster-wide revision counter; every create, update and delete takes the next value
//! and stamps it into the object's `metadata.resourceVersion`. A fresh store is at revision
//! 1 (like etcd), so the first write is revision 2. Update and delete are compare-and-swap on
//! the object's `mod_rev`. A watch from revision R replays every change after R and then
//! streams live changes; if R is older than the compaction point it fails with Gone (410).
//!
//! # Reads
//! Every object lives in memory (`BTreeMap<String, Arc<StoredObject>>`), so `get` and `list`
//! never touch disk and a list of 10,000 objects is 10,000 `Arc` clones. Recent events live
//! in a bounded ring (`StoreOptions::history`); each watch is a cursor into that ring and
//! wakes on one `tokio::sync::watch` bump per committed batch, never one send per watcher
//! per event. A watcher whose cursor falls off the ring gets Gone and must relist.
//!
//! # Writes (group commit)
//! One thread owns the SQLite connection (WAL, `synchronous=FULL`, exclusive lock). It takes
//! every queued write (up to `batch_max`), checks each precondition against memory plus the
//! earlier writes of the same batch, assigns consecutive revisions, writes `kv` rows, `events`
//! rows and `meta.current_rev` in one transaction and commits once (one fsync). Only then
//! does it publish the batch to memory and reply to each waiter, so an acknowledged write is
//! on disk and every read after the acknowledgement sees it. A statement failure rolls the
//! whole batch back and publishes nothing; a failed COMMIT (unknown outcome on disk) also
//! stops all later writes until restart, because memory and disk could disagree.
//!
//! # Disk layout and recovery
//! Tables `kv(key, create_rev, mod_rev, value)`, `events(rev, key, type, create_rev, value,
//! prev_rev, prev_value)` and `meta(current_rev, compacted_rev)`. On open the whole `kv`
//! table and the last `history` events are loaded and revisions continue. Periodically (and
//! on [`SqliteStore::compact`]) events older than the ring are deleted from disk and
//! `compacted_rev` advances.

mod cache;
mod encode;
mod error;
mod object;
mod options;
mod ring;
mod sqlite;
mod store;
mod watch;

pub use error::{BackendError, StoreError};
pub use object::{Event, EventType, Rev, StoredObject};
pub use options::StoreOptions;
pub use sqlite::{memory_store, SqliteStore};
pub use store::{BoxFuture, Store};
pub use watch::Watch;
