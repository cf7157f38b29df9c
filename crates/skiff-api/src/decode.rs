//! Request body decoding that notices duplicate fields (which `serde_json::Value` would
//! silently collapse): kube-apiserver rejects them under fieldValidation=Strict.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// A decoded body plus the paths of duplicated fields (e.g. `metadata.name`).
pub struct Decoded {
    /// The object; for a duplicated field the last value wins, as in Go.
    pub value: Value,
    /// Paths of fields that appeared more than once.
    pub duplicates: Vec<String>,
}

/// Parse JSON, recording duplicate keys.
pub fn json(body: &[u8]) -> Result<Decoded, String> {
    let dups = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Seed {
        path: String::new(),
        dups: &dups,
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(Decoded {
        value,
        duplicates: dups.into_inner(),
    })
}

/// Parse YAML (a single document); JSON is valid YAML. Duplicate keys are an error in YAML.
pub fn yaml(body: &[u8]) -> Result<Decoded, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let value: Value = serde_yaml::from_str(text).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("duplicate entry") {
            format!("yaml: unmarshal errors: {msg}")
        } else {
            msg
        }
    })?;
    Ok(Decoded {
        value,
        duplicates: Vec::new(),
    })
}

struct Seed<'a> {
    path: String,
    dups: &'a RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v)
            .map(Value::Number)
            .unwrap_or(Value::Null))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed {
            path: self.path.clone(),
            dups: self.dups,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            let v = map.next_value_seed(Seed {
                path: path.clone(),
                dups: self.dups,
            })?;
            if out.insert(key, v).is_some() {
                self.dups.borrow_mut().push(path);
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_fields_are_reported_with_paths() {
        let d = json(br#"{"metadata":{"name":"a","name":"b"},"spec":{"x":[{"y":1,"y":2}]}}"#)
            .expect("parses");
        assert_eq!(d.duplicates, vec!["metadata.name", "spec.x.y"]);
        assert_eq!(d.value["metadata"]["name"], "b");
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(json(b"{\"a\":").is_err());
        assert!(json(b"{} trailing").is_err());
    }

    #[test]
    fn yaml_parses_documents() {
        let d = yaml(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n").expect("parses");
        assert_eq!(d.value["kind"], "ConfigMap");
    }
}
