//! `/schedules` in mula's shapes: list (query parameters, or a filter body
//! on `POST /schedules/search`), create (201; a duplicate hash is 409),
//! read, patch and delete (204). A bad cron expression, a missing
//! schedule and deadline, an unknown scheduler in the body or `data` that
//! does not fit its queue are 422 naming the field; min after max is 400.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::services::scheduler::{Filter, TaskType};
use kat_core::services::ServiceError;
use kat_server::params::{Id, Query};
use kat_server::{ApiError, ApiJson};
use serde::Deserialize;
use serde_json::Value;

use super::page::{paginate, to_json, Paging};
use super::schedulers::bad_request;
use super::ApiState;
use crate::filters::FilterSet;
use crate::schedules::{insert, NewSchedule, Schedule, ScheduleQuery, SchedulePatch};
use crate::store::db_error;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError(ServiceError::invalid(message).with_field(field))
}

/// The time in query parameter `name`, if given.
fn time_param(query: &Query, name: &str) -> Result<Option<time::OffsetDateTime>, ApiError> {
    query.one(name).map(|t| crate::clock::parse_time(t).ok_or_else(|| invalid(name, format!("{name} must be an ISO 8601 time")))).transpose()
}

async fn listing(state: &ApiState, headers: &HeaderMap, uri: &Uri, query: &Query, extra: FilterSet) -> Result<Json<Value>, Response> {
    let paging = Paging::from_query(query).map_err(IntoResponse::into_response)?;
    let mut filters = extra;
    for column in ["deadline_at", "created_at"] {
        let (min, max) = (time_param(query, &format!("min_{column}")).map_err(IntoResponse::into_response)?, time_param(query, &format!("max_{column}")).map_err(IntoResponse::into_response)?);
        if let (Some(a), Some(b)) = (min, max)
            && a > b
        {
            return Err(bad_request(ServiceError::invalid(format!("Bad request error occurred: min_{column} must be less than max_{column}")).with_field(format!("min_{column}"))));
        }
        for (bound, op) in [(min, "gte"), (max, "lte")] {
            if let Some(t) = bound {
                filters.and.push(Filter::new(column, None, op, t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()));
            }
        }
    }
    let schedule_query = ScheduleQuery {
        scheduler_id: query.text("scheduler_id"),
        organisation: query.organisation("organisation").map_err(IntoResponse::into_response)?,
        hash: query.text("schedule_hash"),
        enabled: query.boolean("enabled").map_err(IntoResponse::into_response)?,
        filters,
        offset: paging.offset,
        limit: paging.limit,
    };
    let (count, rows) = state.scheduler.store().schedules(&schedule_query).await.map_err(|e| ApiError(e).into_response())?;
    let results: Vec<Schedule> = rows.into_iter().map(|r| r.schedule).collect();
    Ok(Json(to_json(&paginate(headers, uri, paging, count, results))))
}

/// `GET /schedules`
#[utoipa::path(get, path = "/schedules", params(("scheduler_id" = Option<String>, Query), ("organisation" = Option<String>, Query), ("schedule_hash" = Option<String>, Query), ("enabled" = Option<bool>, Query),
    ("min_deadline_at" = Option<String>, Query), ("max_deadline_at" = Option<String>, Query), ("min_created_at" = Option<String>, Query), ("max_created_at" = Option<String>, Query), ("offset" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "{count, next, previous, results, is_partial_count}, newest first"), (status = 400, description = "A min after its max"), (status = 422, description = "A bad parameter; it is named")))]
pub async fn list(State(state): State<ApiState>, headers: HeaderMap, uri: Uri, query: Query) -> Result<Json<Value>, Response> {
    listing(&state, &headers, &uri, &query, FilterSet::default()).await
}

/// `POST /schedules/search`
#[utoipa::path(post, path = "/schedules/search", request_body(content = Object, description = "{\"filters\": [...]} on schedule columns (data fields through `field`)", content_type = "application/json"),
    responses((status = 200, description = "{count, next, previous, results, is_partial_count}"), (status = 422, description = "A malformed filter; the field is named")))]
pub async fn search(State(state): State<ApiState>, headers: HeaderMap, uri: Uri, query: Query, ApiJson(body): ApiJson<Value>) -> Result<Json<Value>, Response> {
    let filters = FilterSet::from_body(&body).map_err(|e| ApiError(e).into_response())?;
    listing(&state, &headers, &uri, &query, filters).await
}

/// The body of `POST /schedules` (mula's `ScheduleCreate`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CreateBody {
    /// `boefje` or `normalizer`.
    pub scheduler_id: String,
    /// The organisation.
    pub organisation: String,
    /// The task body the schedule pushes.
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, Value>,
    /// A cron expression.
    #[serde(default)]
    pub schedule: Option<String>,
    /// The first deadline (ISO 8601).
    #[serde(default)]
    pub deadline_at: Option<String>,
}

/// `POST /schedules`
#[utoipa::path(post, path = "/schedules", request_body(content = CreateBody, content_type = "application/json"),
    responses((status = 201, description = "The schedule", body = Schedule), (status = 409, description = "A schedule with the same hash exists"), (status = 422, description = "Bad cron, no schedule or deadline, unknown scheduler or data that does not fit; the field is named")))]
pub async fn create(State(state): State<ApiState>, ApiJson(body): ApiJson<CreateBody>) -> Result<(StatusCode, Json<Schedule>), ApiError> {
    kat_core::ids::check_organisation_id(&body.organisation, "organisation")?;
    let deadline_at = match &body.deadline_at {
        Some(t) => Some(crate::clock::parse_time(t).ok_or_else(|| invalid("deadline_at", "deadline_at must be an ISO 8601 time"))?),
        None => None,
    };
    if body.schedule.is_none() && deadline_at.is_none() {
        return Err(invalid("schedule", "Either deadline_at or schedule must be provided"));
    }
    let now = state.scheduler.clock().now();
    if let Some(cron) = &body.schedule {
        crate::schedules::next_cron(cron, now, "schedule")?;
    }
    let task_type = TaskType::parse(&body.scheduler_id).ok_or_else(|| invalid("scheduler_id", format!("Scheduler {} not found", body.scheduler_id.chars().take(40).collect::<String>())))?;
    let data = Value::Object(body.data);
    crate::local::check_body(task_type, &data)?;
    let hash = crate::hash::task_hash(task_type, &body.organisation, &data)?;
    let new = NewSchedule {
        scheduler_id: task_type.as_str().into(),
        organisation: body.organisation,
        boefje_id: data.pointer("/boefje/id").and_then(Value::as_str).map(str::to_string).filter(|_| task_type == TaskType::Boefje),
        input_ooi: data.get("input_ooi").and_then(Value::as_str).map(str::to_string).filter(|_| task_type == TaskType::Boefje),
        hash,
        data,
        schedule: body.schedule,
        interval: None,
        deadline_at,
    };
    let mut conn = state.scheduler.store().pool.acquire().await.map_err(db_error)?;
    let row = insert(&mut conn, &new, now).await?;
    Ok((StatusCode::CREATED, Json(row.schedule)))
}

/// `GET /schedules/{schedule_id}`
#[utoipa::path(get, path = "/schedules/{schedule_id}", params(("schedule_id" = String, Path)), responses((status = 200, body = Schedule), (status = 404, description = "Unknown schedule"), (status = 422, description = "Not a UUID")))]
pub async fn get(State(state): State<ApiState>, Id(id): Id) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(state.scheduler.store().schedule(id).await?.schedule))
}

/// The body of `PATCH /schedules/{id}` (mula's `SchedulePatch`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PatchBody {
    /// New hash.
    #[serde(default)]
    pub hash: Option<String>,
    /// New task body.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Map<String, Value>>,
    /// On or off.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New cron expression (null clears it).
    #[serde(default, deserialize_with = "present")]
    pub schedule: Option<Option<String>>,
    /// New deadline (ISO 8601; null clears it).
    #[serde(default, deserialize_with = "present")]
    pub deadline_at: Option<Option<String>>,
}

/// A field that is present (possibly null) as `Some`, absent as `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /schedules/{schedule_id}`
#[utoipa::path(patch, path = "/schedules/{schedule_id}", params(("schedule_id" = String, Path)), request_body(content = PatchBody, content_type = "application/json"),
    responses((status = 200, body = Schedule), (status = 400, description = "No data to patch"), (status = 404, description = "Unknown schedule"), (status = 409, description = "The hash is taken"), (status = 422, description = "Bad cron or deadline; the field is named")))]
pub async fn patch(State(state): State<ApiState>, Id(id): Id, ApiJson(body): ApiJson<PatchBody>) -> Result<Json<Schedule>, Response> {
    if body.hash.is_none() && body.data.is_none() && body.enabled.is_none() && body.schedule.is_none() && body.deadline_at.is_none() {
        return Err(bad_request(ServiceError::invalid("Bad request error occurred: no data to patch").with_field("body")));
    }
    let deadline_at = match &body.deadline_at {
        Some(Some(t)) => Some(Some(crate::clock::parse_time(t).ok_or_else(|| invalid("deadline_at", "deadline_at must be an ISO 8601 time").into_response())?)),
        Some(None) => Some(None),
        None => None,
    };
    let patch = SchedulePatch { hash: body.hash, data: body.data.map(Value::Object), enabled: body.enabled, schedule: body.schedule, deadline_at };
    let row = state.scheduler.store().patch_schedule(id, &patch, state.scheduler.clock().now()).await.map_err(|e| ApiError(e).into_response())?;
    Ok(Json(row.schedule))
}

/// `DELETE /schedules/{schedule_id}`
#[utoipa::path(delete, path = "/schedules/{schedule_id}", params(("schedule_id" = String, Path)), responses((status = 204, description = "Deleted (also when it did not exist); its tasks stay, without a schedule id")))]
pub async fn delete(State(state): State<ApiState>, Id(id): Id) -> Result<StatusCode, ApiError> {
    state.scheduler.store().delete_schedule(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
