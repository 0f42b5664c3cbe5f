//! `GET /schedulers`, `GET /schedulers/{id}`, `POST /schedulers/{id}/push`
//! and `POST /schedulers/{id}/pop` in mula's shapes. The schedulers are
//! `boefje` and `normalizer`; any other id is 404.
//!
//! A push answers 201 with the task; a push of work that already has an
//! unfinished task (same hash) is 409 with that task under `task`. A pop
//! takes an optional filter body (`null`, none, or `{"filters": ...}`) and
//! `limit` (default 1), and answers `{"results": [Task...]}`, empty when
//! nothing is queued.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::services::scheduler::{NewTask, Scheduler, TaskType};
use kat_core::services::ServiceError;
use kat_core::ErrorKind;
use kat_server::params::Query;
use kat_server::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row;

use super::ApiState;
use crate::filters::FilterSet;

/// The queue named in the path, or 404.
pub fn queue(scheduler_id: &str) -> Result<TaskType, ApiError> {
    TaskType::parse(scheduler_id).ok_or_else(|| {
        let shown: String = scheduler_id.chars().take(40).collect();
        ApiError(ServiceError::not_found(format!("Scheduler {shown} not found")).with_field("scheduler_id"))
    })
}

/// A scheduler as mula lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SchedulerInfo {
    /// `boefje` or `normalizer`.
    pub id: String,
    /// The same as `id`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `BoefjeTask` or `NormalizerTask`.
    pub item_type: String,
    /// Queued tasks.
    pub qsize: i64,
    /// When a task of it last changed.
    pub last_activity: Option<String>,
}

async fn info(state: &ApiState, task_type: TaskType) -> Result<SchedulerInfo, ApiError> {
    let store = state.scheduler.store();
    let row = sqlx::query("SELECT count(CASE WHEN status = 'queued' THEN 1 END), max(modified_at) FROM tasks WHERE scheduler_id = $1")
        .bind(task_type.as_str())
        .fetch_one(&store.pool)
        .await
        .map_err(crate::store::db_error)?;
    let qsize: i64 = row.try_get(0).map_err(crate::store::db_error)?;
    let last: Option<i64> = row.try_get(1).map_err(crate::store::db_error)?;
    let last_activity = last.map(|us| crate::clock::from_micros(us).format(&time::format_description::well_known::Rfc3339).unwrap_or_default());
    let item_type = match task_type {
        TaskType::Boefje => "BoefjeTask",
        TaskType::Normalizer => "NormalizerTask",
    };
    Ok(SchedulerInfo { id: task_type.as_str().into(), kind: task_type.as_str().into(), item_type: item_type.into(), qsize, last_activity })
}

/// `GET /schedulers`
#[utoipa::path(get, path = "/schedulers", responses((status = 200, description = "The schedulers", body = [SchedulerInfo])))]
pub async fn list(State(state): State<ApiState>) -> Result<Json<Vec<SchedulerInfo>>, ApiError> {
    let mut out = Vec::new();
    for task_type in TaskType::ALL {
        out.push(info(&state, task_type).await?);
    }
    Ok(Json(out))
}

/// `GET /schedulers/{scheduler_id}`
#[utoipa::path(get, path = "/schedulers/{scheduler_id}", params(("scheduler_id" = String, Path)), responses((status = 200, body = SchedulerInfo), (status = 404, description = "Unknown scheduler")))]
pub async fn get(State(state): State<ApiState>, Path(scheduler_id): Path<String>) -> Result<Json<SchedulerInfo>, ApiError> {
    Ok(Json(info(&state, queue(&scheduler_id)?).await?))
}

/// The body of a push (mula's `TaskPush`; other keys are refused).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushBody {
    /// The task id (kept when it equals `data.id` or `data` has none).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub id: Option<uuid::Uuid>,
    /// Must equal the path's scheduler when given.
    #[serde(default)]
    pub scheduler_id: Option<String>,
    /// The organisation.
    pub organisation: String,
    /// Lower runs first (default: the rank of a user push).
    #[serde(default)]
    pub priority: Option<i64>,
    /// A `BoefjeTask` or `NormalizerTask`.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// `POST /schedulers/{scheduler_id}/push`
#[utoipa::path(post, path = "/schedulers/{scheduler_id}/push", params(("scheduler_id" = String, Path)), request_body(content = PushBody, content_type = "application/json"),
    responses((status = 201, description = "The queued task"), (status = 400, description = "scheduler_id differs from the path"), (status = 404, description = "Unknown scheduler"), (status = 409, description = "The work already has an unfinished task (under `task`)"), (status = 422, description = "The body does not fit its queue; the field is named")))]
pub async fn push(State(state): State<ApiState>, Path(scheduler_id): Path<String>, kat_server::ApiJson(body): kat_server::ApiJson<PushBody>) -> Result<Response, ApiError> {
    let task_type = queue(&scheduler_id)?;
    if body.scheduler_id.as_deref().is_some_and(|s| s != scheduler_id) {
        return Ok(ApiError::with_status(400, ServiceError::invalid("scheduler_id in item does not match the scheduler_id in the path").with_field("scheduler_id")));
    }
    let mut data = body.data;
    if !data.is_object() {
        return Err(ApiError(ServiceError::invalid("malformed item: data must be an object").with_field("data")));
    }
    if let (Some(id), Value::Object(map)) = (body.id, &mut data) {
        map.entry("id").or_insert_with(|| Value::String(id.to_string()));
    }
    let pushed = state.scheduler.push(NewTask { task_type, organisation: body.organisation, priority: body.priority, data }).await?;
    if pushed.created {
        return Ok((StatusCode::CREATED, Json(pushed.task)).into_response());
    }
    let detail = format!("Conflict error occurred: queue is not allowed to push items: task {} for this work is {}", pushed.task.id, pushed.task.status.as_str());
    Ok((StatusCode::CONFLICT, Json(json!({"detail": detail, "field": null, "task": pushed.task}))).into_response())
}

/// `POST /schedulers/{scheduler_id}/pop?limit=N`
#[utoipa::path(post, path = "/schedulers/{scheduler_id}/pop", params(("scheduler_id" = String, Path), ("limit" = Option<i64>, Query, description = "At most this many tasks (1 to 10000, default 1)")),
    request_body(content = Object, description = "Optional: {\"filters\": [{\"column\", \"field\", \"operator\", \"value\"}]} or {\"filters\": {\"and\"|\"or\"|\"not\": [...]}}; null or none for no filter", content_type = "application/json"),
    responses((status = 200, description = "{\"results\": [Task]} leased to the caller (status dispatched)"), (status = 404, description = "Unknown scheduler"), (status = 422, description = "A malformed filter; the field is named")))]
pub async fn pop(State(state): State<ApiState>, Path(scheduler_id): Path<String>, query: Query, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let task_type = queue(&scheduler_id)?;
    let limit = query.number("limit", 1, 1, 10_000)?;
    let filters = if body.iter().all(u8::is_ascii_whitespace) { FilterSet::default() } else { FilterSet::from_body(&kat_server::json::parse_body::<Value>(&body)?)? };
    let tasks = state.scheduler.pop_matching(task_type, &filters, usize::try_from(limit).unwrap_or(1)).await?;
    Ok(Json(json!({"results": tasks})))
}

/// A client mistake that mula answers with 400.
pub fn bad_request(e: ServiceError) -> Response {
    ApiError::with_status(400, e)
}

/// Whether `e` is an invalid-input error.
pub fn is_invalid(e: &ServiceError) -> bool {
    e.kind == ErrorKind::Invalid
}
