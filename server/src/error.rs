//! `ApiError`: how a failed service call becomes an HTTP answer. The status
//! comes from the error's kind (`ErrorKind::http_status`), the body is
//! `{"detail": message, "field": key-or-null}` (OpenKAT's clients read
//! `detail`). Server errors are logged; their messages never carry database
//! text or secret values, because `db::db_error` and the services build them
//! that way.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::services::ServiceError;
use kat_core::ErrorKind;
use serde_json::json;

/// An error response.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl ApiError {
    /// An error with an explicit status where OpenKAT answers with one that our kinds do not give (such as 400).
    pub fn with_status(status: u16, error: ServiceError) -> Response {
        error_response(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &error.message, error.field.as_deref())
    }

    /// 401 with `message`.
    pub fn unauthorized(message: &str) -> Self {
        ApiError(ServiceError::new(ErrorKind::Unauthorized, message))
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

/// A JSON error body with this status.
pub fn error_response(status: StatusCode, detail: &str, field: Option<&str>) -> Response {
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), detail, "request failed");
    }
    (status, Json(json!({"detail": detail, "field": field}))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        error_response(status, &self.0.message, self.0.field.as_deref())
    }
}
