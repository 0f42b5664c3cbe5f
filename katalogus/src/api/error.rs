//! Errors of the KATalogus API. Every error is `kat_server::ApiError`'s
//! JSON body `{"detail": message, "field": key-or-null}` with the status of
//! the error's kind; [`PluginError`] adds OpenKAT's one odd status: the
//! plugin endpoints answer a conflict (a duplicate plugin id or name, an
//! edit of a static normalizer, a bit) with 400, where rocky looks for
//! "Duplicate plugin" in the `detail`.

use axum::response::{IntoResponse, Response};
use kat_core::services::ServiceError;
use kat_core::ErrorKind;

pub use kat_server::ApiError;

/// An error of the plugin endpoints (conflicts are 400, as OpenKAT answers them).
#[derive(Debug)]
pub struct PluginError(pub ServiceError);

impl From<ServiceError> for PluginError {
    fn from(e: ServiceError) -> Self {
        PluginError(e)
    }
}

impl From<ApiError> for PluginError {
    fn from(e: ApiError) -> Self {
        PluginError(e.0)
    }
}

impl IntoResponse for PluginError {
    fn into_response(self) -> Response {
        if self.0.kind == ErrorKind::Conflict { ApiError::with_status(400, self.0) } else { ApiError(self.0).into_response() }
    }
}

/// A 422 naming a query parameter.
pub fn bad_parameter(name: &str, rule: &str) -> ApiError {
    ApiError(ServiceError::invalid(format!("query parameter {name}: {rule}")).with_field(name))
}
