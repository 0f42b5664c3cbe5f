//! `/bytes/raw`: save a boefje's output (`POST ?boefje_meta_id=` with
//! `{"files": [{"name", "content": base64, "tags": [mime types]}]}`,
//! returning `{name: raw_id}`), read contents (hash checked) and metadata,
//! list with filters, and `/bytes/mime_types` counts.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kat_core::meta::RawDataMeta;
use kat_core::services::bytes::Bytes;
use kat_core::services::ServiceError;
use serde::Deserialize;
use uuid::Uuid;

use super::{body_error, too_large, ApiError, BytesState};
use crate::queries::{Page, RawFilter};

/// One file of a boefje's output.
#[derive(Debug, Deserialize)]
pub struct OutputFile {
    /// Its name within the run.
    pub name: String,
    /// Its contents, base64.
    pub content: String,
    /// Its mime types.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A boefje's output, as OpenKAT's boefje API posts it.
#[derive(Debug, Deserialize)]
pub struct BoefjeOutput {
    /// `COMPLETED` or `FAILED` (informational here).
    #[serde(default)]
    pub status: Option<String>,
    /// The files.
    pub files: Vec<OutputFile>,
}

/// `?boefje_meta_id=`
#[derive(Debug, Deserialize)]
pub struct SaveQuery {
    boefje_meta_id: Uuid,
}

fn check_mime_type(name: &str, tag: &str) -> Result<(), ApiError> {
    let ok = !tag.is_empty() && tag.len() <= 255 && tag.chars().all(|c| c.is_ascii_graphic());
    if ok { Ok(()) } else { Err(ApiError(ServiceError::invalid(format!("file {name:?}: mime type {tag:?} must be 1 to 255 visible ASCII characters")).with_field("tags"))) }
}

/// `POST /bytes/raw?boefje_meta_id=`
#[utoipa::path(post, path = "/bytes/raw", params(("boefje_meta_id" = String, Query)), responses((status = 200, description = "{file name: raw id}"), (status = 404, description = "No such boefje meta"), (status = 413, description = "A file is larger than BYTES_MAX_RAW_SIZE"), (status = 422, description = "Bad base64, mime type or query")))]
pub async fn save(State(state): State<BytesState>, query: Result<Query<SaveQuery>, axum::extract::rejection::QueryRejection>, body: Result<Json<BoefjeOutput>, JsonRejection>) -> Response {
    let Ok(Query(query)) = query else {
        return ApiError(ServiceError::invalid("boefje_meta_id must be given as a UUID").with_field("boefje_meta_id")).into_response();
    };
    let output = match body {
        Ok(Json(output)) => output,
        Err(e) => return body_error(e),
    };
    let mut decoded = Vec::new();
    for file in &output.files {
        let content = match STANDARD.decode(file.content.trim()) {
            Ok(content) => content,
            Err(_) => return ApiError(ServiceError::invalid(format!("file {:?}: content is not valid base64", file.name)).with_field("content")).into_response(),
        };
        if content.len() > state.max_raw_size {
            return too_large(format!("file {:?} is {} bytes; BYTES_MAX_RAW_SIZE is {}", file.name, content.len(), state.max_raw_size));
        }
        if let Err(e) = file.tags.iter().try_for_each(|t| check_mime_type(&file.name, t)) {
            return e.into_response();
        }
        decoded.push((file, content));
    }
    let mut ids = BTreeMap::new();
    for (file, content) in decoded {
        match state.bytes.save_raw(query.boefje_meta_id, &file.tags, &content).await {
            Ok(meta) => ids.insert(file.name.clone(), meta.id.to_string()),
            Err(e) => return ApiError(e).into_response(),
        };
    }
    Json(ids).into_response()
}

/// `GET /bytes/raw/{id}`: the contents, only when they match their hash.
#[utoipa::path(get, path = "/bytes/raw/{id}", params(("id" = String, Path)), responses((status = 200, description = "The contents"), (status = 404, description = "No such raw file"), (status = 500, description = "The contents do not match their hash")))]
pub async fn get(State(state): State<BytesState>, Path(id): Path<Uuid>) -> Result<impl IntoResponse, ApiError> {
    let (_, content) = state.bytes.get_raw(id).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], content))
}

/// `GET /bytes/raw/{id}/meta`
#[utoipa::path(get, path = "/bytes/raw/{id}/meta", params(("id" = String, Path)), responses((status = 200, description = "The raw file's metadata"), (status = 404, description = "No such raw file")))]
pub async fn get_meta(State(state): State<BytesState>, Path(id): Path<Uuid>) -> Result<Json<RawDataMeta>, ApiError> {
    Ok(Json(state.bytes.get_raw_meta(id).await?))
}

/// `GET /bytes/raw` with `organization`, `boefje_meta_id`, `normalized`, `mime_types` (repeatable), `limit`, `offset`, `descending`.
#[utoipa::path(get, path = "/bytes/raw", params(("organization" = Option<String>, Query), ("boefje_meta_id" = Option<String>, Query), ("normalized" = Option<bool>, Query), ("mime_types" = Option<Vec<String>>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query), ("descending" = Option<bool>, Query)), responses((status = 200, description = "Raw file metadata"), (status = 422, description = "A bad filter")))]
pub async fn list(State(state): State<BytesState>, Query(pairs): Query<Vec<(String, String)>>) -> Result<Json<Vec<RawDataMeta>>, ApiError> {
    let one = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let invalid = |name: &str, what: &str| ApiError(ServiceError::invalid(format!("{name} must be {what}")).with_field(name));
    let boolean = |name: &str| one(name).map(|v| v.parse::<bool>().map_err(|_| invalid(name, "true or false"))).transpose();
    let number = |name: &str, default: i64| one(name).map_or(Ok(default), |v| v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| invalid(name, "a whole number")));
    let filter = RawFilter {
        organization: one("organization"),
        boefje_meta_id: one("boefje_meta_id").map(|v| Uuid::parse_str(&v).map_err(|_| invalid("boefje_meta_id", "a UUID"))).transpose()?,
        normalized: boolean("normalized")?,
        mime_types: pairs.iter().filter(|(k, _)| k == "mime_types").map(|(_, v)| v.clone()).collect(),
    };
    let page = Page { limit: number("limit", 100)?.min(10_000), offset: number("offset", 0)?, descending: boolean("descending")?.unwrap_or(false) };
    let mut out = Vec::new();
    for id in state.bytes.meta_db().raw_ids(&filter, page).await? {
        out.push(state.bytes.get_raw_meta(id).await?);
    }
    Ok(Json(out))
}

/// `GET /bytes/mime_types`: `{mime type: number of raw files}`, optionally for one `organization`.
#[utoipa::path(get, path = "/bytes/mime_types", params(("organization" = Option<String>, Query)), responses((status = 200, description = "Number of raw files per mime type")))]
pub async fn mime_types(State(state): State<BytesState>, Query(pairs): Query<Vec<(String, String)>>) -> Result<Json<BTreeMap<String, i64>>, ApiError> {
    let organization = pairs.iter().find(|(k, _)| k == "organization").map(|(_, v)| v.as_str());
    Ok(Json(state.bytes.meta_db().mime_type_counts(organization).await?.into_iter().collect()))
}
