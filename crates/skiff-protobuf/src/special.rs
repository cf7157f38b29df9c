//! JSON forms of messages that Go marshals with custom `MarshalJSON` methods.

use serde_json::Value;

use crate::envelope::{decode_nested, MAGIC};
use crate::error::DecodeError;
use crate::schema::{Message, Special};
use crate::timefmt::{go_duration, rfc3339, GO_ZERO_TIME_UNIX};
use crate::wire::{Reader, WireType};

/// One raw value seen on the wire.
enum Raw<'a> {
    /// A varint (the only numeric encoding these messages use).
    Varint(u64),
    /// A length-delimited payload.
    Bytes(&'a [u8]),
}

/// Every (field number, value) of a message, in wire order.
fn scan<'a>(msg: &'static Message, bytes: &'a [u8]) -> Result<Vec<(u32, Raw<'a>)>, DecodeError> {
    let mut reader = Reader::new(bytes);
    let mut out = Vec::new();
    while !reader.is_empty() {
        let (num, wire) = reader.tag()?;
        let field = msg.fields.iter().find(|f| f.num == num);
        match (field, wire) {
            (None, _) => reader.skip(num, wire)?,
            (Some(_), WireType::Varint) => out.push((num, Raw::Varint(reader.varint()?))),
            (Some(_), WireType::Len) => out.push((num, Raw::Bytes(reader.len_delimited()?))),
            (Some(f), other) => {
                return Err(DecodeError::WrongWireType {
                    message: msg.name,
                    field: f.json,
                    found: other.code(),
                })
            }
        }
    }
    Ok(out)
}

/// The last varint for field `num` (protobuf "last one wins"); 0 when absent.
fn varint(msg: &'static Message, fields: &[(u32, Raw<'_>)], num: u32) -> Result<u64, DecodeError> {
    match fields.iter().rev().find(|(n, _)| *n == num) {
        None => Ok(0),
        Some((_, Raw::Varint(v))) => Ok(*v),
        Some((_, Raw::Bytes(_))) => Err(wrong(msg, num, WireType::Len)),
    }
}

/// The last length-delimited payload for field `num`, if any.
fn bytes<'a>(
    msg: &'static Message,
    fields: &[(u32, Raw<'a>)],
    num: u32,
) -> Result<Option<&'a [u8]>, DecodeError> {
    match fields.iter().rev().find(|(n, _)| *n == num) {
        None => Ok(None),
        Some((_, Raw::Bytes(b))) => Ok(Some(b)),
        Some((_, Raw::Varint(_))) => Err(wrong(msg, num, WireType::Varint)),
    }
}

fn wrong(msg: &'static Message, num: u32, found: WireType) -> DecodeError {
    let field = msg
        .fields
        .iter()
        .find(|f| f.num == num)
        .map_or("", |f| f.json);
    DecodeError::WrongWireType {
        message: msg.name,
        field,
        found: found.code(),
    }
}

/// Decode a message whose JSON form is special.
pub(crate) fn decode(
    special: Special,
    msg: &'static Message,
    data: &[u8],
    depth: usize,
) -> Result<Value, DecodeError> {
    let fields = scan(msg, data)?;
    // Narrowing casts follow protobuf's int64/int32 varint rules.
    let value = match special {
        Special::None => Value::Null,
        Special::Time => {
            // Upstream writes nothing for the zero time and reads back seconds only.
            let seconds = varint(msg, &fields, 1)? as i64;
            if data.is_empty() || seconds == GO_ZERO_TIME_UNIX {
                Value::Null
            } else {
                Value::String(rfc3339(seconds, None))
            }
        }
        Special::MicroTime => {
            let seconds = varint(msg, &fields, 1)? as i64;
            let nanos = i64::from(varint(msg, &fields, 2)? as i32);
            // Truncate toward zero to microseconds, then normalise like Go's time.Unix.
            let nanos = nanos - nanos % 1000;
            let seconds = seconds.saturating_add(nanos.div_euclid(1_000_000_000));
            let nanos = nanos.rem_euclid(1_000_000_000);
            if data.is_empty() || (seconds == GO_ZERO_TIME_UNIX && nanos == 0) {
                Value::Null
            } else {
                let micros = u32::try_from(nanos / 1000).unwrap_or(0);
                Value::String(rfc3339(seconds, Some(micros)))
            }
        }
        Special::Duration => Value::String(go_duration(varint(msg, &fields, 1)? as i64)),
        Special::IntOrString => match varint(msg, &fields, 1)? as i64 {
            0 => Value::from(varint(msg, &fields, 2)? as i64 as i32),
            1 => Value::String(
                String::from_utf8_lossy(bytes(msg, &fields, 3)?.unwrap_or_default()).into_owned(),
            ),
            other => return Err(DecodeError::InvalidIntOrString(other)),
        },
        Special::Quantity => match bytes(msg, &fields, 1)? {
            // The zero Quantity prints as "0"; an empty string does not parse upstream.
            None => Value::String("0".to_string()),
            Some([]) => return Err(DecodeError::InvalidQuantity),
            Some(s) => Value::String(String::from_utf8_lossy(s).into_owned()),
        },
        Special::RawJson => match bytes(msg, &fields, 1)? {
            None | Some([]) => Value::Null,
            Some(raw) if raw.starts_with(&MAGIC) => decode_nested(raw, depth + 1)?,
            Some(raw) => serde_json::from_slice(raw).map_err(DecodeError::InvalidRawJson)?,
        },
        Special::StringList => Value::Array(
            fields
                .iter()
                .filter(|(n, _)| *n == 1)
                .map(|(_, raw)| match raw {
                    Raw::Bytes(b) => Ok(Value::String(String::from_utf8_lossy(b).into_owned())),
                    Raw::Varint(_) => Err(wrong(msg, 1, WireType::Varint)),
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(value)
}
