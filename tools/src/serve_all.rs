//! `kat serve` without a service flag: every service of a deployment in one
//! process on the embedded defaults. The data directory's stores
//! (`crate::embedded::Embedded`, SQLite files, the raw-file directory and the
//! embedded graph) are served as the REST APIs on their default ports
//! (Bytes `BYTES_BIND` 127.0.0.1:8002, KATalogus `KATALOGUS_BIND` :8003,
//! scheduler `SCHEDULER_BIND` :8004), and the same pipeline `kat scan` runs
//! (`crate::pipeline::Pipeline`: the boefje and normalizer worker pools and
//! the outbox relay) runs until SIGTERM or SIGINT. OpenKAT's clients and our
//! own runners elsewhere can use those APIs meanwhile.
//!
//! Events go from Bytes' outbox to the scheduler in process, so `QUEUE_URI`,
//! `KATALOGUS_API` and the `*_DB_URI` variables are not used here: they are
//! for the services run one per process. Bytes' login is `BYTES_USERNAME` /
//! `BYTES_PASSWORD`; unset, the user is `bytes` with a random password kept
//! in `DIR/bytes.password` (mode 0600, made on first use).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::data_dir::host_env;
use crate::embedded::Embedded;
use crate::pipeline::Pipeline;

/// The file that keeps Bytes' generated password.
pub const PASSWORD_FILE: &str = "bytes.password";

/// Run every service in this process on `data_dir` until SIGTERM or SIGINT.
pub fn run(data_dir: &Path) -> anyhow::Result<()> {
    let lookup = |name: &str| std::env::var(name).ok();
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let scheduler_config = kat_scheduler::config::Config::from_env(lookup, data_dir)?;
    let katalogus_config = kat_katalogus::config::Config::from_env(lookup)?;
    let password = bytes_password(data_dir)?;
    let bytes_config = kat_bytes::config::Config::from_env(|name| match name {
        "BYTES_USERNAME" => lookup(name).filter(|v| !v.is_empty()).or_else(|| Some("bytes".into())),
        "BYTES_PASSWORD" => lookup(name).filter(|v| !v.is_empty()).or_else(|| Some(password.clone())),
        _ => lookup(name),
    })?;
    let pool_size = kat_core::config::number(&lookup, kat_boefje_runner::pool::ENV_POOL_SIZE, 8, 1, 1024)?;
    let pool_size = usize::try_from(pool_size).unwrap_or(8);
    tokio::runtime::Runtime::new().context("starting the async runtime")?.block_on(async {
        let stores = Embedded::open_with(data_dir, scheduler_config.settings).await?;
        let graph = Arc::new(stores.graph().await?);
        for warning in katalogus_config.warnings().into_iter().map(String::from).chain(scheduler_config.warnings()) {
            eprintln!("kat serve: warning: {warning}");
        }
        let katalogus = kat_katalogus::api::router(kat_katalogus::api::AppState::new(stores.katalogus.clone(), katalogus_config.api_token.clone()));
        let auth = kat_bytes::api::auth::Auth::new(&bytes_config.username, &bytes_config.password, bytes_config.token_lifetime);
        let bytes = kat_bytes::api::router(kat_bytes::api::BytesState { bytes: stores.bytes.clone(), auth: Arc::new(auth), max_raw_size: bytes_config.max_raw_size });
        let listeners = [
            ("Bytes", "BYTES_BIND", bytes_config.bind),
            ("KATalogus", "KATALOGUS_BIND", katalogus_config.bind),
            ("scheduler", "SCHEDULER_BIND", scheduler_config.bind),
        ];
        let mut bound = Vec::new();
        for (name, variable, address) in listeners {
            let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("the {name} API cannot listen on {address}: is another service there? Set {variable} to another address"))?;
            eprintln!("kat serve: {name} API on http://{address}");
            bound.push(listener);
        }
        let scheduler_listener = bound.pop().context("three listeners")?;
        let katalogus_listener = bound.pop().context("three listeners")?;
        let bytes_listener = bound.pop().context("three listeners")?;
        tokio::spawn(async move { axum::serve(bytes_listener, bytes).await });
        tokio::spawn(async move { axum::serve(katalogus_listener, katalogus).await });
        // The scheduler service over the data directory's scheduler: its API and loops (leases, schedules, enablement).
        let scheduler_config = kat_scheduler::config::Config { queue_uri: None, katalogus_api: None, ..scheduler_config };
        let scheduler = kat_scheduler::serve::Service::with_scheduler(scheduler_config, (*stores.scheduler).clone());
        tokio::spawn(scheduler.serve(scheduler_listener));
        eprintln!("kat serve: {pool_size} boefjes and {pool_size} normalizers at once; data in {}", data_dir.display());
        let pipeline = Pipeline::new(&stores, graph, host_env(), pool_size);
        let summary = pipeline.run_until_stopped(crate::boefje_runner_service::stop_signal(), &mut |p| tracing::info!(task = %p.label, open = p.open, "task done")).await?;
        eprintln!("kat serve: stopped after {} boefje and {} normalizer task(s) ({} failed)", summary.boefje_tasks, summary.normalizer_tasks, summary.failed.len());
        Ok(())
    })
}

/// `BYTES_PASSWORD`'s stand-in: the password in `DIR/bytes.password`, made (random, mode 0600) when missing.
fn bytes_password(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(PASSWORD_FILE);
    if !path.exists() {
        crate::embedded::create_private_file(&path, &uuid::Uuid::new_v4().simple().to_string())?;
    }
    let password = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    anyhow::ensure!(!password.trim().is_empty(), "{} is empty: delete it to make a new password", path.display());
    Ok(password.trim().to_string())
}
