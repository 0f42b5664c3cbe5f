//! OpenKAT's Bytes REST API under `/bytes` (DESIGN.md section 6), on axum.
//!
//! `POST /bytes/token` exchanges `BYTES_USERNAME`/`BYTES_PASSWORD` (a form,
//! as OpenKAT) for a bearer token with an expiry; every route but `/health`
//! and the token route requires it, `/metrics` and `/openapi.json` included. Raw files larger than the configured
//! limit get 413; every error is JSON (`{"detail", "field"}`).
//!
//! - [`auth`] holds the login and token check;
//! - [`metas`] the boefje and normalizer metadata routes; [`raw`] the raw-file routes.

pub mod auth;
pub mod metas;
pub mod raw;

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use kat_core::services::ServiceError;
use serde_json::json;

use crate::LocalBytes;

/// The default largest raw file accepted (`BYTES_MAX_RAW_SIZE`): 64 MiB.
pub const DEFAULT_MAX_RAW_SIZE: usize = 64 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct BytesState {
    /// The store.
    pub bytes: Arc<LocalBytes>,
    /// Login and tokens.
    pub auth: Arc<auth::Auth>,
    /// The largest raw file accepted, in bytes.
    pub max_raw_size: usize,
}

/// The whole API.
pub fn router(state: BytesState) -> Router {
    // Base64 grows contents by 4/3; leave room for the JSON around them.
    let body_limit = state.max_raw_size / 3 * 4 + 1024 * 1024;
    let guarded = Router::new()
        .route("/boefje_meta", post(metas::save_boefje_meta).get(metas::list_boefje_metas))
        .route("/boefje_meta/{id}", get(metas::get_boefje_meta))
        .route("/normalizer_meta", post(metas::save_normalizer_meta).get(metas::list_normalizer_metas))
        .route("/normalizer_meta/{id}", get(metas::get_normalizer_meta))
        .route("/raw", post(raw::save).get(raw::list))
        .route("/raw/{id}", get(raw::get))
        .route("/raw/{id}/meta", get(raw::get_meta))
        .route("/mime_types", get(raw::mime_types))
        .fallback(|| async { ApiError(ServiceError::not_found("no such endpoint")) })
        .layer(middleware::from_fn_with_state(state.clone(), auth::require_token));
    Router::new()
        .nest("/bytes", guarded.route("/token", post(auth::login)))
        .route("/health", get(|| async { Json(json!({"service": "bytes", "healthy": true})) }))
        .merge(
            Router::new()
                .route("/openapi.json", get(|| async { Json(<ApiDoc as utoipa::OpenApi>::openapi()) }))
                .route("/metrics", get(metrics))
                .layer(middleware::from_fn_with_state(state.clone(), auth::require_token)),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Bytes", description = "Raw files of boefje runs with their metadata (OpenKAT-compatible)"),
    paths(
        auth::login, metas::save_boefje_meta, metas::get_boefje_meta, metas::list_boefje_metas,
        metas::save_normalizer_meta, metas::get_normalizer_meta, metas::list_normalizer_metas,
        raw::save, raw::get, raw::get_meta, raw::list, raw::mime_types,
    )
)]
pub struct ApiDoc;

/// `/metrics` in Prometheus text: raw files and pending events.
async fn metrics(axum::extract::State(state): axum::extract::State<BytesState>) -> Result<String, ApiError> {
    let (raw_files, pending) = state.bytes.meta_db().counts().await?;
    Ok(format!("# TYPE bytes_raw_files gauge\nbytes_raw_files {raw_files}\n# TYPE bytes_outbox_pending gauge\nbytes_outbox_pending {pending}\n"))
}

/// An error response: the status of the error's kind (413 for a too-large body), with a JSON body.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

/// 413 Payload Too Large, which has no `ErrorKind`.
pub(crate) fn too_large(message: String) -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, Json(json!({"detail": message, "field": "files"}))).into_response()
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(detail = %self.0.message, "bytes request failed");
        }
        (status, Json(json!({"detail": self.0.message, "field": self.0.field}))).into_response()
    }
}

/// A JSON body that does not parse, or is too large.
pub(crate) fn body_error(e: JsonRejection) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large("the request body is larger than BYTES_MAX_RAW_SIZE allows".into());
    }
    ApiError(ServiceError::invalid(format!("the request body is not the JSON expected: {}", e.body_text())).with_field("body")).into_response()
}

/// A form body that does not parse.
pub(crate) fn form_error(e: FormRejection) -> Response {
    ApiError(ServiceError::invalid(format!("the form is not what was expected: {}", e.body_text())).with_field("body")).into_response()
}
