//! The `--data-dir` option every stateful subcommand takes, and the
//! single-threaded runtime they run on (the embedded graph is not shared
//! between threads; boefjes still run concurrently on it).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::embedded::ENV_DATA_DIR;

/// Where kat keeps its data.
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// The data directory: metadata, raw files and the graph (`graph.kgl`).
    #[arg(long, env = ENV_DATA_DIR, default_value = "./kat-data")]
    pub data_dir: PathBuf,
}

/// Run `future` to completion on a fresh single-threaded runtime.
pub fn block_on<T>(future: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?.block_on(future)
}

/// The process environment, for `BOEFJE_` defaults (the runner keeps only those).
pub fn host_env() -> std::collections::BTreeMap<String, String> {
    std::env::vars().collect()
}
