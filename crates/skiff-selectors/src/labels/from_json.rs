//! Conversion of a `metav1.LabelSelector` JSON object into a [`LabelSelector`]
//! (upstream `metav1.LabelSelectorAsSelector`).

use serde_json::{Map, Value};

use super::requirement::{Operator, Requirement};
use super::selector::LabelSelector;
use crate::SelectorError;

fn object_error(message: String) -> SelectorError {
    SelectorError::LabelSelectorObject { message }
}

/// Go's name for a JSON value's type in `json: cannot unmarshal` messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(v: &Value, field: &str, go_type: &str) -> SelectorError {
    object_error(format!(
        "json: cannot unmarshal {} into Go struct field {field} of type {go_type}",
        json_type(v)
    ))
}

/// A JSON string, or "" for null/absent (Go's zero value).
fn string_field(
    obj: &Map<String, Value>,
    name: &str,
    go_field: &str,
) -> Result<String, SelectorError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(type_error(other, go_field, "string")),
    }
}

fn match_labels(obj: &Map<String, Value>) -> Result<Vec<(String, String)>, SelectorError> {
    match obj.get("matchLabels") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                // Go decodes a null map value as the zero string.
                Value::Null => Ok((k.clone(), String::new())),
                other => Err(type_error(other, "LabelSelector.matchLabels", "string")),
            })
            .collect(),
        Some(other) => Err(type_error(
            other,
            "LabelSelector.matchLabels",
            "map[string]string",
        )),
    }
}

/// One `matchExpressions` entry: key, operator text and values.
struct Expression {
    key: String,
    operator: String,
    values: Vec<String>,
}

fn match_expressions(obj: &Map<String, Value>) -> Result<Vec<Expression>, SelectorError> {
    let list = match obj.get("matchExpressions") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(type_error(
                other,
                "LabelSelector.matchExpressions",
                "[]v1.LabelSelectorRequirement",
            ))
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let expr = match item {
            Value::Object(m) => m,
            // A null array element decodes as the zero requirement.
            Value::Null => {
                out.push(Expression {
                    key: String::new(),
                    operator: String::new(),
                    values: Vec::new(),
                });
                continue;
            }
            other => {
                return Err(type_error(
                    other,
                    "LabelSelector.matchExpressions",
                    "v1.LabelSelectorRequirement",
                ))
            }
        };
        let key = string_field(expr, "key", "LabelSelector.matchExpressions.key")?;
        let operator = string_field(expr, "operator", "LabelSelector.matchExpressions.operator")?;
        let values = match expr.get("values") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(vs)) => vs
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Null => Ok(String::new()),
                    other => Err(type_error(
                        other,
                        "LabelSelector.matchExpressions.values",
                        "string",
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(type_error(
                    other,
                    "LabelSelector.matchExpressions.values",
                    "[]string",
                ))
            }
        };
        out.push(Expression {
            key,
            operator,
            values,
        });
    }
    Ok(out)
}

impl LabelSelector {
    /// From a `metav1.LabelSelector` JSON object `{matchLabels, matchExpressions}`.
    /// `null` selects nothing; an object with no requirements selects
    /// everything (upstream `LabelSelectorAsSelector`). Keys, values and
    /// operators are validated with upstream's messages.
    pub fn from_json(v: &Value) -> Result<Self, SelectorError> {
        let obj = match v {
            Value::Null => return Ok(LabelSelector::nothing()),
            Value::Object(obj) => obj,
            other => {
                return Err(object_error(format!(
                    "json: cannot unmarshal {} into Go value of type v1.LabelSelector",
                    json_type(other)
                )))
            }
        };
        let labels = match_labels(obj)?;
        let exprs = match_expressions(obj)?;
        if labels.is_empty() && exprs.is_empty() {
            return Ok(LabelSelector::everything());
        }
        let mut reqs = Vec::with_capacity(labels.len() + exprs.len());
        for (k, v) in labels {
            reqs.push(Requirement::new(&k, Operator::Equals, vec![v]).map_err(object_error)?);
        }
        for e in exprs {
            let op = match e.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(object_error(format!(
                        "{} is not a valid label selector operator",
                        crate::go_format::go_quote(other)
                    )))
                }
            };
            reqs.push(Requirement::new(&e.key, op, e.values).map_err(object_error)?);
        }
        Ok(LabelSelector::from_requirements(reqs))
    }
}
