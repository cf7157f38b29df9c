//! Which fields each resource lets clients select on, and their values.
//!
//! Upstream splits this in two: a field-label conversion function per kind
//! (which labels a request may use, aliases, and the error text) and the
//! registry's GetAttrs (which values an object exposes). The two do not
//! always agree: apps/v1 ReplicaSets expose `status.replicas` but reject it
//! in requests, Pods accept `status.podIPs` but never expose it (so it reads
//! as ""). Both halves are reproduced as found in kube-apiserver v1.33.

use serde_json::Value;

use crate::go_format::go_quote;

/// Core group spelled as the empty string; `core` accepted for convenience.
fn normalize_group(group: &str) -> &str {
    if group == "core" {
        ""
    } else {
        group
    }
}

/// Upstream's message for kinds with a dedicated conversion function.
fn not_supported(label: &str) -> String {
    format!("field label not supported: {label}")
}

/// Map a field label from a request to the name GetAttrs uses, or the
/// upstream error message when the resource does not support it.
pub(crate) fn convert_field_label(
    group: &str,
    resource: &str,
    label: &str,
) -> Result<String, String> {
    let accept = |allowed: &[&str]| {
        if allowed.contains(&label) {
            Ok(label.to_string())
        } else {
            Err(not_supported(label))
        }
    };
    match (normalize_group(group), resource) {
        ("", "pods") => match label {
            // Old v1 clients send spec.host.
            "spec.host" => Ok("spec.nodeName".to_string()),
            _ => accept(&[
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
            ]),
        },
        ("", "nodes") => accept(&["metadata.name", "spec.unschedulable"]),
        ("", "replicationcontrollers") => {
            accept(&["metadata.name", "metadata.namespace", "status.replicas"])
        }
        ("", "events") => accept(&[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "metadata.namespace",
            "metadata.name",
        ]),
        ("", "namespaces") => accept(&["status.phase", "metadata.name"]),
        ("", "secrets") => accept(&["type", "metadata.namespace", "metadata.name"]),
        ("", "services") => accept(&[
            "metadata.namespace",
            "metadata.name",
            "spec.clusterIP",
            "spec.type",
        ]),
        // events.k8s.io names map onto the core Event field set.
        ("events.k8s.io", "events") => {
            let mapped = match label {
                "regarding.kind" => "involvedObject.kind",
                "regarding.namespace" => "involvedObject.namespace",
                "regarding.name" => "involvedObject.name",
                "regarding.uid" => "involvedObject.uid",
                "regarding.apiVersion" => "involvedObject.apiVersion",
                "regarding.resourceVersion" => "involvedObject.resourceVersion",
                "regarding.fieldPath" => "involvedObject.fieldPath",
                "reportingController" => "reportingComponent",
                "reason" | "source" | "type" | "metadata.namespace" | "metadata.name" => label,
                _ => return Err(not_supported(label)),
            };
            Ok(mapped.to_string())
        }
        ("batch", "jobs") => match label {
            "metadata.name" | "metadata.namespace" | "status.successful" => Ok(label.to_string()),
            _ => Err(format!(
                "field label {} not supported for batchv1.Job",
                go_quote(label)
            )),
        },
        ("certificates.k8s.io", "certificatesigningrequests") => {
            accept(&["metadata.name", "spec.signerName"])
        }
        // Everything else uses runtime.DefaultMetaV1FieldSelectorConversion.
        _ => match label {
            "metadata.name" | "metadata.namespace" => Ok(label.to_string()),
            _ => Err(format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                go_quote(label)
            )),
        },
    }
}

/// Follow a path of object keys.
fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(*k))
}

/// A string field, "" when absent or not a string (Go's zero value).
fn string_at(obj: &Value, path: &[&str]) -> String {
    at(obj, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A non-empty string from the first path that has one.
fn first_string(obj: &Value, paths: &[&[&str]]) -> String {
    paths
        .iter()
        .map(|p| string_at(obj, p))
        .find(|s| !s.is_empty())
        .unwrap_or_default()
}

/// A boolean as Go formats it; absent reads false.
fn bool_at(obj: &Value, path: &[&str]) -> String {
    let b = at(obj, path).and_then(Value::as_bool).unwrap_or(false);
    b.to_string()
}

/// An integer as Go formats it; absent reads 0.
fn int_at(obj: &Value, path: &[&str]) -> String {
    let v = at(obj, path);
    if let Some(i) = v.and_then(Value::as_i64) {
        return i.to_string();
    }
    // Whole floats can appear when a client sent 2.0; int32 fields hold them exactly.
    match v.and_then(Value::as_f64) {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
        _ => "0".to_string(),
    }
}

/// The pod's primary IP as the internal Pod carries it: `status.podIP`
/// wins (conversion makes it authoritative), else `status.podIPs[0].ip`.
fn pod_ip(obj: &Value) -> String {
    let ip = string_at(obj, &["status", "podIP"]);
    if !ip.is_empty() {
        return ip;
    }
    at(obj, &["status", "podIPs"])
        .and_then(Value::as_array)
        .and_then(|ips| ips.first())
        .map(|first| string_at(first, &["ip"]))
        .unwrap_or_default()
}

/// Event fields, reading either the core/v1 or the events.k8s.io/v1 shape
/// (upstream stores both as one internal Event).
fn event_value(obj: &Value, field: &str) -> Option<String> {
    let reference =
        |name: &str| first_string(obj, &[&["involvedObject", name], &["regarding", name]]);
    let reporting = || first_string(obj, &[&["reportingComponent"], &["reportingController"]]);
    Some(match field {
        "involvedObject.kind" => reference("kind"),
        "involvedObject.namespace" => reference("namespace"),
        "involvedObject.name" => reference("name"),
        "involvedObject.uid" => reference("uid"),
        "involvedObject.apiVersion" => reference("apiVersion"),
        "involvedObject.resourceVersion" => reference("resourceVersion"),
        "involvedObject.fieldPath" => reference("fieldPath"),
        "reason" => string_at(obj, &["reason"]),
        "reportingComponent" => reporting(),
        // source.component, falling back to the reporting controller.
        "source" => {
            let component = first_string(
                obj,
                &[&["source", "component"], &["deprecatedSource", "component"]],
            );
            if component.is_empty() {
                reporting()
            } else {
                component
            }
        }
        "type" => string_at(obj, &["type"]),
        _ => return None,
    })
}

/// The value GetAttrs exposes for `field` (already converted), or `None`
/// when the resource's field set does not contain it.
pub(crate) fn selectable_value(
    group: &str,
    resource: &str,
    obj: &Value,
    field: &str,
) -> Option<String> {
    match field {
        "metadata.name" => return Some(string_at(obj, &["metadata", "name"])),
        // Cluster-scoped objects carry no namespace, so this reads "" for them.
        "metadata.namespace" => return Some(string_at(obj, &["metadata", "namespace"])),
        _ => {}
    }
    let value = match (normalize_group(group), resource, field) {
        ("", "pods", "spec.nodeName") => string_at(obj, &["spec", "nodeName"]),
        ("", "pods", "spec.restartPolicy") => string_at(obj, &["spec", "restartPolicy"]),
        ("", "pods", "spec.schedulerName") => string_at(obj, &["spec", "schedulerName"]),
        ("", "pods", "spec.serviceAccountName") => string_at(obj, &["spec", "serviceAccountName"]),
        ("", "pods", "spec.hostNetwork") => bool_at(obj, &["spec", "hostNetwork"]),
        ("", "pods", "status.phase") => string_at(obj, &["status", "phase"]),
        ("", "pods", "status.podIP") => pod_ip(obj),
        ("", "pods", "status.nominatedNodeName") => {
            string_at(obj, &["status", "nominatedNodeName"])
        }
        ("", "events", f) | ("events.k8s.io", "events", f) => return event_value(obj, f),
        ("", "nodes", "spec.unschedulable") => bool_at(obj, &["spec", "unschedulable"]),
        ("", "namespaces", "status.phase") => string_at(obj, &["status", "phase"]),
        ("", "secrets", "type") => string_at(obj, &["type"]),
        ("", "services", "spec.clusterIP") => string_at(obj, &["spec", "clusterIP"]),
        ("", "services", "spec.type") => string_at(obj, &["spec", "type"]),
        ("", "replicationcontrollers", "status.replicas")
        | ("apps", "replicasets", "status.replicas") => int_at(obj, &["status", "replicas"]),
        ("batch", "jobs", "status.successful") => int_at(obj, &["status", "succeeded"]),
        ("certificates.k8s.io", "certificatesigningrequests", "spec.signerName") => {
            string_at(obj, &["spec", "signerName"])
        }
        _ => return None,
    };
    Some(value)
}

/// The value of a selectable field for an object, as upstream's field-label
/// conversion and GetAttrs expose it (`group` is `""` for core).
///
/// Aliases are resolved (`spec.host` on pods, `regarding.*` and
/// `reportingController` on events.k8s.io events). A field that is
/// accepted or exposed but absent from the object reads as `""` (or
/// `"false"`/`"0"` for booleans and counters, as Go formats zero values).
/// `None` means the resource neither accepts nor exposes the field.
pub fn field_value(group: &str, resource: &str, obj: &Value, field: &str) -> Option<String> {
    match convert_field_label(group, resource, field) {
        Ok(canonical) => {
            Some(selectable_value(group, resource, obj, &canonical).unwrap_or_default())
        }
        Err(_) => selectable_value(group, resource, obj, field),
    }
}
