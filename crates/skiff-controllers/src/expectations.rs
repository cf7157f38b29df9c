//! Controller expectations: what a controller has asked the API to create or delete and
//! not yet seen in its cache. While expectations are pending the controller does not act
//! on counts from the cache, so a lagging cache never makes it create (or delete) twice.
//!
//! Unlike upstream's counters, pending writes are tracked by pod name: the cache's event
//! handler reports every pod it sees, so an observation made before the write's response
//! arrives still counts.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Pending expectations older than this are given up on (upstream's ExpectationsTimeout),
/// so a lost watch event delays a controller instead of wedging it.
pub const TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Pending {
    creates: HashSet<String>,
    deletes: HashSet<String>,
    seen_created: HashSet<String>,
    seen_gone: HashSet<String>,
    since: Option<Instant>,
}

/// Expectations of one controller, keyed by the owner's `namespace/name`.
#[derive(Default)]
pub struct Expectations {
    inner: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Pending>) -> R) -> R {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut m)
    }

    /// Open (or refresh) the key's expectations before writes go out, so observations
    /// racing the writes are recorded.
    pub fn begin(&self, key: &str) {
        self.with(|m| {
            let p = m.entry(key.to_string()).or_default();
            p.since = Some(Instant::now());
        })
    }

    /// A pod this owner created.
    pub fn created(&self, key: &str, name: &str) {
        self.with(|m| {
            m.entry(key.to_string())
                .or_default()
                .creates
                .insert(name.to_string());
        })
    }

    /// A pod this owner asked to delete.
    pub fn deleting(&self, key: &str, name: &str) {
        self.with(|m| {
            m.entry(key.to_string())
                .or_default()
                .deletes
                .insert(name.to_string());
        })
    }

    /// A delete that failed: no event will come for it.
    pub fn delete_failed(&self, key: &str, name: &str) {
        self.with(|m| {
            if let Some(p) = m.get_mut(key) {
                p.deletes.remove(name);
            }
        })
    }

    /// The cache saw pod `name` controlled by `key`; `gone` when it was deleted or is
    /// terminating.
    pub fn observe(&self, key: &str, name: &str, gone: bool) {
        self.with(|m| {
            if let Some(p) = m.get_mut(key) {
                p.seen_created.insert(name.to_string());
                if gone {
                    p.seen_gone.insert(name.to_string());
                }
            }
        })
    }

    /// Whether the owner may act on its cache: every write it made has been observed, or
    /// the expectations timed out. Satisfied expectations are dropped.
    pub fn satisfied(&self, key: &str) -> bool {
        self.with(|m| {
            let Some(p) = m.get(key) else { return true };
            let done = p.creates.iter().all(|n| p.seen_created.contains(n))
                && p.deletes.iter().all(|n| p.seen_gone.contains(n));
            let expired = p.since.is_some_and(|s| s.elapsed() > TIMEOUT);
            if done || expired {
                m.remove(key);
                true
            } else {
                false
            }
        })
    }

    /// Forget an owner that was deleted.
    pub fn forget(&self, key: &str) {
        self.with(|m| {
            m.remove(key);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_block_until_observed() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/rs"));
        e.begin("ns/rs");
        // An observation that races ahead of the create's response still counts.
        e.observe("ns/rs", "rs-aaaaa", false);
        e.created("ns/rs", "rs-aaaaa");
        e.created("ns/rs", "rs-bbbbb");
        assert!(!e.satisfied("ns/rs"));
        e.observe("ns/rs", "rs-bbbbb", false);
        assert!(e.satisfied("ns/rs"));

        e.begin("ns/rs");
        e.deleting("ns/rs", "rs-aaaaa");
        e.deleting("ns/rs", "rs-bbbbb");
        e.observe("ns/rs", "rs-aaaaa", false);
        assert!(!e.satisfied("ns/rs"));
        e.observe("ns/rs", "rs-aaaaa", true);
        e.delete_failed("ns/rs", "rs-bbbbb");
        assert!(e.satisfied("ns/rs"));
    }
}
