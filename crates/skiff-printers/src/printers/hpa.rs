//! HorizontalPodAutoscalers (autoscaling/v1 and v2 objects print alike).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::Column;
use crate::descriptions as d;
use crate::json::{age, arr_at, get, i64_at, name, opt_i64, s, str_at};

/// HPA columns.
pub(crate) fn hpa_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Reference", "string", d::HPA_SCALE_TARGET_REF),
        Column::new("Targets", "string", d::HPA_METRICS),
        Column::new("MinPods", "string", d::HPA_MIN_REPLICAS),
        Column::new("MaxPods", "string", d::HPA_MAX_REPLICAS),
        Column::new("Replicas", "string", d::HPA_CURRENT_REPLICAS),
        Column::age(),
    ]
}

/// Default CPU target that autoscaling/v2 defaulting adds to a metric-less HPA.
const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// One CPU utilization metric spec in v2 form.
fn cpu_spec(utilization: i64) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": utilization}}})
}

/// The (spec metrics, current metrics) in autoscaling/v2 shape; a v1 object's
/// CPU percentages are converted the way the v1 conversion does.
fn metrics(hpa: &Value) -> (Vec<Value>, Vec<Value>) {
    if let Some(specs) = get(hpa, &["spec", "metrics"]).and_then(Value::as_array) {
        let specs = if specs.is_empty() {
            vec![cpu_spec(DEFAULT_CPU_UTILIZATION)]
        } else {
            specs.clone()
        };
        return (specs, arr_at(hpa, &["status", "currentMetrics"]).to_vec());
    }
    let target = opt_i64(hpa, &["spec", "targetCPUUtilizationPercentage"])
        .unwrap_or(DEFAULT_CPU_UTILIZATION);
    let current = match opt_i64(hpa, &["status", "currentCPUUtilizationPercentage"]) {
        Some(c) => vec![json!({"type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": c}}})],
        None => Vec::new(),
    };
    (vec![cpu_spec(target)], current)
}

/// Quantity.String(), with Go's "<nil>" for a nil *Quantity.
fn qty(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "<nil>".to_string(),
    }
}

/// The status metric source `key` at index `i`, when the status has one.
fn status_source<'a>(statuses: &'a [Value], i: usize, key: &str) -> Option<&'a Value> {
    statuses
        .get(i)
        .and_then(|st| get(st, &[key]))
        .filter(|v| v.is_object())
}

/// formatHPAMetrics: "cpu: 30%/80%, memory: <unknown>/500Mi + 1 more...".
fn format_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 2;
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let entry = match str_at(spec, &["type"]) {
            kind @ ("External" | "Object") => {
                let key = if kind == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = get(spec, &[key, "target"]).unwrap_or(&Value::Null);
                let status = status_source(statuses, i, key);
                if let Some(avg) = get(target, &["averageValue"]) {
                    let current = status
                        .and_then(|st| get(st, &["current", "averageValue"]))
                        .map_or_else(|| "<unknown>".to_string(), |q| qty(Some(q)));
                    format!("{current}/{} (avg)", qty(Some(avg)))
                } else {
                    let current = status.map_or_else(
                        || "<unknown>".to_string(),
                        |st| qty(get(st, &["current", "value"])),
                    );
                    format!("{current}/{}", qty(get(target, &["value"])))
                }
            }
            "Pods" => {
                let current = status_source(statuses, i, "pods").map_or_else(
                    || "<unknown>".to_string(),
                    |st| qty(get(st, &["current", "averageValue"])),
                );
                format!(
                    "{current}/{}",
                    qty(get(spec, &["pods", "target", "averageValue"]))
                )
            }
            kind @ ("Resource" | "ContainerResource") => {
                let key = if kind == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let resource = str_at(spec, &[key, "name"]);
                let target = get(spec, &[key, "target"]).unwrap_or(&Value::Null);
                let status = status_source(statuses, i, key);
                if let Some(avg) = get(target, &["averageValue"]) {
                    let current = status.map_or_else(
                        || "<unknown>".to_string(),
                        |st| qty(get(st, &["current", "averageValue"])),
                    );
                    format!("{resource}: {current}/{}", qty(Some(avg)))
                } else {
                    let current = status
                        .and_then(|st| opt_i64(st, &["current", "averageUtilization"]))
                        .map_or_else(|| "<unknown>".to_string(), |u| format!("{u}%"));
                    let target = opt_i64(target, &["averageUtilization"])
                        .map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                    format!("{resource}: {current}/{target}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > MAX {
        list.truncate(MAX);
        return format!("{} + {} more...", list.join(", "), count - MAX);
    }
    list.join(", ")
}

/// HPA cells: REFERENCE "Deployment/web", TARGETS, MINPODS, MAXPODS, REPLICAS.
pub(crate) fn hpa_cells(hpa: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (specs, statuses) = metrics(hpa);
    let reference = format!(
        "{}/{}",
        str_at(hpa, &["spec", "scaleTargetRef", "kind"]),
        str_at(hpa, &["spec", "scaleTargetRef", "name"])
    );
    let min_pods = opt_i64(hpa, &["spec", "minReplicas"])
        .map_or_else(|| "<unset>".to_string(), |m| m.to_string());
    vec![
        s(name(hpa)),
        s(reference),
        s(format_metrics(&specs, &statuses)),
        s(min_pods),
        Value::from(i64_at(hpa, &["spec", "maxReplicas"])),
        Value::from(i64_at(hpa, &["status", "currentReplicas"])),
        s(age(hpa, now)),
    ]
}
