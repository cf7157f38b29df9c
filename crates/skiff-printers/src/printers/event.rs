//! Events, for both core/v1 and events.k8s.io/v1 (one internal type upstream).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::json::{get, opt_i64, s, since, str_at, time_at};

/// Event columns (LAST SEEN first; Name is wide-only).
pub(crate) fn event_columns() -> Vec<Column> {
    vec![
        Column::new("Last Seen", "string", d::EVENT_LAST_TIMESTAMP),
        Column::new("Type", "string", d::EVENT_TYPE),
        Column::new("Reason", "string", d::EVENT_REASON),
        Column::new("Object", "string", d::EVENT_INVOLVED_OBJECT),
        Column::new("Subobject", "string", d::EVENT_FIELD_PATH).wide(),
        Column::new("Source", "string", d::EVENT_SOURCE).wide(),
        Column::new("Message", "string", d::EVENT_MESSAGE),
        Column::new("First Seen", "string", d::EVENT_FIRST_TIMESTAMP).wide(),
        Column::new("Count", "string", d::EVENT_COUNT).wide(),
        Column::name().wide(),
    ]
}

/// JSON field names of one event API version, mapped onto the internal fields.
struct EventFields {
    first_timestamp: &'static str,
    last_timestamp: &'static str,
    count: &'static str,
    involved: &'static str,
    message: &'static str,
    source: &'static str,
    reporting_controller: &'static str,
}

const CORE: EventFields = EventFields {
    first_timestamp: "firstTimestamp",
    last_timestamp: "lastTimestamp",
    count: "count",
    involved: "involvedObject",
    message: "message",
    source: "source",
    reporting_controller: "reportingComponent",
};

const EVENTS_K8S_IO: EventFields = EventFields {
    first_timestamp: "deprecatedFirstTimestamp",
    last_timestamp: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    involved: "regarding",
    message: "note",
    source: "deprecatedSource",
    reporting_controller: "reportingController",
};

/// Event cells; `events_api` selects the events.k8s.io/v1 field names.
pub(crate) fn event_cells_for(ev: &Value, now: DateTime<Utc>, events_api: bool) -> Vec<Value> {
    let f = if events_api { &EVENTS_K8S_IO } else { &CORE };
    let first = match time_at(ev, &[f.first_timestamp]) {
        Some(t) => since(Some(t), now),
        None => since(time_at(ev, &["eventTime"]), now),
    };
    let mut last = match time_at(ev, &[f.last_timestamp]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = opt_i64(ev, &[f.count]).unwrap_or(0);
    if get(ev, &["series"]).is_some_and(Value::is_object) {
        last = since(time_at(ev, &["series", "lastObservedTime"]), now);
        count = opt_i64(ev, &["series", "count"]).unwrap_or(0);
    } else if count == 0 {
        // Singleton events carry no count in the new API.
        count = 1;
    }
    let kind = str_at(ev, &[f.involved, "kind"]).to_lowercase();
    let target = match str_at(ev, &[f.involved, "name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let first_non_empty = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            a.to_string()
        }
    };
    let component = first_non_empty(
        str_at(ev, &[f.source, "component"]),
        str_at(ev, &[f.reporting_controller]),
    );
    let instance = first_non_empty(
        str_at(ev, &[f.source, "host"]),
        str_at(ev, &["reportingInstance"]),
    );
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        s(last),
        s(str_at(ev, &["type"])),
        s(str_at(ev, &["reason"])),
        s(target),
        s(str_at(ev, &[f.involved, "fieldPath"])),
        s(source),
        s(str_at(ev, &[f.message]).trim()),
        s(first),
        Value::from(count),
        s(str_at(ev, &["metadata", "name"])),
    ]
}

/// core/v1 Event cells.
pub(crate) fn core_event_cells(ev: &Value, now: DateTime<Utc>) -> Vec<Value> {
    event_cells_for(ev, now, false)
}

/// events.k8s.io/v1 Event cells.
pub(crate) fn events_api_event_cells(ev: &Value, now: DateTime<Utc>) -> Vec<Value> {
    event_cells_for(ev, now, true)
}
