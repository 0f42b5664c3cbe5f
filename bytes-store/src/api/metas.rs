//! `/bytes/boefje_meta` and `/bytes/normalizer_meta`: save (`POST`, 201),
//! get by id, and list with filters (`organization`, `boefje_id`,
//! `input_ooi` / `normalizer_id`, `raw_id`, `limit`, `offset`, `descending`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::meta::{BoefjeMeta, NormalizerMeta};
use kat_core::services::bytes::Bytes;
use serde::Deserialize;
use uuid::Uuid;

use super::{body_error, ApiError, BytesState};
use crate::queries::{BoefjeMetaFilter, Page};

/// Paging and filters of the meta lists.
#[derive(Debug, Deserialize)]
pub struct MetaQuery {
    organization: Option<String>,
    boefje_id: Option<String>,
    input_ooi: Option<String>,
    normalizer_id: Option<String>,
    raw_id: Option<Uuid>,
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    descending: bool,
}

fn default_limit() -> i64 {
    100
}

impl MetaQuery {
    fn page(&self) -> Page {
        Page { limit: self.limit.clamp(0, 10_000), offset: self.offset.max(0), descending: self.descending }
    }
}

/// `POST /bytes/boefje_meta`
#[utoipa::path(post, path = "/bytes/boefje_meta",  responses((status = 201, description = "Saved (an existing id is replaced)"), (status = 401, description = "No valid token"), (status = 422, description = "Not a boefje meta")))]
pub async fn save_boefje_meta(State(state): State<BytesState>, body: Result<Json<BoefjeMeta>, JsonRejection>) -> Result<(StatusCode, Json<BoefjeMeta>), Response> {
    let Json(meta) = body.map_err(body_error)?;
    state.bytes.save_boefje_meta(&meta).await.map_err(|e| ApiError(e).into_response())?;
    Ok((StatusCode::CREATED, Json(meta)))
}

/// `GET /bytes/boefje_meta/{id}`
#[utoipa::path(get, path = "/bytes/boefje_meta/{id}", params(("id" = String, Path)), responses((status = 200, description = "The boefje meta"), (status = 404, description = "No such run")))]
pub async fn get_boefje_meta(State(state): State<BytesState>, Path(id): Path<Uuid>) -> Result<Json<BoefjeMeta>, ApiError> {
    Ok(Json(state.bytes.get_boefje_meta(id).await?))
}

/// `GET /bytes/boefje_meta`
#[utoipa::path(get, path = "/bytes/boefje_meta", params(("organization" = Option<String>, Query), ("boefje_id" = Option<String>, Query), ("input_ooi" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query), ("descending" = Option<bool>, Query)), responses((status = 200, description = "Boefje metas")))]
pub async fn list_boefje_metas(State(state): State<BytesState>, Query(q): Query<MetaQuery>) -> Result<Json<Vec<BoefjeMeta>>, ApiError> {
    let filter = BoefjeMetaFilter { organization: q.organization.clone(), boefje_id: q.boefje_id.clone(), input_ooi: q.input_ooi.clone() };
    Ok(Json(state.bytes.meta_db().boefje_metas(&filter, q.page()).await?))
}

/// `POST /bytes/normalizer_meta`
#[utoipa::path(post, path = "/bytes/normalizer_meta",  responses((status = 201, description = "Saved"), (status = 404, description = "No such raw file"), (status = 422, description = "Not a normalizer meta")))]
pub async fn save_normalizer_meta(State(state): State<BytesState>, body: Result<Json<NormalizerMeta>, JsonRejection>) -> Result<(StatusCode, Json<NormalizerMeta>), Response> {
    let Json(meta) = body.map_err(body_error)?;
    state.bytes.save_normalizer_meta(&meta).await.map_err(|e| ApiError(e).into_response())?;
    Ok((StatusCode::CREATED, Json(meta)))
}

/// `GET /bytes/normalizer_meta/{id}`
#[utoipa::path(get, path = "/bytes/normalizer_meta/{id}", params(("id" = String, Path)), responses((status = 200, description = "The normalizer meta"), (status = 404, description = "No such normalizer run")))]
pub async fn get_normalizer_meta(State(state): State<BytesState>, Path(id): Path<Uuid>) -> Result<Json<NormalizerMeta>, ApiError> {
    Ok(Json(state.bytes.meta_db().normalizer_meta(id).await?))
}

/// `GET /bytes/normalizer_meta`
#[utoipa::path(get, path = "/bytes/normalizer_meta", params(("organization" = Option<String>, Query), ("normalizer_id" = Option<String>, Query), ("raw_id" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query), ("descending" = Option<bool>, Query)), responses((status = 200, description = "Normalizer metas")))]
pub async fn list_normalizer_metas(State(state): State<BytesState>, Query(q): Query<MetaQuery>) -> Result<Json<Vec<NormalizerMeta>>, ApiError> {
    Ok(Json(state.bytes.meta_db().normalizer_metas(q.organization.as_deref(), q.normalizer_id.as_deref(), q.raw_id, q.page()).await?))
}
