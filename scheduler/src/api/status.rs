//! `/` (mula answers `null`), `/health` (open; one result per dependency:
//! the database pinged, the KATalogus asked, the broker connection when the
//! consumer runs; 503 while one of them is down), `/metrics` (Prometheus text: tasks per queue
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
use crate::consumer;

/// `GET /`
#[utoipa::path(get, path = "/", responses((status = 200, description = "null, as mula answers")))]
pub async fn root() -> Json<Value> {
    Json(Value::Null)
}

/// `GET /health`
#[utoipa::path(get, path = "/health", responses((status = 200, description = "ServiceHealth: the service and every dependency (database, KATalogus, broker) answer"), (status = 503, description = "A dependency is down")))]
pub async fn health(State(state): State<ApiState>) -> Response {
    let check = |service: &str, healthy: bool, additional: Value| json!({"service": service, "healthy": healthy, "version": null, "additional": additional, "results": []});
    let database = state.scheduler.store().ping().await;
    let mut results = vec![check("database", database, Value::Null)];
    let katalogus = tokio::time::timeout(std::time::Duration::from_secs(3), state.scheduler.katalogus().health()).await;
    let katalogus_error = match katalogus {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer within 3 s".to_string()),
    };
    results.push(check("katalogus", katalogus_error.is_none(), katalogus_error.map_or(Value::Null, Value::from)));
    match state.scheduler.metrics().broker.load(Ordering::Relaxed) {
        consumer::BROKER_CONNECTED => results.push(check("broker", true, Value::Null)),
        consumer::BROKER_LOST => results.push(check("broker", false, json!("not connected: raw_file_received events wait in the queue"))),
        _ => {}
    }
    let healthy = results.iter().all(|r| r["healthy"] == true);
    let body = json!({"service": "scheduler", "healthy": healthy, "version": env!("CARGO_PKG_VERSION"), "additional": null, "results": results, "externals": {}});
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
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
