//! PodDisruptionBudgets and ResourceQuotas.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::format::int_or_string;
use crate::json::{age, get, i64_at, name, obj_at, s};

/// PodDisruptionBudget columns.
pub(crate) fn pdb_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Min Available",
            "string",
            "The minimum number of pods that must be available.",
        ),
        Column::new(
            "Max Unavailable",
            "string",
            "The maximum number of pods that may be unavailable.",
        ),
        Column::new(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
        ),
        Column::age(),
    ]
}

/// PodDisruptionBudget cells: "N/A" for the unset bound.
pub(crate) fn pdb_cells(pdb: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let bound = |f: &str| get(pdb, &["spec", f]).map_or_else(|| "N/A".to_string(), int_or_string);
    vec![
        s(name(pdb)),
        s(bound("minAvailable")),
        s(bound("maxUnavailable")),
        Value::from(i64_at(pdb, &["status", "disruptionsAllowed"])),
        s(age(pdb, now)),
    ]
}

/// ResourceQuota columns.
pub(crate) fn resource_quota_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        Column::new(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
        Column::age(),
    ]
}

/// A quantity map entry as printed; a missing one is the zero quantity "0".
fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// ResourceQuota cells: "resource: used/hard" sorted by resource; `limits.*` go to LIMIT.
pub(crate) fn resource_quota_cells(rq: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut request: Vec<String> = Vec::new();
    let mut limit: Vec<String> = Vec::new();
    if let Some(hard) = obj_at(rq, &["status", "hard"]) {
        let used = obj_at(rq, &["status", "used"]);
        let mut resources: Vec<&String> = hard.keys().collect();
        resources.sort();
        for r in resources {
            let entry = format!(
                "{r}: {}/{}",
                quantity(used.and_then(|u| u.get(r.as_str()))),
                quantity(hard.get(r.as_str()))
            );
            let mut pieces = r.split('.');
            let is_limit = pieces.next() == Some("limits") && pieces.next().is_some();
            if is_limit {
                limit.push(entry);
            } else {
                request.push(entry);
            }
        }
    }
    vec![
        s(name(rq)),
        s(request.join(", ")),
        s(limit.join(", ")),
        s(age(rq, now)),
    ]
}
