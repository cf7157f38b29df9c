//! The `$`-directives of strategic merge patch and how they are stripped from values.

use serde_json::{Map, Value};

use crate::error::PatchError;

/// `{"$patch": "replace" | "delete" | "merge"}` on a map or list element.
pub(crate) const PATCH: &str = "$patch";
/// `"$retainKeys": [...]`: live keys not listed are dropped before merging.
pub(crate) const RETAIN_KEYS: &str = "$retainKeys";
/// `"$deleteFromPrimitiveList/<field>": [...]`: values removed from a primitive merge list.
pub(crate) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
/// `"$setElementOrder/<field>": [...]`: the order the merged list must follow.
pub(crate) const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// Whether a map key is a directive rather than data.
pub(crate) fn is_directive_key(key: &str) -> bool {
    key == PATCH
        || key == RETAIN_KEYS
        || key.starts_with("$setElementOrder/")
        || key.starts_with("$deleteFromPrimitiveList/")
}

/// Returns the field name of a `<prefix>/<field>` directive key.
pub(crate) fn extract_key<'a>(key: &'a str, prefix: &str) -> Result<&'a str, PatchError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(PatchError::InvalidPatch(
            "invalid patch format of primitive list".to_owned(),
        )),
        _ => Err(PatchError::InvalidPatch(
            "invalid patch format of setElementOrder list".to_owned(),
        )),
    }
}

/// Strips directives and `null` members from a patch value that is stored as-is.
///
/// Upstream's `removeDirectives` drops any map carrying `$patch` (and the field holding
/// it); nulls are discarded because they would only mean "absent" once decoded into a
/// typed object. Returns `None` when the value itself must not be kept.
pub(crate) fn clean(value: Value) -> Option<Value> {
    match value {
        Value::Object(m) if m.contains_key(PATCH) => None,
        Value::Object(m) => Some(Value::Object(clean_map(m))),
        Value::Array(a) => Some(Value::Array(clean_list(a))),
        other => Some(other),
    }
}

/// [`clean`] applied to every member of a map.
pub(crate) fn clean_map(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
        .filter_map(|(k, v)| clean(v).map(|v| (k, v)))
        .collect()
}

/// [`clean`] applied to every element of a list; directive elements are dropped.
pub(crate) fn clean_list(list: Vec<Value>) -> Vec<Value> {
    list.into_iter().filter_map(clean).collect()
}

/// The "map: {...} does not contain declared merge key: k" error upstream reports.
pub(crate) fn no_merge_key(item: &Value, key: &str) -> PatchError {
    PatchError::InvalidPatch(format!(
        "map: {item} does not contain declared merge key: {key}"
    ))
}

/// The "unknown patch type" error for a bad `$patch` value.
pub(crate) fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    PatchError::InvalidPatch(format!(
        "unknown patch type: {directive} in map: {}",
        Value::Object(map.clone())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clean_removes_every_directive_and_null() {
        let cases = [
            (json!({"a": null, "b": 1}), Some(json!({"b": 1}))),
            (json!({"$patch": "delete", "name": "x"}), None),
            (
                json!({"l": [{"$patch": "delete", "name": "x"}, {"name": "y", "v": null}]}),
                Some(json!({"l": [{"name": "y"}]})),
            ),
            (
                json!({"$setElementOrder/l": [1], "$retainKeys": ["a"], "$deleteFromPrimitiveList/f": ["x"], "a": 1}),
                Some(json!({"a": 1})),
            ),
            (
                json!({"nested": {"$patch": "replace", "a": 1}}),
                Some(json!({})),
            ),
            (json!("scalar"), Some(json!("scalar"))),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input.clone()), want, "{input}");
        }
    }

    #[test]
    fn extract_key_requires_the_prefix() {
        assert_eq!(
            extract_key("$setElementOrder/containers", SET_ELEMENT_ORDER).ok(),
            Some("containers")
        );
        assert!(extract_key("$setElementOrder", SET_ELEMENT_ORDER).is_err());
        assert!(extract_key("$deleteFromPrimitiveListx/f", DELETE_FROM_PRIMITIVE_LIST).is_err());
    }
}
