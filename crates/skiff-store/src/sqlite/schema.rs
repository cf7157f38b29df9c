//! Opening the SQLite file and loading it into memory.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension};

use crate::cache::State;
use crate::error::StoreError;
use crate::object::{Event, EventType, Rev, StoredObject};
use crate::ring::EventRing;

/// On-disk schema version, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

/// Revision of a fresh store; like etcd, the first write gets revision 2, so a list of an
/// empty store never reports resourceVersion "0" (which clients read as "any").
const INITIAL_REV: Rev = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    key        TEXT PRIMARY KEY NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev    INTEGER NOT NULL,
    value      BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    rev        INTEGER PRIMARY KEY,
    key        TEXT NOT NULL,
    type       INTEGER NOT NULL,
    create_rev INTEGER NOT NULL,
    value      BLOB NOT NULL,
    prev_rev   INTEGER,
    prev_value BLOB
);
CREATE TABLE IF NOT EXISTS meta (
    id            INTEGER PRIMARY KEY CHECK (id = 0),
    current_rev   INTEGER NOT NULL,
    compacted_rev INTEGER NOT NULL
);
";

/// Opens (creating if needed) the database at `path`, or an in-memory one for `None`, and
/// takes an exclusive lock so a second server cannot write the same file.
pub(crate) fn open_connection(path: Option<&Path>) -> Result<Connection, StoreError> {
    let mut conn = match path {
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(StoreError::backend)?;
            }
            Connection::open(path)?
        }
        None => Connection::open_in_memory()?,
    };
    // EXCLUSIVE before WAL: no shared-memory index, and the file lock is held for the
    // connection's lifetime once the first write transaction below takes it.
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if path.is_some() && !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Invalid(format!(
            "cannot enable WAL journal mode (got {mode})"
        )));
    }
    // FULL: each commit fsyncs the WAL, so an acknowledged write survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;

    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Invalid(format!(
            "database schema version {version} is newer than supported {SCHEMA_VERSION}"
        )));
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    tx.execute(
        "INSERT OR IGNORE INTO meta (id, current_rev, compacted_rev) VALUES (0, ?1, ?1)",
        [INITIAL_REV],
    )?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(conn)
}

/// What `load` found on disk.
pub(crate) struct Loaded {
    /// In-memory state to serve from.
    pub(crate) state: State,
    /// `meta.compacted_rev`: events up to it are gone from disk.
    pub(crate) disk_compacted: Rev,
}

/// Raw row of the events table.
struct EventRow {
    rev: Rev,
    key: String,
    kind: EventType,
    create_rev: Rev,
    value: Vec<u8>,
    prev_rev: Option<Rev>,
    prev_value: Option<Vec<u8>>,
}

/// Loads every object and the last `history` retained events.
pub(crate) fn load(conn: &Connection, history: usize) -> Result<Loaded, StoreError> {
    let (meta_rev, disk_compacted): (Rev, Rev) = conn
        .query_row(
            "SELECT current_rev, compacted_rev FROM meta WHERE id = 0",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?
        .unwrap_or((INITIAL_REV, INITIAL_REV));

    let mut kv = BTreeMap::new();
    let mut max_rev = meta_rev;
    {
        let mut stmt = conn.prepare("SELECT key, create_rev, mod_rev, value FROM kv")?;
        let rows = stmt.query_map([], |row| {
            Ok(StoredObject {
                key: row.get(0)?,
                create_rev: row.get(1)?,
                mod_rev: row.get(2)?,
                data: Bytes::from(row.get::<_, Vec<u8>>(3)?),
            })
        })?;
        for obj in rows {
            let obj = obj?;
            max_rev = max_rev.max(obj.mod_rev);
            kv.insert(obj.key.clone(), Arc::new(obj));
        }
    }

    let limit = i64::try_from(history).unwrap_or(i64::MAX);
    let mut rows = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT rev, key, type, create_rev, value, prev_rev, prev_value FROM events
             WHERE rev > ?1 ORDER BY rev DESC LIMIT ?2",
        )?;
        let iter = stmt.query_map([disk_compacted, limit], |row| {
            let code: i64 = row.get(2)?;
            let kind = EventType::from_code(code).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Integer,
                    format!("unknown event type {code}").into(),
                )
            })?;
            Ok(EventRow {
                rev: row.get(0)?,
                key: row.get(1)?,
                kind,
                create_rev: row.get(3)?,
                value: row.get(4)?,
                prev_rev: row.get(5)?,
                prev_value: row.get(6)?,
            })
        })?;
        for row in iter {
            rows.push(row?);
        }
    }
    rows.reverse();
    if let Some(last) = rows.last() {
        max_rev = max_rev.max(last.rev);
    }
    if max_rev != meta_rev {
        tracing::warn!(
            meta_rev,
            max_rev,
            "store meta revision behind data; using max"
        );
    }

    let floor = match rows.first() {
        Some(first) => disk_compacted.max(first.rev - 1),
        None => disk_compacted.max(max_rev),
    };
    let mut ring = EventRing::new(history, floor);
    for event in rebuild_events(rows, &kv) {
        ring.push(event);
    }
    Ok(Loaded {
        state: State {
            kv,
            ring,
            rev: max_rev,
        },
        disk_compacted,
    })
}

/// Turns rows into events, sharing one `Arc` per object version between consecutive events
/// and the live map so a reloaded store costs no more memory than a running one.
fn rebuild_events(rows: Vec<EventRow>, kv: &BTreeMap<String, Arc<StoredObject>>) -> Vec<Event> {
    let mut latest: HashMap<String, Arc<StoredObject>> = HashMap::new();
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let prev = match (row.prev_rev, latest.remove(&row.key)) {
            (Some(prev_rev), Some(known)) if known.mod_rev == prev_rev => Some(known),
            (Some(prev_rev), _) => row.prev_value.map(|data| {
                Arc::new(StoredObject {
                    key: row.key.clone(),
                    create_rev: row.create_rev,
                    mod_rev: prev_rev,
                    data: Bytes::from(data),
                })
            }),
            (None, _) => None,
        };
        let object = match kv.get(&row.key) {
            Some(live) if live.mod_rev == row.rev && row.kind != EventType::Deleted => {
                Arc::clone(live)
            }
            _ => Arc::new(StoredObject {
                key: row.key.clone(),
                create_rev: row.create_rev,
                mod_rev: row.rev,
                data: Bytes::from(row.value),
            }),
        };
        if row.kind != EventType::Deleted {
            latest.insert(row.key, Arc::clone(&object));
        }
        events.push(Event {
            rev: row.rev,
            kind: row.kind,
            object,
            prev,
        });
    }
    events
}
