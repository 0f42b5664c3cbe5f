//! OpenKAT's Bytes REST API (DESIGN.md section 6), on axum, wrapped by
//! `kat_server::app` (trailing slashes ignored, NUL characters in paths and
//! queries refused).
//!
//! `POST /token` (where OpenKAT's clients log in) and `POST /bytes/token`
//! exchange `BYTES_USERNAME`/`BYTES_PASSWORD` for a bearer token; every
//! route under `/bytes`, `/metrics` and `/openapi.json` require it; `/health`
//! and `/` (a redirect to it) are open. JSON bodies are read whatever their
//! `Content-Type` (`kat_server::ApiJson`). Every error is JSON `{"detail",
//! "field"}`: handlers answer with `kat_server::ApiError`, and a last layer
//! turns whatever else would leave as a non-JSON error (405, an unmatched
//! path) into that shape.
//!
//! - [`auth`] holds the login and token check; [`params`] the query and path parameters;
//! - [`metas`] the boefje and normalizer metadata routes; [`raw`] the raw-file routes;
//! - [`status`] `/health` and `/metrics`.

pub mod auth;
pub mod metas;
pub mod params;
pub mod raw;
pub mod status;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kat_core::services::ServiceError;
pub use kat_server::ApiError;

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
    let body_limit = (state.max_raw_size / 3).saturating_mul(4).saturating_add(1024 * 1024);
    let data = Router::new()
        .route("/boefje_meta", post(metas::save_boefje_meta).get(metas::list_boefje_metas))
        .route("/boefje_meta/{boefje_meta_id}", get(metas::get_boefje_meta))
        .route("/normalizer_meta", post(metas::save_normalizer_meta).get(metas::list_normalizer_metas))
        .route("/normalizer_meta/{normalizer_meta_id}", get(metas::get_normalizer_meta))
        .route("/normalizer_metas", get(metas::normalizer_metas_by_id))
        .route("/raw", post(raw::save).get(raw::list))
        .route("/raws", get(raw::list_with_contents))
        .route("/raw/{raw_id}", get(raw::get))
        .route("/raw/{raw_id}/meta", get(raw::get_meta))
        .route("/mime_types", get(raw::mime_types));
    let guarded = Router::new()
        .nest("/bytes", data)
        .route("/openapi.json", get(|| async { Json(<ApiDoc as utoipa::OpenApi>::openapi()) }))
        .route("/metrics", get(status::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_token));
    let open = Router::new()
        .route("/token", post(auth::login))
        .route("/bytes/token", post(auth::login))
        .route("/health", get(status::health))
        .route("/", get(|| async { Redirect::temporary("/health") }));
    let router = guarded
        .merge(open)
        .fallback(|| async { ApiError(ServiceError::not_found("no such endpoint").with_field("path")) })
        .layer(middleware::from_fn(json_errors))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    kat_server::app(router)
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Bytes", description = "Raw files of boefje runs with their metadata (OpenKAT-compatible)"),
    paths(
        auth::login, metas::save_boefje_meta, metas::get_boefje_meta, metas::list_boefje_metas,
        metas::save_normalizer_meta, metas::get_normalizer_meta, metas::list_normalizer_metas, metas::normalizer_metas_by_id,
        raw::save, raw::get, raw::get_meta, raw::list, raw::list_with_contents, raw::mime_types,
        status::health, status::metrics,
    )
)]
pub struct ApiDoc;

/// The most of a non-JSON error body that is carried into its JSON replacement.
const MAX_ERROR_TEXT: usize = 4096;

/// Turn an error answer that is not JSON (axum's own 405, a rejection's plain text) into `{"detail", "field"}`.
async fn json_errors(request: axum::extract::Request, next: Next) -> Response {
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
    let mut json = kat_server::error::error_response(status, &detail, field);
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            json.headers_mut().insert(name, value.clone());
        }
    }
    json.into_response()
}
