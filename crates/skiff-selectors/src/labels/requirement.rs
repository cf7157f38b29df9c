//! One label requirement (`key op values`), its validation, matching and text form.

use std::fmt;

use serde_json::{Map, Value};

use crate::go_format::{aggregate, go_json_strings, go_quote, invalid};
use crate::validation::{label_key_errors, label_value_errors};

/// A label selector operator (upstream `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key in (a,b)`: key present with one of the values.
    In,
    /// `key notin (a,b)`: key absent, or present with none of the values.
    NotIn,
    /// `key=v`.
    Equals,
    /// `key==v` (same meaning as `=`, kept for the canonical string).
    DoubleEquals,
    /// `key!=v`: key absent, or present with another value.
    NotEquals,
    /// `key`: key present.
    Exists,
    /// `!key`: key absent.
    DoesNotExist,
    /// `key>n`: key present with an integer value greater than n.
    GreaterThan,
    /// `key<n`: key present with an integer value less than n.
    LessThan,
}

/// One requirement of a label selector; all requirements must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// Render an `Invalid value` for a key (a string) the way upstream does.
fn key_error(path: &str, key: &str) -> Option<String> {
    let errs = label_key_errors(key);
    if errs.is_empty() {
        None
    } else {
        Some(invalid(path, &go_quote(key), &errs.join("; ")))
    }
}

/// Upstream `validateLabelKey` with a nil field path (as `labels.Parse` uses it).
pub(crate) fn validate_parsed_key(key: &str) -> Result<(), String> {
    match key_error("<nil>", key) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl Requirement {
    /// Build a validated requirement (upstream `labels.NewRequirement` with no
    /// field path). The error text is the aggregated upstream message.
    pub(crate) fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, String> {
        let mut errs = Vec::new();
        if let Some(e) = key_error("key", key) {
            errs.push(e);
        }
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(invalid(
                        "values",
                        &go_json_strings(&values),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(invalid(
                        "values",
                        &go_json_strings(&values),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(invalid(
                        "values",
                        &go_json_strings(&values),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(invalid(
                        "values",
                        &go_json_strings(&values),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            &go_quote(v),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let verrs = label_value_errors(v);
            if !verrs.is_empty() {
                errs.push(invalid(
                    &format!("values[{i}][{key}]"),
                    &go_quote(v),
                    &verrs.join("; "),
                ));
            }
        }
        match aggregate(errs) {
            Some(message) => Err(message),
            None => Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            }),
        }
    }

    /// Build a requirement without validation (upstream `SelectorFromValidatedSet`).
    pub(crate) fn unchecked(key: &str, operator: Operator, values: Vec<String>) -> Self {
        Requirement {
            key: key.to_string(),
            operator,
            values,
        }
    }

    /// The label key this requirement constrains.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator relating the key to the values.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, in the order given (the text form sorts them).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }

    /// Whether the labels satisfy this requirement. Non-string label values
    /// count as absent: valid objects never carry them.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels
            .and_then(|l| l.get(&self.key))
            .and_then(Value::as_str);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = value.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream `Requirement.String()`: values sorted, `in`/`notin` in parentheses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        f.write_str(&sorted.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}
