//! Serializing values with their `metadata.resourceVersion` set to the write's revision.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::StoreError;
use crate::object::Rev;

/// Rejects values the store cannot stamp with a resourceVersion, before they reach the writer.
pub(crate) fn check_value(key: &str, value: &Value) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::Invalid("empty key".into()));
    }
    let Value::Object(obj) = value else {
        return Err(StoreError::Invalid("value is not a JSON object".into()));
    };
    match obj.get("metadata") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(StoreError::Invalid("metadata is not a JSON object".into())),
    }
}

/// Sets `metadata.resourceVersion` to `rev` (creating `metadata` if absent) and serializes.
pub(crate) fn encode_with_rev(mut value: Value, rev: Rev) -> Result<Bytes, StoreError> {
    let Value::Object(obj) = &mut value else {
        return Err(StoreError::Invalid("value is not a JSON object".into()));
    };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else {
        return Err(StoreError::Invalid("metadata is not a JSON object".into()));
    };
    meta.insert("resourceVersion".into(), Value::String(rev.to_string()));
    serde_json::to_vec(&value)
        .map(Bytes::from)
        .map_err(StoreError::backend)
}

/// Re-stamps already stored bytes with a new revision (the final state of a deleted object).
pub(crate) fn restamp(data: &[u8], rev: Rev) -> Result<Bytes, StoreError> {
    let value: Value = serde_json::from_slice(data).map_err(StoreError::backend)?;
    encode_with_rev(value, rev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encode_sets_resource_version() {
        let cases = [
            (
                json!({"kind":"ConfigMap","metadata":{"name":"a"}}),
                7,
                r#"{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"7"}}"#,
            ),
            // An old resourceVersion is replaced in place, keeping key order.
            (
                json!({"metadata":{"resourceVersion":"3","name":"a"},"data":{}}),
                12,
                r#"{"metadata":{"resourceVersion":"12","name":"a"},"data":{}}"#,
            ),
            (
                json!({"spec":1}),
                1,
                r#"{"spec":1,"metadata":{"resourceVersion":"1"}}"#,
            ),
        ];
        for (input, rev, want) in cases {
            let got = encode_with_rev(input.clone(), rev).expect("encode");
            assert_eq!(std::str::from_utf8(&got).expect("utf8"), want, "{input}");
        }
    }

    #[test]
    fn check_value_rejects_non_objects() {
        let cases = [
            ("/k", json!({"metadata":{}}), true),
            ("/k", json!({}), true),
            ("", json!({}), false),
            ("/k", json!([1]), false),
            ("/k", json!("s"), false),
            ("/k", json!({"metadata":"x"}), false),
        ];
        for (key, value, ok) in cases {
            assert_eq!(check_value(key, &value).is_ok(), ok, "{key} {value}");
        }
    }

    #[test]
    fn restamp_changes_only_resource_version() {
        let data = br#"{"metadata":{"name":"a","resourceVersion":"4"},"data":{"x":"y"}}"#;
        let got = restamp(data, 9).expect("restamp");
        assert_eq!(
            &got[..],
            br#"{"metadata":{"name":"a","resourceVersion":"9"},"data":{"x":"y"}}"#
        );
        assert!(restamp(b"not json", 9).is_err());
    }
}
