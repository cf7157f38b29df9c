//! Types describing the generated message table (see `gen/gen_tables.py`).

/// The Go field is a pointer: it is emitted only when present on the wire.
pub(crate) const PTR: u8 = 1;
/// The Go JSON tag has `omitempty`: zero values (not structs) are left out.
pub(crate) const OMIT: u8 = 2;
/// The Go field is embedded with `json:",inline"`: its fields join the parent object.
pub(crate) const INLINE: u8 = 4;

/// Declared protobuf type of a field (or map key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// `bool`
    Bool,
    /// `int32`
    Int32,
    /// `int64`
    Int64,
    /// `string`
    Str,
    /// `bytes` (JSON: base64)
    Bytes,
    /// A message, by index into `tables::MESSAGES`.
    Msg(u16),
}

/// How many values a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Card {
    /// `optional`: one value, last occurrence wins (messages merge).
    One,
    /// `repeated`: a JSON array.
    Repeated,
    /// `map<key, ty>`: entries are messages with key = 1 and value = 2.
    Map(Ty),
}

/// Messages whose JSON form is not an object of their fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    /// An ordinary message: a JSON object.
    None,
    /// meta/v1 Time: RFC 3339 with second precision, zero is null.
    Time,
    /// meta/v1 MicroTime: RFC 3339 with microseconds, zero is null.
    MicroTime,
    /// meta/v1 Duration: a Go duration string.
    Duration,
    /// runtime.RawExtension / meta/v1 FieldsV1: `raw` bytes are embedded JSON.
    RawJson,
    /// intstr.IntOrString: a JSON number or string.
    IntOrString,
    /// resource.Quantity: its string form.
    Quantity,
    /// A Go named slice (`type ExtraValue []string`) wrapped as `{repeated items = 1}`.
    StringList,
}

/// One field of a message, in Go struct order.
#[derive(Debug)]
pub(crate) struct Field {
    /// Protobuf field number.
    pub num: u32,
    /// JSON name (empty for inline fields).
    pub json: &'static str,
    /// Element type (the value type for maps).
    pub ty: Ty,
    /// Cardinality.
    pub card: Card,
    /// `PTR` / `OMIT` / `INLINE` bits.
    pub flags: u8,
}

impl Field {
    /// True if the given flag bit is set.
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// One protobuf message.
#[derive(Debug)]
pub(crate) struct Message {
    /// Fully qualified protobuf name, for error messages.
    pub name: &'static str,
    /// Non-object JSON form, if any.
    pub special: Special,
    /// Fields in Go struct order (the order Go's encoding/json writes them).
    pub fields: &'static [Field],
}

/// Compact constructor used by the generated table.
pub(crate) const fn f(num: u32, json: &'static str, ty: Ty, card: Card, flags: u8) -> Field {
    Field {
        num,
        json,
        ty,
        card,
        flags,
    }
}
