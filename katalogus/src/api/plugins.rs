//! `/v1/organisations/{org}/plugins`: the plugin list with OpenKAT's
//! filters (`q`, `type`, `ids`, `consumes`, `produces`, `state`,
//! `scan_level`, `offset`, `limit`), adding a plugin (`POST`), editing an
//! added boefje or normalizer, one plugin, enable/disable (`PATCH`
//! `{"enabled": bool}`), and a plugin's `schema.json` and `description.md`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use kat_core::services::katalogus::{BoefjePlugin, Katalogus, NormalizerPlugin};
use kat_core::services::ServiceError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;

fn boefje_json(p: &BoefjePlugin, editable: bool) -> Value {
    let m = &p.manifest;
    json!({
        "id": m.id, "name": m.name.clone().unwrap_or_else(|| m.id.clone()), "version": null, "created": null,
        "description": m.description, "environment_keys": p.schema.as_ref().map(|s| s.keys()).unwrap_or_default(),
        "related": [], "enabled": p.enabled, "type": "boefje", "scan_level": m.scan_level.get(),
        "consumes": m.consumes, "produces": m.produces, "boefje_schema": p.schema.as_ref().map(|s| s.as_json().clone()),
        "oci_image": m.oci_image, "oci_arguments": m.oci_arguments, "cron": m.cron, "interval": m.interval, "run_on": null, "static": !editable,
    })
}

fn normalizer_json(p: &NormalizerPlugin, editable: bool) -> Value {
    let m = &p.manifest;
    json!({
        "id": m.id, "name": m.name.clone().unwrap_or_else(|| m.id.clone()), "version": null, "description": m.description,
        "enabled": p.enabled, "type": "normalizer", "consumes": m.consumes, "produces": m.produces, "static": !editable,
    })
}

/// Every plugin of an organisation as OpenKAT's JSON.
async fn all_plugins(state: &AppState, org: &str) -> Result<Vec<Value>, ApiError> {
    state.katalogus.organisation(org).await?;
    let editable = |id: &str| state.katalogus.is_editable(id);
    let mut out: Vec<Value> = state.katalogus.boefjes(org).await?.iter().map(|p| boefje_json(p, editable(&p.manifest.id))).collect();
    out.extend(state.katalogus.normalizers(org).await?.iter().map(|p| normalizer_json(p, editable(&p.manifest.id))));
    Ok(out)
}

fn list_contains_any(plugin: &Value, field: &str, wanted: &[String]) -> bool {
    plugin[field].as_array().is_some_and(|items| items.iter().any(|i| i.as_str().is_some_and(|s| wanted.iter().any(|w| w == s))))
}

/// `GET /v1/organisations/{org}/plugins`; list filters may repeat (`ids=a&ids=b`) or use commas.
#[utoipa::path(get, path = "/v1/organisations/{org}/plugins", params(("org" = String, Path), ("q" = Option<String>, Query), ("type" = Option<String>, Query), ("ids" = Option<String>, Query), ("consumes" = Option<String>, Query), ("produces" = Option<String>, Query), ("state" = Option<bool>, Query), ("scan_level" = Option<u8>, Query), ("offset" = Option<usize>, Query), ("limit" = Option<usize>, Query)), responses((status = 200, description = "Plugins in OpenKAT's JSON"), (status = 404, description = "No such organisation"), (status = 422, description = "A bad filter")))]
pub async fn list(State(state): State<AppState>, Path(org): Path<String>, Query(pairs): Query<Vec<(String, String)>>) -> Result<Json<Vec<Value>>, ApiError> {
    let values = |name: &str| -> Vec<String> { pairs.iter().filter(|(k, _)| k == name).flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string())).filter(|s| !s.is_empty()).collect() };
    let one = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string());
    let number = |name: &str| -> Result<Option<usize>, ApiError> {
        one(name).map(|v| v.parse::<usize>().map_err(|_| ApiError::from(ServiceError::invalid(format!("{name} must be a whole number")).with_field(name)))).transpose()
    };
    let state_filter = match one("state").as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ServiceError::invalid("state must be true or false").with_field("state").into()),
    };
    let plugin_type = one("type");
    if plugin_type.as_deref().is_some_and(|t| t != "boefje" && t != "normalizer") {
        return Err(ServiceError::invalid("type must be boefje or normalizer").with_field("type").into());
    }
    let (q, ids, consumes, produces) = (one("q").map(|q| q.to_lowercase()), values("ids"), values("consumes"), values("produces"));
    let scan_level = number("scan_level")?;
    let (offset, limit) = (number("offset")?.unwrap_or(0), number("limit")?);
    let matching = all_plugins(&state, &org).await?.into_iter().filter(|p| {
        let text = |f: &str| p[f].as_str().unwrap_or_default().to_lowercase();
        q.as_ref().is_none_or(|q| text("id").contains(q) || text("name").contains(q) || text("description").contains(q))
            && plugin_type.as_ref().is_none_or(|t| p["type"] == t.as_str())
            && (ids.is_empty() || ids.iter().any(|id| p["id"] == id.as_str()))
            && (consumes.is_empty() || list_contains_any(p, "consumes", &consumes))
            && (produces.is_empty() || list_contains_any(p, "produces", &produces))
            && state_filter.is_none_or(|e| p["enabled"] == e)
            && scan_level.is_none_or(|l| p["scan_level"] == l)
    });
    Ok(Json(matching.skip(offset).take(limit.unwrap_or(usize::MAX)).collect()))
}

async fn find(state: &AppState, org: &str, plugin_id: &str) -> Result<Value, ApiError> {
    all_plugins(state, org).await?.into_iter().find(|p| p["id"] == plugin_id).ok_or_else(|| ServiceError::not_found(format!("no plugin {plugin_id:?}")).into())
}

/// `GET /v1/organisations/{org}/plugins/{plugin_id}`
#[utoipa::path(get, path = "/v1/organisations/{org}/plugins/{plugin_id}", params(("org" = String, Path), ("plugin_id" = String, Path)), responses((status = 200, description = "The plugin"), (status = 404, description = "No such organisation or plugin")))]
pub async fn get(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    Ok(Json(find(&state, &org, &plugin_id).await?))
}

/// The body of an enable/disable request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EnabledBody {
    /// The new state.
    pub enabled: bool,
}

/// `PATCH /v1/organisations/{org}/plugins/{plugin_id}` with `{"enabled": bool}`
#[utoipa::path(patch, path = "/v1/organisations/{org}/plugins/{plugin_id}", params(("org" = String, Path), ("plugin_id" = String, Path)), request_body = EnabledBody, responses((status = 204, description = "Enabled or disabled"), (status = 404, description = "No such organisation or plugin"), (status = 422, description = "Bad body")))]
pub async fn patch(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>, body: Result<Json<EnabledBody>, JsonRejection>) -> Result<StatusCode, ApiError> {
    let Json(body) = body?;
    state.katalogus.set_enabled(&org, &plugin_id, body.enabled).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/organisations/{org}/plugins/{plugin_id}/schema.json` (`null` for a plugin without settings)
#[utoipa::path(get, path = "/v1/organisations/{org}/plugins/{plugin_id}/schema.json", params(("org" = String, Path), ("plugin_id" = String, Path)), responses((status = 200, description = "The settings JSON Schema, or null"), (status = 404, description = "No such plugin")))]
pub async fn schema(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    let plugin = find(&state, &org, &plugin_id).await?;
    Ok(Json(plugin.get("boefje_schema").cloned().unwrap_or(Value::Null)))
}

/// `GET /v1/organisations/{org}/plugins/{plugin_id}/description.md`
#[utoipa::path(get, path = "/v1/organisations/{org}/plugins/{plugin_id}/description.md", params(("org" = String, Path), ("plugin_id" = String, Path)), responses((status = 200, description = "Markdown"), (status = 404, description = "No such plugin")))]
pub async fn description(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<impl IntoResponse, ApiError> {
    let plugin = find(&state, &org, &plugin_id).await?;
    let text = match state.katalogus.description(&plugin_id) {
        Some(text) => text,
        None => format!("# {}\n\n{}\n", plugin["name"].as_str().unwrap_or(&plugin_id), plugin["description"].as_str().unwrap_or("")),
    };
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], text))
}

/// `POST /v1/organisations/{org}/plugins` with OpenKAT's plugin JSON: adds a boefje or normalizer (201, 409 when the id exists).
#[utoipa::path(post, path = "/v1/organisations/{org}/plugins", params(("org" = String, Path)), responses((status = 201, description = "Added"), (status = 409, description = "The id exists"), (status = 422, description = "Invalid plugin")))]
pub async fn create(State(state): State<AppState>, Path(org): Path<String>, body: Result<Json<Value>, JsonRejection>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(plugin) = body?;
    state.katalogus.organisation(&org).await?;
    state.katalogus.add_plugin(&plugin).await?;
    let id = plugin["id"].as_str().unwrap_or_default().to_string();
    Ok((StatusCode::CREATED, Json(find(&state, &org, &id).await?)))
}

/// `PATCH /v1/organisations/{org}/boefjes/{id}`: change fields of a boefje added over the API.
#[utoipa::path(patch, path = "/v1/organisations/{org}/boefjes/{plugin_id}", params(("org" = String, Path), ("plugin_id" = String, Path)), responses((status = 204, description = "Changed"), (status = 404, description = "No such boefje"), (status = 409, description = "A static plugin"), (status = 422, description = "Invalid fields")))]
pub async fn edit_boefje(State(state): State<AppState>, Path((org, id)): Path<(String, String)>, body: Result<Json<serde_json::Map<String, Value>>, JsonRejection>) -> Result<StatusCode, ApiError> {
    let Json(changes) = body?;
    state.katalogus.organisation(&org).await?;
    state.katalogus.edit_plugin("boefje", &id, &changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /v1/organisations/{org}/normalizers/{id}`: change fields of a normalizer added over the API.
#[utoipa::path(patch, path = "/v1/organisations/{org}/normalizers/{plugin_id}", params(("org" = String, Path), ("plugin_id" = String, Path)), responses((status = 204, description = "Changed"), (status = 404, description = "No such normalizer"), (status = 409, description = "A static plugin"), (status = 422, description = "Invalid fields")))]
pub async fn edit_normalizer(State(state): State<AppState>, Path((org, id)): Path<(String, String)>, body: Result<Json<serde_json::Map<String, Value>>, JsonRejection>) -> Result<StatusCode, ApiError> {
    let Json(changes) = body?;
    state.katalogus.organisation(&org).await?;
    state.katalogus.edit_plugin("normalizer", &id, &changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/organisations/{org}/plugins/{plugin_id}/cover.jpg", params(("org" = String, Path), ("plugin_id" = String, Path)), responses((status = 200, description = "JPEG image"), (status = 404, description = "No such plugin, or it has no cover")))]
/// `GET /v1/organisations/{org}/plugins/{plugin_id}/cover.jpg` (from the plugin's folder)
pub async fn cover(State(state): State<AppState>, Path((org, plugin_id)): Path<(String, String)>) -> Result<impl IntoResponse, ApiError> {
    find(&state, &org, &plugin_id).await?;
    let image = state.katalogus.cover(&plugin_id).ok_or_else(|| ServiceError::not_found(format!("plugin {plugin_id:?} has no cover")))?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], image))
}
