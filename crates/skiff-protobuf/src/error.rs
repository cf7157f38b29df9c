//! Errors produced while decoding a protobuf body.

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body does not start with the `k8s\0` magic prefix.
    #[error("protobuf body does not start with the k8s\\0 magic prefix")]
    BadMagic,
    /// The input ended in the middle of a varint, length or value.
    #[error("truncated protobuf data while reading {context}")]
    Truncated {
        /// What was being read when the input ran out.
        context: &'static str,
    },
    /// A varint was longer than ten bytes.
    #[error("protobuf varint overflows 64 bits")]
    VarintOverflow,
    /// A tag carried field number 0 or a wire type outside 0..=5.
    #[error("invalid protobuf tag {tag:#x}")]
    InvalidTag {
        /// The raw tag value.
        tag: u64,
    },
    /// A known field arrived with a wire type that does not fit its declared type.
    #[error("proto: wrong wireType = {found} for field {field} in {message}")]
    WrongWireType {
        /// The message being decoded.
        message: &'static str,
        /// The JSON name of the field.
        field: &'static str,
        /// The wire type seen on the wire.
        found: u8,
    },
    /// The envelope carries no apiVersion/kind.
    #[error("protobuf envelope has no apiVersion/kind")]
    MissingTypeMeta,
    /// The apiVersion/kind pair is not one this crate has a message table for.
    #[error("no protobuf message known for apiVersion {api_version:?}, kind {kind:?}")]
    UnknownKind {
        /// apiVersion from the envelope.
        api_version: String,
        /// kind from the envelope.
        kind: String,
    },
    /// The envelope declares a content encoding (e.g. gzip) that is not supported.
    #[error("unsupported protobuf content encoding {0:?}")]
    UnsupportedEncoding(String),
    /// The envelope declares a content type other than protobuf.
    #[error("unsupported embedded content type {0:?}")]
    UnsupportedContentType(String),
    /// An IntOrString carried a type other than 0 (int) or 1 (string).
    #[error("impossible IntOrString.Type {0}")]
    InvalidIntOrString(i64),
    /// A resource.Quantity carried an empty string, which Go refuses to parse.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    InvalidQuantity,
    /// An embedded RawExtension/FieldsV1 is neither JSON nor a nested protobuf object.
    #[error("embedded raw object is not valid JSON")]
    InvalidRawJson(#[source] serde_json::Error),
    /// Messages (or nested raw objects) are nested deeper than the decoder allows.
    #[error("protobuf messages nested deeper than {0} levels")]
    TooDeep(usize),
}
