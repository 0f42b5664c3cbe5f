//! `/v1/organisations/{org}/plugins`: the plugin list with OpenKAT's
//! filters, one plugin, enable/disable (`PATCH` `{"enabled": bool}`), and a
//! plugin's `schema.json`, `description.md` and `cover.jpg`. Plugins are
//! OpenKAT's plugin JSON (see [`boefje_json`] and [`normalizer_json`]).
//!
//! List filters, applied in OpenKAT's order: `ids` (repeated or
//! comma-separated; the answer follows their order, an unknown id is 404
//! "Plugin not found"), `q` (id, name or description, case-insensitive),
//! `plugin_type` (rocky's name; `type` is accepted too: `boefje`,
//! `normalizer` or `bit`; both are checked, `plugin_type` wins), `state`,
//! `oci_image`, `scan_level` (boefjes at or above it), `consumes`,
//! `produces` (any of the given values), then `offset` and `limit`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use kat_core::services::katalogus::{BoefjePlugin, Katalogus, NormalizerPlugin};
use kat_core::services::ServiceError;
use kat_server::ApiJson;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{bad_parameter, ApiError};
use super::params::{OrganisationPath, PluginFilters, PluginPath};
use super::{schemas, AppState};
use crate::repository::PluginExtras;

/// A boefje as OpenKAT's plugin JSON.
pub fn boefje_json(p: &BoefjePlugin, extras: &PluginExtras, editable: bool) -> Value {
    let m = &p.manifest;
    json!({
        "id": m.id, "name": m.name.clone().unwrap_or_else(|| m.id.clone()), "version": extras.version, "created": extras.created,
        "description": m.description, "enabled": p.enabled, "static": !editable, "type": "boefje", "scan_level": m.scan_level.get(),
        "consumes": m.consumes, "produces": m.produces, "boefje_schema": p.schema.as_ref().map(|s| s.as_json().clone()),
        "cron": m.cron, "interval": m.interval, "run_on": extras.run_on, "runnable_hash": null,
        "oci_image": m.oci_image, "oci_arguments": m.oci_arguments, "deduplicate": extras.deduplicate,
    })
}

/// A normalizer as OpenKAT's plugin JSON.
pub fn normalizer_json(p: &NormalizerPlugin, extras: &PluginExtras, editable: bool) -> Value {
    let m = &p.manifest;
    json!({
        "id": m.id, "name": m.name.clone().unwrap_or_else(|| m.id.clone()), "version": extras.version, "created": extras.created,
        "description": m.description, "enabled": p.enabled, "static": !editable, "type": "normalizer", "consumes": m.consumes, "produces": m.produces,
    })
}

/// Every plugin of an organisation as OpenKAT's JSON (boefjes first).
async fn all_plugins(state: &AppState, org: &str) -> Result<Vec<Value>, ApiError> {
    let k = &state.katalogus;
    k.organisation(org).await?;
    let mut out: Vec<Value> = k.boefjes(org).await?.iter().map(|p| boefje_json(p, &k.extras(&p.manifest.id), k.is_editable(&p.manifest.id))).collect();
    out.extend(k.normalizers(org).await?.iter().map(|p| normalizer_json(p, &k.extras(&p.manifest.id), k.is_editable(&p.manifest.id))));
    Ok(out)
}

fn list_contains_any(plugin: &Value, field: &str, wanted: &[String]) -> bool {
    plugin[field].as_array().is_some_and(|items| items.iter().any(|i| i.as_str().is_some_and(|s| wanted.iter().any(|w| w == s))))
}

/// A query string as name/value pairs; a malformed one is 422.
pub type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// Read a query string's pairs.
pub fn pairs(query: Pairs) -> Result<Vec<(String, String)>, ApiError> {
    query.map(|Query(p)| p).map_err(|e| ApiError(ServiceError::invalid(format!("the query string is malformed: {}", e.body_text())).with_field("query")))
}

/// The last value of `name`.
pub fn one(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string())
}

/// `name` as a whole number.
pub fn number(pairs: &[(String, String)], name: &str) -> Result<Option<usize>, ApiError> {
    one(pairs, name).map(|v| v.parse::<usize>().map_err(|_| bad_parameter(name, "must be a whole number"))).transpose()
}

/// `name` as a boolean, spelled as FastAPI accepts it (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`).
pub fn boolean(pairs: &[(String, String)], name: &str) -> Result<Option<bool>, ApiError> {
    match one(pairs, name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok(None),
        Some("true" | "1" | "yes" | "on") => Ok(Some(true)),
        Some("false" | "0" | "no" | "off") => Ok(Some(false)),
        Some(_) => Err(bad_parameter(name, "must be true or false")),
    }
}

/// `GET /v1/organisations/{org}/plugins`; list filters may repeat (`ids=a&ids=b`) or use commas.
#[utoipa::path(get, path = "/v1/organisations/{org}/plugins", params(OrganisationPath, PluginFilters), responses((status = 200, description = "Plugins in OpenKAT's JSON", body = schemas::Plugins), (status = 404, description = "Unknown organisation, or an unknown id in ids"), (status = 422, description = "A bad filter")))]
pub async fn list(State(state): State<AppState>, Path(org): Path<String>, query: Pairs) -> Result<Json<Vec<Value>>, ApiError> {
    let pairs = pairs(query)?;
    let values = |name: &str| -> Vec<String> { pairs.iter().filter(|(k, _)| k == name).flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string())).filter(|s| !s.is_empty()).collect() };
    let (by_rocky, by_type) = (one(&pairs, "plugin_type"), one(&pairs, "type"));
    for (name, value) in [("plugin_type", &by_rocky), ("type", &by_type)] {
        if value.as_deref().is_some_and(|t| !["boefje", "normalizer", "bit"].contains(&t)) {
            return Err(bad_parameter(name, "must be boefje, normalizer or bit"));
        }
    }
    let plugin_type = by_rocky.or(by_type);
    let state_filter = boolean(&pairs, "state")?;
    let (q, ids, consumes, produces, oci_image) = (one(&pairs, "q").map(|q| q.to_lowercase()), values("ids"), values("consumes"), values("produces"), one(&pairs, "oci_image"));
    let scan_level = number(&pairs, "scan_level")?;
    let (offset, limit) = (number(&pairs, "offset")?.unwrap_or(0), number(&pairs, "limit")?);
    let all = all_plugins(&state, &org).await?;
    let start: Vec<Value> = if ids.is_empty() {
        all
    } else {
        ids.iter().map(|id| all.iter().find(|p| p["id"] == id.as_str()).cloned().ok_or_else(|| ApiError(ServiceError::not_found("Plugin not found").with_field("ids")))).collect::<Result<_, _>>()?
    };
    let matching = start.into_iter().filter(|p| {
        let text = |f: &str| p[f].as_str().unwrap_or_default().to_lowercase();
        let boefje = p["type"] == "boefje";
        q.as_ref().is_none_or(|q| text("id").contains(q) || text("name").contains(q) || text("description").contains(q))
            && plugin_type.as_ref().is_none_or(|t| p["type"] == t.as_str())
            && state_filter.is_none_or(|e| p["enabled"] == e)
            && oci_image.as_ref().is_none_or(|image| boefje && p["oci_image"] == image.as_str())
            && scan_level.is_none_or(|l| !boefje || p["scan_level"].as_u64().is_some_and(|s| s >= l as u64))
            && (consumes.is_empty() || list_contains_any(p, "consumes", &consumes))
            && (produces.is_empty() || list_contains_any(p, "produces", &produces))
    });
    Ok(Json(matching.skip(offset).take(limit.unwrap_or(usize::MAX)).collect()))
}

async fn find(state: &AppState, org: &str, plugin_id: &str) -> Result<Value, ApiError> {
    all_plugins(state, org).await?.into_iter().find(|p| p["id"] == plugin_id).ok_or_else(|| ApiError(ServiceError::not_found("Plugin not found").with_field("plugin_id")))
}

/// `GET /v1/organisations/{org}/plugins/{plugin_id}`
#[utoipa::path(get, path = "/v1/organisations/{org}/plugins/{plugin_id}", params(PluginPath), responses((status = 200, description = "The plugin", body = schemas::Plugin), (status = 404, description = "Unknown organisation, or plugin not found")))]
pub async fn get(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    Ok(Json(find(&state, &org, &plugin_id).await?))
}

/// The body of an enable/disable request (a missing `enabled` is false, as in OpenKAT).
#[derive(Debug, Deserialize)]
pub struct EnabledBody {
    /// The new state.
    #[serde(default)]
    pub enabled: bool,
}

/// `PATCH /v1/organisations/{org}/plugins/{plugin_id}` with `{"enabled": bool}`
#[utoipa::path(patch, path = "/v1/organisations/{org}/plugins/{plugin_id}", params(PluginPath), request_body(content = schemas::PluginStateIn, content_type = "application/json"), responses((status = 204, description = "Enabled or disabled"), (status = 404, description = "Unknown organisation or plugin"), (status = 413, description = "Body too large"), (status = 422, description = "Bad body")))]
pub async fn patch(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>, ApiJson(body): ApiJson<EnabledBody>) -> Result<StatusCode, ApiError> {
    state.katalogus.set_enabled(&org, &plugin_id, body.enabled).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/organisations/{org}/plugins/{plugin_id}/schema.json` (`null` for a plugin without settings)
#[utoipa::path(get, path = "/v1/organisations/{org}/plugins/{plugin_id}/schema.json", params(PluginPath), responses((status = 200, description = "The settings JSON Schema, or null", body = schemas::SettingsSchemaOut), (status = 404, description = "Unknown organisation or plugin")))]
pub async fn schema(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    let plugin = find(&state, &org, &plugin_id).await?;
    Ok(Json(plugin.get("boefje_schema").cloned().unwrap_or(Value::Null)))
}

/// `GET /v1/organisations/{org}/plugins/{plugin_id}/description.md` (the folder's `description.md`, else the plugin's description)
#[utoipa::path(get, path = "/v1/organisations/{org}/plugins/{plugin_id}/description.md", params(PluginPath), responses((status = 200, description = "Markdown", body = schemas::Markdown, content_type = "text/markdown"), (status = 404, description = "Unknown organisation or plugin")))]
pub async fn description(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<impl IntoResponse, ApiError> {
    let plugin = find(&state, &org, &plugin_id).await?;
    let text = state.katalogus.description(&plugin_id).unwrap_or_else(|| plugin["description"].as_str().unwrap_or_default().to_string());
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], text))
}

/// `GET /v1/organisations/{org}/plugins/{plugin_id}/cover.jpg` (the folder's cover, else the default cover)
#[utoipa::path(get, path = "/v1/organisations/{org}/plugins/{plugin_id}/cover.jpg", params(PluginPath), responses((status = 200, description = "JPEG image", body = schemas::Jpeg, content_type = "image/jpeg"), (status = 404, description = "Unknown organisation or plugin")))]
pub async fn cover(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<impl IntoResponse, ApiError> {
    find(&state, &org, &plugin_id).await?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], state.katalogus.cover(&plugin_id)))
}
