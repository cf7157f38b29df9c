//! Leases and priority classes.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::json::{age, i64_at, name, opt_bool, s, str_at};

/// Lease columns.
pub(crate) fn lease_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Holder", "string", d::LEASE_HOLDER),
        Column::age(),
    ]
}

/// Lease cells.
pub(crate) fn lease_cells(lease: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(lease)),
        s(str_at(lease, &["spec", "holderIdentity"])),
        s(age(lease, now)),
    ]
}

/// PriorityClass columns.
pub(crate) fn priority_class_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Value", "integer", d::PRIORITY_CLASS_VALUE),
        Column::new(
            "Global-Default",
            "boolean",
            d::PRIORITY_CLASS_GLOBAL_DEFAULT,
        ),
        Column::age(),
        // Upstream declares this one without Priority although it is only filled in wide mode.
        Column::new(
            "PreemptionPolicy",
            "string",
            d::PRIORITY_CLASS_PREEMPTION_POLICY,
        ),
    ]
}

/// PriorityClass cells.
pub(crate) fn priority_class_cells(pc: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(pc)),
        Value::from(i64_at(pc, &["value"])),
        Value::Bool(opt_bool(pc, &["globalDefault"]).unwrap_or(false)),
        s(age(pc, now)),
        s(str_at(pc, &["preemptionPolicy"])),
    ]
}
