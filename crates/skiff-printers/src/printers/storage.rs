//! Persistent volumes, claims and storage classes.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::Column;
use crate::descriptions as d;
use crate::format::access_modes;
use crate::json::{age, arr_at, get, is_deleting, name, opt_bool, opt_str, s, str_at};

const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// PersistentVolume columns.
pub(crate) fn persistent_volume_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Capacity", "string", d::PV_CAPACITY),
        Column::new("Access Modes", "string", d::PV_ACCESS_MODES),
        Column::new("Reclaim Policy", "string", d::PV_RECLAIM_POLICY),
        Column::new("Status", "string", d::PV_PHASE),
        Column::new("Claim", "string", d::PV_CLAIM_REF),
        Column::new("StorageClass", "string", "StorageClass of the pv"),
        Column::new(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pv",
        ),
        Column::new("Reason", "string", d::PV_REASON),
        Column::age(),
        Column::new("VolumeMode", "string", d::PV_VOLUME_MODE).wide(),
    ]
}

/// The beta storage-class annotation, which still wins over the spec field.
fn beta_class(obj: &Value) -> Option<&str> {
    get(obj, &["metadata", "annotations", BETA_STORAGE_CLASS]).and_then(Value::as_str)
}

/// A quantity as stored. Quantities are printed in the form they were stored in;
/// the apiserver canonicalizes them on write.
fn quantity(obj: &Value, path: &[&str]) -> String {
    match get(obj, path) {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        // A missing quantity is the zero Quantity, which prints "0".
        _ => "0".to_string(),
    }
}

/// PersistentVolume cells.
pub(crate) fn persistent_volume_cells(pv: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let claim = match get(pv, &["spec", "claimRef"]).filter(|v| v.is_object()) {
        Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
        None => String::new(),
    };
    let phase = if is_deleting(pv) {
        "Terminating"
    } else {
        str_at(pv, &["status", "phase"])
    };
    let class = beta_class(pv).unwrap_or_else(|| str_at(pv, &["spec", "storageClassName"]));
    vec![
        s(name(pv)),
        s(quantity(pv, &["spec", "capacity", "storage"])),
        s(access_modes(arr_at(pv, &["spec", "accessModes"]))),
        s(str_at(pv, &["spec", "persistentVolumeReclaimPolicy"])),
        s(phase),
        s(claim),
        s(class),
        s(opt_str(pv, &["spec", "volumeAttributesClassName"]).unwrap_or("<unset>")),
        s(str_at(pv, &["status", "reason"])),
        s(age(pv, now)),
        s(opt_str(pv, &["spec", "volumeMode"]).unwrap_or("<unset>")),
    ]
}

/// PersistentVolumeClaim columns.
pub(crate) fn persistent_volume_claim_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Status", "string", d::PVC_PHASE),
        Column::new("Volume", "string", d::PVC_VOLUME_NAME),
        Column::new("Capacity", "string", d::PVC_CAPACITY),
        Column::new("Access Modes", "string", d::PVC_ACCESS_MODES),
        Column::new("StorageClass", "string", "StorageClass of the pvc"),
        Column::new(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pvc",
        ),
        Column::age(),
        Column::new("VolumeMode", "string", d::PVC_VOLUME_MODE).wide(),
    ]
}

/// PersistentVolumeClaim cells: capacity and access modes only once bound to a volume.
pub(crate) fn persistent_volume_claim_cells(pvc: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let phase = if is_deleting(pvc) {
        "Terminating"
    } else {
        str_at(pvc, &["status", "phase"])
    };
    let volume = str_at(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(pvc, &["status", "capacity", "storage"]),
            access_modes(arr_at(pvc, &["status", "accessModes"])),
        )
    };
    let class = beta_class(pvc)
        .or_else(|| opt_str(pvc, &["spec", "storageClassName"]))
        .unwrap_or("");
    vec![
        s(name(pvc)),
        s(phase),
        s(volume),
        s(capacity),
        s(modes),
        s(class),
        s(opt_str(pvc, &["spec", "volumeAttributesClassName"]).unwrap_or("<unset>")),
        s(age(pvc, now)),
        s(opt_str(pvc, &["spec", "volumeMode"]).unwrap_or("<unset>")),
    ]
}

/// StorageClass columns.
pub(crate) fn storage_class_columns() -> Vec<Column> {
    vec![
        Column::name(),
        Column::new("Provisioner", "string", d::STORAGE_CLASS_PROVISIONER),
        Column::new("ReclaimPolicy", "string", d::STORAGE_CLASS_RECLAIM_POLICY),
        Column::new("VolumeBindingMode", "string", d::STORAGE_CLASS_BINDING_MODE),
        Column::new(
            "AllowVolumeExpansion",
            "string",
            d::STORAGE_CLASS_ALLOW_EXPANSION,
        ),
        Column::age(),
    ]
}

/// storageutil.IsDefaultAnnotation.
fn is_default_class(sc: &Value) -> bool {
    [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|k| get(sc, &["metadata", "annotations", k]).and_then(Value::as_str) == Some("true"))
}

/// StorageClass cells: NAME gets " (default)"; ALLOWVOLUMEEXPANSION is a boolean cell.
pub(crate) fn storage_class_cells(sc: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut display = name(sc).to_string();
    if is_default_class(sc) {
        display.push_str(" (default)");
    }
    vec![
        s(display),
        s(str_at(sc, &["provisioner"])),
        s(opt_str(sc, &["reclaimPolicy"]).unwrap_or("Delete")),
        s(opt_str(sc, &["volumeBindingMode"]).unwrap_or("Immediate")),
        Value::Bool(opt_bool(sc, &["allowVolumeExpansion"]).unwrap_or(false)),
        s(age(sc, now)),
    ]
}
