//! Error kinds shared by all crates, and the error type of `kat-core`.
//!
//! Every library crate has its own `thiserror` enum; each exposes a `kind()`
//! returning an [`ErrorKind`] so that HTTP mapping, retries and metrics can
//! branch on the kind without knowing the crate.

/// The small set of error categories every crate maps its errors to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked for does not exist.
    NotFound,
    /// The input is malformed or breaks a rule.
    Invalid,
    /// The request conflicts with existing state.
    Conflict,
    /// Credentials are missing or wrong.
    Unauthorized,
    /// A dependency (network, store, broker) could not be reached.
    Unavailable,
    /// A bug or an unexpected state.
    Internal,
    /// The caller is known but may not do this (HTTP 403).
    Forbidden,
    /// The input is larger than the configured limit (HTTP 413).
    TooLarge,
}

impl ErrorKind {
    /// The HTTP status code a REST service answers with for this kind.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Invalid => 422,
            ErrorKind::Conflict => 409,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
            ErrorKind::Forbidden => 403,
            ErrorKind::TooLarge => 413,
        }
    }
}

/// Errors raised by `kat-core` itself: parsing and validation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    /// A reference string is not of the form `Type|key|parts`.
    #[error("malformed reference {input:?}: {reason}")]
    MalformedReference {
        /// The string as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An object type that the model does not know.
    #[error("unknown object type {0:?}")]
    UnknownObjectType(String),
    /// An object lacks a field that its natural key needs, or a field has the wrong shape.
    #[error("invalid {object_type} object: field {field:?} {reason}")]
    InvalidField {
        /// The object's type.
        object_type: String,
        /// The offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting name or value that a job may not carry.
    #[error("setting {key:?} refused: {reason}")]
    InvalidSetting {
        /// The setting name (never its value: values may be secret).
        key: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A manifest that does not parse.
    #[error("invalid manifest {name}: {reason}")]
    InvalidManifest {
        /// Which manifest (file name or plugin id).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl CoreError {
    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}
