//! `/health` for the worker services, which otherwise serve no HTTP: the
//! boefje runner (`BOEFJES_HEALTH_BIND`) and the normalizer runner
//! (`NORMALIZERS_HEALTH_BIND`) answer `GET /health` on that address when it
//! is set, in the REST services' shape (`service`, `healthy`, `version`,
//! `results`, one result per dependency): the scheduler, Bytes and the
//! KATalogus (their own `/health` answering 200), and for the normalizer
//! runner the graph (a read). 503 while one of them is down, so a readiness
//! probe takes a runner out before it fails tasks.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};

/// How long one dependency may take to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// A check of one dependency: `Ok` when it answers, else why not.
pub type Check = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// A check that `GET base/health` answers 200.
pub fn service_check(base: &str) -> Check {
    let url = format!("{}/health", base.trim_end_matches('/'));
    let http = reqwest::Client::new();
    Arc::new(move || {
        let (url, http) = (url.clone(), http.clone());
        Box::pin(async move {
            match http.get(&url).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("{url} answers {}", r.status())),
                Err(e) => Err(format!("{url} does not answer: {e}")),
            }
        })
    })
}

/// A check that the graph answers a read.
pub fn graph_check(graph: Arc<kat_graph::Graph>) -> Check {
    Arc::new(move || {
        let graph = graph.clone();
        Box::pin(async move { graph.query("RETURN 1 AS ok").await.map(drop).map_err(|e| format!("the graph does not answer: {e}")) })
    })
}

/// The address `variable` names, if set (a bad one is a configuration error naming it).
pub fn bind_from_env(variable: &str) -> Result<Option<SocketAddr>, kat_core::config::ConfigError> {
    match std::env::var(variable).ok().filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| kat_core::config::ConfigError(format!("{variable}={v:?} is not an address such as 0.0.0.0:8007"))),
    }
}

/// Serve `GET /health` for `service` with `checks` (named) on `bind`, in the background.
pub async fn spawn(service: &'static str, bind: SocketAddr, checks: Vec<(&'static str, Check)>) -> anyhow::Result<()> {
    let checks = Arc::new(checks);
    let app = axum::Router::new().route("/health", get(move || health(service, checks.clone())));
    let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("the {service}'s /health cannot listen on {bind}"))?;
    eprintln!("{service}: /health on http://{bind}");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(())
}

async fn health(service: &'static str, checks: Arc<Vec<(&'static str, Check)>>) -> Response {
    let outcomes = futures::future::join_all(checks.iter().map(|(_, check)| tokio::time::timeout(CHECK_TIMEOUT, check()))).await;
    let results: Vec<Value> = checks
        .iter()
        .zip(outcomes)
        .map(|((name, _), outcome)| {
            let error = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
            };
            json!({"service": name, "healthy": error.is_none(), "version": null, "additional": error, "results": []})
        })
        .collect();
    let healthy = results.iter().all(|r| r["healthy"] == true);
    let body = json!({"service": service, "healthy": healthy, "version": env!("CARGO_PKG_VERSION"), "additional": null, "results": results});
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}
