//! `/v1/organisations`: list (a map from id to organisation, as OpenKAT),
//! create (`POST`, 201; 409 when the id exists), upsert (`PUT`, 200, as
//! OpenKAT's `upsert_organisation` is named), get (404 "Unknown
//! organisation"), delete (200, as OpenKAT). Organisations carry
//! `deduplicate` (default true).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kat_server::ApiJson;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::params::OrganisationPath;
use super::{schemas, AppState};
use crate::store::Organisation;

/// `GET /v1/organisations`
#[utoipa::path(get, path = "/v1/organisations", responses((status = 200, description = "Every organisation, keyed by id", body = schemas::Organisations)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Map<String, Value>>, ApiError> {
    let orgs = state.katalogus.organisations().await?;
    Ok(Json(orgs.into_iter().map(|o| (o.id.clone(), serde_json::json!(o))).collect()))
}

/// `POST /v1/organisations` with `{"id", "name", "deduplicate"?}`
#[utoipa::path(post, path = "/v1/organisations", request_body(content = schemas::OrganisationIn, content_type = "application/json"), responses((status = 201, description = "Created", body = Organisation), (status = 409, description = "The id exists"), (status = 413, description = "Body too large"), (status = 422, description = "Invalid id or body")))]
pub async fn create(State(state): State<AppState>, ApiJson(org): ApiJson<Organisation>) -> Result<(StatusCode, Json<Organisation>), ApiError> {
    state.katalogus.create_organisation(&org).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// `PUT /v1/organisations`: create the organisation or update its name and `deduplicate`
#[utoipa::path(put, path = "/v1/organisations", request_body(content = schemas::OrganisationIn, content_type = "application/json"), responses((status = 200, description = "Created or updated (body null, as OpenKAT)", body = schemas::Null), (status = 413, description = "Body too large"), (status = 422, description = "Invalid id or body")))]
pub async fn upsert(State(state): State<AppState>, ApiJson(org): ApiJson<Organisation>) -> Result<Json<Value>, ApiError> {
    state.katalogus.upsert_organisation(&org).await?;
    Ok(Json(Value::Null))
}

/// `GET /v1/organisations/{org}`
#[utoipa::path(get, path = "/v1/organisations/{org}", params(OrganisationPath), responses((status = 200, description = "The organisation", body = Organisation), (status = 404, description = "Unknown organisation")))]
pub async fn get(State(state): State<AppState>, Path(org): Path<String>) -> Result<Json<Organisation>, ApiError> {
    Ok(Json(state.katalogus.organisation(&org).await?))
}

/// `DELETE /v1/organisations/{org}`
#[utoipa::path(delete, path = "/v1/organisations/{org}", params(OrganisationPath), responses((status = 200, description = "Deleted with its settings and enablement (body null, as OpenKAT)", body = schemas::Null), (status = 404, description = "Unknown organisation")))]
pub async fn delete(State(state): State<AppState>, Path(org): Path<String>) -> Result<Json<Value>, ApiError> {
    state.katalogus.delete_organisation(&org).await?;
    Ok(Json(Value::Null))
}
