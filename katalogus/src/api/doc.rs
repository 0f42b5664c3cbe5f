//! The OpenAPI document of the KATalogus (`/openapi.json`), generated from
//! the handlers' annotations, with the schemas of [`super::schemas`] and
//! [`super::params`]. What the router does for every route is added here
//! once ([`RouterWide`]): the bearer token (401 without it; `/health` needs
//! none), 422 for a NUL character in a path or query parameter
//! (`kat_server::app`), 503 while the database is unavailable, and the
//! `{"detail", "field"}` body of every error answer.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

use super::{configs, edit, organisations, plugins, schemas, settings};

/// The OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "KATalogus", description = "Plugins, organisations and encrypted plugin settings (OpenKAT-compatible)"),
    paths(
        organisations::list, organisations::create, organisations::upsert, organisations::get, organisations::delete,
        plugins::list, plugins::get, plugins::patch, plugins::schema, plugins::description, plugins::cover,
        edit::create, edit::edit_boefje, edit::edit_normalizer, edit::delete_boefje, edit::delete_normalizer,
        settings::get, settings::put, settings::delete, settings::clone,
        configs::list, super::health, super::metrics, openapi,
    ),
    components(schemas(crate::store::Organisation, crate::store::configs::BoefjeConfig)),
    modifiers(&RouterWide)
)]
pub struct ApiDoc;

/// The answers and rules every route shares (see the module documentation).
pub struct RouterWide;

const UNAUTHORIZED: &str = "Missing or wrong bearer token";
const NUL_PARAMETER: &str = "A path or query parameter holds a NUL character";
const UNAVAILABLE: &str = "The database is unavailable; try again later";

fn error_content() -> Content {
    Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody"))))
}

fn add_response(operation: &mut Operation, status: &str, description: &str) {
    operation.responses.responses.entry(status.to_string()).or_insert_with(|| ResponseBuilder::new().description(description).build().into());
}

impl utoipa::Modify for RouterWide {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.schemas.extend(schemas::all());
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        doc.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
        for (path, item) in doc.paths.paths.iter_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                if path == "/health" {
                    operation.security = Some(vec![SecurityRequirement::default()]);
                } else {
                    add_response(operation, "401", UNAUTHORIZED);
                }
                add_response(operation, "422", NUL_PARAMETER);
                if path.starts_with("/v1/") {
                    add_response(operation, "503", UNAVAILABLE);
                }
                for (status, response) in operation.responses.responses.iter_mut() {
                    if let (Some('4' | '5'), RefOr::T(response)) = (status.chars().next(), response)
                        && response.content.is_empty()
                    {
                        response.content.insert("application/json".to_string(), error_content());
                    }
                }
            }
        }
    }
}

/// `GET /openapi.json`
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "This document", body = Object)))]
pub async fn openapi() -> Json<OpenApi> {
    Json(<ApiDoc as utoipa::OpenApi>::openapi())
}
