//! Watch streams: a cursor into the shared event ring, woken once per published batch.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::watch;

use crate::cache::Cache;
use crate::error::StoreError;
use crate::object::{Event, Rev};

/// Matching events copied out per lock acquisition.
const FILL_MAX: usize = 256;
/// Ring entries inspected per lock acquisition, so a narrow watch cannot hold the lock long.
const SCAN_MAX: usize = 4096;

/// A live event stream for a key prefix; dropping it unregisters.
#[derive(Debug)]
pub struct Watch {
    cache: Arc<Cache>,
    prefix: String,
    /// Revision of the last ring entry inspected; events after it are still to come.
    cursor: Rev,
    buffer: VecDeque<Event>,
    wake: watch::Receiver<Rev>,
    done: bool,
}

impl Watch {
    /// Starts after `from`; Gone if events after it were already dropped.
    pub(crate) fn start(cache: Arc<Cache>, prefix: &str, from: Rev) -> Result<Self, StoreError> {
        if cache.is_stopped() {
            return Err(StoreError::Closed);
        }
        // Subscribe before validating so no publication between the two can be missed.
        let wake = cache.subscribe();
        cache.read(|state| state.ring.position_after(from).map(|_| ()))?;
        Ok(Watch {
            cache,
            prefix: prefix.to_owned(),
            cursor: from,
            buffer: VecDeque::new(),
            wake,
            done: false,
        })
    }

    /// Revision up to which every matching event has been yielded (for BOOKMARK events).
    pub fn progress(&self) -> Rev {
        match self.buffer.front() {
            Some(next) => next.rev - 1,
            None => self.cursor,
        }
    }

    /// Next event in revision order; `Err(Gone)` if this watcher fell behind the ring (the
    /// stream then ends), `None` once the store has closed and every event was delivered.
    pub async fn next(&mut self) -> Option<Result<Event, StoreError>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            // Mark the current publication as seen *before* scanning, so one that lands
            // after the scan wakes us.
            self.wake.borrow_and_update();
            match self.fill() {
                Err(err) => {
                    self.done = true;
                    return Some(Err(err));
                }
                Ok(true) => continue,
                Ok(false) => {}
            }
            if !self.buffer.is_empty() {
                continue;
            }
            if self.cache.is_stopped() {
                // The writer stopped after its last publication; one more scan catches
                // events published just before the flag was set.
                if self.fill().ok() == Some(false) && self.buffer.is_empty() {
                    self.done = true;
                }
                continue;
            }
            if self.wake.changed().await.is_err() {
                self.done = true;
            }
        }
    }

    /// Copies matching events after the cursor into the buffer; `Ok(true)` if it stopped
    /// early and more ring entries remain to inspect.
    fn fill(&mut self) -> Result<bool, StoreError> {
        let prefix = self.prefix.as_str();
        let buffer = &mut self.buffer;
        let cursor = &mut self.cursor;
        self.cache.read(|state| {
            let start = state.ring.position_after(*cursor)?;
            for (scanned, event) in state.ring.iter_from(start).enumerate() {
                if scanned >= SCAN_MAX || buffer.len() >= FILL_MAX {
                    return Ok(true);
                }
                *cursor = event.rev;
                if event.object.key.starts_with(prefix) {
                    buffer.push_back(event.clone());
                }
            }
            Ok(false)
        })
    }
}
