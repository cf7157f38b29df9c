//! Sets of field paths (structured-merge-diff `fieldpath.Set`) and their `FieldsV1` form.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// One step of a field path; variant order is upstream's sort order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PathElem {
    /// A struct field or map key (`f:name`).
    Field(String),
    /// A map-list item, as the canonical JSON of its sorted key fields (`k:{...}`).
    Key(String),
    /// A set-list item, as its JSON text (`v:...`).
    Value(String),
    /// A list index (`i:N`); only found in sets written by others.
    Index(usize),
}

impl PathElem {
    /// The `FieldsV1` key for this element.
    fn encode(&self) -> String {
        match self {
            Self::Field(name) => format!("f:{name}"),
            Self::Key(json) => format!("k:{json}"),
            Self::Value(json) => format!("v:{json}"),
            Self::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key.
    fn decode(key: &str) -> Result<Self, String> {
        let (kind, rest) = key
            .split_once(':')
            .ok_or_else(|| format!("invalid field path element {key:?}"))?;
        match kind {
            "f" => Ok(Self::Field(rest.to_owned())),
            "k" => match serde_json::from_str::<Value>(rest) {
                Ok(Value::Object(m)) => {
                    let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                    Ok(Self::Key(canonical_key(&pairs)))
                }
                _ => Err(format!("invalid key in field path element {key:?}")),
            },
            "v" => serde_json::from_str::<Value>(rest)
                .map(|v| Self::Value(v.to_string()))
                .map_err(|_| format!("invalid value in field path element {key:?}")),
            "i" => rest
                .parse()
                .map(Self::Index)
                .map_err(|_| format!("invalid index in field path element {key:?}")),
            _ => Err(format!("unknown field path element type in {key:?}")),
        }
    }

    /// The human-readable form used in conflict messages (`.name`, `[name="web"]`).
    fn display(&self) -> String {
        match self {
            Self::Field(name) => format!(".{name}"),
            Self::Key(json) => {
                let parts: Vec<String> = match serde_json::from_str::<Value>(json) {
                    Ok(Value::Object(m)) => m.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    _ => vec![json.clone()],
                };
                format!("[{}]", parts.join(","))
            }
            Self::Value(json) => format!("[={json}]"),
            Self::Index(i) => format!("[{i}]"),
        }
    }
}

/// The canonical JSON object text for sorted key fields, e.g. `{"name":"web"}`.
pub(crate) fn canonical_key(pairs: &[(String, Value)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Renders a path as upstream prints it, e.g. `.spec.containers[name="web"].image`.
pub(crate) fn path_string(path: &[PathElem]) -> String {
    path.iter().map(PathElem::display).collect()
}

/// A set of field paths: members at this level plus child sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSet {
    /// Paths ending here.
    members: BTreeSet<PathElem>,
    /// Paths continuing through a child.
    children: BTreeMap<PathElem, FieldSet>,
}

impl FieldSet {
    /// Adds a path; the empty path is ignored (the root is never a member).
    pub(crate) fn insert(&mut self, path: &[PathElem]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether the exact path is a member.
    #[cfg(test)]
    pub(crate) fn contains(&self, path: &[PathElem]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Whether any member lies strictly below `prefix`.
    pub(crate) fn has_members_under(&self, prefix: &[PathElem]) -> bool {
        match prefix {
            [] => !self.is_empty(),
            [first, rest @ ..] => self
                .children
                .get(first)
                .is_some_and(|c| c.has_members_under(rest)),
        }
    }

    /// Whether the set has no members at any depth.
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Paths in either set.
    pub(crate) fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Paths in `self` but not in `other`.
    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .map(|(pe, child)| match other.children.get(pe) {
                Some(theirs) => (pe.clone(), child.difference(theirs)),
                None => (pe.clone(), child.clone()),
            })
            .filter(|(_, c)| !c.is_empty())
            .collect();
        FieldSet { members, children }
    }

    /// Paths in both sets.
    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, child)| {
                other
                    .children
                    .get(pe)
                    .map(|t| (pe.clone(), child.intersection(t)))
            })
            .filter(|(_, c)| !c.is_empty())
            .collect();
        FieldSet { members, children }
    }

    /// Removes a member and everything below it.
    pub(crate) fn remove_tree(&mut self, path: &[PathElem]) {
        match path {
            [] => {}
            [last] => {
                self.members.remove(last);
                self.children.remove(last);
            }
            [first, rest @ ..] => {
                if let Some(c) = self.children.get_mut(first) {
                    c.remove_tree(rest);
                }
            }
        }
    }

    /// Every member path, in sorted order.
    pub(crate) fn paths(&self) -> Vec<Vec<PathElem>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElem>, out: &mut Vec<Vec<PathElem>>) {
        let keys: BTreeSet<&PathElem> = self.members.iter().chain(self.children.keys()).collect();
        for pe in keys {
            prefix.push(pe.clone());
            if self.members.contains(pe) {
                out.push(prefix.clone());
            }
            if let Some(c) = self.children.get(pe) {
                c.collect_paths(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Encodes the set in the `FieldsV1` JSON form used by `managedFields`.
    pub(crate) fn to_fields_v1(&self) -> Value {
        Value::Object(self.contents(false))
    }

    fn contents(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self {
            out.insert(".".to_owned(), Value::Object(Map::new()));
        }
        let keys: BTreeSet<&PathElem> = self.members.iter().chain(self.children.keys()).collect();
        for pe in keys {
            let child = match self.children.get(pe) {
                Some(c) if !c.is_empty() => c.contents(self.members.contains(pe)),
                _ => Map::new(),
            };
            out.insert(pe.encode(), Value::Object(child));
        }
        out
    }

    /// Decodes a `FieldsV1` JSON object.
    pub(crate) fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let map = value
            .as_object()
            .ok_or_else(|| "fieldsV1 must be a JSON object".to_owned())?;
        let mut set = FieldSet::default();
        for (key, child) in map {
            if key == "." {
                continue;
            }
            let pe = PathElem::decode(key)?;
            let child_map = child
                .as_object()
                .ok_or_else(|| format!("fieldsV1 entry {key:?} must be an object"))?;
            if child_map.is_empty() || child_map.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let sub = FieldSet::from_fields_v1(child)?;
            if !sub.is_empty() {
                set.children.insert(pe, sub);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElem {
        PathElem::Field(name.to_owned())
    }

    #[test]
    fn fields_v1_round_trips_upstream_examples() {
        let cases = [
            json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}),
            json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}}}}),
            json!({"f:spec": {"f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}),
            json!({}),
        ];
        for fields in cases {
            let set = FieldSet::from_fields_v1(&fields).expect("valid fieldsV1");
            assert_eq!(set.to_fields_v1(), fields);
        }
    }

    #[test]
    fn decoding_canonicalizes_key_order() {
        let set =
            FieldSet::from_fields_v1(&json!({"k:{\"protocol\":\"TCP\",\"containerPort\":80}": {}}))
                .expect("valid");
        let key = PathElem::Key(r#"{"containerPort":80,"protocol":"TCP"}"#.to_owned());
        assert!(set.contains(&[key]));
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::default();
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("paused")]);
        let mut b = FieldSet::default();
        b.insert(&[f("spec"), f("replicas")]);
        b.insert(&[f("metadata"), f("labels"), f("app")]);
        assert_eq!(
            a.intersection(&b).paths(),
            vec![vec![f("spec"), f("replicas")]]
        );
        assert_eq!(a.difference(&b).paths(), vec![vec![f("spec"), f("paused")]]);
        assert_eq!(a.union(&b).paths().len(), 3);
        assert!(a.difference(&a).is_empty());
        assert!(b.has_members_under(&[f("metadata")]));
        assert!(!b.has_members_under(&[f("spec"), f("replicas")]));
    }

    #[test]
    fn paths_print_like_upstream() {
        let path = vec![
            f("spec"),
            f("containers"),
            PathElem::Key(r#"{"name":"web"}"#.to_owned()),
            f("image"),
        ];
        assert_eq!(path_string(&path), r#".spec.containers[name="web"].image"#);
        assert_eq!(
            path_string(&[
                f("metadata"),
                f("finalizers"),
                PathElem::Value("\"x\"".to_owned())
            ]),
            r#".metadata.finalizers[="x"]"#
        );
    }
}
