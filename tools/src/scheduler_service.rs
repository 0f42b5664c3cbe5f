//! The scheduler service as the `scheduler` binary and `kat serve
//! --scheduler` run it: `SCHEDULER_*` configuration (a bad value exits 64),
//! the KATalogus over HTTP when `KATALOGUS_API` is set (with
//! `KATALOGUS_API_TOKEN`), else the data directory's own KATalogus
//! (`KAT_DATA_DIR`, default `./kat-data`, with the built-in plugins); the
//! database is opened (waiting for PostgreSQL) before the port is bound.
//! When it uses the data directory (its KATalogus or a SQLite database), it
//! holds the directory's `kat.lock` as every `kat` command does.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use kat_core::services::katalogus::Katalogus;
use kat_katalogus::{KatalogusClient, LocalKatalogus};
use kat_scheduler::config::Config;

use crate::embedded::{builtin_repository, ENV_DATA_DIR};

/// The data directory of the process environment.
fn data_dir() -> PathBuf {
    std::env::var_os(ENV_DATA_DIR).map_or_else(|| PathBuf::from("./kat-data"), PathBuf::from)
}

/// Run the scheduler service from the process environment until the process ends.
pub fn run() -> anyhow::Result<()> {
    let data_dir = data_dir();
    let config = Config::from_env(|name| std::env::var(name).ok(), &data_dir)?;
    // The data directory's files (its KATalogus, a SQLite scheduler database) belong to one process at a time.
    let _lock = match config.katalogus_api.is_none() || config.db_uri.contains(&*data_dir.to_string_lossy()) {
        true => {
            std::fs::create_dir_all(&data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
            Some(crate::embedded::DataDirLock::take(&data_dir)?)
        }
        false => None,
    };
    tokio::runtime::Runtime::new().context("starting the async runtime")?.block_on(async {
        let katalogus: Arc<dyn Katalogus> = match &config.katalogus_api {
            Some(url) => Arc::new(KatalogusClient::new(url, config.katalogus_token.clone())),
            None => {
                std::fs::create_dir_all(&data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
                Arc::new(LocalKatalogus::open(&data_dir.join("katalogus.sqlite"), builtin_repository()).await?)
            }
        };
        if config.db_uri.starts_with("sqlite:") {
            std::fs::create_dir_all(&data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
        }
        let bind = config.bind;
        let service = kat_scheduler::serve::start(config, katalogus, Arc::new(kat_scheduler::SystemClock)).await?;
        let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("listening on {bind}"))?;
        service.serve(listener).await?;
        Ok(())
    })
}
