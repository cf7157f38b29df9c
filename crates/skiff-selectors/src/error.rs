//! The error type shared by label and field selectors.

/// Why a selector could not be built or is not allowed for a resource.
///
/// Every variant is client input gone wrong: the API server answers all of
/// them with HTTP 400 `BadRequest`, using [`SelectorError::to_string`] as the
/// Status message (the text matches kube-apiserver v1.33 word for word).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A `labelSelector` query string is malformed or names an invalid key or value.
    #[error("{message}")]
    LabelSelector {
        /// Upstream `labels.Parse` wording, e.g. `unable to parse requirement: ...`.
        message: String,
    },
    /// A `metav1.LabelSelector` object is malformed or names an invalid key, value or operator.
    #[error("{message}")]
    LabelSelectorObject {
        /// Upstream `LabelSelectorAsSelector` wording.
        message: String,
    },
    /// A `fieldSelector` query string is malformed (bad term or escape sequence).
    #[error("{message}")]
    FieldSelector {
        /// Upstream `fields.ParseSelector` wording.
        message: String,
    },
    /// A field selector names a field the resource does not support.
    #[error("{message}")]
    UnsupportedField {
        /// The field label as the client sent it.
        field: String,
        /// Upstream field-label conversion wording, e.g. `field label not supported: foo`.
        message: String,
    },
}
