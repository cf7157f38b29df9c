//! The `k8s\0` + `runtime.Unknown` envelope around every protobuf body.

use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::kinds::lookup;
use crate::message::{decode_object, MAX_DEPTH};
use crate::wire::{Reader, WireType};

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// The only embedded content type this crate decodes (empty means the same).
const PROTOBUF_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Decode a `k8s\0`-prefixed protobuf body into the object's JSON form, exactly as the same
/// object would be written in JSON by kubectl (apiVersion and kind set from typeMeta; field
/// names are the JSON names; empty/unset fields omitted as Go's encoding/json omits them).
pub fn decode(body: &[u8]) -> Result<Value, DecodeError> {
    decode_nested(body, 0)
}

/// The parsed `runtime.Unknown` fields.
#[derive(Default)]
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

/// Decode an envelope found at nesting `depth` (RawExtensions may embed whole bodies).
pub(crate) fn decode_nested(body: &[u8], depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep(MAX_DEPTH));
    }
    let rest = body.strip_prefix(&MAGIC).ok_or(DecodeError::BadMagic)?;
    let unknown = parse_unknown(rest)?;
    if !unknown.content_encoding.is_empty() {
        return Err(DecodeError::UnsupportedEncoding(unknown.content_encoding));
    }
    if !unknown.content_type.is_empty() && unknown.content_type != PROTOBUF_CONTENT_TYPE {
        return Err(DecodeError::UnsupportedContentType(unknown.content_type));
    }
    if unknown.api_version.is_empty() && unknown.kind.is_empty() {
        return Err(DecodeError::MissingTypeMeta);
    }
    let msg =
        lookup(&unknown.api_version, &unknown.kind).ok_or_else(|| DecodeError::UnknownKind {
            api_version: unknown.api_version.clone(),
            kind: unknown.kind.clone(),
        })?;
    let fields = decode_object(msg, unknown.raw, depth + 1)?;
    // TypeMeta is the first member of every Kubernetes object: kind, then apiVersion.
    let mut out = Map::new();
    out.insert("kind".to_string(), Value::String(unknown.kind));
    out.insert("apiVersion".to_string(), Value::String(unknown.api_version));
    out.extend(fields);
    Ok(Value::Object(out))
}

/// Parse runtime.Unknown{typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2,
/// contentEncoding = 3, contentType = 4}.
fn parse_unknown(data: &[u8]) -> Result<Unknown<'_>, DecodeError> {
    let mut out = Unknown::default();
    let mut reader = Reader::new(data);
    while !reader.is_empty() {
        let (num, wire) = reader.tag()?;
        if !(1..=4).contains(&num) {
            reader.skip(num, wire)?;
            continue;
        }
        let payload = len_field(
            &mut reader,
            wire,
            "runtime.Unknown",
            UNKNOWN_NAMES[num as usize],
        )?;
        match num {
            1 => parse_type_meta(payload, &mut out)?,
            2 => out.raw = payload,
            3 => out.content_encoding = text(payload),
            _ => out.content_type = text(payload),
        }
    }
    Ok(out)
}

/// JSON-ish names of runtime.Unknown's fields, indexed by field number, for errors.
const UNKNOWN_NAMES: [&str; 5] = ["", "typeMeta", "raw", "contentEncoding", "contentType"];

/// Parse runtime.TypeMeta{apiVersion = 1, kind = 2} into the envelope.
fn parse_type_meta(data: &[u8], out: &mut Unknown<'_>) -> Result<(), DecodeError> {
    let mut reader = Reader::new(data);
    while !reader.is_empty() {
        match reader.tag()? {
            (1, wire) => {
                out.api_version = text(len_field(
                    &mut reader,
                    wire,
                    "runtime.TypeMeta",
                    "apiVersion",
                )?)
            }
            (2, wire) => out.kind = text(len_field(&mut reader, wire, "runtime.TypeMeta", "kind")?),
            (num, wire) => reader.skip(num, wire)?,
        }
    }
    Ok(())
}

/// Read a length-delimited field, rejecting any other wire type.
fn len_field<'a>(
    reader: &mut Reader<'a>,
    wire: WireType,
    message: &'static str,
    field: &'static str,
) -> Result<&'a [u8], DecodeError> {
    if wire != WireType::Len {
        return Err(DecodeError::WrongWireType {
            message,
            field,
            found: wire.code(),
        });
    }
    reader.len_delimited()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
