//! Strategic merge patch (`application/strategic-merge-patch+json`), the server side of
//! `k8s.io/apimachinery/pkg/util/strategicpatch` (`StrategicMergeMapPatch`).
//!
//! Deliberate deviations from upstream, all about never storing directives:
//! directives and `null`s inside values that are stored as-is (new fields, appended list
//! elements, replaced lists) are stripped; `{"$patch":"merge"}` is accepted as the
//! default instead of being rejected. As upstream, `{"$patch":"delete"}` on an existing
//! map leaves an empty map, and new merge-list elements without `$setElementOrder` are
//! placed before the server-only elements.

mod directives;
mod list;
mod order;

use serde_json::{Map, Value};

use crate::error::PatchError;
use crate::meta::{lookup, FieldInfo, PatchMeta};
use crate::value_eq::json_kind;
use directives::{
    bad_patch_type, clean, clean_list, clean_map, extract_key, DELETE_FROM_PRIMITIVE_LIST, PATCH,
    RETAIN_KEYS, SET_ELEMENT_ORDER,
};

/// Applies a strategic merge patch to `doc` using the schema facts in `meta`.
pub fn apply(doc: &Value, patch: &Value, meta: &dyn PatchMeta) -> Result<Value, PatchError> {
    let original = match doc {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => {
            return Err(PatchError::InvalidDocument(
                "the object to patch is not a JSON object".to_owned(),
            ))
        }
    };
    let Value::Object(patch) = patch else {
        return Err(PatchError::InvalidPatch(
            "a strategic merge patch must be a JSON object".to_owned(),
        ));
    };
    let mut ctx = Ctx {
        meta,
        path: Vec::new(),
    };
    merge_map(original, patch.clone(), &mut ctx).map(Value::Object)
}

/// The schema and the current field path while walking the document.
pub(crate) struct Ctx<'a> {
    /// Schema facts.
    meta: &'a dyn PatchMeta,
    /// Object keys from the root to the map being merged (list indices omitted).
    path: Vec<String>,
}

impl Ctx<'_> {
    /// Schema facts for child `key` of the current map.
    fn info(&mut self, key: &str) -> FieldInfo {
        self.path.push(key.to_owned());
        let info = lookup(self.meta, &self.path);
        self.path.pop();
        info
    }

    /// Runs `f` with `key` appended to the path.
    fn within<T>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(key.to_owned());
        let out = f(self);
        self.path.pop();
        out
    }

    /// The current path in `.a.b` form, for error messages.
    fn display_path(&self) -> String {
        self.path.iter().map(|p| format!(".{p}")).collect()
    }
}

/// The non-`retainKeys` patch strategy of a field ("", "merge" or "replace").
pub(crate) fn other_strategy(info: &FieldInfo) -> Result<String, PatchError> {
    let Some(raw) = info.patch_strategy.as_deref() else {
        return Ok(String::new());
    };
    let parts: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let others: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| *p != "retainKeys")
        .collect();
    match (parts.len(), others.as_slice()) {
        (0 | 1, []) => Ok(String::new()),
        (1, [one]) | (2, [one]) => Ok((*one).to_owned()),
        _ => Err(PatchError::InvalidPatch(format!(
            "unexpected patch strategy: {raw}"
        ))),
    }
}

/// Merges `patch` into `original` (upstream `mergeMap`).
pub(crate) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ctx: &mut Ctx<'_>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.shift_remove(PATCH) {
        match directive.as_str() {
            Some("replace") => return Ok(clean_map(patch)),
            Some("delete") => return Ok(Map::new()),
            Some("merge") => {}
            _ => return Err(bad_patch_type(&directive, &patch)),
        }
    }
    apply_retain_keys(&mut original, &mut patch)?;
    order::merge_ordered_lists(&mut original, &mut patch, ctx)?;

    // Deletion lists go last so a value both added and deleted ends up deleted; upstream
    // leaves this to Go's random map order, so any fixed choice is one it can produce.
    let (deletions, regular): (Vec<_>, Vec<_>) = patch
        .into_iter()
        .partition(|(k, _)| k.starts_with(DELETE_FROM_PRIMITIVE_LIST));
    for (key, value) in regular {
        merge_field(&mut original, key, value, false, ctx)?;
    }
    for (key, value) in deletions {
        let field = extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?.to_owned();
        merge_field(&mut original, field, value, true, ctx)?;
    }
    Ok(original)
}

/// Merges one patch member into `original` (the loop body of upstream `mergeMap`).
fn merge_field(
    original: &mut Map<String, Value>,
    key: String,
    patch_value: Value,
    is_delete_list: bool,
    ctx: &mut Ctx<'_>,
) -> Result<(), PatchError> {
    if patch_value.is_null() {
        original.shift_remove(&key);
        return Ok(());
    }
    let Some(slot) = original.get_mut(&key) else {
        if !is_delete_list {
            if let Some(v) = clean(patch_value) {
                original.insert(key, v);
            }
        }
        return Ok(());
    };
    let merged = if json_kind(slot) != json_kind(&patch_value) {
        if is_delete_list {
            return Ok(());
        }
        clean(patch_value)
    } else {
        let info = ctx.info(&key);
        match (slot.take(), patch_value) {
            (Value::Object(o), Value::Object(p)) => {
                if other_strategy(&info)? == "replace" {
                    Some(Value::Object(clean_map(p)))
                } else {
                    let m = ctx.within(&key, |ctx| merge_map(o, p, ctx))?;
                    Some(Value::Object(m))
                }
            }
            (Value::Array(o), Value::Array(p)) => {
                let l = ctx.within(&key, |ctx| {
                    merge_list_field(o, p, &info, is_delete_list, ctx)
                })?;
                Some(Value::Array(l))
            }
            (_, p) => clean(p),
        }
    };
    match merged {
        Some(v) => {
            original.insert(key, v);
        }
        None => {
            original.shift_remove(&key);
        }
    }
    Ok(())
}

/// Merges a list field according to its strategy (upstream `mergeSliceHandler`).
pub(crate) fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    info: &FieldInfo,
    is_delete_list: bool,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Value>, PatchError> {
    if other_strategy(info)? == "merge" || is_delete_list {
        list::merge_list(original, patch, info.merge_key(), is_delete_list, ctx)
    } else {
        Ok(clean_list(patch))
    }
}

/// Handles `$retainKeys`: validates the patch against it and drops unlisted live keys.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let bad = || PatchError::InvalidPatch("invalid patch format of retainKeys".to_owned());
    let Value::Array(retain) = retain else {
        return Err(bad());
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (key, value) in patch.iter() {
        let exempt = value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER);
        if !exempt && !listed(key) {
            return Err(bad());
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

#[cfg(test)]
mod tests;
