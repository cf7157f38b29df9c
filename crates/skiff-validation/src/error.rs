//! Field errors shaped like upstream `field.Error`, and the 422 Status built from them.

use std::fmt;

use serde_json::{json, Map, Value};

/// The kind of a field error, as upstream `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A value was looked up and not found (`FieldValueNotFound`).
    NotFound,
    /// A required value is missing (`FieldValueRequired`).
    Required,
    /// A value that must be unique is repeated (`FieldValueDuplicate`).
    Duplicate,
    /// A value is malformed or out of range (`FieldValueInvalid`).
    Invalid,
    /// A value is not one of an enumerated set (`FieldValueNotSupported`).
    NotSupported,
    /// A well-formed value is not allowed here (`FieldValueForbidden`).
    Forbidden,
    /// A value is too long; the value itself is not echoed (`FieldValueTooLong`).
    TooLong,
    /// A list has too many items (`FieldValueTooMany`).
    TooMany,
    /// A value has the wrong JSON type (`FieldValueTypeInvalid`).
    TypeInvalid,
    /// Something went wrong that is not the user's fault (`InternalError`).
    Internal,
}

impl ErrorKind {
    /// The metav1.CauseType string used in `details.causes[].reason`.
    pub fn cause_reason(&self) -> &'static str {
        match self {
            ErrorKind::NotFound => "FieldValueNotFound",
            ErrorKind::Required => "FieldValueRequired",
            ErrorKind::Duplicate => "FieldValueDuplicate",
            ErrorKind::Invalid => "FieldValueInvalid",
            ErrorKind::NotSupported => "FieldValueNotSupported",
            ErrorKind::Forbidden => "FieldValueForbidden",
            ErrorKind::TooLong => "FieldValueTooLong",
            ErrorKind::TooMany => "FieldValueTooMany",
            ErrorKind::TypeInvalid => "FieldValueTypeInvalid",
            ErrorKind::Internal => "InternalError",
        }
    }

    /// The human prefix of the message ("Required value", "Invalid value", ...).
    pub fn label(&self) -> &'static str {
        match self {
            ErrorKind::NotFound => "Not found",
            ErrorKind::Required => "Required value",
            ErrorKind::Duplicate => "Duplicate value",
            ErrorKind::Invalid | ErrorKind::TypeInvalid => "Invalid value",
            ErrorKind::NotSupported => "Unsupported value",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::TooLong => "Too long",
            ErrorKind::TooMany => "Too many",
            ErrorKind::Internal => "Internal error",
        }
    }
}

/// One field error, as upstream `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// JSON path of the field, e.g. `spec.template.spec.containers[0].image`.
    pub field: String,
    /// What is wrong.
    pub kind: ErrorKind,
    /// The offending value; `None` means it is not echoed in the message.
    pub bad_value: Option<Value>,
    /// Extra explanation appended after the value.
    pub detail: String,
}

impl FieldError {
    /// `Required value[: detail]`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(field, ErrorKind::Required, None, detail)
    }

    /// `Invalid value: <v>: detail`.
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(field, ErrorKind::Invalid, Some(value.into()), detail)
    }

    /// `Invalid value: detail`, the value left out (upstream's `field.OmitValueType`).
    pub fn invalid_omit_value(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(field, ErrorKind::Invalid, None, detail)
    }

    /// `Unsupported value: <v>: supported values: "a", "b"`.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<Value>,
        supported: &[&str],
    ) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(field, ErrorKind::NotSupported, Some(value.into()), detail)
    }

    /// `Duplicate value: <v>`.
    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, ErrorKind::Duplicate, Some(value.into()), "")
    }

    /// `Not found: <v>`.
    pub fn not_found(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, ErrorKind::NotFound, Some(value.into()), "")
    }

    /// `Forbidden[: detail]`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(field, ErrorKind::Forbidden, None, detail)
    }

    /// `Too long: may not be more than N bytes`.
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        Self::new(
            field,
            ErrorKind::TooLong,
            None,
            format!("may not be more than {max_bytes} {unit}"),
        )
    }

    /// `Too many: <n>: must have at most N items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        Self::new(
            field,
            ErrorKind::TooMany,
            Some(Value::from(actual)),
            format!("must have at most {max} {unit}"),
        )
    }

    /// `Invalid value: <v>: field is immutable`.
    pub fn immutable(field: impl Into<String>, new_value: impl Into<Value>) -> Self {
        Self::invalid(field, new_value, FIELD_IMMUTABLE)
    }

    fn new(
        field: impl Into<String>,
        kind: ErrorKind,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            kind,
            bad_value,
            detail: detail.into(),
        }
    }

    /// Message as upstream `field.Error.ErrorBody()`, without the field path.
    pub fn message(&self) -> String {
        let mut s = match (self.kind, &self.bad_value) {
            (
                ErrorKind::Required
                | ErrorKind::Forbidden
                | ErrorKind::TooLong
                | ErrorKind::Internal,
                _,
            )
            | (_, None) => self.kind.label().to_string(),
            (_, Some(v)) => format!("{}: {}", self.kind.label(), render_value(v)),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The `details.causes[]` entry for this error.
    pub fn to_cause(&self) -> Value {
        json!({"reason": self.kind.cause_reason(), "message": self.message(), "field": self.field})
    }
}

/// Full text as in a Status message list: `<field>: <message>`.
impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// Upstream `FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

/// Renders a bad value the way Go's `ErrorBody` does: `%q` for strings, plain numbers
/// and booleans, JSON for anything else.
fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Quotes a string as Go's `strconv.Quote` does (printable Unicode kept, the rest escaped).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Builds the `422 Invalid` Status body upstream `errors.NewInvalid` returns.
/// `group` is "" for core; `kind` e.g. "Deployment".
pub fn invalid_status(group: &str, kind: &str, name: &str, errs: &[FieldError]) -> Value {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    // Upstream aggregates de-duplicate identical messages and print one bare, several in [..].
    let mut msgs: Vec<String> = Vec::new();
    for e in errs {
        let m = e.to_string();
        if !msgs.contains(&m) {
            msgs.push(m);
        }
    }
    let message = match msgs.len() {
        0 => format!("{qualified} {} is invalid", go_quote(name)),
        1 => format!("{qualified} {} is invalid: {}", go_quote(name), msgs[0]),
        _ => format!(
            "{qualified} {} is invalid: [{}]",
            go_quote(name),
            msgs.join(", ")
        ),
    };
    let mut details = Map::new();
    details.insert("name".into(), Value::from(name));
    if !group.is_empty() {
        details.insert("group".into(), Value::from(group));
    }
    details.insert("kind".into(), Value::from(kind));
    details.insert(
        "causes".into(),
        Value::Array(errs.iter().map(FieldError::to_cause).collect()),
    );
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Invalid",
        "details": Value::Object(details),
        "code": 422
    })
}

/// Errors from parsing values the API carries as strings (quantities, cron schedules).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The quantity does not have the `<number><suffix>` shape.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    QuantityFormat,
    /// The quantity's suffix is not one Kubernetes knows.
    #[error("unable to parse quantity's suffix")]
    QuantitySuffix,
    /// The quantity does not fit in the range Skiff computes with.
    #[error("quantity is too large")]
    QuantityRange,
    /// A cron schedule could not be parsed; the text matches robfig/cron's wording.
    #[error("{0}")]
    Cron(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_upstream_error_body() {
        let cases: Vec<(FieldError, &str)> = vec![
            (FieldError::required("spec.containers", ""), "spec.containers: Required value"),
            (
                FieldError::required("metadata.name", "name or generateName is required"),
                "metadata.name: Required value: name or generateName is required",
            ),
            (
                FieldError::invalid("spec.replicas", -1, "must be greater than or equal to 0"),
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                FieldError::not_supported("spec.type", "Bogus", &["ClusterIP", "ExternalName"]),
                "spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\"",
            ),
            (FieldError::duplicate("spec.containers[1].name", "web"), "spec.containers[1].name: Duplicate value: \"web\""),
            (FieldError::not_found("spec.containers[0].volumeMounts[0].name", "v"), "spec.containers[0].volumeMounts[0].name: Not found: \"v\""),
            (FieldError::forbidden("metadata.namespace", "not allowed on this type"), "metadata.namespace: Forbidden: not allowed on this type"),
            (FieldError::too_long("metadata.annotations", 262144), "metadata.annotations: Too long: may not be more than 262144 bytes"),
            (FieldError::too_many("spec.x", 5, 1), "spec.x: Too many: 5: must have at most 1 item"),
            (
                FieldError::immutable("spec.selector", json!({"matchLabels": {"a": "b"}})),
                "spec.selector: Invalid value: {\"matchLabels\":{\"a\":\"b\"}}: field is immutable",
            ),
            (FieldError::invalid("x", "tab\there\"", ""), "x: Invalid value: \"tab\\there\\\"\""),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn cause_reasons() {
        let cases = [
            (ErrorKind::Required, "FieldValueRequired"),
            (ErrorKind::Invalid, "FieldValueInvalid"),
            (ErrorKind::NotSupported, "FieldValueNotSupported"),
            (ErrorKind::Duplicate, "FieldValueDuplicate"),
            (ErrorKind::Forbidden, "FieldValueForbidden"),
            (ErrorKind::TooLong, "FieldValueTooLong"),
            (ErrorKind::TooMany, "FieldValueTooMany"),
            (ErrorKind::NotFound, "FieldValueNotFound"),
            (ErrorKind::TypeInvalid, "FieldValueTypeInvalid"),
            (ErrorKind::Internal, "InternalError"),
        ];
        for (k, want) in cases {
            assert_eq!(k.cause_reason(), want);
        }
    }

    #[test]
    fn invalid_status_shapes() {
        let one = invalid_status(
            "apps",
            "Deployment",
            "web",
            &[FieldError::invalid(
                "spec.replicas",
                -1,
                "must be greater than or equal to 0",
            )],
        );
        assert_eq!(one["message"], "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0");
        assert_eq!(one["code"], 422);
        assert_eq!(one["details"]["group"], "apps");
        assert_eq!(one["details"]["causes"][0]["reason"], "FieldValueInvalid");
        assert_eq!(one["details"]["causes"][0]["field"], "spec.replicas");
        let two = invalid_status(
            "",
            "Pod",
            "p",
            &[FieldError::required("a", ""), FieldError::required("b", "")],
        );
        assert_eq!(
            two["message"],
            "Pod \"p\" is invalid: [a: Required value, b: Required value]"
        );
        assert!(two["details"].get("group").is_none());
    }
}
