//! OpenKAT's KATalogus REST API under `/v1` (DESIGN.md section 6), on axum.
//!
//! State is passed with `with_state`; every handler returns
//! `Result<_, ApiError>`, and `ApiError` maps service errors to status codes
//! with a JSON body (`{"detail": ..., "field": ...}`) that never holds a
//! setting value. With an API token configured, every endpoint but
//! `/health` requires `Authorization: Bearer <token>`.
//!
//! - [`error`] holds `ApiError`;
//! - [`organisations`], [`plugins`] and [`settings`] hold one resource each.

pub mod error;
pub mod organisations;
pub mod plugins;
pub mod settings;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::store::LocalKatalogus;
use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The catalogue.
    pub katalogus: Arc<LocalKatalogus>,
    /// The bearer token every request but `/health` must carry, if set.
    pub api_token: Option<Arc<str>>,
    /// Request counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// Counters served at `/metrics` in Prometheus text format.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    errors: AtomicU64,
}

impl AppState {
    /// State over `katalogus`, with an optional API token.
    pub fn new(katalogus: Arc<LocalKatalogus>, api_token: Option<String>) -> Self {
        AppState { katalogus, api_token: api_token.filter(|t| !t.is_empty()).map(Arc::from), metrics: Arc::default() }
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/organisations", get(organisations::list).post(organisations::create).put(organisations::create))
        .route("/organisations/{org}", get(organisations::get).delete(organisations::delete))
        .route("/organisations/{org}/plugins", get(plugins::list).post(plugins::create))
        .route("/organisations/{org}/boefjes/{plugin_id}", axum::routing::patch(plugins::edit_boefje))
        .route("/organisations/{org}/normalizers/{plugin_id}", axum::routing::patch(plugins::edit_normalizer))
        .route("/organisations/{org}/plugins/{plugin_id}", get(plugins::get).patch(plugins::patch))
        .route("/organisations/{org}/plugins/{plugin_id}/schema.json", get(plugins::schema))
        .route("/organisations/{org}/plugins/{plugin_id}/description.md", get(plugins::description))
        .route("/organisations/{org}/plugins/{plugin_id}/cover.jpg", get(plugins::cover))
        .route("/organisations/{org}/{plugin_id}/settings", get(settings::get).put(settings::put).delete(settings::delete))
        .route("/organisations/{org}/settings/clone/{to_org}", post(settings::clone));
    Router::new()
        .nest("/v1", v1)
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .route("/health", get(health))
        .with_state(state)
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "KATalogus", description = "Plugins, organisations and encrypted plugin settings (OpenKAT-compatible)"),
    paths(
        organisations::list, organisations::create, organisations::get, organisations::delete,
        plugins::list, plugins::create, plugins::get, plugins::patch, plugins::schema, plugins::description, plugins::cover, plugins::edit_boefje, plugins::edit_normalizer,
        settings::get, settings::put, settings::delete, settings::clone,
    ),
    components(schemas(crate::store::Organisation, plugins::EnabledBody))
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<ApiDoc as utoipa::OpenApi>::openapi())
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"service": "katalogus", "healthy": true, "version": env!("CARGO_PKG_VERSION")}))
}

async fn metrics(State(state): State<AppState>) -> String {
    format!(
        "# TYPE katalogus_requests_total counter\nkatalogus_requests_total {}\n# TYPE katalogus_errors_total counter\nkatalogus_errors_total {}\n",
        state.metrics.requests.load(Ordering::Relaxed),
        state.metrics.errors.load(Ordering::Relaxed)
    )
}

async fn not_found() -> ApiError {
    ApiError::from(kat_core::services::ServiceError::not_found("no such endpoint"))
}

/// Checks the bearer token and counts requests and errors.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(token) = &state.api_token {
        let given = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            state.metrics.errors.fetch_add(1, Ordering::Relaxed);
            return ApiError::unauthorized().into_response();
        }
    }
    let response = next.run(request).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        state.metrics.errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
