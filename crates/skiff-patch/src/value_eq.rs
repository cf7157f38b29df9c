//! JSON value equality as Go sees decoded JSON: every number is a float64.

use serde_json::Value;

/// Compares two JSON values, treating numbers by numeric value (`1` equals `1.0`).
///
/// Upstream decodes JSON into `interface{}` where all numbers are float64, so
/// merge keys and `test` operations compare numerically, not textually.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x == y {
                return true;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(l), Some(r)) => l == r,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(l, r)| json_eq(l, r))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, l)| y.get(k).is_some_and(|r| json_eq(l, r)))
        }
        _ => a == b,
    }
}

/// The JSON type of a value, the way Go's `reflect.TypeOf` distinguishes decoded JSON.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        let cases = [
            (json!(1), json!(1.0), true),
            (json!(1), json!(2), false),
            (json!({"a": [1, "x"]}), json!({"a": [1.0, "x"]}), true),
            (json!({"a": 1}), json!({"a": 1, "b": 2}), false),
            (json!("1"), json!(1), false),
        ];
        for (a, b, want) in cases {
            assert_eq!(json_eq(&a, &b), want, "{a} vs {b}");
        }
    }
}
