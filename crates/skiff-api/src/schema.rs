//! OpenAPI schemas of the built-in kinds (generated from the v1.33 API description by
//! `hack/gen-api-tables.py`) and of custom resources (their CRD's openAPIV3Schema), walked by
//! one `Node` type: used for unknown-field pruning, type checks and patch strategies.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

/// All built-in definitions, keyed by their OpenAPI name (`io.k8s.api.core.v1.Pod`).
pub struct Definitions {
    map: Map<String, Value>,
    by_gvk: HashMap<(String, String, String), String>,
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

impl Definitions {
    /// The process-wide definitions, parsed on first use.
    pub fn get() -> &'static Definitions {
        static DEFS: OnceLock<Definitions> = OnceLock::new();
        DEFS.get_or_init(|| {
            let map: Map<String, Value> =
                serde_json::from_str(include_str!("../data/definitions.json"))
                    .expect("generated definitions parse");
            let mut by_gvk = HashMap::new();
            for (name, def) in &map {
                if let Some(list) = def
                    .get("x-kubernetes-group-version-kind")
                    .and_then(Value::as_array)
                {
                    for g in list {
                        let s =
                            |k: &str| g.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                        by_gvk
                            .entry((s("group"), s("version"), s("kind")))
                            .or_insert_with(|| name.clone());
                    }
                }
            }
            Definitions { map, by_gvk }
        })
    }

    /// Definition name for a group/version/kind.
    pub fn name_for(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.by_gvk
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
            .map(String::as_str)
    }

    /// The raw definition.
    pub fn definition(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    /// All definitions.
    pub fn all(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The root node for a built-in kind.
    pub fn root_for(
        &'static self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Option<Node<'static>> {
        let name = self.name_for(group, version, kind)?;
        Some(Node {
            defs: self,
            value: self.map.get(name)?,
            name: Some(name_short(name)),
        })
    }
}

fn name_short(full: &str) -> &str {
    full.rsplit('.').next().unwrap_or(full)
}

/// A schema node; follows `$ref`s into the built-in definitions.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    defs: &'a Definitions,
    value: &'a Value,
    /// Short Go type name when the node is a named definition (for error messages).
    name: Option<&'a str>,
}

/// Patch-relevant facts about a field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldFacts {
    /// x-kubernetes-patch-strategy.
    pub patch_strategy: Option<String>,
    /// x-kubernetes-patch-merge-key.
    pub patch_merge_key: Option<String>,
    /// x-kubernetes-list-type.
    pub list_type: Option<String>,
    /// x-kubernetes-list-map-keys.
    pub list_map_keys: Vec<String>,
    /// x-kubernetes-map-type.
    pub map_type: Option<String>,
}

impl<'a> Node<'a> {
    /// A node over an inline schema (a CRD's openAPIV3Schema).
    pub fn inline(value: &'a Value) -> Node<'a> {
        Node {
            defs: Definitions::get(),
            value,
            name: None,
        }
    }

    /// The ObjectMeta schema.
    pub fn object_meta() -> Node<'static> {
        let defs = Definitions::get();
        Node {
            defs,
            value: defs.map.get(OBJECT_META).unwrap_or(&Value::Null),
            name: Some("ObjectMeta"),
        }
    }

    fn resolve(self) -> Node<'a> {
        let mut n = self;
        for _ in 0..8 {
            let r = n.value.get("$ref").and_then(Value::as_str).or_else(|| {
                n.value
                    .get("allOf")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|f| f.get("$ref"))
                    .and_then(Value::as_str)
            });
            match r {
                Some(r) => {
                    let name = r.rsplit('/').next().unwrap_or(r);
                    match n.defs.map.get(name) {
                        Some(v) => {
                            n = Node {
                                defs: n.defs,
                                value: v,
                                name: Some(name_short(name)),
                            }
                        }
                        None => return n,
                    }
                }
                None => return n,
            }
        }
        n
    }

    /// The raw JSON of this node.
    pub fn raw(&self) -> &'a Value {
        self.value
    }

    /// `type`, if declared.
    pub fn ty(&self) -> Option<&'a str> {
        self.resolve().value.get("type").and_then(Value::as_str)
    }

    /// `format`, if declared.
    pub fn format(&self) -> Option<&'a str> {
        self.resolve().value.get("format").and_then(Value::as_str)
    }

    /// Whether the node accepts any JSON (RawExtension, FieldsV1, preserve-unknown-fields,
    /// or an object without declared properties).
    pub fn is_free_form(&self) -> bool {
        let n = self.resolve();
        let v = n.value;
        if v.get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return v.get("properties").is_none();
        }
        if v.get("x-kubernetes-int-or-string").is_some() {
            return false;
        }
        match v.get("type").and_then(Value::as_str) {
            None => v.get("properties").is_none() && v.get("items").is_none(),
            Some("object") => {
                v.get("properties").is_none() && v.get("additionalProperties").is_none()
            }
            _ => false,
        }
    }

    /// Whether unknown fields under this object node are kept (CRD preserve-unknown-fields).
    pub fn preserves_unknown(&self) -> bool {
        self.resolve()
            .value
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// Declared property `name` of an object node.
    pub fn property(&self, name: &str) -> Option<Node<'a>> {
        let n = self.resolve();
        let v = n.value.get("properties")?.get(name)?;
        Some(Node {
            defs: n.defs,
            value: v,
            name: None,
        })
    }

    /// Whether the node declares properties.
    pub fn has_properties(&self) -> bool {
        self.resolve().value.get("properties").is_some()
    }

    /// Element schema of an array node.
    pub fn items(&self) -> Option<Node<'a>> {
        let n = self.resolve();
        let v = n.value.get("items")?;
        Some(Node {
            defs: n.defs,
            value: v,
            name: None,
        })
    }

    /// Value schema of a map node.
    pub fn additional(&self) -> Option<Node<'a>> {
        let n = self.resolve();
        match n.value.get("additionalProperties")? {
            Value::Bool(_) => None,
            v => Some(Node {
                defs: n.defs,
                value: v,
                name: None,
            }),
        }
    }

    /// Required property names.
    pub fn required(&self) -> Vec<&'a str> {
        self.resolve()
            .value
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Go type name of the definition this node resolves to, when known.
    pub fn type_name(&self) -> Option<&'a str> {
        self.resolve().name
    }

    /// Patch and apply facts; extensions may sit on the property or on the referenced type.
    pub fn facts(&self) -> FieldFacts {
        let own = self.value;
        let res = self.resolve().value;
        let s = |k: &str| {
            own.get(k)
                .or_else(|| res.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        FieldFacts {
            patch_strategy: s("x-kubernetes-patch-strategy"),
            patch_merge_key: s("x-kubernetes-patch-merge-key"),
            list_type: s("x-kubernetes-list-type"),
            list_map_keys: own
                .get("x-kubernetes-list-map-keys")
                .or_else(|| res.get("x-kubernetes-list-map-keys"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            map_type: s("x-kubernetes-map-type"),
        }
    }

    /// Step into the child for document key `key`: array nodes step into their items first,
    /// then object properties, then map values. For a root whose metadata is not described
    /// (custom resources), `metadata` means ObjectMeta.
    pub fn child(&self, key: &str) -> Option<Node<'a>> {
        let mut n = *self;
        while n.ty() == Some("array") {
            n = n.items()?;
        }
        if let Some(p) = n.property(key) {
            return Some(p);
        }
        n.additional()
    }

    /// Walk a document path (object keys only; list indices are skipped).
    pub fn at_path(&self, path: &[&str]) -> Option<Node<'a>> {
        let mut n = *self;
        for (i, k) in path.iter().enumerate() {
            if i == 0 && *k == "metadata" {
                n = Node::object_meta();
                continue;
            }
            n = n.child(k)?;
        }
        Some(n)
    }
}

/// Problems found while checking a decoded object against its schema.
#[derive(Debug, Default, PartialEq)]
pub struct SchemaReport {
    /// Paths of fields the schema does not declare (they are removed), e.g. `spec.replica`.
    pub unknown: Vec<String>,
    /// Go-json style type errors; any of these makes the object undecodable.
    pub type_errors: Vec<String>,
}

/// Check `obj` against `root`: drop (and report) unknown fields, drop nulls the way Go's
/// decoder does for built-in kinds, and report type mismatches.
pub fn prune(obj: &mut Value, root: Node<'_>, drop_nulls: bool) -> SchemaReport {
    let mut report = SchemaReport::default();
    if let Value::Object(map) = obj {
        let mut unknown = Vec::new();
        for (k, v) in map.iter_mut() {
            let child = if k == "metadata" {
                Some(Node::object_meta())
            } else {
                root.property(k)
            };
            match child {
                Some(c) => walk(
                    v,
                    c,
                    k,
                    root.type_name().unwrap_or(""),
                    drop_nulls,
                    &mut report,
                ),
                None if k == "apiVersion" || k == "kind" || root.preserves_unknown() => {}
                None => {
                    report.unknown.push(k.clone());
                    unknown.push(k.clone());
                }
            }
        }
        for k in unknown {
            map.remove(&k);
        }
        if drop_nulls {
            map.retain(|_, v| !v.is_null());
        }
    }
    report
}

fn go_type(node: &Node<'_>) -> String {
    match (node.ty(), node.format()) {
        (Some("integer"), Some(f)) => f.to_string(),
        (Some("integer"), None) => "int".into(),
        (Some("number"), _) => "float64".into(),
        (Some("boolean"), _) => "bool".into(),
        (Some("string"), _) => "string".into(),
        (Some("array"), _) => {
            "[]".to_string() + &node.items().map(|i| go_type(&i)).unwrap_or_default()
        }
        (Some("object"), _) if node.additional().is_some() => "map[string]string".into(),
        _ => node
            .type_name()
            .map(|s| format!("v1.{s}"))
            .unwrap_or_else(|| "object".into()),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's decoder names struct fields without list indices; strict decoding errors include them.
fn go_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' if depth == 0 && !out.ends_with(']') => depth = 1,
            ']' if depth == 1 => depth = 0,
            _ if depth == 1 => {}
            _ => out.push(c),
        }
    }
    out
}

fn walk(
    v: &mut Value,
    node: Node<'_>,
    path: &str,
    parent_type: &str,
    drop_nulls: bool,
    report: &mut SchemaReport,
) {
    if v.is_null() {
        return;
    }
    let resolved_ty = node.ty();
    let int_or_string = node.format() == Some("int-or-string")
        || node.raw().get("x-kubernetes-int-or-string").is_some()
        || node
            .resolve()
            .value
            .get("x-kubernetes-int-or-string")
            .is_some();
    if int_or_string {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            report.type_errors.push(format!(
                "json: cannot unmarshal {} into Go struct field {parent_type}.{} of type intstr.IntOrString",
                json_kind(v),
                go_path(path)
            ));
        }
        return;
    }
    if node.is_free_form() {
        return;
    }
    let mismatch = match (resolved_ty, &*v) {
        (Some("integer"), Value::Number(n)) => !(n.is_i64() || n.is_u64()),
        (Some("number"), Value::Number(_))
        | (Some("boolean"), Value::Bool(_))
        | (Some("string"), Value::String(_))
        | (Some("array"), Value::Array(_))
        | (Some("object"), Value::Object(_))
        | (None, Value::Object(_)) => false,
        (Some("integer" | "number" | "boolean" | "string" | "array" | "object"), _) => true,
        (None, _) => node.has_properties(),
        _ => false,
    };
    if mismatch {
        report.type_errors.push(format!(
            "json: cannot unmarshal {} into Go struct field {parent_type}.{} of type {}",
            json_kind(v),
            go_path(path),
            go_type(&node)
        ));
        return;
    }
    match v {
        Value::Array(items) => {
            if let Some(item_node) = node.items() {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(
                        item,
                        item_node,
                        &format!("{path}[{i}]"),
                        parent_type,
                        drop_nulls,
                        report,
                    );
                }
            }
        }
        Value::Object(map) => {
            if node.has_properties() {
                let type_name = node.type_name().unwrap_or(parent_type).to_string();
                let mut unknown = Vec::new();
                for (k, child) in map.iter_mut() {
                    match node.property(k) {
                        Some(c) => walk(
                            child,
                            c,
                            &format!("{path}.{k}"),
                            &type_name,
                            drop_nulls,
                            report,
                        ),
                        None if node.preserves_unknown() => {}
                        None => {
                            report.unknown.push(format!("{path}.{k}"));
                            unknown.push(k.clone());
                        }
                    }
                }
                for k in unknown {
                    map.remove(&k);
                }
            } else if let Some(val_node) = node.additional() {
                for (k, child) in map.iter_mut() {
                    walk(
                        child,
                        val_node,
                        &format!("{path}[{k}]"),
                        parent_type,
                        drop_nulls,
                        report,
                    );
                }
            }
            if drop_nulls {
                map.retain(|_, v| !v.is_null());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Node<'static> {
        Definitions::get()
            .root_for("apps", "v1", "Deployment")
            .expect("deployment schema")
    }

    #[test]
    fn unknown_fields_are_reported_and_dropped() {
        let mut d = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x","bogus":1},
            "spec":{"replica":3,"template":{"spec":{"containers":[{"name":"a","image":"b","imagePullPolice":"x"}]}}}});
        let r = prune(&mut d, deployment(), true);
        assert_eq!(
            r.unknown,
            vec![
                "metadata.bogus",
                "spec.replica",
                "spec.template.spec.containers[0].imagePullPolice"
            ]
        );
        assert!(d["spec"].get("replica").is_none());
        assert!(r.type_errors.is_empty());
    }

    #[test]
    fn type_errors_name_go_field() {
        let mut d =
            json!({"spec":{"replicas":"three","strategy":{"rollingUpdate":{"maxSurge":"25%"}}}});
        let r = prune(&mut d, deployment(), true);
        assert_eq!(
            r.type_errors,
            vec!["json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"]
        );
    }

    #[test]
    fn patch_facts_follow_refs() {
        let d = deployment();
        let c = d
            .at_path(&["spec", "template", "spec", "containers"])
            .expect("containers");
        assert_eq!(c.facts().patch_merge_key.as_deref(), Some("name"));
        let v = d
            .at_path(&["spec", "template", "spec", "volumes"])
            .expect("volumes");
        assert_eq!(
            v.facts().patch_strategy.as_deref(),
            Some("merge,retainKeys")
        );
        let s = d.at_path(&["spec", "strategy"]).expect("strategy");
        assert_eq!(s.facts().patch_strategy.as_deref(), Some("retainKeys"));
        let f = d.at_path(&["metadata", "finalizers"]).expect("finalizers");
        assert_eq!(f.facts().patch_strategy.as_deref(), Some("merge"));
        let labels = d
            .at_path(&["metadata", "labels", "app"])
            .expect("label value");
        assert_eq!(labels.ty(), Some("string"));
    }
}
