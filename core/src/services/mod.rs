//! The service contracts: one trait per service, so that runners and tools
//! work the same against the in-process implementations (embedded mode) and
//! against HTTP clients (distributed mode).
//!
//! - [`bytes::Bytes`]: raw files and their metadata.
//! - [`katalogus::Katalogus`]: plugins, enablement and settings per organisation.
//! - [`scheduler::Scheduler`]: the task queues.
//! - [`graph::ObjectGraph`]: the object graph.
//!
//! Every method fails with a [`ServiceError`]: a kind to branch on and a
//! message that is safe to show (it never holds a setting value).

pub mod bytes;
pub mod graph;
pub mod katalogus;
pub mod scheduler;

use crate::ErrorKind;

/// A failed service call: what kind of failure, and a message safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    /// The category, for retries and HTTP status codes.
    pub kind: ErrorKind,
    /// What went wrong, for people.
    pub message: String,
    /// The input field or setting key at fault, when there is one.
    pub field: Option<String>,
}

impl ServiceError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ServiceError { kind, message: message.into(), field: None }
    }

    /// The thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// The input breaks a rule.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// A store or dependency failed.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// Stored data is inconsistent.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl ServiceError {
    /// The same error, naming the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl From<crate::CoreError> for ServiceError {
    fn from(e: crate::CoreError) -> Self {
        let field = match &e {
            crate::CoreError::InvalidSetting { key, .. } => Some(key.clone()),
            crate::CoreError::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        ServiceError { kind: crate::ErrorKind::Invalid, message: e.to_string(), field }
    }
}

/// The result type of every service call.
pub type ServiceResult<T> = Result<T, ServiceError>;
