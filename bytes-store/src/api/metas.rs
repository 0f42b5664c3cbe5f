//! `/bytes/boefje_meta` and `/bytes/normalizer_meta`, as OpenKAT serves
//! them: save (`POST`, 201 `{"status": "success"}`; an id that exists is 400
//! with OpenKAT's integrity error and the stored meta stays as it was), get
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

use super::params::{IdPath, Params, MAX_LIMIT};
use super::BytesState;
use crate::queries::{BoefjeMetaFilter, NormalizerMetaFilter, Page};

/// OpenKAT's paging of the meta lists: `limit` 1, `offset` 0, `descending` true unless given.
fn meta_page(params: &Params) -> Result<Page, ApiError> {
    Ok(Page { limit: params.count("limit", 1, MAX_LIMIT)?, offset: params.count("offset", 0, i64::MAX)?, descending: params.boolean("descending")?.unwrap_or(true) })
}

/// The answer to a save: 201 `{"status": "success"}`, or OpenKAT's 400 for an id that exists.
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
    request_body(content = Object, content_type = "application/json", description = "A BoefjeMeta", example = json!({"id": "7134430c-8509-4944-b0be-27cb9bfb4bc2", "started_at": "2024-01-02T03:04:05Z", "ended_at": "2024-01-02T03:04:06Z", "boefje": {"id": "dns-records", "version": null}, "input_ooi": "Hostname|internet|example.nl", "arguments": {}, "organization": "_dev", "runnable_hash": null, "environment": {}})),
    responses((status = 201, description = "{\"status\": \"success\"}"), (status = 400, description = "Integrity error: object might already exist"), (status = 401, description = "No valid token"), (status = 422, description = "Not a boefje meta, a bad organisation id or a NUL character"))
)]
pub async fn save_boefje_meta(State(state): State<BytesState>, ApiJson(meta): ApiJson<BoefjeMeta>) -> Response {
    saved(state.bytes.save_boefje_meta(&meta).await)
}

/// `GET /bytes/boefje_meta/{boefje_meta_id}`
#[utoipa::path(get, path = "/bytes/boefje_meta/{boefje_meta_id}", params(("boefje_meta_id" = String, Path)), responses((status = 200, description = "The boefje meta"), (status = 404, description = "No such run"), (status = 422, description = "Not a UUID")))]
pub async fn get_boefje_meta(State(state): State<BytesState>, IdPath(id): IdPath) -> Result<Json<BoefjeMeta>, ApiError> {
    Ok(Json(state.bytes.get_boefje_meta(id).await?))
}

/// `GET /bytes/boefje_meta`
#[utoipa::path(get, path = "/bytes/boefje_meta", params(("organization" = Option<String>, Query), ("boefje_id" = Option<String>, Query), ("input_ooi" = Option<String>, Query, description = "* or absent: any object"), ("limit" = Option<i64>, Query, description = "default 1"), ("offset" = Option<i64>, Query), ("descending" = Option<bool>, Query, description = "by started_at, default true")), responses((status = 200, description = "Boefje metas")))]
pub async fn list_boefje_metas(State(state): State<BytesState>, params: Params) -> Result<Json<Vec<BoefjeMeta>>, ApiError> {
    let filter = BoefjeMetaFilter { organization: params.organization("organization")?, boefje_id: params.text("boefje_id"), input_ooi: params.text("input_ooi") };
    Ok(Json(state.bytes.meta_db().boefje_metas(&filter, meta_page(&params)?).await?))
}

/// `POST /bytes/normalizer_meta`
#[utoipa::path(
    post,
    path = "/bytes/normalizer_meta",
    request_body(content = Object, content_type = "application/json", description = "A NormalizerMeta; its raw_data is replaced by the stored raw file's metadata", example = json!({"id": "a134430c-8509-4944-b0be-27cb9bfb4bc2", "started_at": "2024-01-02T03:04:07Z", "ended_at": "2024-01-02T03:04:08Z", "raw_data": {"id": "...", "boefje_meta": {}, "mime_types": []}, "normalizer": {"id": "kat_dns_normalize", "version": null}})),
    responses((status = 201, description = "{\"status\": \"success\"}"), (status = 400, description = "Integrity error: object might already exist"), (status = 404, description = "No such raw file"), (status = 422, description = "Not a normalizer meta"))
)]
pub async fn save_normalizer_meta(State(state): State<BytesState>, ApiJson(meta): ApiJson<NormalizerMeta>) -> Response {
    saved(state.bytes.save_normalizer_meta(&meta).await)
}

/// `GET /bytes/normalizer_meta/{normalizer_meta_id}`
#[utoipa::path(get, path = "/bytes/normalizer_meta/{normalizer_meta_id}", params(("normalizer_meta_id" = String, Path)), responses((status = 200, description = "The normalizer meta"), (status = 404, description = "No such normalizer run"), (status = 422, description = "Not a UUID")))]
pub async fn get_normalizer_meta(State(state): State<BytesState>, IdPath(id): IdPath) -> Result<Json<NormalizerMeta>, ApiError> {
    Ok(Json(state.bytes.meta_db().normalizer_meta(id).await?))
}

/// `GET /bytes/normalizer_meta`
#[utoipa::path(get, path = "/bytes/normalizer_meta", params(("organization" = Option<String>, Query), ("normalizer_id" = Option<String>, Query), ("raw_id" = Option<String>, Query), ("limit" = Option<i64>, Query, description = "default 1"), ("offset" = Option<i64>, Query), ("descending" = Option<bool>, Query, description = "by started_at, default true")), responses((status = 200, description = "Normalizer metas")))]
pub async fn list_normalizer_metas(State(state): State<BytesState>, params: Params) -> Result<Json<Vec<NormalizerMeta>>, ApiError> {
    let filter = NormalizerMetaFilter { organization: params.organization("organization")?, normalizer_id: params.text("normalizer_id"), raw_id: params.uuid("raw_id")? };
    Ok(Json(state.bytes.meta_db().normalizer_metas(&filter, meta_page(&params)?).await?))
}

/// `GET /bytes/normalizer_metas?normalizer_metas=ID&normalizer_metas=ID` (rocky)
#[utoipa::path(get, path = "/bytes/normalizer_metas", params(("normalizer_metas" = Vec<String>, Query, description = "repeatable, required"), ("limit" = Option<i64>, Query, description = "default 100"), ("offset" = Option<i64>, Query)), responses((status = 200, description = "{id: NormalizerMeta} for the ids found"), (status = 422, description = "No ids, or not UUIDs")))]
pub async fn normalizer_metas_by_id(State(state): State<BytesState>, params: Params) -> Result<Json<BTreeMap<String, NormalizerMeta>>, ApiError> {
    let ids = params.uuids("normalizer_metas")?;
    if ids.is_empty() {
        return Err(ApiError(ServiceError::invalid("normalizer_metas must name at least one normalizer meta id").with_field("normalizer_metas")));
    }
    let page = Page { limit: params.count("limit", 100, MAX_LIMIT)?, offset: params.count("offset", 0, i64::MAX)?, descending: false };
    let metas = state.bytes.meta_db().normalizer_metas_by_id(&ids, page).await?;
    Ok(Json(metas.into_iter().map(|m| (m.id.to_string(), m)).collect()))
}
