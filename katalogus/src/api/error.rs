//! `ApiError`: the one error type of the KATalogus API. It maps a
//! `ServiceError` kind to a status (not found 404, invalid 422, conflict
//! 409, unauthorized 401, unavailable 503, internal 500) with the body
//! `{"detail": message, "field": key-or-null}`.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::services::ServiceError;
use kat_core::ErrorKind;
use serde_json::json;

/// An error response.
#[derive(Debug)]
pub struct ApiError(ServiceError);

impl ApiError {
    /// 401: a missing or wrong bearer token.
    pub fn unauthorized() -> Self {
        ApiError(ServiceError::new(ErrorKind::Unauthorized, "missing or wrong bearer token"))
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError(ServiceError::invalid(format!("the request body is not the JSON expected: {}", e.body_text())).with_field("body"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(detail = %self.0.message, "katalogus request failed");
        }
        (status, Json(json!({"detail": self.0.message, "field": self.0.field}))).into_response()
    }
}
