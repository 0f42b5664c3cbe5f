//! `/bytes/boefje_meta` and `/bytes/normalizer_meta`, as OpenKAT serves
//! them: save (`POST`, 201 `{"status": "success"}`; an id that exists is 400
//! with OpenKAT's integrity error body, where OpenKAT answers 400, and the
//! stored meta stays as it was; a boefje meta needs `started_at` and
//! `ended_at`, as OpenKAT's model), get
//! by id, list with OpenKAT's filters and defaults (`limit` 1, `descending`
//! true, ordered by `started_at` with ties in insertion order; `input_ooi=*`
//! means any object), and `GET /bytes/normalizer_metas?normalizer_metas=..`
//! (rocky's lookup by ids, `{id: meta}`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::meta::{BoefjeMeta, NormalizerMeta};
use kat_core::services::bytes::Bytes;
use kat_core::services::ServiceError;
use kat_core::ErrorKind;
use kat_server::{ApiError, ApiJson};
use serde_json::json;

use super::params::documented::{BoefjeMetaId, BoefjeMetaQuery, NormalizerMetaId, NormalizerMetaQuery, NormalizerMetasQuery};
use super::params::{IdPath, Params, MAX_LIMIT};
use super::schemas as doc;
use super::BytesState;
use crate::queries::{BoefjeMetaFilter, NormalizerMetaFilter, Page};

/// OpenKAT's paging of the meta lists: `limit` 1, `offset` 0, `descending` true unless given.
fn meta_page(params: &Params) -> Result<Page, ApiError> {
    Ok(Page { limit: params.count("limit", 1, MAX_LIMIT)?, offset: params.count("offset", 0, i64::MAX)?, descending: params.boolean("descending")?.unwrap_or(true) })
}

/// The answer to a save: 201 `{"status": "success"}`, or OpenKAT's integrity error for an id that exists, with
/// OpenKAT's status, 400 (its clients and tests expect exactly that).
fn saved(result: Result<(), ServiceError>) -> Response {
    match result {
        Ok(()) => (StatusCode::CREATED, Json(json!({"status": "success"}))).into_response(),
        Err(e) if e.kind == ErrorKind::Conflict => {
            // OpenKAT's body (`status`, `message`) plus the `detail`/`field` every error of ours has.
            let body = json!({"status": "failed", "message": e.message, "detail": e.message, "field": e.field});
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
        Err(e) => ApiError(e).into_response(),
    }
}

/// `POST /bytes/boefje_meta`
#[utoipa::path(
    post,
    path = "/bytes/boefje_meta",
    request_body(content = doc::NewBoefjeMeta, content_type = "application/json", description = "A BoefjeMeta with started_at and ended_at (read whatever the Content-Type)"),
    responses(
        (status = 201, description = "Saved", body = doc::Saved),
        (status = 400, description = "Integrity error: object might already exist (the stored meta is left as it was; OpenKAT's status)", body = doc::IntegrityError),
        (status = 413, description = "The body is larger than this service accepts", body = doc::Error),
        (status = 422, description = "Not a boefje meta, no started_at or ended_at, a bad organisation id or a NUL character", body = doc::Error),
    )
)]
pub async fn save_boefje_meta(State(state): State<BytesState>, ApiJson(meta): ApiJson<BoefjeMeta>) -> Response {
    // As OpenKAT's model: both times are required (a raw file's hash covers ended_at).
    for (field, value) in [("started_at", meta.started_at), ("ended_at", meta.ended_at)] {
        if value.is_none() {
            return ApiError(ServiceError::invalid(format!("{field} is required: a date and time with its offset")).with_field(field)).into_response();
        }
    }
    saved(state.bytes.save_boefje_meta(&meta).await)
}

/// `GET /bytes/boefje_meta/{boefje_meta_id}`
#[utoipa::path(
    get,
    path = "/bytes/boefje_meta/{boefje_meta_id}",
    params(BoefjeMetaId),
    responses((status = 200, description = "The boefje meta", body = doc::BoefjeMeta), (status = 404, description = "No such run", body = doc::Error), (status = 422, description = "Not a UUID", body = doc::Error))
)]
pub async fn get_boefje_meta(State(state): State<BytesState>, IdPath(id): IdPath) -> Result<Json<BoefjeMeta>, ApiError> {
    Ok(Json(state.bytes.get_boefje_meta(id).await?))
}

/// `GET /bytes/boefje_meta`
#[utoipa::path(
    get,
    path = "/bytes/boefje_meta",
    params(BoefjeMetaQuery),
    responses((status = 200, description = "Boefje metas", body = Vec<doc::BoefjeMeta>), (status = 422, description = "A bad organisation id, number or boolean, or a NUL character", body = doc::Error))
)]
pub async fn list_boefje_metas(State(state): State<BytesState>, params: Params) -> Result<Json<Vec<BoefjeMeta>>, ApiError> {
    let filter = BoefjeMetaFilter { organization: params.organisation("organization")?, boefje_id: params.text("boefje_id"), input_ooi: params.text("input_ooi") };
    Ok(Json(state.bytes.meta_db().boefje_metas(&filter, meta_page(&params)?).await?))
}

/// `POST /bytes/normalizer_meta`
#[utoipa::path(
    post,
    path = "/bytes/normalizer_meta",
    request_body(content = doc::NormalizerMeta, content_type = "application/json", description = "A NormalizerMeta; only raw_data.id is read from raw_data, which is replaced by the stored raw file's metadata"),
    responses(
        (status = 201, description = "Saved", body = doc::Saved),
        (status = 400, description = "Integrity error: object might already exist (the stored meta is left as it was; OpenKAT's status)", body = doc::IntegrityError),
        (status = 404, description = "No raw file raw_data.id", body = doc::Error),
        (status = 413, description = "The body is larger than this service accepts", body = doc::Error),
        (status = 422, description = "Not a normalizer meta, or a NUL character", body = doc::Error),
    )
)]
pub async fn save_normalizer_meta(State(state): State<BytesState>, ApiJson(meta): ApiJson<NormalizerMeta>) -> Response {
    saved(state.bytes.save_normalizer_meta(&meta).await)
}

/// `GET /bytes/normalizer_meta/{normalizer_meta_id}`
#[utoipa::path(
    get,
    path = "/bytes/normalizer_meta/{normalizer_meta_id}",
    params(NormalizerMetaId),
    responses((status = 200, description = "The normalizer meta", body = doc::NormalizerMeta), (status = 404, description = "No such normalizer run", body = doc::Error), (status = 422, description = "Not a UUID", body = doc::Error))
)]
pub async fn get_normalizer_meta(State(state): State<BytesState>, IdPath(id): IdPath) -> Result<Json<NormalizerMeta>, ApiError> {
    Ok(Json(state.bytes.meta_db().normalizer_meta(id).await?))
}

/// `GET /bytes/normalizer_meta`
#[utoipa::path(
    get,
    path = "/bytes/normalizer_meta",
    params(NormalizerMetaQuery),
    responses((status = 200, description = "Normalizer metas", body = Vec<doc::NormalizerMeta>), (status = 422, description = "A bad organisation id, UUID, number or boolean, or a NUL character", body = doc::Error))
)]
pub async fn list_normalizer_metas(State(state): State<BytesState>, params: Params) -> Result<Json<Vec<NormalizerMeta>>, ApiError> {
    let filter = NormalizerMetaFilter { organization: params.organisation("organization")?, normalizer_id: params.text("normalizer_id"), raw_id: params.uuid("raw_id")? };
    Ok(Json(state.bytes.meta_db().normalizer_metas(&filter, meta_page(&params)?).await?))
}

/// `GET /bytes/normalizer_metas?normalizer_metas=ID&normalizer_metas=ID` (rocky)
#[utoipa::path(
    get,
    path = "/bytes/normalizer_metas",
    params(NormalizerMetasQuery),
    responses((status = 200, description = "The normalizer metas found, by id", body = doc::NormalizerMetasById), (status = 422, description = "No ids, or not UUIDs, or a bad number", body = doc::Error))
)]
pub async fn normalizer_metas_by_id(State(state): State<BytesState>, params: Params) -> Result<Json<BTreeMap<String, NormalizerMeta>>, ApiError> {
    let ids = params.uuids("normalizer_metas")?;
    if ids.is_empty() {
        return Err(ApiError(ServiceError::invalid("normalizer_metas must name at least one normalizer meta id").with_field("normalizer_metas")));
    }
    let page = Page { limit: params.count("limit", 100, MAX_LIMIT)?, offset: params.count("offset", 0, i64::MAX)?, descending: false };
    let metas = state.bytes.meta_db().normalizer_metas_by_id(&ids, page).await?;
    Ok(Json(metas.into_iter().map(|m| (m.id.to_string(), m)).collect()))
}
