//! The OpenAPI document of the KATalogus (`/openapi.json`), generated from
//! the handlers' annotations: every route, with a request body wherever an
//! operation reads one.

use axum::Json;

use super::{configs, edit, organisations, plugins, settings};

/// The OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "KATalogus", description = "Plugins, organisations and encrypted plugin settings (OpenKAT-compatible)"),
    paths(
        organisations::list, organisations::create, organisations::upsert, organisations::get, organisations::delete,
        plugins::list, plugins::get, plugins::patch, plugins::schema, plugins::description, plugins::cover,
        edit::create, edit::edit_boefje, edit::edit_normalizer, edit::delete_boefje, edit::delete_normalizer,
        settings::get, settings::put, settings::delete, settings::clone,
        configs::list,
    ),
    components(schemas(crate::store::Organisation, plugins::EnabledBody, crate::store::configs::BoefjeConfig))
)]
pub struct ApiDoc;

/// `GET /openapi.json`
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<ApiDoc as utoipa::OpenApi>::openapi())
}
