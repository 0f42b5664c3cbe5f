//! `kat bench katalogus`: measure the KATalogus settings `GET` throughput
//! through real HTTP on 127.0.0.1, with NaCl-encrypted settings, N
//! concurrent keep-alive clients, for a fixed time. Prints requests per
//! second and latency percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use kat_core::crypto::{generate_key_pair, Middleware};
use kat_katalogus::api::{router, AppState};
use kat_katalogus::LocalKatalogus;

use super::report::{millis, Figure, Progress};
use super::{BenchArgs, Percentiles};

const STAGE: &str = "katalogus";
use crate::embedded::builtin_repository;

/// Settings `GET` throughput over HTTP with `clients` keep-alive clients for `seconds`.
pub fn run(args: &BenchArgs, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    progress.step(STAGE, &format!("settings GET, {} clients, {} s", args.clients, args.seconds), 0, 1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let (requests, latencies) = runtime.block_on(settings_get(args))?;
    let latencies = Percentiles::new(latencies);
    let clients = args.clients;
    Ok(vec![
        Figure::new(STAGE, format!("settings GET/s over HTTP, {clients} clients, encrypted settings"), requests as f64 / args.seconds as f64, "requests/s"),
        Figure::new(STAGE, "settings GET latency p50", millis(latencies.at(0.5)), "ms").lower_is_better(),
        Figure::new(STAGE, "settings GET latency p99", millis(latencies.at(0.99)), "ms").lower_is_better(),
    ])
}

async fn settings_get(args: &BenchArgs) -> anyhow::Result<(u64, Vec<Duration>)> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let url = args.db_uri.clone().unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("bench.sqlite").display()));
    let (private, public) = generate_key_pair();
    let katalogus = LocalKatalogus::connect(&url, builtin_repository(), Arc::new(Middleware::nacl_box(&private, &public)?)).await?;
    katalogus.ensure_organisation("bench", "Bench").await?;
    let settings = serde_json::json!({"PORTS": "22,80,443,8000-8100", "TIMEOUT_MS": 1500, "CONCURRENCY": 64});
    katalogus.put_settings("bench", "port-scan", settings.as_object().context("settings object")?).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router(AppState::new(Arc::new(katalogus), None))).await });
    let url = format!("http://{address}/v1/organisations/bench/port-scan/settings");
    let measure_from = Instant::now() + Duration::from_secs(1);
    let until = measure_from + Duration::from_secs(args.seconds);
    let mut workers = Vec::new();
    for _ in 0..args.clients {
        let url = url.clone();
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut count, mut latencies) = (0u64, Vec::new());
            loop {
                let start = Instant::now();
                if start >= until {
                    break;
                }
                let response = client.get(&url).send().await?;
                anyhow::ensure!(response.status().is_success(), "settings GET failed: {}", response.status());
                response.bytes().await?;
                if start >= measure_from {
                    count += 1;
                    latencies.push(start.elapsed());
                }
            }
            Ok::<_, anyhow::Error>((count, latencies))
        }));
    }
    let (mut total, mut all) = (0, Vec::new());
    for worker in workers {
        let (count, latencies) = worker.await.context("a client task panicked")??;
        total += count;
        all.extend(latencies);
    }
    Ok((total, all))
}
