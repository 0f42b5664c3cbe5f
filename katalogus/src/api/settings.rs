//! `/v1/organisations/{org}/{plugin_id}/settings` (`GET`, `PUT` with the
//! whole set, `DELETE`) and `/v1/organisations/{org}/settings/clone/{to_org}`.
//! The settings `GET` is the only response that carries setting values.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kat_core::services::katalogus::Katalogus;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::AppState;

/// `GET /v1/organisations/{org}/{plugin_id}/settings`
#[utoipa::path(get, path = "/v1/organisations/{org}/{plugin_id}/settings", params(("org" = String, Path), ("plugin_id" = String, Path)), responses((status = 200, description = "The settings (the only response that carries values)"), (status = 404, description = "No such organisation or plugin"), (status = 500, description = "Stored settings cannot be decrypted")))]
pub async fn get(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<Json<Map<String, Value>>, ApiError> {
    state.katalogus.organisation(&org).await?;
    state.katalogus.require_plugin(&plugin_id)?;
    Ok(Json(state.katalogus.settings(&org, &plugin_id).await?))
}

/// `PUT /v1/organisations/{org}/{plugin_id}/settings` with a JSON object of settings
#[utoipa::path(put, path = "/v1/organisations/{org}/{plugin_id}/settings", params(("org" = String, Path), ("plugin_id" = String, Path)), responses((status = 204, description = "Replaced"), (status = 404, description = "No such organisation or plugin"), (status = 422, description = "A key or value breaks a rule; the body names the key")))]
pub async fn put(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>, body: Result<Json<Map<String, Value>>, JsonRejection>) -> Result<StatusCode, ApiError> {
    let Json(settings) = body?;
    state.katalogus.put_settings(&org, &plugin_id, &settings).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/organisations/{org}/{plugin_id}/settings`
#[utoipa::path(delete, path = "/v1/organisations/{org}/{plugin_id}/settings", params(("org" = String, Path), ("plugin_id" = String, Path)), responses((status = 204, description = "Removed"), (status = 404, description = "No such organisation or plugin")))]
pub async fn delete(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<StatusCode, ApiError> {
    state.katalogus.delete_settings(&org, &plugin_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/organisations/{org}/settings/clone/{to_org}`
#[utoipa::path(post, path = "/v1/organisations/{org}/settings/clone/{to_org}", params(("org" = String, Path), ("to_org" = String, Path)), responses((status = 201, description = "Settings and enablement copied"), (status = 404, description = "No such organisation")))]
pub async fn clone(State(state): State<AppState>, Path((org, to_org)): Path<(String, String)>) -> Result<StatusCode, ApiError> {
    state.katalogus.clone_settings(&org, &to_org).await?;
    Ok(StatusCode::CREATED)
}
