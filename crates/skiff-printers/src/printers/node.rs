//! Nodes and namespaces.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::json::{age, arr_at, name, obj_at, opt_bool, s, str_at};

/// Node columns.
pub(crate) fn node_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Status", "string", "The status of the node"),
        Column::new("Roles", "string", "The roles of the node"),
        Column::age(),
        Column::new("Version", "string", d::NODE_KUBELET_VERSION),
        Column::new("Internal-IP", "string", d::NODE_ADDRESSES).wide(),
        Column::new("External-IP", "string", d::NODE_ADDRESSES).wide(),
        Column::new("OS-Image", "string", d::NODE_OS_IMAGE).wide(),
        Column::new("Kernel-Version", "string", d::NODE_KERNEL_VERSION).wide(),
        Column::new("Container-Runtime", "string", d::NODE_CONTAINER_RUNTIME).wide(),
    ]
}

/// Roles from `node-role.kubernetes.io/<role>` keys and `kubernetes.io/role=<role>`, sorted.
fn node_roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(labels) = obj_at(node, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

/// The first address of `type_`, or "<none>".
fn address(node: &Value, type_: &str) -> String {
    arr_at(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == type_)
        .map_or_else(
            || "<none>".to_string(),
            |a| str_at(a, &["address"]).to_string(),
        )
}

/// Node cells: STATUS "Ready", "NotReady", "Unknown", plus ",SchedulingDisabled".
pub(crate) fn node_cells(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // The last Ready condition wins, as upstream builds a map by type.
    let ready = arr_at(node, &["status", "conditions"])
        .iter()
        .rfind(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if opt_bool(node, &["spec", "unschedulable"]) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let info = |f: &str| match str_at(node, &["status", "nodeInfo", f]) {
        "" => "<unknown>".to_string(),
        v => v.to_string(),
    };
    vec![
        s(name(node)),
        s(status.join(",")),
        s(node_roles(node)),
        s(age(node, now)),
        s(str_at(node, &["status", "nodeInfo", "kubeletVersion"])),
        s(address(node, "InternalIP")),
        s(address(node, "ExternalIP")),
        s(info("osImage")),
        s(info("kernelVersion")),
        s(info("containerRuntimeVersion")),
    ]
}

/// Namespace columns.
pub(crate) fn namespace_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Status", "string", "The status of the namespace"),
        Column::age(),
    ]
}

/// Namespace cells.
pub(crate) fn namespace_cells(ns: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(ns)),
        s(str_at(ns, &["status", "phase"])),
        s(age(ns, now)),
    ]
}
