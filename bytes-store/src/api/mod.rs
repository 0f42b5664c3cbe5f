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
//! - [`status`] `/health`, `/metrics` and `/`;
//! - [`schemas`] the bodies and answers of the OpenAPI document ([`ApiDoc`]).

pub mod auth;
pub mod metas;
pub mod params;
pub mod raw;
pub mod schemas;
pub mod status;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
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
        .route("/", get(status::root));
    let router = guarded
        .merge(open)
        .fallback(|| async { ApiError(ServiceError::not_found("no such endpoint").with_field("path")) })
        .layer(middleware::from_fn(kat_server::error::json_errors))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    kat_server::app(router)
}

/// The OpenAPI document, generated from the handlers' annotations and the shapes in [`schemas`].
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Bytes", description = "Raw files of boefje runs with their metadata (OpenKAT-compatible)"),
    paths(
        auth::login, metas::save_boefje_meta, metas::get_boefje_meta, metas::list_boefje_metas,
        metas::save_normalizer_meta, metas::get_normalizer_meta, metas::list_normalizer_metas, metas::normalizer_metas_by_id,
        raw::save, raw::get, raw::get_meta, raw::list, raw::list_with_contents, raw::mime_types,
        status::health, status::metrics, status::root,
    ),
    components(schemas(schemas::JsonValue, schemas::Error)),
    modifiers(&Guarded)
)]
pub struct ApiDoc;

/// The name of the bearer-token scheme in the document (FastAPI's name for it, as in OpenKAT's document).
pub const SECURITY_SCHEME: &str = "OAuth2PasswordBearer";

/// What the router adds around the handlers: `POST /bytes/token` is `POST /token` again; every route behind
/// [`auth::require_token`] needs the bearer token (401 without it) and reads the database (503 while it does
/// not answer).
struct Guarded;

impl utoipa::Modify for Guarded {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::Operation;
        use utoipa::openapi::security::{Flow, OAuth2, Password, Scopes, SecurityRequirement, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

        let flow = Flow::Password(Password::new("/token", Scopes::new()));
        openapi.components.get_or_insert_with(Default::default).add_security_scheme(SECURITY_SCHEME, SecurityScheme::OAuth2(OAuth2::new([flow])));
        if let Some(mut login) = openapi.paths.paths.get("/token").cloned() {
            if let Some(operation) = &mut login.post {
                operation.operation_id = Some("login_at_bytes".into());
            }
            openapi.paths.paths.insert("/bytes/token".to_string(), login);
        }
        let error = |description: &str| ResponseBuilder::new().description(description).content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schemas::Error::NAME))).build()).build();
        let guard = |operation: &mut Operation| {
            operation.security = Some(vec![SecurityRequirement::new(SECURITY_SCHEME, Vec::<String>::new())]);
            let responses = &mut operation.responses.responses;
            responses.entry("401".into()).or_insert_with(|| error("No token, or not a valid one (WWW-Authenticate: Bearer)").into());
            responses.entry("503".into()).or_insert_with(|| error("The database does not answer; try again later").into());
        };
        for (path, item) in &mut openapi.paths.paths {
            if path.starts_with("/bytes/") && path != "/bytes/token" || path == "/metrics" {
                [&mut item.get, &mut item.post].into_iter().flatten().for_each(guard);
            }
        }
    }
}
