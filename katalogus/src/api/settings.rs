//! `/v1/organisations/{org}/{plugin_id}/settings` (`GET`, `PUT` with the
//! whole set, `DELETE`; `PUT` and `DELETE` answer 200 with `null`, as
//! OpenKAT) and `/v1/organisations/{org}/settings/clone/{to_org}` (200; an
//! organisation cannot be cloned onto itself, 422). The settings `GET` and
//! `GET /v1/configs` are the only responses that carry setting values.

use axum::extract::{Path, State};
use axum::Json;
use kat_core::services::katalogus::Katalogus;
use kat_server::ApiJson;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::params::{ClonePath, PluginPath};
use super::{schemas, AppState};

/// `GET /v1/organisations/{org}/{plugin_id}/settings`
#[utoipa::path(get, path = "/v1/organisations/{org}/{plugin_id}/settings", params(PluginPath), responses((status = 200, description = "The settings (they carry values)", body = schemas::Settings), (status = 404, description = "Unknown organisation or plugin"), (status = 500, description = "Stored settings cannot be decrypted")))]
pub async fn get(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<Json<Map<String, Value>>, ApiError> {
    state.katalogus.organisation(&org).await?;
    state.katalogus.require_plugin(&plugin_id)?;
    Ok(Json(state.katalogus.settings(&org, &plugin_id).await?))
}

/// `PUT /v1/organisations/{org}/{plugin_id}/settings` with a JSON object of settings
#[utoipa::path(put, path = "/v1/organisations/{org}/{plugin_id}/settings", params(PluginPath), request_body(content = schemas::Settings, description = "The whole settings set", content_type = "application/json"), responses((status = 200, description = "Replaced (body null)", body = schemas::Null), (status = 404, description = "Unknown organisation or plugin"), (status = 413, description = "Body too large"), (status = 422, description = "A key or value breaks a rule; the body names the key")))]
pub async fn put(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>, ApiJson(settings): ApiJson<Map<String, Value>>) -> Result<Json<Value>, ApiError> {
    state.katalogus.put_settings(&org, &plugin_id, &settings).await?;
    Ok(Json(Value::Null))
}

/// `DELETE /v1/organisations/{org}/{plugin_id}/settings`
#[utoipa::path(delete, path = "/v1/organisations/{org}/{plugin_id}/settings", params(PluginPath), responses((status = 200, description = "Removed (body null)", body = schemas::Null), (status = 404, description = "Unknown organisation or plugin")))]
pub async fn delete(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    state.katalogus.delete_settings(&org, &plugin_id).await?;
    Ok(Json(Value::Null))
}

/// `POST /v1/organisations/{org}/settings/clone/{to_org}`
#[utoipa::path(post, path = "/v1/organisations/{org}/settings/clone/{to_org}", params(ClonePath), responses((status = 200, description = "Settings and enablement copied in one transaction (body null)", body = schemas::Null), (status = 404, description = "Unknown organisation"), (status = 422, description = "The target is the source"), (status = 500, description = "Stored settings cannot be decrypted; nothing changed")))]
pub async fn clone(State(state): State<AppState>, Path((org, to_org)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    state.katalogus.clone_settings(&org, &to_org).await?;
    Ok(Json(Value::Null))
}
