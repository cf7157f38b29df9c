//! Exponential back-off per key (image pulls, container restarts), as the kubelet does it.

use std::time::Duration;

use tokio::time::Instant;

/// Doubling back-off between `initial` and `max`; reset after `reset_after` without failure.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    reset_after: Duration,
    current: Option<Duration>,
    last_failure: Option<Instant>,
}

impl Backoff {
    /// A back-off starting at `initial`, capped at `max`.
    pub fn new(initial: Duration, max: Duration, reset_after: Duration) -> Self {
        Backoff {
            initial,
            max,
            reset_after,
            current: None,
            last_failure: None,
        }
    }

    /// Record a failure now; returns how long to wait before the next attempt.
    pub fn failure(&mut self, now: Instant) -> Duration {
        if let Some(last) = self.last_failure {
            if now.duration_since(last) > self.reset_after {
                self.current = None;
            }
        }
        let next = match self.current {
            None => self.initial,
            Some(d) => (d * 2).min(self.max),
        };
        self.current = Some(next);
        self.last_failure = Some(now);
        next
    }

    /// Forget past failures.
    pub fn reset(&mut self) {
        self.current = None;
        self.last_failure = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let mut b = Backoff::new(
            Duration::from_secs(10),
            Duration::from_secs(300),
            Duration::from_secs(600),
        );
        let t = Instant::now();
        let got: Vec<u64> = (0..7).map(|_| b.failure(t).as_secs()).collect();
        assert_eq!(got, vec![10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(b.failure(t + Duration::from_secs(601)).as_secs(), 10);
    }
}
