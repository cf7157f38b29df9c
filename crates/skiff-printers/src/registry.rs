//! The public entry points: columns and cells for any built-in resource, falling
//! back to the default table (Name, Created At) like rest.NewDefaultTableConvertor.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions;
use crate::json::{name, s, time_at};
use crate::printers::lookup;

/// Columns of the default table convertor.
fn default_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Created At",
            "date",
            descriptions::OBJECT_CREATION_TIMESTAMP,
        ),
    ]
}

/// Cells of the default table: the name and the creation time in RFC 3339 UTC.
fn default_cells(obj: &Value) -> Vec<Value> {
    // A missing timestamp is Go's zero time.
    let created = time_at(obj, &["metadata", "creationTimestamp"]).map_or_else(
        || "0001-01-01T00:00:00Z".to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    vec![s(name(obj)), s(created)]
}

/// Whether upstream has a dedicated printer for the resource (else the default table).
pub fn has_printer(group: &str, resource: &str) -> bool {
    lookup(group, resource).is_some()
}

/// Columns for a built-in resource (group "" for core, resource plural e.g. "pods");
/// unknown resources get the default table: Name (format name), Created At (type
/// date), as kube-apiserver's default table convertor does.
pub fn columns(group: &str, resource: &str) -> Vec<Column> {
    match lookup(group, resource) {
        Some(p) => (p.columns)(),
        None => default_columns(),
    }
}

/// The cells of one row, aligned with `columns(group, resource)`. `now` is the current time.
pub fn cells(group: &str, resource: &str, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    match lookup(group, resource) {
        Some(p) => (p.cells)(obj, now),
        None => default_cells(obj),
    }
}

/// The row's `conditions` (meta.k8s.io TableRowCondition JSON); pods that
/// succeeded or failed carry `Completed`, everything else none.
pub fn row_conditions(group: &str, resource: &str, obj: &Value) -> Vec<Value> {
    match lookup(group, resource) {
        Some(p) => (p.conditions)(obj),
        None => Vec::new(),
    }
}
