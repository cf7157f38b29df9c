//! List ordering: `$setElementOrder` and the order upstream gives merged lists.

use serde_json::{Map, Value};

use super::directives::{clean_list, extract_key, no_merge_key, PATCH, SET_ELEMENT_ORDER};
use super::{merge_list_field, other_strategy, Ctx};
use crate::error::PatchError;
use crate::value_eq::{json_eq, json_kind};

/// Processes every `$setElementOrder/<field>` in `patch` together with `<field>`
/// (upstream `mergePatchIntoOriginal`); both are removed from `patch`.
pub(crate) fn merge_ordered_lists(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ctx: &mut Ctx<'_>,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else {
            continue;
        };
        let bad =
            || PatchError::InvalidPatch("invalid patch format of setElementOrder list".to_owned());
        let Value::Array(order) = order else {
            return Err(bad());
        };
        let field = extract_key(&key, SET_ELEMENT_ORDER)?.to_owned();
        let live = list_member(original, &field)?;
        let patched = list_member(patch, &field)?;
        let info = ctx.info(&field);
        other_strategy(&info)?;
        let merge_key = info.merge_key().to_owned();
        validate_against_order(patched.as_deref().unwrap_or(&[]), &order, &merge_key)?;
        let server_order = live.clone().unwrap_or_default();
        let merged = match (live, patched) {
            (Some(l), None) => l,
            (None, Some(p)) => clean_list(p),
            (Some(l), Some(p)) => {
                ctx.within(&field, |ctx| merge_list_field(l, p, &info, false, ctx))?
            }
            (None, None) => continue,
        };
        let ordered = if merged.is_empty() {
            merged
        } else {
            let is_map = merged.first().is_some_and(Value::is_object);
            if is_map && merge_key.is_empty() {
                return Err(PatchError::InvalidPatch(format!(
                    "cannot order list {field} without a merge key"
                )));
            }
            normalize_element_order(merged, &order, &server_order, &merge_key, is_map)?
        };
        original.insert(field.clone(), Value::Array(ordered));
        patch.shift_remove(&field);
    }
    Ok(())
}

/// Reads `map[field]` as a list, if present.
fn list_member(map: &Map<String, Value>, field: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a.clone())),
        Some(other) => Err(PatchError::InvalidPatch(format!(
            "expected a list for {field}, but received a {}",
            json_kind(other)
        ))),
    }
}

/// Checks that the patch list is a subset of the order list, in the same relative order
/// (upstream `validatePatchWithSetOrderList`).
fn validate_against_order(
    patch: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if merge_key.is_empty() {
        patch.iter().collect()
    } else {
        patch
            .iter()
            .filter(|v| v.get(PATCH).and_then(Value::as_str) != Some("delete"))
            .collect()
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < non_delete.len() && oi < order.len() {
        if non_delete[pi].get(PATCH).is_some() {
            pi += 1;
            continue;
        }
        if merge_key_equal(non_delete[pi], &order[oi], merge_key)? {
            pi += 1;
        }
        oi += 1;
    }
    if pi < non_delete.len() && oi >= order.len() {
        return Err(PatchError::InvalidPatch(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// Compares two list elements by merge key (or by value for primitives).
fn merge_key_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(json_eq(left, right));
    }
    let key_of = |v: &Value| -> Result<Value, PatchError> {
        let map = v.as_object().ok_or_else(|| {
            PatchError::InvalidPatch(format!("expected a map, but received a {}", json_kind(v)))
        })?;
        map.get(merge_key)
            .cloned()
            .ok_or_else(|| no_merge_key(v, merge_key))
    };
    Ok(json_eq(&key_of(left)?, &key_of(right)?))
}

/// The value an element is identified by: its merge key for maps, itself otherwise.
fn identity<'a>(item: &'a Value, merge_key: &str, is_map: bool) -> Option<&'a Value> {
    if is_map {
        item.get(merge_key)
    } else {
        Some(item)
    }
}

/// Position of `item` in `list`, comparing identities (upstream `index`).
fn index_of(list: &[Value], item: &Value, merge_key: &str, is_map: bool) -> Option<usize> {
    let want = identity(item, merge_key, is_map);
    list.iter()
        .position(|v| match (identity(v, merge_key, is_map), want) {
            (Some(a), Some(b)) => json_eq(a, b),
            (None, None) => true,
            _ => false,
        })
}

/// Orders a merged list: items named in `patch_order` follow it, the rest keep their live
/// order, interleaved as upstream's `normalizeElementOrder` + `mergeSortedSlice` do.
pub(crate) fn normalize_element_order(
    merged: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>, PatchError> {
    let mut patch_items = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        if is_map && item.get(merge_key).is_none() {
            return Err(no_merge_key(&item, merge_key));
        }
        if index_of(patch_order, &item, merge_key, is_map).is_some() {
            patch_items.push(item);
        } else {
            server_only.push(item);
        }
    }
    if is_map {
        for item in patch_order.iter().chain(server_order) {
            if item.get(merge_key).is_none() {
                return Err(no_merge_key(item, merge_key));
            }
        }
    }
    sort_by_order(&mut patch_items, patch_order, merge_key, is_map);
    sort_by_order(&mut server_only, server_order, merge_key, is_map);
    Ok(merge_sorted(
        server_only,
        patch_items,
        server_order,
        merge_key,
        is_map,
    ))
}

/// Stable sort by position in `order`; items absent from it go last.
fn sort_by_order(items: &mut [Value], order: &[Value], merge_key: &str, is_map: bool) {
    items.sort_by_key(|item| index_of(order, item, merge_key, is_map).unwrap_or(usize::MAX));
}

/// Interleaves server-only items (`left`) into patch items (`right`): a left item goes
/// first only when both are in the live list and it came earlier there.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                let li = index_of(server_order, l, merge_key, is_map);
                let ri = index_of(server_order, r, merge_key, is_map);
                matches!((li, ri), (Some(a), Some(b)) if a < b)
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}
