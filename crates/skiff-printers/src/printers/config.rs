//! Config maps, secrets and service accounts.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::json::{age, arr_at, map_len, name, s, str_at};

/// ConfigMap columns.
pub(crate) fn config_map_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Data", "string", d::CONFIGMAP_DATA),
        Column::age(),
    ]
}

/// ConfigMap cells: DATA counts data and binaryData keys.
pub(crate) fn config_map_cells(cm: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let count = map_len(cm, &["data"]) + map_len(cm, &["binaryData"]);
    vec![s(name(cm)), Value::from(count), s(age(cm, now))]
}

/// Secret columns.
pub(crate) fn secret_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Type", "string", d::SECRET_TYPE),
        Column::new("Data", "string", d::SECRET_DATA),
        Column::age(),
    ]
}

/// Secret cells.
pub(crate) fn secret_cells(secret: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(secret)),
        s(str_at(secret, &["type"])),
        Value::from(map_len(secret, &["data"])),
        s(age(secret, now)),
    ]
}

/// ServiceAccount columns.
pub(crate) fn service_account_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Secrets", "string", d::SERVICE_ACCOUNT_SECRETS),
        Column::age(),
    ]
}

/// ServiceAccount cells.
pub(crate) fn service_account_cells(sa: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(sa)),
        Value::from(arr_at(sa, &["secrets"]).len() as i64),
        s(age(sa, now)),
    ]
}
