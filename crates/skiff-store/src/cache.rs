//! The in-memory copy of the store: every object, the current revision and the event ring.
//! Readers (get/list/watch) only ever touch this; the writer publishes committed batches.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::error::StoreError;
use crate::object::{Event, EventType, Rev, StoredObject};
use crate::ring::EventRing;

/// Objects, revision and recent events, always mutually consistent under one lock.
#[derive(Debug)]
pub(crate) struct State {
    /// Every live object by key.
    pub(crate) kv: BTreeMap<String, Arc<StoredObject>>,
    /// Recent events for watches.
    pub(crate) ring: EventRing,
    /// Revision of the last published write.
    pub(crate) rev: Rev,
}

/// State shared by the store handle, the writer thread and every watch.
#[derive(Debug)]
pub(crate) struct Cache {
    state: RwLock<State>,
    /// Bumped once per published batch; watchers wait on it instead of receiving sends.
    wake: watch::Sender<Rev>,
    /// Set by `close()`: new writes fail fast.
    closing: AtomicBool,
    /// Set by the writer when it has stopped: watches end once drained.
    stopped: AtomicBool,
}

impl Cache {
    /// Wraps loaded state.
    pub(crate) fn new(state: State) -> Self {
        let (wake, _) = watch::channel(state.rev);
        Cache {
            state: RwLock::new(state),
            wake,
            closing: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }
    }

    /// Current object at `key`.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<StoredObject>> {
        self.state.read().kv.get(key).cloned()
    }

    /// Objects under `prefix`, sorted by key, with the revision of this snapshot.
    pub(crate) fn list(&self, prefix: &str) -> (Vec<Arc<StoredObject>>, Rev) {
        let state = self.state.read();
        let items = state
            .kv
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| Arc::clone(v))
            .collect();
        (items, state.rev)
    }

    /// Revision of the last published write.
    pub(crate) fn current_revision(&self) -> Rev {
        self.state.read().rev
    }

    /// Oldest revision a watch may resume after.
    pub(crate) fn compacted_revision(&self) -> Rev {
        self.state.read().ring.floor()
    }

    /// Runs `f` with the state read-locked (keep it short: the writer waits on it).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.read())
    }

    /// A receiver that changes whenever a batch is published or the store stops.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Rev> {
        self.wake.subscribe()
    }

    /// Applies committed events (in revision order) and wakes watchers once.
    pub(crate) fn publish(&self, events: Vec<Event>) {
        let Some(last) = events.last().map(|e| e.rev) else {
            return;
        };
        {
            let mut state = self.state.write();
            for event in events {
                match event.kind {
                    EventType::Deleted => {
                        state.kv.remove(&event.object.key);
                    }
                    EventType::Added | EventType::Modified => {
                        state
                            .kv
                            .insert(event.object.key.clone(), Arc::clone(&event.object));
                    }
                }
                state.ring.push(event);
            }
            state.rev = last;
        }
        self.wake.send_replace(last);
    }

    /// Drops events up to `rev` (capped at the current revision); returns the new floor.
    pub(crate) fn compact_to(&self, rev: Rev) -> Rev {
        let mut state = self.state.write();
        let target = rev.min(state.rev);
        state.ring.compact_to(target);
        state.ring.floor()
    }

    /// Marks the store as closing; returns whether it already was.
    pub(crate) fn begin_close(&self) -> bool {
        self.closing.swap(true, Ordering::SeqCst)
    }

    /// Fails fast once closing.
    pub(crate) fn check_open(&self) -> Result<(), StoreError> {
        if self.closing.load(Ordering::SeqCst) {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    /// Called by the writer as it exits; ends every watch after it drains.
    pub(crate) fn mark_stopped(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.stopped.store(true, Ordering::SeqCst);
        self.wake.send_modify(|_| {});
    }

    /// Whether the writer has stopped.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}
