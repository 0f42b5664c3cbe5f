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

/// The most of a non-JSON error body that is carried into its JSON replacement.
const MAX_ERROR_TEXT: usize = 4096;

/// Middleware: turn an error answer that is not JSON (axum's own 405 or 404, a rejection's plain text) into
/// `{"detail", "field"}`, keeping its status and headers, so every error a client sees is JSON.
pub async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_TEXT).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
    let detail = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_ascii_lowercase() } else { text };
    let field = (status == StatusCode::METHOD_NOT_ALLOWED).then_some("method");
    let mut json = error_response(status, &detail, field);
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            json.headers_mut().insert(name, value.clone());
        }
    }
    json
}
