//! Errors of this crate.

/// Why a printer definition could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrinterError {
    /// A CRD printer column's JSONPath is outside the supported simple JSONPath syntax.
    #[error("unrecognized column definition {path:?}: {reason}")]
    InvalidJsonPath {
        /// The path as written in the CRD.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
}
