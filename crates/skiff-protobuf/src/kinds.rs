//! Mapping from apiVersion/kind to the generated message table.

use crate::schema::Message;
use crate::tables::{KINDS, MESSAGES};

/// True if this crate knows the message for apiVersion/kind.
pub fn supports(api_version: &str, kind: &str) -> bool {
    lookup(api_version, kind).is_some()
}

/// The message describing apiVersion/kind, if known.
pub(crate) fn lookup(api_version: &str, kind: &str) -> Option<&'static Message> {
    KINDS
        .binary_search_by(|(av, k, _)| (*av, *k).cmp(&(api_version, kind)))
        .ok()
        .and_then(|i| message(KINDS[i].2))
}

/// The message at a table index.
pub(crate) fn message(index: u16) -> Option<&'static Message> {
    MESSAGES.get(usize::from(index))
}
