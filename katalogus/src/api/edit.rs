//! Adding, editing and deleting plugins, as OpenKAT's plugin routes:
//! `POST /v1/organisations/{org}/plugins` (201; a duplicate id or name is
//! 400 "Duplicate plugin: a plugin with this id|name already exists"),
//! `PATCH .../boefjes/{id}` and `.../normalizers/{id}` (204; static
//! plugins 404, then 403 or 400, see `store::plugins`), and
//! `DELETE .../boefjes/{id}` and `.../normalizers/{id}` (204 for an added
//! plugin, 403 for a static one).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kat_server::ApiJson;
use serde_json::{Map, Value};

use super::error::PluginError;
use super::params::{OrganisationPath, PluginPath};
use super::{schemas, AppState};
use crate::repository::PluginKind;

/// `POST /v1/organisations/{org}/plugins` with OpenKAT's plugin JSON: adds a boefje or normalizer.
#[utoipa::path(post, path = "/v1/organisations/{org}/plugins", params(OrganisationPath), request_body(content = schemas::PluginIn, description = "OpenKAT's plugin JSON: type, id, name, and the boefje or normalizer fields", content_type = "application/json"), responses((status = 201, description = "Added; the body is the plugin", body = schemas::Plugin), (status = 400, description = "Duplicate plugin id or name (OpenKAT's status), or a bit"), (status = 404, description = "Unknown organisation"), (status = 413, description = "Body too large"), (status = 422, description = "Invalid plugin, schema or cron")))]
pub async fn create(State(state): State<AppState>, Path(org): Path<String>, ApiJson(plugin): ApiJson<Value>) -> Result<(StatusCode, Json<Value>), PluginError> {
    state.katalogus.organisation(&org).await?;
    let id = state.katalogus.add_plugin(&plugin).await?;
    let plugin = super::plugins::get(State(state), Path((org, id))).await?;
    Ok((StatusCode::CREATED, plugin))
}

async fn edit(state: &AppState, org: &str, kind: PluginKind, id: &str, changes: &Map<String, Value>) -> Result<StatusCode, PluginError> {
    state.katalogus.organisation(org).await?;
    state.katalogus.edit_plugin(kind, id, changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(state: &AppState, org: &str, kind: PluginKind, id: &str) -> Result<StatusCode, PluginError> {
    state.katalogus.organisation(org).await?;
    state.katalogus.delete_plugin(kind, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /v1/organisations/{org}/boefjes/{id}`: change fields of a boefje added over the API.
#[utoipa::path(patch, path = "/v1/organisations/{org}/boefjes/{plugin_id}", params(PluginPath), request_body(content = schemas::BoefjeChanges, content_type = "application/json"), responses((status = 204, description = "Changed"), (status = 400, description = "The name is taken"), (status = 403, description = "A static boefje"), (status = 404, description = "No such boefje"), (status = 413, description = "Body too large"), (status = 422, description = "Invalid fields")))]
pub async fn edit_boefje(State(state): State<AppState>, Path((org, id)): Path<(String, String)>, ApiJson(changes): ApiJson<Map<String, Value>>) -> Result<StatusCode, PluginError> {
    edit(&state, &org, PluginKind::Boefje, &id, &changes).await
}

/// `PATCH /v1/organisations/{org}/normalizers/{id}`: change fields of a normalizer added over the API.
#[utoipa::path(patch, path = "/v1/organisations/{org}/normalizers/{plugin_id}", params(PluginPath), request_body(content = schemas::NormalizerChanges, content_type = "application/json"), responses((status = 204, description = "Changed"), (status = 400, description = "A static normalizer, or the name is taken"), (status = 404, description = "No such normalizer"), (status = 413, description = "Body too large"), (status = 422, description = "Invalid fields")))]
pub async fn edit_normalizer(State(state): State<AppState>, Path((org, id)): Path<(String, String)>, ApiJson(changes): ApiJson<Map<String, Value>>) -> Result<StatusCode, PluginError> {
    edit(&state, &org, PluginKind::Normalizer, &id, &changes).await
}

/// `DELETE /v1/organisations/{org}/boefjes/{id}`: delete a boefje added over the API, with its settings and enablement everywhere.
#[utoipa::path(delete, path = "/v1/organisations/{org}/boefjes/{plugin_id}", params(PluginPath), responses((status = 204, description = "Deleted"), (status = 403, description = "A static boefje"), (status = 404, description = "No such boefje")))]
pub async fn delete_boefje(State(state): State<AppState>, Path((org, id)): Path<(String, String)>) -> Result<StatusCode, PluginError> {
    delete(&state, &org, PluginKind::Boefje, &id).await
}

/// `DELETE /v1/organisations/{org}/normalizers/{id}`: delete a normalizer added over the API, with its enablement everywhere.
#[utoipa::path(delete, path = "/v1/organisations/{org}/normalizers/{plugin_id}", params(PluginPath), responses((status = 204, description = "Deleted"), (status = 403, description = "A static normalizer"), (status = 404, description = "No such normalizer")))]
pub async fn delete_normalizer(State(state): State<AppState>, Path((org, id)): Path<(String, String)>) -> Result<StatusCode, PluginError> {
    delete(&state, &org, PluginKind::Normalizer, &id).await
}
