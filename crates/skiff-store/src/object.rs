//! Stored objects and change events.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

/// A cluster-wide revision; `metadata.resourceVersion` is its decimal string.
pub type Rev = i64;

/// One stored object: its key, revisions and its JSON bytes with
/// `metadata.resourceVersion` set to `mod_rev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Full key, e.g. `/registry/configmaps/default/x`.
    pub key: String,
    /// Revision of the write that created the object.
    pub create_rev: Rev,
    /// Revision of the last write (for a delete event object: the delete's revision).
    pub mod_rev: Rev,
    /// Serialized JSON object.
    pub data: Bytes,
}

impl StoredObject {
    /// Parses `data`; `Value::Null` if it is not JSON (never the case for what the store wrote).
    pub fn value(&self) -> Value {
        self.try_value().unwrap_or(Value::Null)
    }

    /// Parses `data`, reporting a parse failure.
    pub fn try_value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.data)
    }

    /// The `metadata.resourceVersion` clients see for this object.
    pub fn resource_version(&self) -> String {
        self.mod_rev.to_string()
    }
}

/// The kind of a change, as in watch events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// The key was created.
    Added,
    /// The key was replaced.
    Modified,
    /// The key was removed.
    Deleted,
}

impl EventType {
    /// The watch event `type` string (`ADDED`, `MODIFIED`, `DELETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }

    /// Stable numeric code used in the events table.
    pub(crate) fn code(self) -> i64 {
        match self {
            EventType::Added => 0,
            EventType::Modified => 1,
            EventType::Deleted => 2,
        }
    }

    /// Inverse of [`EventType::code`].
    pub(crate) fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(EventType::Added),
            1 => Some(EventType::Modified),
            2 => Some(EventType::Deleted),
            _ => None,
        }
    }
}

/// A change. For `Deleted`, `object` is the last state with `metadata.resourceVersion` and
/// `mod_rev` set to the delete's revision (what kube-apiserver sends in DELETED events);
/// `prev` is the state before the change (`None` for `Added`).
#[derive(Debug, Clone)]
pub struct Event {
    /// Revision of this change.
    pub rev: Rev,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (for deletes: the final state at the delete revision).
    pub object: Arc<StoredObject>,
    /// The object before the change.
    pub prev: Option<Arc<StoredObject>>,
}
