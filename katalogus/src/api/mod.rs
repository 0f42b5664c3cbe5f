//! OpenKAT's KATalogus REST API under `/v1` (DESIGN.md section 6), on axum.
//!
//! The router is wrapped with `kat_server::app`, so every route also answers
//! with a trailing slash (`POST /v1/organisations/`, as rocky sends it) and
//! a NUL (`%00`) in a path or query is 422. JSON bodies are read with
//! `kat_server::ApiJson` (any or no `Content-Type`, 422 naming the field, 413
//! above [`MAX_BODY`]). Every 4xx and 5xx is a JSON `{"detail", "field"}`
//! body, axum's own answers (405, path and query rejections) included. With
//! an API token configured, every endpoint but `/health` requires
//! `Authorization: Bearer <token>` (the scheme in any case, as OpenKAT's
//! clients send `bearer`). `/health` keeps OpenKAT's shape and lists the
//! database under `results`; it answers 503 while the database is down.
//!
//! - [`error`] holds the error bodies ([`error::PluginError`] for OpenKAT's 400s);
//! - [`organisations`], [`plugins`], [`edit`], [`settings`] and [`configs`] hold one resource each;
//! - [`doc`] is the OpenAPI document served at `/openapi.json`, with the
//!   documentation-only [`schemas`] and [`params`] that say exactly what each
//!   route accepts and answers.

pub mod configs;
pub mod doc;
pub mod edit;
pub mod error;
pub mod organisations;
pub mod params;
pub mod plugins;
pub mod schemas;
pub mod settings;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use kat_core::services::ServiceError;
use serde_json::json;

use crate::store::LocalKatalogus;
use error::ApiError;

/// The largest request body accepted (larger ones get 413).
pub const MAX_BODY: usize = 1024 * 1024;

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

/// The whole API, behind `kat_server::app`.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/organisations", get(organisations::list).post(organisations::create).put(organisations::upsert))
        .route("/organisations/{org}", get(organisations::get).delete(organisations::delete))
        .route("/organisations/{org}/plugins", get(plugins::list).post(edit::create))
        .route("/organisations/{org}/boefjes/{plugin_id}", patch(edit::edit_boefje).delete(edit::delete_boefje))
        .route("/organisations/{org}/normalizers/{plugin_id}", patch(edit::edit_normalizer).delete(edit::delete_normalizer))
        .route("/organisations/{org}/plugins/{plugin_id}", get(plugins::get).patch(plugins::patch))
        .route("/organisations/{org}/plugins/{plugin_id}/schema.json", get(plugins::schema))
        .route("/organisations/{org}/plugins/{plugin_id}/description.md", get(plugins::description))
        .route("/organisations/{org}/plugins/{plugin_id}/cover.jpg", get(plugins::cover))
        .route("/organisations/{org}/{plugin_id}/settings", get(settings::get).put(settings::put).delete(settings::delete))
        .route("/organisations/{org}/settings/clone/{to_org}", post(settings::clone))
        .route("/configs", get(configs::list));
    let inner = Router::new()
        .nest("/v1", v1)
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(doc::openapi))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(kat_server::error::json_errors))
        .with_state(state);
    kat_server::app(inner)
}

/// OpenKAT's health shape; the database is listed under `results`, and a database that is down makes it 503.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "Healthy", body = schemas::Health), (status = 503, description = "The database is down", body = schemas::Health)))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let up = state.katalogus.database_is_up().await;
    let status = if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let database = json!({"service": "database", "healthy": up, "version": null, "additional": null, "results": []});
    (status, Json(json!({"service": "katalogus", "healthy": up, "version": env!("CARGO_PKG_VERSION"), "additional": null, "results": [database]})))
}

/// Request and error counters in Prometheus text format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Counters", body = schemas::Metrics, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> String {
    format!(
        "# TYPE katalogus_requests_total counter\nkatalogus_requests_total {}\n# TYPE katalogus_errors_total counter\nkatalogus_errors_total {}\n",
        state.metrics.requests.load(Ordering::Relaxed),
        state.metrics.errors.load(Ordering::Relaxed)
    )
}

async fn not_found() -> ApiError {
    ApiError(ServiceError::not_found("Not Found: no such endpoint"))
}

/// Checks the bearer token and counts requests and errors.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(token) = &state.api_token {
        let given = kat_server::auth::bearer(request.headers()).unwrap_or("");
        if !kat_server::auth::constant_time_eq(given.as_bytes(), token.as_bytes()) {
            state.metrics.errors.fetch_add(1, Ordering::Relaxed);
            return ApiError::unauthorized("missing or wrong bearer token").into_response();
        }
    }
    let response = next.run(request).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        state.metrics.errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}
