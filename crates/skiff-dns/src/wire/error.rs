//! Errors of the DNS wire codec.

/// Why a DNS message could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// The message ended in the middle of a field.
    #[error("message truncated at byte {0}")]
    Truncated(usize),
    /// A label length byte used the reserved 0x40/0x80 prefixes.
    #[error("unsupported label type {0:#04x}")]
    BadLabel(u8),
    /// A compression pointer pointed forward or looped.
    #[error("bad compression pointer at byte {0}")]
    BadPointer(usize),
    /// A name was longer than 255 bytes or a label longer than 63.
    #[error("name too long")]
    NameTooLong,
    /// A record's data did not fill exactly its RDLENGTH.
    #[error("record data length mismatch at byte {0}")]
    RdataLength(usize),
    /// A textual name had an empty label (two dots in a row).
    #[error("empty label in name {0:?}")]
    EmptyLabel(String),
}
