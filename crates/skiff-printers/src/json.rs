//! Lenient accessors over JSON objects: a missing or mistyped field reads as the
//! Go zero value, the way the typed upstream printers see it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::duration::human_duration;

/// The value at `path` (object keys), if every step exists and is not null.
pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.as_object()?.get(*key)?;
    }
    if cur.is_null() {
        None
    } else {
        Some(cur)
    }
}

/// The string at `path`, or "" (Go's zero string).
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    get(v, path).and_then(Value::as_str).unwrap_or("")
}

/// The string at `path` when present (a Go `*string`).
pub(crate) fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// The integer at `path`, if present.
pub(crate) fn opt_i64(v: &Value, path: &[&str]) -> Option<i64> {
    let n = get(v, path)?;
    n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))
}

/// The integer at `path`, or 0.
pub(crate) fn i64_at(v: &Value, path: &[&str]) -> i64 {
    opt_i64(v, path).unwrap_or(0)
}

/// The boolean at `path`, if present.
pub(crate) fn opt_bool(v: &Value, path: &[&str]) -> Option<bool> {
    get(v, path).and_then(Value::as_bool)
}

/// The array at `path`, or an empty slice.
pub(crate) fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The object at `path`, if present (a Go pointer to a struct, or a map).
pub(crate) fn obj_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    get(v, path).and_then(Value::as_object)
}

/// Number of entries of the map at `path` (Go `len(map)`).
pub(crate) fn map_len(v: &Value, path: &[&str]) -> i64 {
    obj_at(v, path).map_or(0, |m| m.len() as i64)
}

/// Parses an RFC 3339 timestamp (metav1.Time / MicroTime on the wire).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The timestamp at `path`; absent or unparsable reads as the zero time (None).
pub(crate) fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    opt_str(v, path).and_then(parse_time)
}

/// translateTimestampSince: "<unknown>" for the zero time, else the human age.
pub(crate) fn since(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        Some(t) => human_duration(now.signed_duration_since(t)),
        None => "<unknown>".to_string(),
    }
}

/// metadata.name.
pub(crate) fn name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"])
}

/// The Age cell: time since metadata.creationTimestamp.
pub(crate) fn age(obj: &Value, now: DateTime<Utc>) -> String {
    since(time_at(obj, &["metadata", "creationTimestamp"]), now)
}

/// Whether metadata.deletionTimestamp is set.
pub(crate) fn is_deleting(obj: &Value) -> bool {
    get(obj, &["metadata", "deletionTimestamp"]).is_some()
}

/// A string cell.
pub(crate) fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}
