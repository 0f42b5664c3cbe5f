//! `kat bench scheduler`: the scheduler's queues on real code paths.
//!
//! For each backend (a temporary SQLite file; PostgreSQL when `--db-uri`
//! names a server, with a fresh database per run), each transport (the
//! in-process `LocalScheduler`, and `SchedulerClient` over mula's REST API
//! on 127.0.0.1) and 1 and 8 workers, it pushes `--tasks` boefje tasks
//! (distinct objects, so none is deduplicated), then lets the workers drain
//! the queue the way runners do: pop one, patch `running`, patch
//! `completed`. It prints push/s, pop+complete/s and the pop latency
//! percentiles measured while the queue went from full to empty.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use kat_core::services::scheduler::{NewTask, Scheduler, TaskPatch, TaskType};
use kat_core::task::TaskStatus;
use kat_scheduler::{LocalScheduler, SchedulerClient, Settings, SystemClock};

use super::report::{millis, Figure, Progress};
use super::{BenchArgs, Percentiles};

const STAGE: &str = "scheduler";
use crate::embedded::builtin_repository;

/// One measured configuration.
struct Figures {
    push_per_s: f64,
    done_per_s: f64,
    pop_latency: Percentiles,
}

/// Run every configuration.
pub fn run(args: &BenchArgs, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let mut backends = vec!["sqlite"];
    if args.db_uri.as_deref().is_some_and(|u| u.starts_with("postgres")) {
        backends.push("postgres");
    }
    let total = backends.len() * 4;
    let mut figures = Vec::new();
    for (b, backend) in backends.into_iter().enumerate() {
        for (h, http) in [false, true].into_iter().enumerate() {
            for (w, workers) in [1, 8].into_iter().enumerate() {
                let label = format!("{backend}, {}, {workers} worker{}", if http { "HTTP" } else { "in process" }, if workers == 1 { "" } else { "s" });
                progress.step(STAGE, &label, b * 4 + h * 2 + w, total);
                let measured = runtime.block_on(measure(args, backend, http, workers)).with_context(|| label.clone())?;
                figures.push(Figure::new(STAGE, format!("push/s, {label}"), measured.push_per_s, "tasks/s"));
                let mut done = Figure::new(STAGE, format!("pop+complete/s, {label}"), measured.done_per_s, "tasks/s");
                if backend == "sqlite" && workers == 8 {
                    done = done.target(if http { 3_000.0 } else { 10_000.0 });
                }
                figures.push(done);
                figures.push(Figure::new(STAGE, format!("pop latency p99, {label}"), millis(measured.pop_latency.at(0.99)), "ms").lower_is_better());
            }
        }
    }
    Ok(figures)
}

/// A database for one run: a fresh SQLite file, or a fresh database on the PostgreSQL server of `--db-uri`.
async fn database(args: &BenchArgs, backend: &str, dir: &std::path::Path) -> anyhow::Result<String> {
    if backend == "sqlite" {
        return Ok(format!("sqlite://{}?mode=rwc", dir.join("scheduler.sqlite").display()));
    }
    let admin_url = args.db_uri.clone().context("--db-uri")?;
    create_database(&admin_url).await
}

/// Make a fresh database on the PostgreSQL server of `admin_url`; returns its URL.
async fn create_database(admin_url: &str) -> anyhow::Result<String> {
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(admin_url).await.with_context(|| "connecting to the --db-uri server")?;
    let name = format!("kat_bench_scheduler_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.context("creating a benchmark database")?;
    admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

async fn measure(args: &BenchArgs, backend: &str, http: bool, workers: usize) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let katalogus_url = format!("sqlite://{}?mode=rwc", dir.path().join("katalogus.sqlite").display());
    let katalogus = Arc::new(kat_katalogus::LocalKatalogus::connect(&katalogus_url, builtin_repository(), Arc::new(kat_core::crypto::Middleware::Identity)).await?);
    let url = database(args, backend, dir.path()).await?;
    let local = LocalScheduler::open(&url, Settings::default(), Arc::new(SystemClock), katalogus).await?;
    let scheduler: Arc<dyn Scheduler> = if http {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let app = kat_scheduler::api::router(kat_scheduler::api::ApiState { scheduler: local.clone(), token: None });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Arc::new(SchedulerClient::new(&format!("http://{address}"), None))
    } else {
        Arc::new(local)
    };
    let per_worker = args.tasks.div_ceil(workers);
    let started = Instant::now();
    let mut pushers = Vec::new();
    for w in 0..workers {
        let scheduler = scheduler.clone();
        let range = (w * per_worker)..((w + 1) * per_worker).min(args.tasks);
        pushers.push(tokio::spawn(async move {
            for i in range {
                let data = serde_json::json!({"id": uuid::Uuid::new_v4(), "boefje": {"id": "dns-records"}, "input_ooi": format!("Hostname|internet|h{i}.bench.test"), "organization": "bench"});
                scheduler.push(NewTask { task_type: TaskType::Boefje, organisation: "bench".into(), priority: None, data }).await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for pusher in pushers {
        pusher.await.context("a pusher panicked")??;
    }
    let push_per_s = args.tasks as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut drainers = Vec::new();
    for _ in 0..workers {
        let scheduler = scheduler.clone();
        drainers.push(tokio::spawn(async move {
            let (mut done, mut latencies) = (0usize, Vec::new());
            loop {
                let asked = Instant::now();
                let popped = scheduler.pop(TaskType::Boefje, &[], 1).await?;
                latencies.push(asked.elapsed());
                let Some(task) = popped.into_iter().next() else { break };
                scheduler.patch(task.id, TaskPatch::status(TaskStatus::Running)).await?;
                scheduler.patch(task.id, TaskPatch::status(TaskStatus::Completed)).await?;
                done += 1;
            }
            Ok::<_, anyhow::Error>((done, latencies))
        }));
    }
    let (mut done, mut latencies) = (0, Vec::new());
    for drainer in drainers {
        let (n, l) = drainer.await.context("a worker panicked")??;
        done += n;
        latencies.extend(l);
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(done == args.tasks, "{done} of {} tasks completed: the queue lost or repeated work", args.tasks);
    Ok(Figures { push_per_s, done_per_s: done as f64 / elapsed.as_secs_f64().max(f64::EPSILON), pop_latency: Percentiles::new(latencies) })
}
