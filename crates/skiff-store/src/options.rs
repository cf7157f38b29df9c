//! Tuning knobs of a store.

use std::time::Duration;

/// Options for [`crate::SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Events kept in memory (and on disk) for watches; a watch may resume from any revision
    /// within the last `history` writes. Memory grows with it (old versions stay alive).
    pub history: usize,
    /// How often events that fell out of the in-memory ring are deleted from disk.
    pub compaction_interval: Duration,
    /// Most writes committed in one transaction (one fsync).
    pub batch_max: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            history: 100_000,
            compaction_interval: Duration::from_secs(60),
            batch_max: 512,
        }
    }
}
