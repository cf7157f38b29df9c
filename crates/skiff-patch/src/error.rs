//! Errors shared by the JSON, merge and strategic patch engines.

/// Why a patch could not be applied; the message is meant for a 4xx `Status`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (wrong JSON shape, unknown op, bad directive).
    #[error("{0}")]
    InvalidPatch(String),
    /// A JSON pointer in a JSON patch is not valid RFC 6901 syntax.
    #[error("invalid JSON pointer {pointer:?}: {reason}")]
    InvalidPointer {
        /// The pointer as written in the patch.
        pointer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A JSON patch operation does not apply to the document (missing path, bad index).
    #[error("{op} operation does not apply: {reason}: {path:?}")]
    OperationFailed {
        /// The operation name (`add`, `remove`, ...).
        op: String,
        /// The pointer the operation targets.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// A JSON patch `test` operation found a different value.
    #[error("testing value {path:?} failed: test failed")]
    TestFailed {
        /// The pointer that was tested.
        path: String,
    },
    /// The document being patched is not a JSON object where one is required.
    #[error("invalid JSON document: {0}")]
    InvalidDocument(String),
}
