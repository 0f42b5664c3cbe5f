//! `/` (mula answers `null`), `/health` (open; the database pinged, 503
//! while it does not answer), `/metrics` (Prometheus text: tasks per queue
//! and status, and this process's pops, lease expiries and created tasks)
//! and `/openapi.json`.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kat_core::services::scheduler::TaskType;
use kat_core::task::TaskStatus;
use kat_server::ApiError;
use serde_json::{json, Value};

use super::ApiState;

/// `GET /`
#[utoipa::path(get, path = "/", responses((status = 200, description = "null, as mula answers")))]
pub async fn root() -> Json<Value> {
    Json(Value::Null)
}

/// `GET /health`
#[utoipa::path(get, path = "/health", responses((status = 200, description = "ServiceHealth: the service and its database answer"), (status = 503, description = "The database does not answer")))]
pub async fn health(State(state): State<ApiState>) -> Response {
    let database = state.scheduler.store().ping().await;
    let check = json!({"service": "database", "healthy": database, "version": null, "additional": null, "results": []});
    let body = json!({"service": "scheduler", "healthy": database, "version": env!("CARGO_PKG_VERSION"), "additional": null, "results": [check], "externals": {}});
    let status = if database { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// `GET /metrics`
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text: scheduler_tasks{queue,status}, scheduler_pops_total, scheduler_lease_expiries_total, scheduler_tasks_created_total"), (status = 401, description = "No valid token")))]
pub async fn metrics(State(state): State<ApiState>) -> Result<String, ApiError> {
    let depth = state.scheduler.store().depth().await?;
    let mut out = String::from("# HELP scheduler_tasks Tasks per queue and status.\n# TYPE scheduler_tasks gauge\n");
    for queue in TaskType::ALL {
        for status in TaskStatus::ALL {
            let n: i64 = depth.iter().filter(|(q, s, _)| q == queue.as_str() && *s == status).map(|(_, _, n)| n).sum();
            let _ = writeln!(out, "scheduler_tasks{{queue=\"{}\",status=\"{}\"}} {n}", queue.as_str(), status.as_str());
        }
    }
    let m = state.scheduler.metrics();
    for (name, help, value) in [
        ("scheduler_pops_total", "Tasks handed to workers by this process.", &m.pops),
        ("scheduler_lease_expiries_total", "Leases this process expired.", &m.lease_expiries),
        ("scheduler_tasks_created_total", "Tasks this process created.", &m.created),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
    }
    Ok(out)
}

/// `GET /openapi.json`
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<super::ApiDoc as utoipa::OpenApi>::openapi())
}
