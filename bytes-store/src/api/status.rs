//! `/health`, `/metrics` and `/` (a redirect to `/health`).
//!
//! `/health` answers OpenKAT's `ServiceHealth` shape (`service`, `healthy`,
//! `version`, `additional`, `results`) with one result per dependency: the
//! metadata database (pinged, at most a few seconds), the contents store
//! (a `HEAD`, local directory or S3) and, when the relay runs, the broker
//! connection. It is 503 while one of them is down (with the broker away,
//! raw files are still saved and their events wait in the outbox).
//!
//! `/metrics` is Prometheus text with OpenKAT's two gauges first, with
//! their names, HELP texts and float values exactly as OpenKAT's
//! `prometheus_client` prints them (`bytes_database_organizations_total`,
//! `bytes_database_raw_files_total{organization_id=".."}`), then ours
//! (`bytes_raw_files`, `bytes_outbox_pending`).

use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use kat_server::ApiError;
use serde_json::{json, Value};

use super::schemas as doc;
use super::BytesState;
use crate::hashing::python_float_repr;
use crate::relay::RelayState;

fn check(service: &str, healthy: bool, additional: Value) -> Value {
    json!({"service": service, "healthy": healthy, "version": null, "additional": additional, "results": []})
}

/// `GET /health`
#[utoipa::path(
    get,
    path = "/health",
    responses((status = 200, description = "The service and every dependency (database, contents store, broker) answer", body = doc::ServiceHealth), (status = 503, description = "A dependency is down", body = doc::ServiceHealth))
)]
pub async fn health(State(state): State<BytesState>) -> Response {
    let database = state.bytes.meta_db().ping().await;
    let mut results = vec![check("database", database, Value::Null)];
    let store = state.bytes.store_answers().await;
    results.push(check("object_store", store.is_ok(), store.err().map_or(Value::Null, Value::from)));
    match state.bytes.relay_state() {
        RelayState::NotRunning => {}
        RelayState::Connected => results.push(check("broker", true, Value::Null)),
        RelayState::Disconnected => results.push(check("broker", false, json!("not connected: raw_file_received events wait in the outbox"))),
    }
    let healthy = results.iter().all(|r| r["healthy"] == true);
    let body = json!({"service": "bytes", "healthy": healthy, "version": env!("CARGO_PKG_VERSION"), "additional": null, "results": results});
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// `GET /`: a redirect to `/health`, as OpenKAT's.
#[utoipa::path(get, path = "/", responses((status = 307, description = "To /health", headers(("Location" = String, description = "/health")))))]
pub async fn root() -> Redirect {
    Redirect::temporary("/health")
}

/// A sample value as Python's `prometheus_client` prints it (`floatToGoString`).
fn go_float(value: i64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "prometheus_client prints counts as floats too")]
    let d = value as f64;
    let text = python_float_repr(d);
    let dot = text.find('.').unwrap_or(text.len());
    if d > 0.0 && dot > 6 && !text.contains('e') {
        // Go switches to exponents sooner than Python: 1234567.0 is 1.234567e+06.
        let digits = format!("{}{}", &text[1..dot], &text[dot + 1..]);
        let mantissa = format!("{}.{}", &text[..1], digits).trim_end_matches(['0', '.']).to_string();
        return format!("{mantissa}e+0{}", dot - 1);
    }
    text
}

/// A label value with Prometheus's escapes.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`
#[utoipa::path(
    get,
    path = "/metrics",
    responses(
        (status = 200, description = "Prometheus text: bytes_database_organizations_total, bytes_database_raw_files_total{organization_id}, bytes_raw_files, bytes_outbox_pending", content_type = "text/plain", body = String),
        (status = 503, description = "The database does not answer", body = doc::Error),
    )
)]
pub async fn metrics(State(state): State<BytesState>) -> Result<String, ApiError> {
    let db = state.bytes.meta_db();
    let per_organization = db.raw_files_per_organization().await?;
    let (raw_files, pending) = db.counts().await?;
    let organizations = i64::try_from(per_organization.len()).unwrap_or(i64::MAX);
    let mut out = String::new();
    let _ = writeln!(out, "# HELP bytes_database_organizations_total Total amount of organizations in the bytes database.");
    let _ = writeln!(out, "# TYPE bytes_database_organizations_total gauge");
    let _ = writeln!(out, "bytes_database_organizations_total {}", go_float(organizations));
    let _ = writeln!(out, "# HELP bytes_database_raw_files_total Total amount of raw files in the bytes database.");
    let _ = writeln!(out, "# TYPE bytes_database_raw_files_total gauge");
    for (organization, count) in &per_organization {
        let _ = writeln!(out, "bytes_database_raw_files_total{{organization_id=\"{}\"}} {}", label(organization), go_float(*count));
    }
    let _ = writeln!(out, "# HELP bytes_raw_files Raw files stored.\n# TYPE bytes_raw_files gauge\nbytes_raw_files {raw_files}");
    let _ = writeln!(out, "# HELP bytes_outbox_pending raw_file_received events not yet delivered.\n# TYPE bytes_outbox_pending gauge\nbytes_outbox_pending {pending}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_prometheus_client_prints_them() {
        for (value, python) in [(0, "0.0"), (2, "2.0"), (999_999, "999999.0"), (1_000_000, "1e+06"), (1_234_567, "1.234567e+06"), (12_345_678_901, "1.2345678901e+010")] {
            assert_eq!(go_float(value), python, "{value}");
        }
        assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
    }
}
