//! The raw-file routes as OpenKAT serves them: save a boefje's output
//! (`POST /bytes/raw?boefje_meta_id=` with `{"files": [{"name", "content":
//! base64, "tags": [mime types]}]}`, returning `{name: raw_id}`), read
//! contents (hash checked) and metadata, list metadata (`GET /bytes/raw`),
//! list contents as a boefje output (`GET /bytes/raws`, the boefje worker's
//! `get_raws` and rocky's), and count raw files per mime type
//! (`/bytes/mime_types`). The list filters are OpenKAT's: `organization`
//! and `raw_ids` repeatable (any of them), `boefje_meta_id`, `normalized`,
//! `mime_types` repeatable (all of them), `limit` (default 1).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kat_core::meta::RawDataMeta;
use kat_core::services::bytes::Bytes;
use kat_core::services::ServiceError;
use kat_core::ErrorKind;
use kat_server::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};

use super::params::documented::{MimeTypesQuery, RawId, RawQuery, SaveRawQuery};
use super::params::{IdPath, Params, MAX_LIMIT};
use super::schemas as doc;
use super::BytesState;
use crate::queries::{Page, RawFilter};

/// One file of a boefje's output.
#[derive(Debug, Deserialize, Serialize)]
pub struct OutputFile {
    /// Its name within the run (in `GET /bytes/raws`: the raw file's id).
    pub name: String,
    /// Its contents, base64.
    pub content: String,
    /// Its mime types.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A boefje's output, as OpenKAT's boefje worker posts it and `GET /bytes/raws` returns it.
#[derive(Debug, Deserialize, Serialize)]
pub struct BoefjeOutput {
    /// `COMPLETED` or `FAILED` (ignored when saving, as by OpenKAT).
    #[serde(default)]
    pub status: Option<String>,
    /// The files.
    #[serde(default)]
    pub files: Vec<OutputFile>,
}

fn check_mime_type(name: &str, tag: &str) -> Result<(), ApiError> {
    let ok = !tag.is_empty() && tag.len() <= 255 && tag.chars().all(|c| c.is_ascii_graphic());
    if ok { Ok(()) } else { Err(ApiError(ServiceError::invalid(format!("file {name:?}: mime type {tag:?} must be 1 to 255 visible ASCII characters")).with_field("tags"))) }
}

/// `POST /bytes/raw?boefje_meta_id=`
#[utoipa::path(
    post,
    path = "/bytes/raw",
    params(SaveRawQuery),
    request_body(content = doc::BoefjeOutput, content_type = "application/json", description = "A boefje output: files with base64 contents and mime-type tags (read whatever the Content-Type)", example = json!({"status": "COMPLETED", "files": [{"name": "raw", "content": "aGVsbG8=", "tags": ["boefje/dns-records"]}]})),
    responses(
        (status = 200, description = "The raw file id of each file name (a file whose set of tags the run already has gets that file's id)", body = doc::RawIds),
        (status = 400, description = "Two files of the request have the same set of tags (nothing is saved; OpenKAT's status)", body = doc::Error),
        (status = 404, description = "No such boefje meta", body = doc::Error),
        (status = 413, description = "A file is larger than BYTES_MAX_RAW_SIZE, or the body larger than this service accepts", body = doc::Error),
        (status = 422, description = "Bad base64, mime type, query or body, or the run has no ended_at", body = doc::Error),
    )
)]
pub async fn save(State(state): State<BytesState>, params: Params, ApiJson(output): ApiJson<BoefjeOutput>) -> Response {
    match save_files(&state, &params, &output).await {
        Ok(ids) => Json(ids).into_response(),
        Err(response) => response,
    }
}

async fn save_files(state: &BytesState, params: &Params, output: &BoefjeOutput) -> Result<BTreeMap<String, String>, Response> {
    let reject = |e: ServiceError| ApiError(e).into_response();
    let boefje_meta_id = params.uuid("boefje_meta_id").map_err(IntoResponse::into_response)?;
    let boefje_meta_id = boefje_meta_id.ok_or_else(|| reject(ServiceError::invalid("boefje_meta_id must be given as a UUID").with_field("boefje_meta_id")))?;
    let mut decoded = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &output.files {
        let content = STANDARD.decode(file.content.trim()).map_err(|_| reject(ServiceError::invalid(format!("file {:?}: content is not valid base64", file.name)).with_field("content")))?;
        if content.len() > state.max_raw_size {
            let message = format!("file {:?} is {} bytes; BYTES_MAX_RAW_SIZE is {}", file.name, content.len(), state.max_raw_size);
            return Err(reject(ServiceError::new(ErrorKind::TooLarge, message).with_field("files")));
        }
        file.tags.iter().try_for_each(|t| check_mime_type(&file.name, t)).map_err(IntoResponse::into_response)?;
        let set: BTreeSet<&str> = file.tags.iter().map(String::as_str).collect();
        // As OpenKAT: a run has one raw file per set of mime types, so one request cannot bring two (a set
        // saved by an earlier request is deduplicated by the store instead). OpenKAT answers 400 after saving
        // the first of the two; here nothing is saved, and the answer is OpenKAT's 400 and text.
        if !seen.insert(set) {
            return Err(ApiError::with_status(400, ServiceError::invalid("Content types do not define unique sets of mime types.").with_field("tags")));
        }
        decoded.push((file, content));
    }
    let mut ids = BTreeMap::new();
    for (file, content) in decoded {
        let meta = state.bytes.save_raw(boefje_meta_id, &file.tags, &content).await.map_err(reject)?;
        ids.insert(file.name.clone(), meta.id.to_string());
    }
    Ok(ids)
}

/// `GET /bytes/raw/{raw_id}`: the contents, only when they match their hash.
#[utoipa::path(
    get,
    path = "/bytes/raw/{raw_id}",
    params(RawId),
    responses(
        (status = 200, description = "The contents", content_type = "application/octet-stream", body = doc::RawContents),
        (status = 404, description = "No such raw file", body = doc::Error),
        (status = 422, description = "Not a UUID", body = doc::Error),
        (status = 500, description = "The contents do not match their hash", body = doc::Error),
        (status = 503, description = "The contents cannot be read from storage", body = doc::Error),
    )
)]
pub async fn get(State(state): State<BytesState>, IdPath(id): IdPath) -> Result<impl IntoResponse, ApiError> {
    let (_, content) = state.bytes.get_raw(id).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], content))
}

/// `GET /bytes/raw/{raw_id}/meta`
#[utoipa::path(
    get,
    path = "/bytes/raw/{raw_id}/meta",
    params(RawId),
    responses((status = 200, description = "The raw file's metadata", body = doc::RawDataMeta), (status = 404, description = "No such raw file", body = doc::Error), (status = 422, description = "Not a UUID", body = doc::Error))
)]
pub async fn get_meta(State(state): State<BytesState>, IdPath(id): IdPath) -> Result<Json<RawDataMeta>, ApiError> {
    Ok(Json(state.bytes.get_raw_meta(id).await?))
}

/// The filter every raw list reads (OpenKAT's `RawDataFilter`).
fn raw_filter(params: &Params) -> Result<RawFilter, ApiError> {
    Ok(RawFilter {
        organizations: params.organisations("organization")?,
        boefje_meta_id: params.uuid("boefje_meta_id")?,
        raw_ids: params.uuids("raw_ids")?,
        normalized: params.boolean("normalized")?,
        mime_types: params.all("mime_types"),
    })
}

/// The page of a raw list: OpenKAT's `limit` (default 1), and our `offset` and `descending` (insertion order).
fn raw_page(params: &Params) -> Result<Page, ApiError> {
    Ok(Page { limit: params.count("limit", 1, MAX_LIMIT)?, offset: params.count("offset", 0, i64::MAX)?, descending: params.boolean("descending")?.unwrap_or(false) })
}

/// `GET /bytes/raw`: raw file metadata.
#[utoipa::path(
    get,
    path = "/bytes/raw",
    params(RawQuery),
    responses((status = 200, description = "Raw file metadata, in the order they were saved", body = Vec<doc::RawDataMeta>), (status = 422, description = "A bad filter", body = doc::Error))
)]
pub async fn list(State(state): State<BytesState>, params: Params) -> Result<Json<Vec<RawDataMeta>>, ApiError> {
    let mut out = Vec::new();
    for id in state.bytes.meta_db().raw_ids(&raw_filter(&params)?, raw_page(&params)?).await? {
        out.push(state.bytes.get_raw_meta(id).await?);
    }
    Ok(Json(out))
}

/// `GET /bytes/raws`: raw files with their contents (hash checked), as OpenKAT's `BoefjeOutput` with each file
/// named by its raw id. The status is always `COMPLETED`, which is what OpenKAT's Bytes answers.
#[utoipa::path(
    get,
    path = "/bytes/raws",
    params(RawQuery),
    responses(
        (status = 200, description = "{status: COMPLETED, files: [{name: raw id, content: base64, tags}]}", body = doc::BoefjeOutput),
        (status = 422, description = "A bad filter", body = doc::Error),
        (status = 500, description = "A file does not match its hash", body = doc::Error),
        (status = 503, description = "A file cannot be read from storage", body = doc::Error),
    )
)]
pub async fn list_with_contents(State(state): State<BytesState>, params: Params) -> Result<Json<BoefjeOutput>, ApiError> {
    let mut files = Vec::new();
    for id in state.bytes.meta_db().raw_ids(&raw_filter(&params)?, raw_page(&params)?).await? {
        let (meta, content) = state.bytes.get_raw(id).await?;
        files.push(OutputFile { name: id.to_string(), content: STANDARD.encode(content), tags: meta.mime_types.into_iter().map(|m| m.value).collect() });
    }
    Ok(Json(BoefjeOutput { status: Some("COMPLETED".into()), files }))
}

/// `GET /bytes/mime_types`: `{mime type: number of matching raw files carrying it}`.
#[utoipa::path(
    get,
    path = "/bytes/mime_types",
    params(MimeTypesQuery),
    responses((status = 200, description = "Number of matching raw files per mime type", body = doc::MimeTypeCounts), (status = 422, description = "A bad filter", body = doc::Error))
)]
pub async fn mime_types(State(state): State<BytesState>, params: Params) -> Result<Json<BTreeMap<String, i64>>, ApiError> {
    let filter = RawFilter { raw_ids: Vec::new(), ..raw_filter(&params)? };
    Ok(Json(state.bytes.meta_db().mime_type_counts(&filter).await?.into_iter().collect()))
}
