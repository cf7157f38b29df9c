//! Tables for custom resources from a CRD version's `additionalPrinterColumns`
//! (apiextensions-apiserver `tableconvertor`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::column::{Column, ColumnOwned};
use crate::descriptions;
use crate::error::PrinterError;
use crate::go_json::print_value;
use crate::json::{self, parse_time, since, str_at};
use crate::jsonpath::JsonPath;

/// One additional column and its compiled path.
#[derive(Debug, Clone)]
struct CustomColumn {
    def: ColumnOwned,
    path: JsonPath,
}

/// The table convertor of one custom resource version.
#[derive(Debug, Clone)]
pub struct CustomColumns {
    columns: Vec<CustomColumn>,
}

impl CustomColumns {
    /// Builds the convertor from `spec.versions[].additionalPrinterColumns` (a JSON
    /// array, or null/absent). Like upstream, a version without printer columns gets
    /// a single Age column, and a column whose JSONPath cannot be parsed ends the
    /// list there (the columns before it are kept).
    pub fn from_printer_columns(cols: &Value) -> Self {
        match Self::try_from_printer_columns(cols) {
            Ok(c) => c,
            Err((partial, _)) => partial,
        }
    }

    /// Like [`CustomColumns::from_printer_columns`] but reports the first invalid
    /// column together with the columns accepted before it.
    pub fn try_from_printer_columns(cols: &Value) -> Result<Self, (Self, PrinterError)> {
        let defs = cols.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let mut out = CustomColumns {
            columns: Vec::new(),
        };
        if defs.is_empty() {
            // serveDefaultColumnsIfEmpty: only a column-less version gets Age.
            let path = JsonPath::parse(".metadata.creationTimestamp").map_err(|e| {
                (
                    CustomColumns {
                        columns: Vec::new(),
                    },
                    e,
                )
            })?;
            out.columns.push(CustomColumn {
                def: ColumnOwned {
                    name: "Age".to_string(),
                    type_: "date".to_string(),
                    format: String::new(),
                    description: descriptions::OBJECT_CREATION_TIMESTAMP.to_string(),
                    priority: 0,
                },
                path,
            });
            return Ok(out);
        }
        for col in defs {
            let json_path = str_at(col, &["jsonPath"]);
            let path = match JsonPath::parse(json_path) {
                Ok(p) => p,
                Err(e) => return Err((out, e)),
            };
            let description = match str_at(col, &["description"]) {
                "" => {
                    format!("Custom resource definition column (in JSONPath format): {json_path}")
                }
                d => d.to_string(),
            };
            out.columns.push(CustomColumn {
                def: ColumnOwned {
                    name: str_at(col, &["name"]).to_string(),
                    type_: str_at(col, &["type"]).to_string(),
                    format: str_at(col, &["format"]).to_string(),
                    description,
                    priority: json::i64_at(col, &["priority"]) as i32,
                },
                path,
            });
        }
        Ok(out)
    }

    /// Column definitions: Name, then the printer columns.
    pub fn columns(&self) -> Vec<ColumnOwned> {
        let mut out = vec![Column::name().to_owned_column()];
        out.extend(self.columns.iter().map(|c| c.def.clone()));
        out
    }

    /// Cells of one custom object, aligned with [`CustomColumns::columns`].
    pub fn cells(&self, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
        let mut cells = vec![Value::String(json::name(obj).to_string())];
        for col in &self.columns {
            let first = match col.path.find(obj) {
                Ok(found) => found.into_iter().next(),
                Err(_) => None,
            };
            let cell = match first {
                None => Value::Null,
                // Only the first match is shown: upstream assumes simple paths.
                Some(v) if col.def.type_ == "string" => Value::String(print_value(v)),
                Some(v) => typed_cell(&col.def.type_, v, now),
            };
            cells.push(cell);
        }
        cells
    }
}

/// cellForJSONValue: the cell for a non-string column, null when the JSON value
/// does not fit the declared type.
fn typed_cell(type_: &str, v: &Value, now: DateTime<Utc>) -> Value {
    match (type_, v) {
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => n.as_f64().map_or(Value::Null, |f| Value::from(f as i64)),
        },
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("date", Value::String(s)) => {
            // metav1.Time query-parameter parsing: "" and "null" are the zero time.
            if s.is_empty() || s == "null" {
                return Value::String(since(None, now));
            }
            match parse_time(s) {
                Some(t) => Value::String(since(Some(t), now)),
                None => Value::String("<invalid>".to_string()),
            }
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_time("2025-01-10T12:00:00Z").expect("valid time")
    }

    #[test]
    fn version_without_columns_gets_age_only() {
        for cols in [json!(null), json!([])] {
            let c = CustomColumns::from_printer_columns(&cols);
            let names: Vec<String> = c.columns().into_iter().map(|c| c.name).collect();
            assert_eq!(names, ["Name", "Age"]);
            assert_eq!(c.columns()[1].type_, "date");
            let obj =
                json!({"metadata": {"name": "x", "creationTimestamp": "2025-01-10T11:55:00Z"}});
            assert_eq!(c.cells(&obj, now()), vec![json!("x"), json!("5m")]);
        }
    }

    #[test]
    fn printer_columns_render_typed_cells() {
        let cols = json!([
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
            {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "The phase"},
            {"name": "Hosts", "type": "string", "jsonPath": ".spec.hosts[*].name", "priority": 1},
            {"name": "Spec", "type": "string", "jsonPath": ".spec.nested"},
            {"name": "Count", "type": "string", "jsonPath": ".spec.replicas"},
            {"name": "Missing", "type": "string", "jsonPath": ".status.nothing"},
            {"name": "WrongType", "type": "integer", "jsonPath": ".status.phase"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            {"name": "Bad Date", "type": "date", "jsonPath": ".status.phase"}
        ]);
        let c = CustomColumns::from_printer_columns(&cols);
        let defs = c.columns();
        assert_eq!(defs.len(), 12, "Name + 11, no implicit Age");
        assert_eq!(defs[4].description, "The phase");
        assert_eq!(
            defs[1].description,
            "Custom resource definition column (in JSONPath format): .spec.replicas"
        );
        assert_eq!(defs[5].priority, 1);
        assert_eq!(
            defs[0].to_json(),
            json!({"name": "Name", "type": "string", "format": "name",
                   "description": descriptions::OBJECT_NAME, "priority": 0})
        );
        let obj = json!({
            "metadata": {"name": "demo", "creationTimestamp": "2025-01-08T09:00:00Z"},
            "spec": {"replicas": 3, "ratio": 1.5, "hosts": [{"name": "a.example"}, {"name": "b.example"}],
                     "nested": {"b": 1, "a": [true]}},
            "status": {"ready": true, "phase": "Running"}
        });
        assert_eq!(
            c.cells(&obj, now()),
            vec![
                json!("demo"),
                json!(3),
                json!(1.5),
                json!(true),
                json!("Running"),
                json!("a.example"),
                json!(r#"{"a":[true],"b":1}"#),
                json!("3"),
                Value::Null,
                Value::Null,
                json!("2d3h"),
                json!("<invalid>"),
            ]
        );
    }

    #[test]
    fn invalid_path_keeps_earlier_columns() {
        let cols = json!([
            {"name": "A", "type": "string", "jsonPath": ".a"},
            {"name": "B", "type": "string", "jsonPath": ".b[?(@.x)]"},
            {"name": "C", "type": "string", "jsonPath": ".c"}
        ]);
        let err = CustomColumns::try_from_printer_columns(&cols).err();
        let (partial, e) = err.expect("second column is invalid");
        assert!(matches!(e, PrinterError::InvalidJsonPath { .. }));
        let names: Vec<String> = partial.columns().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "A"]);
    }
}
