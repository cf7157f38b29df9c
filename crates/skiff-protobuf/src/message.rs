//! Table-driven decoding of one protobuf message into Go-`encoding/json`-shaped JSON.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::schema::{Card, Field, Message, Special, Ty, INLINE, OMIT, PTR};
use crate::special;
use crate::tables::MESSAGES;
use crate::wire::{Reader, WireType};

/// Deepest message nesting accepted; real objects stay far below this, hostile input does not.
pub(crate) const MAX_DEPTH: usize = 100;

/// What has been seen on the wire for one field.
enum Slot<'a> {
    /// Not on the wire.
    Absent,
    /// A singular scalar (the last occurrence wins, as in protobuf).
    Scalar(Value),
    /// A singular message; several occurrences merge, which concatenation achieves.
    Chunks(Vec<&'a [u8]>),
    /// Elements of a repeated field.
    List(Vec<Value>),
    /// Entries of a map field; BTreeMap because Go writes map keys sorted.
    Entries(BTreeMap<String, Value>),
}

/// Decode `bytes` as `msg` into its JSON value (object, or special form).
pub(crate) fn decode_message(
    msg: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    match msg.special {
        Special::None => decode_object(msg, bytes, depth).map(Value::Object),
        other => special::decode(other, msg, bytes, depth),
    }
}

/// Decode an ordinary message into a JSON object with fields in Go struct order.
pub(crate) fn decode_object(
    msg: &'static Message,
    bytes: &[u8],
    depth: usize,
) -> Result<Map<String, Value>, DecodeError> {
    let mut slots: Vec<Slot<'_>> = msg.fields.iter().map(|_| Slot::Absent).collect();
    let mut reader = Reader::new(bytes);
    while !reader.is_empty() {
        let (num, wire) = reader.tag()?;
        match msg.fields.iter().position(|f| f.num == num) {
            Some(i) => read_field(msg, &msg.fields[i], wire, &mut reader, &mut slots[i], depth)?,
            // Upstream decoders skip unknown fields; a newer client may send some.
            None => reader.skip(num, wire)?,
        }
    }
    let mut out = Map::new();
    for (field, slot) in msg.fields.iter().zip(slots) {
        if let (true, Ty::Msg(index)) = (field.has(INLINE), field.ty) {
            if let Value::Object(inner) = inline_value(field, lookup(index), slot, depth)? {
                out.extend(inner);
            }
            continue;
        }
        if let Some(value) = emitted_value(field, slot, depth)? {
            out.insert(field.json.to_string(), value);
        }
    }
    Ok(out)
}

/// Record one occurrence of `field` into its slot.
fn read_field<'a>(
    msg: &'static Message,
    field: &'static Field,
    wire: WireType,
    reader: &mut Reader<'a>,
    slot: &mut Slot<'a>,
    depth: usize,
) -> Result<(), DecodeError> {
    match (field.card, field.ty) {
        (Card::One, Ty::Msg(_)) => {
            expect(msg, field, wire, WireType::Len)?;
            let chunk = reader.len_delimited()?;
            match slot {
                Slot::Chunks(chunks) => chunks.push(chunk),
                _ => *slot = Slot::Chunks(vec![chunk]),
            }
        }
        (Card::One, ty) => *slot = Slot::Scalar(read_scalar(msg, field, ty, wire, reader)?),
        (Card::Repeated, ty) => {
            let mut values = Vec::new();
            match ty {
                Ty::Msg(index) => {
                    expect(msg, field, wire, WireType::Len)?;
                    let bytes = reader.len_delimited()?;
                    values.push(decode_message(lookup(index), bytes, depth + 1)?);
                }
                // Packed encoding: numeric scalars may arrive as one length-delimited run.
                ty if wire == WireType::Len && scalar_wire(ty) != WireType::Len => {
                    let mut packed = Reader::new(reader.len_delimited()?);
                    while !packed.is_empty() {
                        values.push(read_scalar(msg, field, ty, scalar_wire(ty), &mut packed)?);
                    }
                }
                ty => values.push(read_scalar(msg, field, ty, wire, reader)?),
            }
            match slot {
                Slot::List(list) => list.extend(values),
                _ => *slot = Slot::List(values),
            }
        }
        (Card::Map(key_ty), value_ty) => {
            expect(msg, field, wire, WireType::Len)?;
            let entry = reader.len_delimited()?;
            let (key, value) = read_map_entry(msg, field, key_ty, value_ty, entry, depth)?;
            match slot {
                Slot::Entries(map) => {
                    map.insert(key, value);
                }
                _ => *slot = Slot::Entries(BTreeMap::from([(key, value)])),
            }
        }
    }
    Ok(())
}

/// Decode a map entry message {key = 1, value = 2}; missing parts take zero values.
fn read_map_entry(
    msg: &'static Message,
    field: &'static Field,
    key_ty: Ty,
    value_ty: Ty,
    entry: &[u8],
    depth: usize,
) -> Result<(String, Value), DecodeError> {
    let mut key = None;
    let mut value = None;
    let mut value_chunks: Vec<&[u8]> = Vec::new();
    let mut reader = Reader::new(entry);
    while !reader.is_empty() {
        match reader.tag()? {
            (1, wire) => key = Some(read_scalar(msg, field, key_ty, wire, &mut reader)?),
            (2, wire) => match value_ty {
                Ty::Msg(_) => {
                    expect(msg, field, wire, WireType::Len)?;
                    value_chunks.push(reader.len_delimited()?);
                }
                ty => value = Some(read_scalar(msg, field, ty, wire, &mut reader)?),
            },
            (num, wire) => reader.skip(num, wire)?,
        }
    }
    let key = match key.unwrap_or_else(|| zero_value(key_ty)) {
        Value::String(s) => s,
        // Go's encoding/json writes integer and bool map keys as their decimal text.
        other => other.to_string(),
    };
    let value = match (value_ty, value) {
        (Ty::Msg(index), _) => decode_message(lookup(index), &concat(&value_chunks), depth + 1)?,
        (_, Some(v)) => v,
        (ty, None) => zero_value(ty),
    };
    Ok((key, value))
}

/// The JSON value for an ordinary field, or `None` when Go's encoding/json would omit it.
fn emitted_value(
    field: &'static Field,
    slot: Slot<'_>,
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    let value = match (field.card, slot) {
        (Card::Repeated, Slot::List(list)) => Value::Array(list),
        (Card::Map(_), Slot::Entries(map)) => Value::Object(map.into_iter().collect()),
        (Card::Repeated | Card::Map(_), _) => return Ok(absent(field)),
        (Card::One, Slot::Scalar(v)) => {
            // Non-pointer Go scalars are always on the wire; omitempty decides.
            if !field.has(PTR) && field.has(OMIT) && is_empty(&v) {
                return Ok(None);
            }
            v
        }
        (Card::One, Slot::Chunks(chunks)) => {
            let Ty::Msg(index) = field.ty else {
                return Ok(Some(Value::Null));
            };
            let msg = lookup(index);
            let v = decode_message(msg, &concat(&chunks), depth + 1)?;
            // A named slice type is a slice to encoding/json, so omitempty applies.
            if msg.special == Special::StringList && field.has(OMIT) && is_empty(&v) {
                return Ok(None);
            }
            v
        }
        (Card::One, _) => match field.ty {
            Ty::Msg(index) => {
                let msg = lookup(index);
                if field.has(PTR) || msg.special == Special::StringList {
                    return Ok(absent(field));
                }
                // A non-pointer Go struct is always written, even when empty.
                decode_message(msg, &[], depth + 1)?
            }
            Ty::Bytes => return Ok(absent(field)),
            _ if field.has(PTR) => return Ok(absent(field)),
            _ if field.has(OMIT) => return Ok(None),
            ty => zero_value(ty),
        },
    };
    Ok(Some(value))
}

/// The value of an inline (embedded) field; its object members join the parent.
fn inline_value(
    field: &'static Field,
    msg: &'static Message,
    slot: Slot<'_>,
    depth: usize,
) -> Result<Value, DecodeError> {
    match slot {
        Slot::Chunks(chunks) => decode_message(msg, &concat(&chunks), depth + 1),
        _ if field.has(PTR) => Ok(Value::Null),
        _ => decode_message(msg, &[], depth + 1),
    }
}

/// How Go writes a nil pointer, slice or map: left out under omitempty, else null.
fn absent(field: &Field) -> Option<Value> {
    if field.has(OMIT) {
        None
    } else {
        Some(Value::Null)
    }
}

/// Go's omitempty test: false, 0, "", and empty arrays/objects (and null).
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// The JSON zero value of a scalar type (what Go holds when the field is absent).
fn zero_value(ty: Ty) -> Value {
    match ty {
        Ty::Bool => Value::Bool(false),
        Ty::Str | Ty::Bytes => Value::String(String::new()),
        Ty::Msg(_) => Value::Null,
        _ => Value::from(0),
    }
}

/// The wire type a scalar is encoded with when not packed.
fn scalar_wire(ty: Ty) -> WireType {
    match ty {
        Ty::Bool | Ty::Int32 | Ty::Int64 => WireType::Varint,
        Ty::Str | Ty::Bytes | Ty::Msg(_) => WireType::Len,
    }
}

/// Fail unless the wire type seen is the one the field's type needs.
fn expect(
    msg: &'static Message,
    field: &'static Field,
    found: WireType,
    want: WireType,
) -> Result<(), DecodeError> {
    if found == want {
        Ok(())
    } else {
        Err(DecodeError::WrongWireType {
            message: msg.name,
            field: field.json,
            found: found.code(),
        })
    }
}

/// Read one scalar value of type `ty` as its JSON form.
fn read_scalar(
    msg: &'static Message,
    field: &'static Field,
    ty: Ty,
    wire: WireType,
    reader: &mut Reader<'_>,
) -> Result<Value, DecodeError> {
    expect(msg, field, wire, scalar_wire(ty))?;
    // Truncating casts below are the protobuf rules for narrowing varints.
    let value = match ty {
        Ty::Bool => Value::Bool(reader.varint()? != 0),
        Ty::Int32 => Value::from(reader.varint()? as i64 as i32),
        Ty::Int64 => Value::from(reader.varint()? as i64),
        // Go's encoding/json replaces invalid UTF-8 with U+FFFD, as from_utf8_lossy does.
        Ty::Str => Value::String(String::from_utf8_lossy(reader.len_delimited()?).into_owned()),
        Ty::Bytes => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(reader.len_delimited()?))
        }
        Ty::Msg(_) => {
            return Err(DecodeError::WrongWireType {
                message: msg.name,
                field: field.json,
                found: wire.code(),
            })
        }
    };
    Ok(value)
}

/// Join merged occurrences of a singular message without copying the common case.
fn concat<'a>(chunks: &[&'a [u8]]) -> Cow<'a, [u8]> {
    match chunks {
        [] => Cow::Borrowed(&[]),
        [one] => Cow::Borrowed(one),
        many => Cow::Owned(many.concat()),
    }
}

/// The message at a table index; indices come from the generated table, never from input.
fn lookup(index: u16) -> &'static Message {
    &MESSAGES[usize::from(index)]
}
