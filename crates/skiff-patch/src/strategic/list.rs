//! Merging of lists whose patch strategy is `merge` (upstream `mergeSlice`).

use serde_json::{Map, Value};

use super::directives::{bad_patch_type, clean, no_merge_key, PATCH};
use super::order::normalize_element_order;
use super::{merge_map, Ctx};
use crate::error::PatchError;
use crate::value_eq::{json_eq, json_kind};

/// Merges a `merge`-strategy list: primitives by union (or deletion), objects by merge key.
pub(crate) fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    is_delete_list: bool,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let is_map = element_kind(&original, &patch)? == "map";
    if !is_map {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.iter().any(|d| json_eq(v, d)))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if !merged.iter().any(|m| json_eq(m, v)) {
                merged.push(v.clone());
            }
        }
        return normalize_element_order(merged, &patch, &original, "", false);
    }
    if merge_key.is_empty() {
        return Err(PatchError::InvalidPatch(format!(
            "cannot merge lists without merge key for {}",
            ctx.display_path()
        )));
    }
    let (original, patch) = apply_special_elements(original, patch, merge_key)?;
    let mut merged = original.clone();
    for item in &patch {
        merge_item(&mut merged, item, merge_key, ctx)?;
    }
    normalize_element_order(merged, &patch, &original, merge_key, true)
}

/// The element type of the lists, rejecting lists of lists and mixed element types.
fn element_kind(original: &[Value], patch: &[Value]) -> Result<&'static str, PatchError> {
    let mut kind = None;
    for v in original.iter().chain(patch) {
        let k = json_kind(v);
        match kind {
            None if k == "list" => {
                return Err(PatchError::InvalidPatch(
                    "lists of lists are not supported".to_owned(),
                ))
            }
            None => kind = Some(k),
            Some(prev) if prev != k => {
                return Err(PatchError::InvalidPatch(format!(
                    "list element types are not identical: {}",
                    Value::Array(original.iter().chain(patch).cloned().collect())
                )))
            }
            Some(_) => {}
        }
    }
    Ok(kind.unwrap_or("null"))
}

/// Processes `$patch` elements: deletes matching live elements, honours `replace`.
///
/// Returns the (possibly reduced or replaced) original and the patch without directive
/// elements (upstream `mergeSliceWithSpecialElements`).
fn apply_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(mut map) = item else {
            return Err(PatchError::InvalidPatch(format!(
                "expected a map in merge list, got {}",
                json_kind(&item)
            )));
        };
        let Some(directive) = map.get(PATCH).cloned() else {
            plain.push(Value::Object(map));
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let key_value = map
                    .get(merge_key)
                    .ok_or_else(|| no_merge_key(&Value::Object(map.clone()), merge_key))?;
                for live in &original {
                    if !live.is_object() {
                        return Err(PatchError::InvalidPatch(
                            "live list element is not a map".to_owned(),
                        ));
                    }
                }
                original.retain(|live| !live.get(merge_key).is_some_and(|v| json_eq(v, key_value)));
            }
            // Keep scanning: the remaining elements become the new list.
            Some("replace") => replace = true,
            Some("merge") => {
                map.shift_remove(PATCH);
                plain.push(Value::Object(map));
            }
            _ => return Err(bad_patch_type(&directive, &map)),
        }
    }
    if replace {
        Ok((plain.into_iter().filter_map(clean).collect(), Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Merges one patch element into the element with the same merge key, or appends it.
fn merge_item(
    merged: &mut Vec<Value>,
    item: &Value,
    merge_key: &str,
    ctx: &mut Ctx<'_>,
) -> Result<(), PatchError> {
    let key_value = item
        .get(merge_key)
        .ok_or_else(|| no_merge_key(item, merge_key))?;
    let mut found = None;
    for (i, live) in merged.iter().enumerate() {
        let Value::Object(live) = live else {
            return Err(PatchError::InvalidPatch(format!(
                "value for key {i} is not a map"
            )));
        };
        if live.get(merge_key).is_some_and(|v| json_eq(v, key_value)) {
            found = Some(i);
            break;
        }
    }
    let patch_map = item.as_object().cloned().unwrap_or_default();
    match found {
        Some(i) => {
            let live = match merged[i].take() {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            merged[i] = Value::Object(merge_map(live, patch_map, ctx)?);
        }
        None => {
            if let Some(v) = clean(Value::Object(patch_map)) {
                merged.push(v);
            }
        }
    }
    Ok(())
}
