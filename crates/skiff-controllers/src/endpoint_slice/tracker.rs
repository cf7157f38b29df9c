//! Which slice writes the cache has not shown yet (upstream's endpointSliceTracker): a
//! reconcile over a cache that misses a slice it just created would create it again, so
//! it waits until the cache has caught up.

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Per Service: slice name → the resourceVersion written (`None`: deleted).
#[derive(Default)]
pub struct Tracker {
    written: Mutex<HashMap<String, HashMap<String, Option<String>>>>,
}

/// Whether the cached resourceVersion `have` is at least `want` (numeric when both parse).
fn caught_up(have: &str, want: &str) -> bool {
    match (have.parse::<u64>(), want.parse::<u64>()) {
        (Ok(h), Ok(w)) => h >= w,
        _ => have == want,
    }
}

impl Tracker {
    /// Remember a write of slice `name` for Service `key` (`rv` None for a deletion).
    pub fn wrote(&self, key: &str, name: String, rv: Option<String>) {
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        w.entry(key.to_string()).or_default().insert(name, rv);
    }

    /// Whether `cached` (the Service's slices in the cache) misses a write; writes the
    /// cache shows are forgotten.
    pub fn stale(&self, key: &str, cached: &[Arc<EndpointSlice>]) -> bool {
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let Some(pending) = w.get_mut(key) else {
            return false;
        };
        pending.retain(|name, rv| {
            let seen = cached.iter().find(|s| &s.name_any() == name);
            match (rv, seen) {
                (None, None) => false,
                (None, Some(_)) => true,
                (Some(_), None) => true,
                (Some(want), Some(s)) => {
                    !caught_up(&s.resource_version().unwrap_or_default(), want)
                }
            }
        });
        let stale = !pending.is_empty();
        if !stale {
            w.remove(key);
        }
        stale
    }

    /// Forget a deleted Service.
    pub fn forget(&self, key: &str) {
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        w.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(name: &str, rv: &str) -> Arc<EndpointSlice> {
        let mut s = EndpointSlice::default();
        s.metadata.name = Some(name.into());
        s.metadata.resource_version = Some(rv.into());
        Arc::new(s)
    }

    #[test]
    fn a_cache_is_stale_until_it_shows_every_write() {
        let t = Tracker::default();
        t.wrote("ns/s", "a".into(), Some("10".into()));
        t.wrote("ns/s", "b".into(), None);
        assert!(t.stale("ns/s", &[slice("a", "9"), slice("b", "3")]));
        assert!(t.stale("ns/s", &[slice("a", "10"), slice("b", "3")]));
        assert!(!t.stale("ns/s", &[slice("a", "11")]));
        assert!(!t.stale("ns/other", &[]));
    }
}
