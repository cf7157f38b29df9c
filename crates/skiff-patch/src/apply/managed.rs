//! `metadata.managedFields` entries: decoding, identity and encoding.

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, PathElem};

/// One `managedFields` entry with its decoded field set.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    /// The field manager name.
    pub(crate) manager: String,
    /// "Apply" or "Update".
    pub(crate) operation: String,
    /// The apiVersion the fields were written with.
    pub(crate) api_version: String,
    /// The entry's `time`, if any.
    pub(crate) time: Option<Value>,
    /// The subresource the entry was written through ("" for the main resource).
    pub(crate) subresource: String,
    /// The owned fields.
    pub(crate) set: FieldSet,
}

impl Entry {
    /// Whether this entry belongs to `manager` doing `operation` on the main resource.
    ///
    /// Upstream identifies appliers without their apiVersion, updaters with it.
    pub(crate) fn is(&self, manager: &str, operation: &str, api_version: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.is_empty()
            && (operation == "Apply" || self.api_version == api_version)
    }

    fn encode(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".to_owned(), Value::String(self.manager.clone()));
        m.insert(
            "operation".to_owned(),
            Value::String(self.operation.clone()),
        );
        m.insert(
            "apiVersion".to_owned(),
            Value::String(self.api_version.clone()),
        );
        if let Some(t) = &self.time {
            m.insert("time".to_owned(), t.clone());
        }
        m.insert(
            "fieldsType".to_owned(),
            Value::String("FieldsV1".to_owned()),
        );
        m.insert("fieldsV1".to_owned(), self.set.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert(
                "subresource".to_owned(),
                Value::String(self.subresource.clone()),
            );
        }
        Value::Object(m)
    }
}

/// Decodes `metadata.managedFields`; malformed entries are dropped, as upstream resets
/// managed fields it cannot decode.
pub(crate) fn decode(object: &Value) -> Vec<Entry> {
    let Some(Value::Array(items)) = object.pointer("/metadata/managedFields") else {
        return Vec::new();
    };
    items.iter().filter_map(decode_entry).collect()
}

fn decode_entry(item: &Value) -> Option<Entry> {
    let text = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
    let operation = text("operation").filter(|o| o == "Apply" || o == "Update")?;
    let api_version = text("apiVersion").filter(|v| !v.is_empty())?;
    if text("fieldsType").as_deref() != Some("FieldsV1") {
        return None;
    }
    let set = match item.get("fieldsV1") {
        Some(v) => FieldSet::from_fields_v1(v).ok()?,
        None => FieldSet::default(),
    };
    Some(Entry {
        manager: text("manager").unwrap_or_default(),
        operation,
        api_version,
        time: item.get("time").filter(|t| !t.is_null()).cloned(),
        subresource: text("subresource").unwrap_or_default(),
        set,
    })
}

/// Writes entries back into `object.metadata.managedFields`, dropping empty ones and
/// sorting as upstream does (operation, time, manager, apiVersion, subresource).
pub(crate) fn encode_into(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        let time = |e: &Entry| {
            e.time
                .as_ref()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        (
            &a.operation,
            time(a),
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                time(b),
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let Value::Object(root) = object else { return };
    if entries.is_empty() {
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.shift_remove("managedFields");
        }
        return;
    }
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Value::Object(meta) = meta {
        meta.insert(
            "managedFields".to_owned(),
            Value::Array(entries.iter().map(Entry::encode).collect()),
        );
    }
}

/// A copy of the object without `metadata.managedFields`.
pub(crate) fn without_managed_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        meta.shift_remove("managedFields");
    }
    out
}

/// Removes the fields upstream never tracks (type and identity metadata).
pub(crate) fn strip_ignored(set: &mut FieldSet) {
    let f = |n: &str| PathElem::Field(n.to_owned());
    set.remove_tree(&[f("apiVersion")]);
    set.remove_tree(&[f("kind")]);
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        set.remove_tree(&[f("metadata"), f(name)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decode_skips_malformed_and_encode_sorts() {
        let obj = json!({"metadata": {"managedFields": [
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2024-01-02T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:a": {}}}},
            {"manager": "z", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-03T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:b": {}}}},
            {"manager": "bad", "operation": "Frob", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {}},
            {"manager": "bad2", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV2", "fieldsV1": {}},
            {"manager": "a", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:c": {}}}},
            {"manager": "empty", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {}},
        ]}});
        let entries = decode(&obj);
        assert_eq!(entries.len(), 4);
        let mut out = json!({"metadata": {}});
        encode_into(&mut out, entries);
        let managers: Vec<&str> = out["metadata"]["managedFields"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["manager"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(managers, ["z", "a", "b"]);
    }

    #[test]
    fn identity_ignores_api_version_for_appliers_only() {
        let e = |op: &str| Entry {
            manager: "m".into(),
            operation: op.into(),
            api_version: "apps/v1".into(),
            time: None,
            subresource: String::new(),
            set: FieldSet::default(),
        };
        assert!(e("Apply").is("m", "Apply", "apps/v1beta1"));
        assert!(!e("Update").is("m", "Update", "apps/v1beta1"));
        assert!(e("Update").is("m", "Update", "apps/v1"));
        assert!(!e("Update").is("m", "Apply", "apps/v1"));
    }
}
