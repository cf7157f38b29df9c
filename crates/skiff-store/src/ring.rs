//! The bounded, revision-ordered buffer of recent events that watches read from.

use std::collections::VecDeque;

use crate::error::StoreError;
use crate::object::{Event, Rev};

/// Recent events in revision order. Invariant: every event with `floor < rev <= last rev`
/// is present, so a watch may resume after any revision `>= floor`.
#[derive(Debug)]
pub(crate) struct EventRing {
    events: VecDeque<Event>,
    capacity: usize,
    floor: Rev,
}

impl EventRing {
    /// An empty ring whose oldest resumable revision is `floor`.
    pub(crate) fn new(capacity: usize, floor: Rev) -> Self {
        EventRing {
            events: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            floor,
        }
    }

    /// Oldest revision a watch may resume after.
    pub(crate) fn floor(&self) -> Rev {
        self.floor
    }

    /// Appends an event (revisions must increase), dropping the oldest beyond capacity.
    pub(crate) fn push(&mut self, event: Event) {
        self.events.push_back(event);
        while self.events.len() > self.capacity {
            match self.events.pop_front() {
                Some(old) => self.floor = old.rev,
                None => break,
            }
        }
    }

    /// Drops every event with `rev <= rev` and makes `rev` the new floor (never lowers it).
    pub(crate) fn compact_to(&mut self, rev: Rev) {
        while self.events.front().is_some_and(|e| e.rev <= rev) {
            self.events.pop_front();
        }
        self.floor = self.floor.max(rev);
    }

    /// Index of the first event after `after`, or Gone if events after it were dropped.
    pub(crate) fn position_after(&self, after: Rev) -> Result<usize, StoreError> {
        if after < self.floor {
            return Err(StoreError::Gone {
                requested: after,
                compacted: self.floor,
            });
        }
        Ok(self.events.partition_point(|e| e.rev <= after))
    }

    /// Events from index `start` on.
    pub(crate) fn iter_from(&self, start: usize) -> impl Iterator<Item = &Event> {
        self.events.range(start.min(self.events.len())..)
    }

    /// Number of buffered events.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::object::{EventType, StoredObject};

    fn ev(rev: Rev) -> Event {
        Event {
            rev,
            kind: EventType::Added,
            object: Arc::new(StoredObject {
                key: format!("/k/{rev}"),
                create_rev: rev,
                mod_rev: rev,
                data: Bytes::from_static(b"{}"),
            }),
            prev: None,
        }
    }

    fn revs_after(ring: &EventRing, after: Rev) -> Result<Vec<Rev>, Rev> {
        match ring.position_after(after) {
            Ok(i) => Ok(ring.iter_from(i).map(|e| e.rev).collect()),
            Err(StoreError::Gone { compacted, .. }) => Err(compacted),
            Err(other) => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn overflow_advances_floor_and_reports_gone() {
        let mut ring = EventRing::new(3, 1);
        for rev in 2..=6 {
            ring.push(ev(rev));
        }
        // Holds 4,5,6: resuming after 3 is fine, after 2 lost event 3.
        let cases: [(Rev, Result<Vec<Rev>, Rev>); 6] = [
            (1, Err(3)),
            (2, Err(3)),
            (3, Ok(vec![4, 5, 6])),
            (5, Ok(vec![6])),
            (6, Ok(vec![])),
            (100, Ok(vec![])),
        ];
        for (after, want) in cases {
            assert_eq!(revs_after(&ring, after), want, "after {after}");
        }
        assert_eq!(ring.len(), 3);
    }

    #[test]
    fn compact_to_drops_and_never_lowers_floor() {
        let mut ring = EventRing::new(10, 0);
        for rev in 1..=5 {
            ring.push(ev(rev));
        }
        ring.compact_to(3);
        assert_eq!(ring.floor(), 3);
        assert_eq!(revs_after(&ring, 3), Ok(vec![4, 5]));
        assert_eq!(revs_after(&ring, 2), Err(3));
        ring.compact_to(1);
        assert_eq!(ring.floor(), 3);
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let mut ring = EventRing::new(0, 0);
        ring.push(ev(1));
        assert_eq!(ring.len(), 0);
        assert_eq!(revs_after(&ring, 0), Err(1));
        assert_eq!(revs_after(&ring, 1), Ok(vec![]));
    }
}
