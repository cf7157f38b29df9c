//! Small accessors over `serde_json::Value` and field-path builders.
//!
//! Validation works on the JSON form because that is what the server stores; these
//! helpers keep the validators free of `unwrap()` on user data.

use serde_json::{Map, Value};

/// `obj[key]` as a string, if it is one.
pub fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `obj[key]` as a string, empty when absent or not a string.
pub fn str_or_empty<'a>(v: &'a Value, key: &str) -> &'a str {
    str_at(v, key).unwrap_or("")
}

/// `obj[key]` as an integer, if it is one.
pub fn int_at(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// `obj[key]` as a bool, if it is one.
pub fn bool_at(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

/// `obj[key]` as an array; empty when absent.
pub fn arr_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `obj[key]` as an object, if it is one.
pub fn obj_at<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

/// Whether `obj[key]` is present and not null.
pub fn has(v: &Value, key: &str) -> bool {
    v.get(key).is_some_and(|x| !x.is_null())
}

/// A map value with sorted keys, as Go's json.Marshal prints maps in bad values.
pub fn sorted_map_value(v: Option<&Value>) -> Value {
    match v.and_then(Value::as_object) {
        Some(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(val) = m.get(k) {
                    out.insert(k.clone(), val.clone());
                }
            }
            Value::Object(out)
        }
        None => Value::Null,
    }
}

/// Ensures `v[key]` is an object and returns it mutably (creating it when absent or null).
pub fn ensure_obj<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let m = v.as_object_mut()?;
    let slot = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// Sets `v[key] = val` when the key is absent or null.
pub fn set_default(v: &mut Value, key: &str, val: Value) {
    if let Some(m) = v.as_object_mut() {
        let slot = m.entry(key.to_string()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = val;
        }
    }
}

/// `path.child`; an empty path yields just the child.
pub fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// `path[i]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// `path[key]` (upstream `Path.Key` prints keys without quotes).
pub fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}
