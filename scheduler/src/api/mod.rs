//! mula's REST API (OpenKAT's scheduler), so OpenKAT's `SchedulerAPIClient`
//! and workers work unchanged, plus what this scheduler adds: heartbeats,
//! task events, `explain`, and the two event inputs (`POST /objects`,
//! `POST /raw_file_received`) that `SchedulerClient` uses.
//!
//! With `SCHEDULER_API_TOKEN` set every route but `/health` needs
//! `Authorization: Bearer <token>` (unset: open, as mula; the service warns
//! at start). Bodies are read whatever their `Content-Type`
//! (`kat_server::ApiJson`); every error is JSON `{"detail", "field"}`;
//! client mistakes are 4xx naming the field, never 5xx.
//!
//! - [`schedulers`]: `/schedulers`, push and pop; [`tasks`]: `/tasks`;
//! - [`schedules`]: `/schedules`; [`inputs`]: events, objects and `/explain`;
//! - [`status`]: `/`, `/health`, `/metrics`, `/openapi.json`; [`page`]: paginated answers.

pub mod inputs;
pub mod page;
pub mod schedulers;
pub mod schedules;
pub mod status;
pub mod tasks;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kat_core::services::ServiceError;
use kat_server::auth::{bearer, constant_time_eq};
use kat_server::ApiError;

use crate::local::LocalScheduler;

/// The largest request body accepted (a `raw_file_received` event or a batch of objects).
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct ApiState {
    /// The scheduler.
    pub scheduler: LocalScheduler,
    /// `SCHEDULER_API_TOKEN`, when set.
    pub token: Option<Arc<String>>,
}

/// The whole API.
pub fn router(state: ApiState) -> Router {
    let guarded = Router::new()
        .route("/", get(status::root))
        .route("/schedulers", get(schedulers::list))
        .route("/schedulers/{scheduler_id}", get(schedulers::get))
        .route("/schedulers/{scheduler_id}/push", post(schedulers::push))
        .route("/schedulers/{scheduler_id}/pop", post(schedulers::pop))
        .route("/tasks", get(tasks::list).post(tasks::search))
        .route("/tasks/stats", get(tasks::stats))
        .route("/tasks/{task_id}", get(tasks::get).patch(tasks::patch))
        .route("/tasks/{task_id}/heartbeat", post(tasks::heartbeat))
        .route("/tasks/{task_id}/events", get(tasks::events))
        .route("/schedules", get(schedules::list).post(schedules::create))
        .route("/schedules/search", post(schedules::search))
        .route("/schedules/{schedule_id}", get(schedules::get).patch(schedules::patch).delete(schedules::delete))
        .route("/objects", post(inputs::objects))
        .route("/raw_file_received", post(inputs::raw_file_received))
        .route("/explain", get(inputs::explain))
        .route("/metrics", get(status::metrics))
        .route("/openapi.json", get(status::openapi))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let router = guarded
        .route("/health", get(status::health))
        .fallback(|| async { ApiError(ServiceError::not_found("no such endpoint").with_field("path")) })
        .layer(middleware::from_fn(kat_server::error::json_errors))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    kat_server::app(router)
}

async fn require_token(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let ok = bearer(request.headers()).is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()));
        if !ok {
            return ApiError::unauthorized("a valid bearer token is required (Authorization: Bearer <SCHEDULER_API_TOKEN>)").into_response();
        }
    }
    next.run(request).await
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Scheduler", description = "Task queues with leases, schedules and subscriptions (OpenKAT mula-compatible)"),
    paths(
        status::root, status::health, status::metrics,
        schedulers::list, schedulers::get, schedulers::push, schedulers::pop,
        tasks::list, tasks::search, tasks::stats, tasks::get, tasks::patch, tasks::heartbeat, tasks::events,
        schedules::list, schedules::create, schedules::search, schedules::get, schedules::patch, schedules::delete,
        inputs::objects, inputs::raw_file_received, inputs::explain,
    ),
    components(schemas(
        schedulers::PushBody, schedulers::SchedulerInfo, tasks::PatchBody, schedules::CreateBody, schedules::PatchBody,
        inputs::ObjectsBody, crate::schedules::Schedule, crate::events::TaskEvent, crate::explain::Explanation, crate::explain::Reason,
    ))
)]
pub struct ApiDoc;
