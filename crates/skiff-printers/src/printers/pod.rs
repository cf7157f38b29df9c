//! Pods and pod templates (printPod, printPodTemplate).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::Column;
use crate::descriptions as d;
use crate::format::{container_cells, format_labels};
use crate::json::{
    age, arr_at, get, i64_at, is_deleting, name, obj_at, opt_bool, s, since, str_at, time_at,
};

/// Pod columns.
pub(crate) fn pod_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        Column::new("Status", "string", "The aggregate status of the containers in this pod."),
        Column::new(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        Column::age(),
        Column::new("IP", "string", d::POD_IP).wide(),
        Column::new("Node", "string", d::POD_NODE_NAME).wide(),
        Column::new("Nominated Node", "string", d::POD_NOMINATED_NODE_NAME).wide(),
        Column::new("Readiness Gates", "string", d::POD_READINESS_GATES).wide(),
    ]
}

/// Keeps the later of two optional timestamps (Go's zero time is None).
fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The state sub-object (`running`, `waiting`, `terminated`) of a container status, if set.
fn state<'a>(cs: &'a Value, which: &str, kind: &str) -> Option<&'a Value> {
    get(cs, &[which, kind]).filter(|v| v.is_object())
}

/// `lastState.terminated.finishedAt` of a container status.
fn last_finished(cs: &Value) -> Option<DateTime<Utc>> {
    state(cs, "lastState", "terminated").and_then(|t| time_at(t, &["finishedAt"]))
}

/// Whether the pod has a condition of `type_` whose status is "True".
fn condition_true(pod: &Value, type_: &str) -> bool {
    arr_at(pod, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == type_ && str_at(c, &["status"]) == "True")
}

/// isPodInitializedConditionTrue: the first Initialized condition decides.
fn initialized(pod: &Value) -> bool {
    arr_at(pod, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Initialized")
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

/// Pod cells: NAME, READY, STATUS, RESTARTS, AGE, IP, NODE, NOMINATED NODE, READINESS GATES.
pub(crate) fn pod_cells(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let containers = arr_at(pod, &["spec", "containers"]);
    let init_specs = arr_at(pod, &["spec", "initContainers"]);
    let mut total = containers.len();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut restartable_init_restarts = 0i64;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut last_restartable_init_restart: Option<DateTime<Utc>> = None;

    let phase = str_at(pod, &["status", "phase"]);
    let mut reason = match str_at(pod, &["status", "reason"]) {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    for c in arr_at(pod, &["status", "conditions"]) {
        if str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }

    // Sidecars (restartPolicy Always) count as regular containers.
    let mut restartable: HashMap<&str, bool> = HashMap::new();
    for c in init_specs {
        let is_sidecar = str_at(c, &["restartPolicy"]) == "Always";
        restartable.insert(str_at(c, &["name"]), is_sidecar);
        if is_sidecar {
            total += 1;
        }
    }

    let mut initializing = false;
    for (i, cs) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = i64_at(cs, &["restartCount"]);
        restarts += count;
        last_restart = later(last_restart, last_finished(cs));
        let is_sidecar = restartable
            .get(str_at(cs, &["name"]))
            .copied()
            .unwrap_or(false);
        if is_sidecar {
            restartable_init_restarts += count;
            last_restartable_init_restart = later(last_restartable_init_restart, last_finished(cs));
        }
        let terminated = state(cs, "state", "terminated");
        let waiting = state(cs, "state", "waiting");
        if terminated.is_some_and(|t| i64_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if is_sidecar && opt_bool(cs, &["started"]) == Some(true) {
            if opt_bool(cs, &["ready"]) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = match str_at(t, &["reason"]) {
                "" if i64_at(t, &["signal"]) != 0 => {
                    format!("Init:Signal:{}", i64_at(t, &["signal"]))
                }
                "" => format!("Init:ExitCode:{}", i64_at(t, &["exitCode"])),
                r => format!("Init:{r}"),
            };
        } else if let Some(w) = waiting.filter(|w| {
            let r = str_at(w, &["reason"]);
            !r.is_empty() && r != "PodInitializing"
        }) {
            reason = format!("Init:{}", str_at(w, &["reason"]));
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || initialized(pod) {
        restarts = restartable_init_restarts;
        last_restart = last_restartable_init_restart;
        let mut has_running = false;
        // Walk backwards so the first container's state has the last word.
        for cs in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += i64_at(cs, &["restartCount"]);
            last_restart = later(last_restart, last_finished(cs));
            let waiting = state(cs, "state", "waiting");
            let terminated = state(cs, "state", "terminated");
            if let Some(w) = waiting.filter(|w| !str_at(w, &["reason"]).is_empty()) {
                reason = str_at(w, &["reason"]).to_string();
            } else if let Some(t) = terminated {
                reason = match str_at(t, &["reason"]) {
                    "" if i64_at(t, &["signal"]) != 0 => {
                        format!("Signal:{}", i64_at(t, &["signal"]))
                    }
                    "" => format!("ExitCode:{}", i64_at(t, &["exitCode"])),
                    r => r.to_string(),
                };
            } else if opt_bool(cs, &["ready"]) == Some(true)
                && state(cs, "state", "running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        // A completed container next to a running one does not make the pod Completed.
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_string();
        }
    }

    if is_deleting(pod) && str_at(pod, &["status", "reason"]) == "NodeLost" {
        reason = "Unknown".to_string();
    } else if is_deleting(pod) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    // The internal PodIPs is filled from podIP when only the legacy field is set.
    let mut ip = arr_at(pod, &["status", "podIPs"])
        .first()
        .map(|p| str_at(p, &["ip"]))
        .unwrap_or("");
    if ip.is_empty() && arr_at(pod, &["status", "podIPs"]).is_empty() {
        ip = str_at(pod, &["status", "podIP"]);
    }
    let or_none = |v: &str| {
        if v.is_empty() {
            "<none>".to_string()
        } else {
            v.to_string()
        }
    };

    let gates = arr_at(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = arr_at(pod, &["status", "conditions"]);
        let true_count = gates
            .iter()
            .filter(|g| {
                let t = str_at(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| str_at(c, &["type"]) == t)
                    .is_some_and(|c| str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };

    vec![
        s(name(pod)),
        s(format!("{ready}/{total}")),
        s(reason),
        s(restarts_cell),
        s(age(pod, now)),
        s(or_none(ip)),
        s(or_none(str_at(pod, &["spec", "nodeName"]))),
        s(or_none(str_at(pod, &["status", "nominatedNodeName"]))),
        s(readiness_gates),
    ]
}

/// Row conditions: succeeded and failed pods are marked Completed.
pub(crate) fn pod_row_conditions(pod: &Value) -> Vec<Value> {
    let (reason, message) = match str_at(pod, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return Vec::new(),
    };
    vec![json!({"type": "Completed", "status": "True", "reason": reason, "message": message})]
}

/// PodTemplate columns (no Age column upstream).
pub(crate) fn pod_template_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new(
            "Containers",
            "string",
            "Names of each container in the template.",
        ),
        Column::new(
            "Images",
            "string",
            "Images referenced by each container in the template.",
        ),
        Column::new("Pod Labels", "string", "The labels for the pod template."),
    ]
}

/// PodTemplate cells.
pub(crate) fn pod_template_cells(obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = container_cells(arr_at(obj, &["template", "spec", "containers"]));
    vec![
        s(name(obj)),
        s(names),
        s(images),
        s(format_labels(obj_at(
            obj,
            &["template", "metadata", "labels"],
        ))),
    ]
}
