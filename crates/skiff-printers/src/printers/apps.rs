//! Workload controllers: deployments, replica sets, stateful sets, daemon sets,
//! replication controllers and controller revisions.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::format::{container_cells, format_label_selector, format_labels, label_selector_string};
use crate::json::{age, arr_at, get, i64_at, name, obj_at, opt_i64, s, str_at};

const CONTAINERS: Column = Column::new(
    "Containers",
    "string",
    "Names of each container in the template.",
)
.wide();
const IMAGES: Column = Column::new(
    "Images",
    "string",
    "Images referenced by each container in the template.",
)
.wide();

/// spec.replicas, which defaulting sets to 1 when omitted.
fn desired_replicas(obj: &Value) -> i64 {
    opt_i64(obj, &["spec", "replicas"]).unwrap_or(1)
}

/// (names, images) of spec.template's containers.
fn template_containers(obj: &Value) -> (String, String) {
    container_cells(arr_at(obj, &["spec", "template", "spec", "containers"]))
}

/// Deployment columns.
pub(crate) fn deployment_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Ready", "string", "Number of the pod with ready state"),
        Column::new("Up-to-date", "string", d::DEPLOY_UPDATED),
        Column::new("Available", "string", d::DEPLOY_AVAILABLE),
        Column::age(),
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", d::DEPLOY_SELECTOR).wide(),
    ]
}

/// Deployment cells: READY "ready/desired", UP-TO-DATE, AVAILABLE (integers).
pub(crate) fn deployment_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    // printDeployment renders the selector without the "<none>" fallback.
    let selector = label_selector_string(get(obj, &["spec", "selector"]))
        .unwrap_or_else(|()| "<invalid>".to_string());
    vec![
        s(name(obj)),
        s(format!(
            "{}/{}",
            i64_at(obj, &["status", "readyReplicas"]),
            desired_replicas(obj)
        )),
        Value::from(i64_at(obj, &["status", "updatedReplicas"])),
        Value::from(i64_at(obj, &["status", "availableReplicas"])),
        s(age(obj, now)),
        s(names),
        s(images),
        s(selector),
    ]
}

/// ReplicaSet columns.
pub(crate) fn replica_set_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Desired", "integer", d::RS_SPEC_REPLICAS),
        Column::new("Current", "integer", d::RS_STATUS_REPLICAS),
        Column::new("Ready", "integer", d::RS_STATUS_READY_REPLICAS),
        Column::age(),
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", d::RS_SPEC_SELECTOR).wide(),
    ]
}

/// ReplicaSet cells.
pub(crate) fn replica_set_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    vec![
        s(name(obj)),
        Value::from(desired_replicas(obj)),
        Value::from(i64_at(obj, &["status", "replicas"])),
        Value::from(i64_at(obj, &["status", "readyReplicas"])),
        s(age(obj, now)),
        s(names),
        s(images),
        s(format_label_selector(get(obj, &["spec", "selector"]))),
    ]
}

/// ReplicationController columns.
pub(crate) fn replication_controller_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Desired", "integer", d::RC_SPEC_REPLICAS),
        Column::new("Current", "integer", d::RC_STATUS_REPLICAS),
        Column::new("Ready", "integer", d::RC_STATUS_READY_REPLICAS),
        Column::age(),
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", d::RC_SPEC_SELECTOR).wide(),
    ]
}

/// ReplicationController cells; the selector is a plain label map.
pub(crate) fn replication_controller_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    vec![
        s(name(obj)),
        Value::from(desired_replicas(obj)),
        Value::from(i64_at(obj, &["status", "replicas"])),
        Value::from(i64_at(obj, &["status", "readyReplicas"])),
        s(age(obj, now)),
        s(names),
        s(images),
        s(format_labels(obj_at(obj, &["spec", "selector"]))),
    ]
}

/// StatefulSet columns.
pub(crate) fn stateful_set_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Ready", "string", "Number of the pod with ready state"),
        Column::age(),
        CONTAINERS,
        IMAGES,
    ]
}

/// StatefulSet cells: READY "ready/desired".
pub(crate) fn stateful_set_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    vec![
        s(name(obj)),
        s(format!(
            "{}/{}",
            i64_at(obj, &["status", "readyReplicas"]),
            desired_replicas(obj)
        )),
        s(age(obj, now)),
        s(names),
        s(images),
    ]
}

/// DaemonSet columns.
pub(crate) fn daemon_set_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Desired", "integer", d::DS_DESIRED),
        Column::new("Current", "integer", d::DS_CURRENT),
        Column::new("Ready", "integer", d::DS_READY),
        Column::new("Up-to-date", "integer", d::DS_UPDATED),
        Column::new("Available", "integer", d::DS_AVAILABLE),
        Column::new("Node Selector", "string", d::POD_NODE_SELECTOR),
        Column::age(),
        CONTAINERS,
        IMAGES,
        Column::new("Selector", "string", d::DS_SPEC_SELECTOR).wide(),
    ]
}

/// DaemonSet cells.
pub(crate) fn daemon_set_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = template_containers(obj);
    let status = |f: &str| Value::from(i64_at(obj, &["status", f]));
    vec![
        s(name(obj)),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        s(format_labels(obj_at(
            obj,
            &["spec", "template", "spec", "nodeSelector"],
        ))),
        s(age(obj, now)),
        s(names),
        s(images),
        s(format_label_selector(get(obj, &["spec", "selector"]))),
    ]
}

/// ControllerRevision columns.
pub(crate) fn controller_revision_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Controller", "string", "Controller of the object"),
        Column::new("Revision", "string", d::CONTROLLER_REVISION_REVISION),
        Column::age(),
    ]
}

/// "statefulset.apps/web" for the controlling owner reference, "<none>" without one.
fn controller_name(obj: &Value) -> String {
    let Some(owner) = arr_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| get(o, &["controller"]).and_then(Value::as_bool) == Some(true))
    else {
        return "<none>".to_string();
    };
    let api_version = str_at(owner, &["apiVersion"]);
    let group = match api_version.split_once('/') {
        Some((g, _)) => g,
        None => "",
    };
    let kind = str_at(owner, &["kind"]);
    let owner_name = str_at(owner, &["name"]);
    // formatResourceName: an empty GroupKind prints the bare name.
    if kind.is_empty() && group.is_empty() {
        return owner_name.to_string();
    }
    let group_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{owner_name}", group_kind.to_lowercase())
}

/// ControllerRevision cells; the revision is an integer cell.
pub(crate) fn controller_revision_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(obj)),
        s(controller_name(obj)),
        Value::from(i64_at(obj, &["revision"])),
        s(age(obj, now)),
    ]
}
