//! The scheduling queue: an active heap ordered by priority then creation time, a
//! back-off area (1 s doubling to 10 s) and an unschedulable area flushed by cluster
//! events or after five minutes.

use crate::pod_info::PodInfo;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// First back-off after a failed attempt.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Back-off ceiling.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods are retried at least this often even without events.
pub const UNSCHEDULABLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Where a queued pod waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    Active,
    Backoff,
    Unschedulable,
    /// Popped and being scheduled; updates are recorded but it is not re-queued.
    InFlight,
}

#[derive(Debug, Clone)]
struct Entry {
    pod: Arc<PodInfo>,
    attempts: u32,
    area: Area,
    /// Back-off expiry or time it became unschedulable.
    since: Instant,
    /// Heap generation; stale heap items carry an older one.
    generation: u64,
}

#[derive(Debug)]
struct HeapItem {
    priority: i32,
    created: Option<k8s_openapi::jiff::Timestamp>,
    seq: u64,
    key: String,
    generation: u64,
}

impl PartialEq for HeapItem {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapItem {}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapItem {
    /// Max-heap: higher priority first, then older creation, then insertion order.
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.created.cmp(&self.created))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A popped pod with its attempt count.
#[derive(Debug, Clone)]
pub struct QueuedPod {
    /// The pod.
    pub pod: Arc<PodInfo>,
    /// Scheduling attempts so far, including this one.
    pub attempts: u32,
}

/// The scheduling queue. Pure: callers pass the current time.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    entries: HashMap<String, Entry>,
    heap: BinaryHeap<HeapItem>,
    seq: u64,
}

/// Back-off after `attempts` failed attempts: 1 s, 2 s, 4 s, 8 s, 10 s, ...
pub fn backoff_for(attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(8);
    (INITIAL_BACKOFF * (1u32 << shift)).min(MAX_BACKOFF)
}

impl SchedulingQueue {
    /// An empty queue.
    pub fn new() -> SchedulingQueue {
        SchedulingQueue::default()
    }

    fn push_active(&mut self, key: &str) {
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        self.seq += 1;
        e.area = Area::Active;
        e.generation = self.seq;
        self.heap.push(HeapItem {
            priority: e.pod.priority,
            created: e.pod.created,
            seq: self.seq,
            key: key.to_string(),
            generation: self.seq,
        });
    }

    /// Add a new pending pod or update a queued one. An updated unschedulable pod is
    /// retried (its update may have fixed it); an in-flight pod only records the update.
    pub fn add_or_update(&mut self, pod: PodInfo, now: Instant) {
        let key = pod.key();
        let pod = Arc::new(pod);
        match self.entries.get_mut(&key) {
            None => {
                self.entries.insert(
                    key.clone(),
                    Entry {
                        pod,
                        attempts: 0,
                        area: Area::Active,
                        since: now,
                        generation: 0,
                    },
                );
                self.push_active(&key);
            }
            Some(e) => {
                let reprioritized = e.pod.priority != pod.priority;
                let changed = e.pod.spec_hash != pod.spec_hash;
                e.pod = pod;
                match e.area {
                    Area::Unschedulable if changed => {
                        if e.since + backoff_for(e.attempts) <= now {
                            self.push_active(&key);
                        } else {
                            e.area = Area::Backoff;
                            e.since += backoff_for(e.attempts);
                        }
                    }
                    Area::Active if reprioritized => self.push_active(&key),
                    _ => {}
                }
            }
        }
    }

    /// Forget a pod (deleted or bound by someone else).
    pub fn delete(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Whether the queue tracks the pod (in any area, including in flight).
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Move expired back-offs and timed-out unschedulable pods to the active heap.
    pub fn flush(&mut self, now: Instant) {
        let due: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| match e.area {
                Area::Backoff => e.since <= now,
                Area::Unschedulable => e.since + UNSCHEDULABLE_TIMEOUT <= now,
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            self.push_active(&k);
        }
    }

    /// Pop the most important active pod; it stays tracked as in flight until
    /// `done`, `requeue_backoff` or `requeue_unschedulable`.
    pub fn pop(&mut self, now: Instant) -> Option<QueuedPod> {
        self.flush(now);
        while let Some(item) = self.heap.pop() {
            let Some(e) = self.entries.get_mut(&item.key) else {
                continue;
            };
            if e.area != Area::Active || e.generation != item.generation {
                continue;
            }
            e.area = Area::InFlight;
            e.attempts += 1;
            return Some(QueuedPod {
                pod: e.pod.clone(),
                attempts: e.attempts,
            });
        }
        None
    }

    /// Put a pod straight into back-off (its binding failed after it left the queue).
    pub fn add_backoff(&mut self, pod: Arc<PodInfo>, attempts: u32, now: Instant) {
        let key = pod.key();
        let since = now + backoff_for(attempts);
        self.entries.insert(
            key,
            Entry {
                pod,
                attempts,
                area: Area::Backoff,
                since,
                generation: 0,
            },
        );
    }

    /// The attempt succeeded (pod assumed): stop tracking it.
    pub fn done(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// The attempt failed with an error: retry after back-off.
    pub fn requeue_backoff(&mut self, key: &str, now: Instant) {
        if let Some(e) = self.entries.get_mut(key) {
            e.area = Area::Backoff;
            e.since = now + backoff_for(e.attempts);
        }
    }

    /// The pod fits nowhere: wait for a relevant cluster event (or the timeout).
    pub fn requeue_unschedulable(&mut self, key: &str, now: Instant) {
        if let Some(e) = self.entries.get_mut(key) {
            e.area = Area::Unschedulable;
            e.since = now;
        }
    }

    /// A cluster event that may make unschedulable pods fit (node added or changed, pod
    /// deleted): move them to back-off, or to active if their back-off already passed.
    pub fn move_all_unschedulable(&mut self, now: Instant) {
        let keys: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.area == Area::Unschedulable)
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            let Some(e) = self.entries.get_mut(&k) else {
                continue;
            };
            let until = e.since + backoff_for(e.attempts);
            if until <= now {
                self.push_active(&k);
            } else {
                e.area = Area::Backoff;
                e.since = until;
            }
        }
    }

    /// When the next back-off or unschedulable timeout expires, if any.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter_map(|e| match e.area {
                Area::Backoff => Some(e.since),
                Area::Unschedulable => Some(e.since + UNSCHEDULABLE_TIMEOUT),
                _ => None,
            })
            .min()
    }

    /// Number of pods waiting in the active heap.
    pub fn active_len(&self) -> usize {
        self.entries
            .values()
            .filter(|e| e.area == Area::Active)
            .count()
    }

    /// Number of pods tracked in any area.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no pod is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::pod;

    fn p(name: &str, priority: i32, created_s: i64) -> PodInfo {
        let mut p = pod(name, 0, 0);
        p.priority = priority;
        p.created = k8s_openapi::jiff::Timestamp::from_second(created_s).ok();
        p
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        let got: Vec<u64> = (1..=6).map(|a| backoff_for(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn pops_by_priority_then_age() {
        let now = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(p("low-old", 0, 1), now);
        q.add_or_update(p("high", 100, 5), now);
        q.add_or_update(p("low-new", 0, 3), now);
        let order: Vec<String> = std::iter::from_fn(|| q.pop(now))
            .map(|q| q.pod.name.clone())
            .collect();
        assert_eq!(order, vec!["high", "low-old", "low-new"]);
    }

    #[test]
    fn backoff_delays_retry() {
        let now = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(p("a", 0, 1), now);
        assert!(q.pop(now).is_some());
        q.requeue_backoff("default/a", now);
        assert!(q.pop(now + Duration::from_millis(999)).is_none());
        let again = q.pop(now + Duration::from_secs(1));
        assert_eq!(again.map(|x| x.attempts), Some(2));
        q.requeue_backoff("default/a", now);
        assert!(q.pop(now + Duration::from_millis(1999)).is_none());
        assert!(q.pop(now + Duration::from_secs(2)).is_some());
    }

    #[test]
    fn unschedulable_waits_for_an_event_or_the_timeout() {
        let now = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(p("a", 0, 1), now);
        q.pop(now);
        q.requeue_unschedulable("default/a", now);
        assert!(q.pop(now + Duration::from_secs(60)).is_none());
        q.move_all_unschedulable(now + Duration::from_secs(60));
        assert!(q.pop(now + Duration::from_secs(60)).is_some());
        q.requeue_unschedulable("default/a", now);
        assert_eq!(q.next_wakeup(), Some(now + UNSCHEDULABLE_TIMEOUT));
        assert!(q.pop(now + UNSCHEDULABLE_TIMEOUT).is_some());
    }

    #[test]
    fn deleted_pods_are_not_popped() {
        let now = Instant::now();
        let mut q = SchedulingQueue::new();
        q.add_or_update(p("a", 0, 1), now);
        q.delete("default/a");
        assert!(q.pop(now).is_none());
        assert!(q.is_empty());
    }
}
