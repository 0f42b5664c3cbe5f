//! `/tasks`: list (with mula's query parameters, or a filter body on
//! `POST /tasks`), `stats`, one task, `PATCH` along the lifecycle (409 for a
//! move `TaskStatus::can_become` forbids), and ours: `heartbeat` (renew the
//! lease) and `events` (the task's status changes).

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::services::scheduler::{Scheduler, TaskPatch, TaskQuery};
use kat_core::services::ServiceError;
use kat_core::task::{Task, TaskStatus};
use kat_server::params::{Id, Query};
use kat_server::ApiError;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::page::{paginate, to_json, Paging};
use super::schedulers::bad_request;
use super::ApiState;
use crate::events::TaskEvent;
use crate::filters::FilterSet;

/// The query of `GET /tasks` as a `TaskQuery` and extra filters (creation times, older `input_ooi`/`plugin_id`).
fn task_query(query: &Query) -> Result<(TaskQuery, FilterSet, Paging), Response> {
    let paging = Paging::from_query(query).map_err(IntoResponse::into_response)?;
    let status = match query.one("status") {
        None => None,
        Some(s) => Some(TaskStatus::parse(s).ok_or_else(|| IntoResponse::into_response(ApiError(ServiceError::invalid(format!("status must be one of {}", TaskStatus::ALL.map(TaskStatus::as_str).join(", "))).with_field("status"))))?),
    };
    let organisation = query.organisation("organisation").map_err(IntoResponse::into_response)?;
    let mut filters = FilterSet::default();
    let times = [("min_created_at", "gte"), ("max_created_at", "lte")];
    let mut parsed = Vec::new();
    for (name, op) in times {
        if let Some(text) = query.one(name) {
            let t = crate::clock::parse_time(text).ok_or_else(|| IntoResponse::into_response(ApiError(ServiceError::invalid(format!("{name} must be an ISO 8601 time")).with_field(name))))?;
            parsed.push(t);
            filters.and.push(kat_core::services::scheduler::Filter::new("created_at", None, op, text));
        }
    }
    if let [min, max] = parsed[..]
        && min > max
    {
        return Err(bad_request(ServiceError::invalid("Bad request error occurred: min_created_at must be less than max_created_at").with_field("min_created_at")));
    }
    if let Some(input) = query.one("input_ooi") {
        filters.or.push(kat_core::services::scheduler::Filter::new("data", Some("input_ooi"), "eq", input));
        filters.or.push(kat_core::services::scheduler::Filter::new("data", Some("raw_data__boefje_meta__input_ooi"), "eq", input));
    }
    if let Some(plugin) = query.one("plugin_id") {
        filters.and.push(kat_core::services::scheduler::Filter::new("data", Some("boefje__id"), "eq", plugin));
    }
    let task_query = TaskQuery { scheduler_id: query.text("scheduler_id"), organisation, task_type: query.text("task_type"), status, filters: Vec::new(), offset: paging.offset, limit: paging.limit };
    Ok((task_query, filters, paging))
}

async fn listing(state: &ApiState, headers: &HeaderMap, uri: &Uri, query: &Query, body: Option<&Value>) -> Result<Json<Value>, Response> {
    let (task_query, mut filters, paging) = task_query(query)?;
    if let Some(body) = body {
        let extra = FilterSet::from_body(body).map_err(|e| IntoResponse::into_response(ApiError(e)))?;
        filters.and.extend(extra.and);
        filters.or.extend(extra.or);
        filters.not.extend(extra.not);
    }
    let page = state.scheduler.list_matching(&task_query, &filters).await.map_err(|e| IntoResponse::into_response(ApiError(e)))?;
    Ok(Json(to_json(&paginate(headers, uri, paging, page.count, page.results))))
}

/// `GET /tasks`
#[utoipa::path(get, path = "/tasks", params(("scheduler_id" = Option<String>, Query), ("organisation" = Option<String>, Query), ("task_type" = Option<String>, Query), ("status" = Option<String>, Query),
    ("input_ooi" = Option<String>, Query), ("plugin_id" = Option<String>, Query), ("min_created_at" = Option<String>, Query), ("max_created_at" = Option<String>, Query), ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "{count, next, previous, results, is_partial_count}, newest first"), (status = 400, description = "min_created_at after max_created_at"), (status = 422, description = "A bad parameter; it is named")))]
pub async fn list(State(state): State<ApiState>, headers: HeaderMap, uri: Uri, query: Query) -> Result<Json<Value>, Response> {
    listing(&state, &headers, &uri, &query, None).await
}

/// `POST /tasks` (the same list, with a filter body)
#[utoipa::path(post, path = "/tasks", request_body(content = Object, description = "{\"filters\": [...]} as for pop", content_type = "application/json"),
    responses((status = 200, description = "{count, next, previous, results, is_partial_count}"), (status = 422, description = "A malformed filter; the field is named")))]
pub async fn search(State(state): State<ApiState>, headers: HeaderMap, uri: Uri, query: Query, body: axum::body::Bytes) -> Result<Json<Value>, Response> {
    let filters = if body.iter().all(u8::is_ascii_whitespace) { Value::Null } else { kat_server::json::parse_body::<Value>(&body).map_err(|e| IntoResponse::into_response(ApiError(e)))? };
    listing(&state, &headers, &uri, &query, Some(&filters)).await
}

/// Counts per hour and status, newest hour first, serialised in that order.
struct Stats(Vec<(String, [i64; 8])>);

impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (hour, counts) in &self.0 {
            let mut inner = serde_json::Map::new();
            for (status, n) in TaskStatus::ALL.iter().zip(counts.iter()) {
                inner.insert(status.as_str().into(), (*n).into());
            }
            inner.insert("total".into(), counts[7].into());
            map.serialize_entry(hour, &inner)?;
        }
        map.end()
    }
}

/// `GET /tasks/stats`
#[utoipa::path(get, path = "/tasks/stats", params(("scheduler_id" = Option<String>, Query), ("organisation_id" = Option<String>, Query)),
    responses((status = 200, description = "{\"<hour>\": {pending, queued, dispatched, running, completed, failed, cancelled, total}} for the last 24 hours, newest first")))]
pub async fn stats(State(state): State<ApiState>, query: Query) -> Result<Response, ApiError> {
    let organisation = query.organisation("organisation_id")?;
    let since = state.scheduler.now() - 24 * 3_600_000_000;
    let rows = state.scheduler.store().stats(since, query.one("scheduler_id"), organisation.as_deref()).await?;
    let mut hours: Vec<(i64, [i64; 8])> = Vec::new();
    for (hour, status, n) in rows {
        if hours.last().is_none_or(|(h, _)| *h != hour) {
            hours.push((hour, [0; 8]));
        }
        if let Some((_, counts)) = hours.last_mut() {
            let i = TaskStatus::ALL.iter().position(|s| *s == status).unwrap_or(7);
            counts[i] += n;
            counts[7] += n;
        }
    }
    let label = |us: i64| crate::clock::from_micros(us).format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00")).unwrap_or_default();
    let body = serde_json::to_vec(&Stats(hours.into_iter().map(|(h, c)| (label(h), c)).collect())).unwrap_or_default();
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /tasks/{task_id}`
#[utoipa::path(get, path = "/tasks/{task_id}", params(("task_id" = String, Path)), responses((status = 200, description = "The task"), (status = 404, description = "Unknown task"), (status = 422, description = "Not a UUID")))]
pub async fn get(State(state): State<ApiState>, Id(id): Id) -> Result<Json<Task>, ApiError> {
    Ok(Json(state.scheduler.get(id).await?))
}

/// The body of `PATCH /tasks/{id}` (other keys are ignored, as mula does).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PatchBody {
    /// The new status; `running` again renews the lease.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub status: Option<TaskStatus>,
    /// Why (kept in the task's events).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `PATCH /tasks/{task_id}`
#[utoipa::path(patch, path = "/tasks/{task_id}", params(("task_id" = String, Path)), request_body(content = PatchBody, content_type = "application/json"),
    responses((status = 200, description = "The task"), (status = 400, description = "No data to patch"), (status = 404, description = "Unknown task"), (status = 409, description = "The lifecycle forbids the move"), (status = 422, description = "Not a status")))]
pub async fn patch(State(state): State<ApiState>, Id(id): Id, kat_server::ApiJson(body): kat_server::ApiJson<PatchBody>) -> Result<Json<Task>, Response> {
    let Some(status) = body.status else {
        return Err(bad_request(ServiceError::invalid("Bad request error occurred: no data to patch").with_field("status")));
    };
    let task = state.scheduler.patch(id, TaskPatch { status: Some(status), reason: body.reason }).await.map_err(|e| IntoResponse::into_response(ApiError(e)))?;
    Ok(Json(task))
}

/// `POST /tasks/{task_id}/heartbeat`
#[utoipa::path(post, path = "/tasks/{task_id}/heartbeat", params(("task_id" = String, Path)),
    responses((status = 200, description = "The task, its lease renewed"), (status = 404, description = "Unknown task"), (status = 409, description = "The task holds no lease (not dispatched or running)")))]
pub async fn heartbeat(State(state): State<ApiState>, Id(id): Id) -> Result<Json<Task>, ApiError> {
    Ok(Json(state.scheduler.heartbeat(id).await?))
}

/// `GET /tasks/{task_id}/events`
#[utoipa::path(get, path = "/tasks/{task_id}/events", params(("task_id" = String, Path)), responses((status = 200, description = "The task's status changes, oldest first", body = [TaskEvent]), (status = 404, description = "Unknown task")))]
pub async fn events(State(state): State<ApiState>, Id(id): Id) -> Result<Json<Vec<TaskEvent>>, ApiError> {
    state.scheduler.get(id).await?;
    Ok(Json(state.scheduler.store().events(id).await?))
}
