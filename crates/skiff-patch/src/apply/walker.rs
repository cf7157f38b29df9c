//! Walking objects with their schema: field sets (`ToFieldSet`) and path navigation.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::fieldset::{canonical_key, FieldSet, PathElem};
use crate::meta::{lookup, ListKind, PatchMeta};

/// Schema-aware traversal; `strict` rejects invalid lists (for applied configurations).
pub(crate) struct Walker<'a> {
    /// Schema facts.
    pub(crate) meta: &'a dyn PatchMeta,
    /// Whether malformed list items are errors (applied config) or skipped (live objects).
    pub(crate) strict: bool,
}

impl Walker<'_> {
    /// The set of fields an object sets, as upstream `ToFieldSet` computes it.
    pub(crate) fn field_set(&self, object: &Value) -> Result<FieldSet, String> {
        let mut set = FieldSet::default();
        if let Value::Object(m) = object {
            self.object_set(m, &mut Vec::new(), &mut Vec::new(), &mut set)?;
        }
        Ok(set)
    }

    fn object_set(
        &self,
        map: &Map<String, Value>,
        schema_path: &mut Vec<String>,
        path: &mut Vec<PathElem>,
        set: &mut FieldSet,
    ) -> Result<(), String> {
        for (key, value) in map {
            schema_path.push(key.clone());
            path.push(PathElem::Field(key.clone()));
            let out = self.value_set(value, schema_path, path, set);
            path.pop();
            schema_path.pop();
            out?;
        }
        Ok(())
    }

    fn value_set(
        &self,
        value: &Value,
        schema_path: &mut Vec<String>,
        path: &mut Vec<PathElem>,
        set: &mut FieldSet,
    ) -> Result<(), String> {
        let info = lookup(self.meta, schema_path);
        match value {
            Value::Object(m) if !m.is_empty() && !info.is_atomic_map() => {
                self.object_set(m, schema_path, path, set)
            }
            Value::Array(items) => {
                let kind = info.list_kind();
                if kind == ListKind::Atomic {
                    set.insert(path);
                    return Ok(());
                }
                let mut seen = HashSet::new();
                let mut duplicates = HashSet::new();
                let mut elems = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match self.item_elem(item, &kind, schema_path) {
                        Ok(pe) => {
                            if !seen.insert(pe.clone()) {
                                if self.strict {
                                    return Err(format!(
                                        "{}: duplicate entries for key {}",
                                        schema_path.join("."),
                                        super::fieldset::path_string(std::slice::from_ref(&pe))
                                    ));
                                }
                                duplicates.insert(pe.clone());
                            }
                            elems.push(Some(pe));
                        }
                        Err(e) if self.strict => {
                            return Err(format!("{}: element {i}: {e}", schema_path.join(".")))
                        }
                        Err(_) => elems.push(None),
                    }
                }
                for (item, pe) in items.iter().zip(elems) {
                    let Some(pe) = pe else { continue };
                    path.push(pe.clone());
                    set.insert(path);
                    // Upstream owns duplicated items only as a whole.
                    if !duplicates.contains(&pe) {
                        if let Value::Object(m) = item {
                            self.object_set(m, schema_path, path, set)?;
                        }
                    }
                    path.pop();
                }
                Ok(())
            }
            _ => {
                set.insert(path);
                Ok(())
            }
        }
    }

    /// The path element identifying a list item (upstream `listItemToPathElement`).
    pub(crate) fn item_elem(
        &self,
        item: &Value,
        kind: &ListKind,
        list_path: &[String],
    ) -> Result<PathElem, String> {
        match kind {
            ListKind::Map(keys) => {
                let map = match item {
                    Value::Null => {
                        return Err(
                            "associative list with keys may not have a null element".to_owned()
                        )
                    }
                    Value::Object(m) => m,
                    _ => {
                        return Err(
                            "associative list with keys may not have non-map elements".to_owned()
                        )
                    }
                };
                let refs: Vec<&str> = list_path.iter().map(String::as_str).collect();
                let mut pairs: Vec<(String, Value)> = keys
                    .iter()
                    .filter_map(|k| {
                        map.get(k)
                            .cloned()
                            .or_else(|| self.meta.list_key_default(&refs, k))
                            .map(|v| (k.clone(), v))
                    })
                    .collect();
                if pairs.is_empty() {
                    return Err(format!(
                        "associative list with keys has an element that omits all key fields {keys:?} (and doesn't have default values for any key fields)"
                    ));
                }
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(PathElem::Key(canonical_key(&pairs)))
            }
            ListKind::Set => match item {
                Value::Object(_) => {
                    Err("associative list without keys has an element that's a map type".to_owned())
                }
                Value::Array(_) => {
                    Err("not supported: associative list with lists as elements".to_owned())
                }
                Value::Null => Err(
                    "associative list without keys has an element that's an explicit null"
                        .to_owned(),
                ),
                scalar => Ok(PathElem::Value(scalar.to_string())),
            },
            ListKind::Atomic => Err("invalid indexing of non-associative list".to_owned()),
        }
    }

    /// The value at `path`, if present.
    pub(crate) fn value_at<'v>(&self, root: &'v Value, path: &[PathElem]) -> Option<&'v Value> {
        let mut cur = root;
        let mut schema_path: Vec<String> = Vec::new();
        for pe in path {
            cur = match (pe, cur) {
                (PathElem::Field(name), Value::Object(m)) => {
                    schema_path.push(name.clone());
                    m.get(name)?
                }
                (PathElem::Index(i), Value::Array(a)) => a.get(*i)?,
                (_, Value::Array(a)) => {
                    let kind = lookup(self.meta, &schema_path).list_kind();
                    a.iter()
                        .find(|item| self.item_elem(item, &kind, &schema_path).as_ref() == Ok(pe))?
                }
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Removes the value at `path`; emptied maps below top-level fields go too, as a typed
    /// object would omit them. Returns whether anything was removed.
    pub(crate) fn remove_at(&self, root: &mut Value, path: &[PathElem]) -> bool {
        let Some((last, parent_path)) = path.split_last() else {
            return false;
        };
        let schema_path: Vec<String> = parent_path
            .iter()
            .filter_map(|pe| match pe {
                PathElem::Field(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        let Some(parent) = self.value_at_mut(root, parent_path) else {
            return false;
        };
        let removed = match (last, parent) {
            (PathElem::Field(name), Value::Object(m)) => m.shift_remove(name).is_some(),
            (PathElem::Index(i), Value::Array(a)) if *i < a.len() => {
                a.remove(*i);
                true
            }
            (pe, Value::Array(a)) => {
                let kind = lookup(self.meta, &schema_path).list_kind();
                let before = a.len();
                a.retain(|item| self.item_elem(item, &kind, &schema_path).as_ref() != Ok(pe));
                a.len() != before
            }
            _ => false,
        };
        let parent_emptied =
            matches!(self.value_at(root, parent_path), Some(Value::Object(m)) if m.is_empty());
        if removed
            && parent_emptied
            && parent_path.len() >= 2
            && matches!(parent_path.last(), Some(PathElem::Field(_)))
        {
            self.remove_at(root, parent_path);
        }
        removed
    }

    fn value_at_mut<'v>(&self, root: &'v mut Value, path: &[PathElem]) -> Option<&'v mut Value> {
        let mut cur = root;
        let mut schema_path: Vec<String> = Vec::new();
        for pe in path {
            cur = match (pe, cur) {
                (PathElem::Field(name), Value::Object(m)) => {
                    schema_path.push(name.clone());
                    m.get_mut(name)?
                }
                (PathElem::Index(i), Value::Array(a)) => a.get_mut(*i)?,
                (_, Value::Array(a)) => {
                    let kind = lookup(self.meta, &schema_path).list_kind();
                    a.iter_mut()
                        .find(|item| self.item_elem(item, &kind, &schema_path).as_ref() == Ok(pe))?
                }
                _ => return None,
            };
        }
        Some(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_meta::PodMeta;
    use serde_json::json;

    fn f(n: &str) -> PathElem {
        PathElem::Field(n.to_owned())
    }

    #[test]
    fn field_set_matches_upstream_shape() {
        let w = Walker {
            meta: &PodMeta,
            strict: true,
        };
        let obj = json!({"metadata": {"labels": {"app": "x"}, "finalizers": ["a"]},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "template": {"spec": {
                "containers": [{"name": "web", "image": "nginx", "args": ["a"], "resources": {},
                                "ports": [{"containerPort": 80}]}],
                "tolerations": [{"key": "k"}]}}}});
        let got = w.field_set(&obj).expect("valid").to_fields_v1();
        let want = json!({
            "f:metadata": {"f:finalizers": {"v:\"a\"": {}}, "f:labels": {"f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {"f:spec": {
                "f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                    "f:resources": {}}},
                "f:tolerations": {}}}}});
        assert_eq!(got, want);
    }

    #[test]
    fn strict_walker_rejects_bad_lists() {
        let w = Walker {
            meta: &PodMeta,
            strict: true,
        };
        let cases = [
            (
                json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}),
                "duplicate entries",
            ),
            (
                json!({"spec": {"containers": [{"image": "x"}]}}),
                "omits all key fields",
            ),
            (json!({"spec": {"containers": ["x"]}}), "non-map elements"),
            (json!({"metadata": {"finalizers": [{"a": 1}]}}), "map type"),
        ];
        for (obj, want) in cases {
            let err = w.field_set(&obj).expect_err("invalid list");
            assert!(err.contains(want), "{err}");
        }
        let lenient = Walker {
            meta: &PodMeta,
            strict: false,
        };
        assert!(lenient
            .field_set(&json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}))
            .is_ok());
    }

    #[test]
    fn navigation_by_key_uses_defaults() {
        let w = Walker {
            meta: &PodMeta,
            strict: false,
        };
        let mut obj = json!({"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80, "name": "http"}]}]}});
        let port = vec![
            f("spec"),
            f("containers"),
            PathElem::Key(r#"{"name":"web"}"#.to_owned()),
            f("ports"),
            PathElem::Key(r#"{"containerPort":80,"protocol":"TCP"}"#.to_owned()),
            f("name"),
        ];
        assert_eq!(w.value_at(&obj, &port), Some(&json!("http")));
        assert!(w.remove_at(&mut obj, &port[..5]));
        assert_eq!(
            obj,
            json!({"spec": {"containers": [{"name": "web", "ports": []}]}})
        );
        let mut labels = json!({"metadata": {"labels": {"a": "1"}, "name": "x"}});
        assert!(w.remove_at(&mut labels, &[f("metadata"), f("labels"), f("a")]));
        assert_eq!(labels, json!({"metadata": {"name": "x"}}));
    }
}
