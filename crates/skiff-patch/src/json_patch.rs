//! RFC 6902 JSON patch (`application/json-patch+json`) with RFC 6901 pointers.

use serde_json::{Map, Value};

use crate::error::PatchError;
use crate::value_eq::json_eq;

/// Applies a JSON patch (an array of operations) to `doc`, returning the patched copy.
///
/// All six operations are supported; the document is left untouched on error, as the
/// operations are applied to a copy and either all succeed or the call fails.
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch.as_array().ok_or_else(|| {
        PatchError::InvalidPatch("a JSON patch must be a JSON array of operations".to_owned())
    })?;
    let mut out = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut out, op, i)?;
    }
    Ok(out)
}

/// Applies one operation object.
fn apply_op(doc: &mut Value, op: &Value, index: usize) -> Result<(), PatchError> {
    let obj = op.as_object().ok_or_else(|| {
        PatchError::InvalidPatch(format!("JSON patch operation {index} is not an object"))
    })?;
    let name = string_member(obj, "op", index)?;
    let path = string_member(obj, "path", index)?;
    let value = || {
        obj.get("value").cloned().ok_or_else(|| {
            PatchError::InvalidPatch(format!("{name} operation {index} is missing \"value\""))
        })
    };
    match name {
        "add" => add(doc, name, path, value()?),
        "remove" => remove(doc, name, path).map(drop),
        "replace" => replace(doc, name, path, value()?),
        "move" => {
            let from = string_member(obj, "from", index)?;
            let from_tokens = parse_pointer(from)?;
            let to_tokens = parse_pointer(path)?;
            if to_tokens.len() > from_tokens.len() && to_tokens.starts_with(&from_tokens) {
                return Err(fail(
                    name,
                    path,
                    "a value cannot be moved into one of its children",
                ));
            }
            let moved = remove(doc, name, from)?;
            add(doc, name, path, moved)
        }
        "copy" => {
            let from = string_member(obj, "from", index)?;
            let copied = get(doc, from)?
                .cloned()
                .ok_or_else(|| fail(name, from, "doc is missing path"))?;
            add(doc, name, path, copied)
        }
        "test" => {
            let want = value()?;
            match get(doc, path)? {
                Some(have) if json_eq(have, &want) => Ok(()),
                // A missing member tests equal to null, as upstream's json-patch does.
                None if want.is_null() => Ok(()),
                _ => Err(PatchError::TestFailed {
                    path: path.to_owned(),
                }),
            }
        }
        other => Err(PatchError::InvalidPatch(format!(
            "unknown JSON patch operation {other:?} in operation {index}"
        ))),
    }
}

/// Reads a required string member of an operation.
fn string_member<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    index: usize,
) -> Result<&'a str, PatchError> {
    obj.get(key).and_then(Value::as_str).ok_or_else(|| {
        PatchError::InvalidPatch(format!(
            "JSON patch operation {index} is missing string member {key:?}"
        ))
    })
}

/// Builds an `OperationFailed` error.
fn fail(op: &str, path: &str, reason: &str) -> PatchError {
    PatchError::OperationFailed {
        op: op.to_owned(),
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Splits an RFC 6901 pointer into unescaped reference tokens.
pub(crate) fn parse_pointer(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| PatchError::InvalidPointer {
            pointer: pointer.to_owned(),
            reason: "a non-empty pointer must start with '/'".to_owned(),
        })?;
    rest.split('/').map(|t| unescape(t, pointer)).collect()
}

/// Undoes `~1` → `/` and `~0` → `~`, rejecting any other `~` sequence.
fn unescape(token: &str, pointer: &str) -> Result<String, PatchError> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => {
                return Err(PatchError::InvalidPointer {
                    pointer: pointer.to_owned(),
                    reason: "'~' must be followed by '0' or '1'".to_owned(),
                })
            }
        }
    }
    Ok(out)
}

/// Parses an array index token; RFC 6901 forbids signs and leading zeros.
fn parse_index(token: &str) -> Option<usize> {
    let digits_only = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

/// Resolves a pointer to a value, `Ok(None)` when any step is missing.
fn get<'a>(doc: &'a Value, pointer: &str) -> Result<Option<&'a Value>, PatchError> {
    let mut cur = doc;
    for token in parse_pointer(pointer)? {
        let next = match cur {
            Value::Object(m) => m.get(&token),
            Value::Array(a) => parse_index(&token).and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// Resolves the parent container of a pointer; returns it with the last token.
fn parent_mut<'a>(
    doc: &'a mut Value,
    op: &str,
    pointer: &str,
) -> Result<(&'a mut Value, String), PatchError> {
    let mut tokens = parse_pointer(pointer)?;
    let last = tokens
        .pop()
        .ok_or_else(|| fail(op, pointer, "the document root has no parent"))?;
    let mut cur = doc;
    for token in tokens {
        let next = match cur {
            Value::Object(m) => m.get_mut(&token),
            Value::Array(a) => match parse_index(&token) {
                Some(i) => a.get_mut(i),
                None => None,
            },
            _ => None,
        };
        cur = next.ok_or_else(|| fail(op, pointer, "doc is missing path"))?;
    }
    Ok((cur, last))
}

/// RFC 6902 `add`: sets a member, inserts into an array, or replaces the root.
fn add(doc: &mut Value, op: &str, pointer: &str, value: Value) -> Result<(), PatchError> {
    if pointer.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_mut(doc, op, pointer)?;
    match parent {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            match parse_index(&last) {
                Some(i) if i <= a.len() => {
                    a.insert(i, value);
                    Ok(())
                }
                Some(_) => Err(fail(op, pointer, "index out of range")),
                None => Err(fail(op, pointer, "invalid array index")),
            }
        }
        _ => Err(fail(op, pointer, "parent is not a container")),
    }
}

/// RFC 6902 `remove`: deletes an existing member or array element and returns it.
fn remove(doc: &mut Value, op: &str, pointer: &str) -> Result<Value, PatchError> {
    let (parent, last) = parent_mut(doc, op, pointer)?;
    match parent {
        Value::Object(m) => m
            .shift_remove(&last)
            .ok_or_else(|| fail(op, pointer, "doc is missing key")),
        Value::Array(a) => match parse_index(&last) {
            Some(i) if i < a.len() => Ok(a.remove(i)),
            Some(_) => Err(fail(op, pointer, "index out of range")),
            None => Err(fail(op, pointer, "invalid array index")),
        },
        _ => Err(fail(op, pointer, "parent is not a container")),
    }
}

/// RFC 6902 `replace`: the target must already exist.
fn replace(doc: &mut Value, op: &str, pointer: &str, value: Value) -> Result<(), PatchError> {
    if pointer.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_mut(doc, op, pointer)?;
    let slot = match parent {
        Value::Object(m) => m.get_mut(&last),
        Value::Array(a) => match parse_index(&last) {
            Some(i) => a.get_mut(i),
            None => None,
        },
        _ => None,
    };
    let slot = slot.ok_or_else(|| fail(op, pointer, "doc is missing key"))?;
    *slot = value;
    Ok(())
}

#[cfg(test)]
mod tests;
