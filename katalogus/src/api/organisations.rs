//! `/v1/organisations`: list (a map from id to organisation, as OpenKAT),
//! create (`POST` or `PUT`, 201, 409 when the id exists), get, delete (204).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::AppState;
use crate::store::Organisation;

/// `GET /v1/organisations`
#[utoipa::path(get, path = "/v1/organisations", params(), responses((status = 200, description = "Every organisation, keyed by id")))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Map<String, Value>>, ApiError> {
    let orgs = state.katalogus.organisations().await?;
    Ok(Json(orgs.into_iter().map(|o| (o.id.clone(), serde_json::json!(o))).collect()))
}

/// `POST /v1/organisations` with `{"id", "name"}`
#[utoipa::path(post, path = "/v1/organisations", params(), request_body = crate::store::Organisation, responses((status = 201, description = "Created", body = crate::store::Organisation), (status = 409, description = "The id exists"), (status = 422, description = "Invalid id or body")))]
pub async fn create(State(state): State<AppState>, body: Result<Json<Organisation>, JsonRejection>) -> Result<(StatusCode, Json<Organisation>), ApiError> {
    let Json(org) = body?;
    state.katalogus.create_organisation(&org).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// `GET /v1/organisations/{org}`
#[utoipa::path(get, path = "/v1/organisations/{org}", params(("org" = String, Path, description = "Organisation id")), responses((status = 200, body = crate::store::Organisation), (status = 404, description = "No such organisation")))]
pub async fn get(State(state): State<AppState>, Path(org): Path<String>) -> Result<Json<Organisation>, ApiError> {
    Ok(Json(state.katalogus.organisation(&org).await?))
}

/// `DELETE /v1/organisations/{org}`
#[utoipa::path(delete, path = "/v1/organisations/{org}", params(("org" = String, Path, description = "Organisation id")), responses((status = 204, description = "Deleted with its settings"), (status = 404, description = "No such organisation")))]
pub async fn delete(State(state): State<AppState>, Path(org): Path<String>) -> Result<StatusCode, ApiError> {
    state.katalogus.delete_organisation(&org).await?;
    Ok(StatusCode::NO_CONTENT)
}
