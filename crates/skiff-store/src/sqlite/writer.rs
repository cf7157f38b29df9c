//! The single writer thread: group commit of queued writes, then publication to memory.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::cache::Cache;
use crate::encode::{encode_with_rev, restamp};
use crate::error::{BackendError, StoreError};
use crate::object::{Event, EventType, Rev, StoredObject};
use crate::options::StoreOptions;

/// Reply channel of one write.
pub(crate) type WriteReply = oneshot::Sender<Result<Arc<StoredObject>, StoreError>>;

/// A mutation and its precondition.
#[derive(Debug)]
pub(crate) enum Op {
    /// Create; the key must be absent.
    Create(Value),
    /// Replace; the key must exist (with this mod_rev if given).
    Update(Option<Rev>, Value),
    /// Remove; the key must exist (with this mod_rev if given).
    Delete(Option<Rev>),
}

/// Work for the writer thread.
#[derive(Debug)]
pub(crate) enum Command {
    /// One write, batched with its neighbours.
    Write {
        /// Target key.
        key: String,
        /// What to do.
        op: Op,
        /// Where the outcome goes once durable.
        reply: WriteReply,
    },
    /// Drop history up to a revision, in memory and on disk.
    Compact {
        /// Requested compaction point.
        rev: Rev,
        /// The new compaction point.
        reply: oneshot::Sender<Result<Rev, StoreError>>,
    },
    /// Finish queued work, close the database and stop.
    Close {
        /// Answered once the database is closed.
        reply: oneshot::Sender<()>,
    },
}

/// Result of persisting a batch.
enum PersistError {
    /// A statement failed; the transaction rolled back, nothing changed on disk.
    RolledBack(rusqlite::Error),
    /// COMMIT itself failed: the outcome on disk is unknown, so the store must stop writing.
    Unknown(rusqlite::Error),
}

/// Owns the connection; runs on its own thread.
pub(crate) struct Writer {
    conn: Connection,
    cache: Arc<Cache>,
    rx: Receiver<Command>,
    opts: StoreOptions,
    disk_compacted: Rev,
    next_compaction: Instant,
    /// Set after a commit of unknown outcome; every later write fails with it.
    fatal: Option<BackendError>,
}

impl Writer {
    /// A writer over an opened, loaded database.
    pub(crate) fn new(
        conn: Connection,
        cache: Arc<Cache>,
        rx: Receiver<Command>,
        opts: StoreOptions,
        disk_compacted: Rev,
    ) -> Self {
        let next_compaction = Instant::now() + opts.compaction_interval;
        Writer {
            conn,
            cache,
            rx,
            opts,
            disk_compacted,
            next_compaction,
            fatal: None,
        }
    }

    /// Serves commands until closed or every sender is dropped.
    pub(crate) fn run(mut self) {
        let mut pending: Option<Command> = None;
        loop {
            let first = match pending.take() {
                Some(cmd) => cmd,
                None => {
                    let wait = self
                        .next_compaction
                        .saturating_duration_since(Instant::now());
                    match self.rx.recv_timeout(wait.max(Duration::from_millis(1))) {
                        Ok(cmd) => cmd,
                        Err(RecvTimeoutError::Timeout) => {
                            self.periodic_compaction();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => {
                            self.shutdown(Vec::new());
                            return;
                        }
                    }
                }
            };
            match first {
                Command::Write { key, op, reply } => {
                    let mut batch = vec![(key, op, reply)];
                    // Group commit: everything already queued shares one transaction, up to
                    // a control command, which must run after the writes queued before it.
                    while batch.len() < self.opts.batch_max.max(1) {
                        match self.rx.try_recv() {
                            Ok(Command::Write { key, op, reply }) => batch.push((key, op, reply)),
                            Ok(other) => {
                                pending = Some(other);
                                break;
                            }
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                        }
                    }
                    self.commit_batch(batch);
                }
                Command::Compact { rev, reply } => {
                    let _ = reply.send(self.compact(rev));
                }
                Command::Close { reply } => {
                    self.shutdown(vec![reply]);
                    return;
                }
            }
            if Instant::now() >= self.next_compaction {
                self.periodic_compaction();
            }
        }
    }

    /// Checks preconditions in order (later ops see earlier ones), commits the successful
    /// ones in one transaction, then publishes and replies.
    fn commit_batch(&mut self, batch: Vec<(String, Op, WriteReply)>) {
        if let Some(fatal) = &self.fatal {
            for (_, _, reply) in batch {
                let _ = reply.send(Err(StoreError::Backend(Arc::clone(fatal))));
            }
            return;
        }
        let mut rev = self.cache.current_revision();
        let mut overlay: HashMap<String, Option<Arc<StoredObject>>> = HashMap::new();
        let mut events = Vec::new();
        let mut replies = Vec::with_capacity(batch.len());
        for (key, op, reply) in batch {
            let current = match overlay.get(&key) {
                Some(state) => state.clone(),
                None => self.cache.get(&key),
            };
            match apply(key, op, current, rev + 1) {
                Ok(event) => {
                    rev = event.rev;
                    let after = match event.kind {
                        EventType::Deleted => None,
                        EventType::Added | EventType::Modified => Some(Arc::clone(&event.object)),
                    };
                    overlay.insert(event.object.key.clone(), after);
                    replies.push((reply, Ok(Arc::clone(&event.object))));
                    events.push(event);
                }
                Err(err) => replies.push((reply, Err(err))),
            }
        }
        if !events.is_empty() {
            if let Err(err) = self.persist(&events, rev) {
                let (cause, fatal) = match err {
                    PersistError::RolledBack(e) => (e, false),
                    PersistError::Unknown(e) => (e, true),
                };
                tracing::error!(error = %cause, fatal, writes = replies.len(), "store commit failed");
                let shared: BackendError = Arc::new(cause);
                if fatal {
                    self.fatal = Some(Arc::clone(&shared));
                }
                // Conflicts computed against the failed batch never happened either.
                for (reply, _) in replies {
                    let _ = reply.send(Err(StoreError::Backend(Arc::clone(&shared))));
                }
                return;
            }
            self.cache.publish(events);
        }
        for (reply, outcome) in replies {
            let _ = reply.send(outcome);
        }
    }

    /// Writes the batch in one transaction (one fsync at COMMIT).
    fn persist(&mut self, events: &[Event], rev: Rev) -> Result<(), PersistError> {
        let tx = self.conn.transaction().map_err(PersistError::RolledBack)?;
        write_events(&tx, events, rev).map_err(PersistError::RolledBack)?;
        tx.commit().map_err(PersistError::Unknown)
    }

    /// Explicit compaction: drops history up to `rev` now.
    fn compact(&mut self, rev: Rev) -> Result<Rev, StoreError> {
        if let Some(fatal) = &self.fatal {
            return Err(StoreError::Backend(Arc::clone(fatal)));
        }
        let floor = self.cache.compact_to(rev);
        self.compact_disk(floor)?;
        Ok(floor)
    }

    /// Deletes from disk the events that fell out of the in-memory ring.
    fn periodic_compaction(&mut self) {
        self.next_compaction = Instant::now() + self.opts.compaction_interval;
        if self.fatal.is_some() {
            return;
        }
        let floor = self.cache.compacted_revision();
        if let Err(err) = self.compact_disk(floor) {
            tracing::warn!(error = %err, floor, "store compaction failed; will retry");
        }
    }

    /// Makes `floor` the on-disk compaction point.
    fn compact_disk(&mut self, floor: Rev) -> Result<(), StoreError> {
        if floor <= self.disk_compacted {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        let deleted = tx.execute("DELETE FROM events WHERE rev <= ?1", [floor])?;
        tx.execute("UPDATE meta SET compacted_rev = ?1 WHERE id = 0", [floor])?;
        tx.commit()?;
        tracing::debug!(floor, deleted, "store compacted");
        self.disk_compacted = floor;
        Ok(())
    }

    /// Refuses what is still queued, checkpoints, closes the database and ends watches.
    fn shutdown(self, mut close_replies: Vec<oneshot::Sender<()>>) {
        let Writer {
            conn, cache, rx, ..
        } = self;
        cache.begin_close();
        while let Ok(cmd) = rx.try_recv() {
            match cmd {
                Command::Write { reply, .. } => {
                    let _ = reply.send(Err(StoreError::Closed));
                }
                Command::Compact { reply, .. } => {
                    let _ = reply.send(Err(StoreError::Closed));
                }
                Command::Close { reply } => close_replies.push(reply),
            }
        }
        // Fold the WAL into the main file so the next open starts fast; durability does not
        // depend on it.
        if let Err(err) = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
            tracing::warn!(error = %err, "store checkpoint on close failed");
        }
        if let Err((_, err)) = conn.close() {
            tracing::warn!(error = %err, "store close failed");
        }
        cache.mark_stopped();
        drop(rx);
        for reply in close_replies {
            let _ = reply.send(());
        }
    }
}

/// Checks `op`'s precondition against `current` and builds the event it would cause at `rev`.
fn apply(
    key: String,
    op: Op,
    current: Option<Arc<StoredObject>>,
    rev: Rev,
) -> Result<Event, StoreError> {
    let check = |expected: Option<Rev>| -> Result<Arc<StoredObject>, StoreError> {
        let current = current.clone().ok_or(StoreError::NotFound)?;
        match expected {
            Some(want) if want != current.mod_rev => Err(StoreError::Conflict { current }),
            _ => Ok(current),
        }
    };
    match op {
        Op::Create(value) => {
            if current.is_some() {
                return Err(StoreError::AlreadyExists);
            }
            let data = encode_with_rev(value, rev)?;
            Ok(Event {
                rev,
                kind: EventType::Added,
                object: Arc::new(StoredObject {
                    key,
                    create_rev: rev,
                    mod_rev: rev,
                    data,
                }),
                prev: None,
            })
        }
        Op::Update(expected, value) => {
            let prev = check(expected)?;
            let data = encode_with_rev(value, rev)?;
            Ok(Event {
                rev,
                kind: EventType::Modified,
                object: Arc::new(StoredObject {
                    key,
                    create_rev: prev.create_rev,
                    mod_rev: rev,
                    data,
                }),
                prev: Some(prev),
            })
        }
        Op::Delete(expected) => {
            let prev = check(expected)?;
            let data = restamp(&prev.data, rev)?;
            Ok(Event {
                rev,
                kind: EventType::Deleted,
                object: Arc::new(StoredObject {
                    key,
                    create_rev: prev.create_rev,
                    mod_rev: rev,
                    data,
                }),
                prev: Some(prev),
            })
        }
    }
}

/// The statements of one batch: kv rows, event rows and the new revision.
fn write_events(
    tx: &rusqlite::Transaction<'_>,
    events: &[Event],
    rev: Rev,
) -> rusqlite::Result<()> {
    let mut put = tx.prepare_cached(
        "INSERT OR REPLACE INTO kv (key, create_rev, mod_rev, value) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut del = tx.prepare_cached("DELETE FROM kv WHERE key = ?1")?;
    let mut log = tx.prepare_cached(
        "INSERT INTO events (rev, key, type, create_rev, value, prev_rev, prev_value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for event in events {
        let obj = &event.object;
        match event.kind {
            EventType::Deleted => {
                del.execute([&obj.key])?;
            }
            EventType::Added | EventType::Modified => {
                put.execute(params![obj.key, obj.create_rev, obj.mod_rev, &obj.data[..]])?;
            }
        }
        log.execute(params![
            event.rev,
            obj.key,
            event.kind.code(),
            obj.create_rev,
            &obj.data[..],
            event.prev.as_ref().map(|p| p.mod_rev),
            event.prev.as_ref().map(|p| &p.data[..]),
        ])?;
    }
    tx.execute("UPDATE meta SET current_rev = ?1 WHERE id = 0", [rev])?;
    Ok(())
}
