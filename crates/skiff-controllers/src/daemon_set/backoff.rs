//! Back-off for deleting failed daemon pods: a node whose kubelet keeps rejecting the pod
//! must not make the controller delete and recreate it in a hot loop (upstream's
//! failedPodsBackoff: 1 s doubling to 15 min, per DaemonSet generation and node).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

const INITIAL: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(15 * 60);

/// Delays per key, each with the time it was last bumped.
#[derive(Default)]
pub struct Backoff {
    entries: Mutex<HashMap<String, (Duration, Instant)>>,
}

impl Backoff {
    /// `Some(remaining)` while `key` is backing off at `now`.
    pub fn waiting(&self, key: &str, now: Instant) -> Option<Duration> {
        let m = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (delay, since) = m.get(key)?;
        let elapsed = now.saturating_duration_since(*since);
        (elapsed < *delay).then(|| *delay - elapsed)
    }

    /// Record an attempt for `key` at `now`: the first (or one after a long quiet spell)
    /// waits the initial delay, each later one twice the previous.
    pub fn bump(&self, key: &str, now: Instant) {
        let mut m = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Forget entries quiet for twice the maximum, as upstream's GC does.
        m.retain(|_, (_, since)| now.saturating_duration_since(*since) < 2 * MAX);
        let delay = match m.get(key) {
            Some((d, _)) => (*d * 2).min(MAX),
            None => INITIAL,
        };
        m.insert(key.to_string(), (delay, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(b.waiting("k", t0), None);
        b.bump("k", t0);
        assert_eq!(b.waiting("k", t0), Some(INITIAL));
        assert_eq!(b.waiting("k", t0 + INITIAL), None);
        b.bump("k", t0 + INITIAL);
        assert_eq!(b.waiting("k", t0 + INITIAL), Some(2 * INITIAL));
        for _ in 0..20 {
            b.bump("k", t0 + INITIAL);
        }
        assert_eq!(b.waiting("k", t0 + INITIAL), Some(MAX));
        assert_eq!(b.waiting("other", t0), None);
    }
}
