//! Embedded mode: the in-process services wired together on one data
//! directory (default `./kat-data`, or `KAT_DATA_DIR`):
//!
//! ```text
//! kat-data/
//!   bytes.sqlite      raw file metadata and the event outbox (kat-bytes)
//!   raw/              raw file contents (object_store, local filesystem)
//!   katalogus.sqlite  enablement and settings (kat-katalogus)
//!   scheduler.sqlite  tasks (kat-scheduler)
//!   graph.kgl         the object graph (kat-graph on kglite), opened on demand
//! ```
//!
//! The plugin registry (built-in boefjes and normalizers from `kat-plugins`)
//! is handed to the KATalogus and the runners here, so those crates never
//! depend on `kat-plugins`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use kat_boefje_runner::BoefjeRunner;
use kat_bytes::LocalBytes;
use kat_graph::Graph;
use kat_katalogus::{LocalKatalogus, PluginRepository};
use kat_normalizer_runner::NormalizerRunner;
use kat_scheduler::LocalScheduler;

/// The environment variable that selects the data directory.
pub const ENV_DATA_DIR: &str = "KAT_DATA_DIR";

/// The in-process services on one data directory.
pub struct Embedded {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Raw files and their metadata.
    pub bytes: Arc<LocalBytes>,
    /// Plugins, enablement and settings.
    pub katalogus: Arc<LocalKatalogus>,
    /// The task queues.
    pub scheduler: Arc<LocalScheduler>,
}

/// The built-in plugins as the KATalogus lists them.
pub fn builtin_repository() -> PluginRepository {
    let boefjes = kat_plugins::boefjes::all().iter().map(|b| (b.manifest(), b.schema())).collect();
    let normalizers = kat_plugins::normalizers::all().iter().map(|n| n.manifest()).collect();
    PluginRepository::new(boefjes, normalizers)
}

/// Raw-file encryption at rest from `BYTES_ENCRYPTION_MIDDLEWARE`, `BYTES_PRIVATE_KEY_B64` and `BYTES_PUBLIC_KEY_B64` (unset: none).
pub fn bytes_crypto() -> anyhow::Result<Arc<kat_core::crypto::Middleware>> {
    Ok(Arc::new(kat_core::crypto::Middleware::from_vars(|name| std::env::var(name).ok(), &kat_core::crypto::BYTES_ENV)?))
}

impl Embedded {
    /// Open (creating when missing) every store under `data_dir`.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Embedded> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
        Ok(Embedded {
            data_dir: data_dir.to_path_buf(),
            bytes: Arc::new(LocalBytes::open_with(data_dir, bytes_crypto()?).await?),
            katalogus: Arc::new(LocalKatalogus::open(&data_dir.join("katalogus.sqlite"), builtin_repository()).await?),
            scheduler: Arc::new(LocalScheduler::open(&data_dir.join("scheduler.sqlite")).await?),
        })
    }

    /// Open the object graph (it holds the file's writer lease until dropped).
    pub fn graph(&self) -> anyhow::Result<Graph> {
        Graph::open(&self.data_dir.join("graph.kgl")).with_context(|| "is another kat process using this data directory?")
    }

    /// A boefje runner with the built-in boefjes; `host_env` supplies `BOEFJE_` defaults.
    pub fn boefje_runner(&self, host_env: BTreeMap<String, String>) -> BoefjeRunner {
        BoefjeRunner::new(kat_plugins::boefjes::all(), self.bytes.clone(), self.katalogus.clone(), host_env)
    }

    /// A normalizer runner with the built-in normalizers.
    pub fn normalizer_runner(&self) -> NormalizerRunner {
        NormalizerRunner::new(kat_plugins::normalizers::all(), self.bytes.clone())
    }
}
