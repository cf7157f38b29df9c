//! Merging an applied configuration into the live object (structured-merge-diff `Merge`).

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::fieldset::{path_string, PathElem};
use super::walker::Walker;
use crate::meta::{lookup, ListKind};

impl Walker<'_> {
    /// Merges `config` over `live`: config fields win, map lists merge by key, sets by value.
    ///
    /// A `null` in the configuration removes the field, as decoding it into a typed object
    /// would.
    pub(crate) fn merge(&self, live: &Value, config: &Value) -> Result<Value, String> {
        self.merge_value(Some(live), config, &mut Vec::new())
    }

    fn merge_value(
        &self,
        lhs: Option<&Value>,
        rhs: &Value,
        schema_path: &mut Vec<String>,
    ) -> Result<Value, String> {
        let info = lookup(self.meta, schema_path);
        match rhs {
            Value::Object(r) if !info.is_atomic_map() => {
                let empty = Map::new();
                let l = match lhs {
                    Some(Value::Object(l)) => l,
                    _ => &empty,
                };
                self.merge_object(l, r, schema_path).map(Value::Object)
            }
            Value::Array(r) => match info.list_kind() {
                ListKind::Atomic => Ok(rhs.clone()),
                kind => {
                    let l: &[Value] = match lhs {
                        Some(Value::Array(l)) => l,
                        _ => &[],
                    };
                    self.merge_list(l, r, &kind, schema_path).map(Value::Array)
                }
            },
            _ => Ok(rhs.clone()),
        }
    }

    fn merge_object(
        &self,
        lhs: &Map<String, Value>,
        rhs: &Map<String, Value>,
        schema_path: &mut Vec<String>,
    ) -> Result<Map<String, Value>, String> {
        let mut out = lhs.clone();
        for (key, value) in rhs {
            if value.is_null() {
                out.shift_remove(key);
                continue;
            }
            schema_path.push(key.clone());
            let merged = self.merge_value(lhs.get(key), value, schema_path);
            schema_path.pop();
            out.insert(key.clone(), merged?);
        }
        Ok(out)
    }

    /// Merges associative lists keeping upstream's order: live items stay where they are,
    /// shared items follow the configuration's order, new items come where the config puts
    /// them (structured-merge-diff `visitListItems`).
    fn merge_list(
        &self,
        lhs: &[Value],
        rhs: &[Value],
        kind: &ListKind,
        schema_path: &mut Vec<String>,
    ) -> Result<Vec<Value>, String> {
        let mut rhs_pes = Vec::with_capacity(rhs.len());
        let mut rhs_by_pe: HashMap<PathElem, &Value> = HashMap::new();
        for (i, item) in rhs.iter().enumerate() {
            let pe = self
                .item_elem(item, kind, schema_path)
                .map_err(|e| format!("{}: element {i}: {e}", schema_path.join(".")))?;
            if rhs_by_pe.insert(pe.clone(), item).is_some() {
                return Err(format!(
                    "{}: duplicate entries for key {}",
                    schema_path.join("."),
                    path_string(std::slice::from_ref(&pe))
                ));
            }
            rhs_pes.push(pe);
        }
        // Live items that cannot be keyed are kept as they are, under a unique index.
        let lhs_pes: Vec<PathElem> = lhs
            .iter()
            .enumerate()
            .map(|(i, item)| {
                self.item_elem(item, kind, schema_path)
                    .unwrap_or(PathElem::Index(i))
            })
            .collect();
        let mut lhs_by_pe: HashMap<&PathElem, Option<&Value>> = HashMap::new();
        for (pe, item) in lhs_pes.iter().zip(lhs) {
            // Duplicated live items are not merged with the configuration.
            lhs_by_pe
                .entry(pe)
                .and_modify(|v| *v = None)
                .or_insert(Some(item));
        }

        let mut shared: VecDeque<&PathElem> = rhs_pes
            .iter()
            .filter(|pe| lhs_by_pe.contains_key(pe))
            .collect();
        let mut next_shared = shared.pop_front();
        let mut merged_rhs: HashSet<&PathElem> = HashSet::new();
        let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
        let (mut li, mut ri) = (0, 0);
        while li < lhs.len() || ri < rhs.len() {
            if li < lhs.len() && ri < rhs.len() {
                let pe = &lhs_pes[li];
                if *pe == rhs_pes[ri] {
                    merged_rhs.insert(pe);
                    out.push(self.merge_item(
                        lhs_by_pe.get(pe).copied().flatten(),
                        rhs_by_pe[pe],
                        kind,
                        schema_path,
                    )?);
                    li += 1;
                    ri += 1;
                    next_shared = shared.pop_front();
                    continue;
                }
                if rhs_by_pe.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                    li += 1;
                    continue;
                }
            }
            if li < lhs.len() {
                let pe = &lhs_pes[li];
                if !rhs_by_pe.contains_key(pe) {
                    out.push(lhs[li].clone());
                    li += 1;
                    continue;
                } else if merged_rhs.contains(pe) {
                    li += 1;
                }
            }
            if ri < rhs.len() {
                let pe = &rhs_pes[ri];
                merged_rhs.insert(pe);
                out.push(self.merge_item(
                    lhs_by_pe.get(pe).copied().flatten(),
                    rhs_by_pe[pe],
                    kind,
                    schema_path,
                )?);
                ri += 1;
                if next_shared == Some(pe) {
                    next_shared = shared.pop_front();
                }
            }
        }
        Ok(out)
    }

    fn merge_item(
        &self,
        lhs: Option<&Value>,
        rhs: &Value,
        kind: &ListKind,
        schema_path: &mut Vec<String>,
    ) -> Result<Value, String> {
        match (kind, lhs, rhs) {
            (ListKind::Map(_), Some(Value::Object(l)), Value::Object(r)) => {
                self.merge_object(l, r, schema_path).map(Value::Object)
            }
            (ListKind::Map(_), _, Value::Object(r)) => self
                .merge_object(&Map::new(), r, schema_path)
                .map(Value::Object),
            _ => Ok(rhs.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_meta::PodMeta;
    use serde_json::json;

    #[test]
    fn merge_cases() {
        let w = Walker {
            meta: &PodMeta,
            strict: true,
        };
        let cases = [
            (
                "config fields win, others kept",
                json!({"spec": {"replicas": 1, "paused": true}}),
                json!({"spec": {"replicas": 3}}),
                json!({"spec": {"replicas": 3, "paused": true}}),
            ),
            (
                "null removes",
                json!({"spec": {"replicas": 1, "paused": true}}),
                json!({"spec": {"paused": null}}),
                json!({"spec": {"replicas": 1}}),
            ),
            (
                "atomic list replaced",
                json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}]}}),
                json!({"spec": {"tolerations": [{"key": "c"}]}}),
                json!({"spec": {"tolerations": [{"key": "c"}]}}),
            ),
            (
                "atomic map replaced",
                json!({"spec": {"selector": {"matchLabels": {"a": "1"}, "x": 1}}}),
                json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}}),
                json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}}),
            ),
            (
                "map list merges by key, live order kept, new appended",
                json!({"spec": {"containers": [{"name": "a", "image": "1", "x": 1}, {"name": "b", "image": "1"}]}}),
                json!({"spec": {"containers": [{"name": "a", "image": "2"}, {"name": "c", "image": "3"}]}}),
                json!({"spec": {"containers": [{"name": "a", "image": "2", "x": 1}, {"name": "b", "image": "1"},
                                            {"name": "c", "image": "3"}]}}),
            ),
            (
                "shared items follow config order",
                json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
                json!({"spec": {"containers": [{"name": "b"}, {"name": "a"}]}}),
                json!({"spec": {"containers": [{"name": "b"}, {"name": "a"}]}}),
            ),
            (
                "ports with defaulted protocol match",
                json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}),
                json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]}}),
                json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}]}}),
            ),
            (
                "set union",
                json!({"metadata": {"finalizers": ["a", "b"]}}),
                json!({"metadata": {"finalizers": ["c", "a"]}}),
                json!({"metadata": {"finalizers": ["c", "a", "b"]}}),
            ),
        ];
        for (name, live, config, want) in cases {
            assert_eq!(w.merge(&live, &config).expect(name), want, "{name}");
        }
    }
}
