//! Embedded mode: the in-process services wired together on one data
//! directory (default `./kat-data`, or `KAT_DATA_DIR`):
//!
//! ```text
//! kat-data/
//!   bytes.sqlite      raw file metadata and the event outbox (kat-bytes)
//!   raw/              raw file contents (object_store, local filesystem)
//!   katalogus.sqlite  enablement and settings (kat-katalogus)
//!   scheduler.sqlite  tasks (kat-scheduler)
//!   graph.kgl         the object graph (kat-graph on kglite), opened on demand,
//!                     unless KAT_GRAPH_URI names another (embedded:<path>, bolt://...)
//!   katalogus.keys    the key pair that encrypts stored settings (mode 0600, made on first use)
//!   kat.lock          held (an OS file lock) by the one kat process using the directory
//! ```
//!
//! One process at a time: `Embedded::open` takes an exclusive lock on
//! `kat.lock` before it opens (and migrates) any store, so a second `kat`
//! on the same directory stops at once with "another kat process is using
//! DIR" instead of racing the first one's migrations.
//!
//! The plugin registry (built-in boefjes and normalizers from `kat-plugins`,
//! plus the plugin folders under `KATALOGUS_PLUGIN_DIR` when it is set) is
//! handed to the KATalogus and the runners here, so those crates never
//! depend on `kat-plugins`. A folder boefje with a `run` command runs as a
//! local executable, within the `BOEFJES_JOB_TIMEOUT`, `BOEFJES_MAX_OUTPUT`
//! and `BOEFJES_MEMORY_LIMIT` limits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use kat_boefje_runner::{ApiConfig, BoefjeRunner, Kubernetes, KubernetesConfig, LocalLimits, LocalPlugin};
use kat_core::services::bytes::Bytes;
use kat_core::services::katalogus::Katalogus;
use kat_bytes::LocalBytes;
use kat_graph::{Graph, GraphLocation};
use kat_katalogus::{LocalKatalogus, PluginRepository};
use kat_normalizer_runner::external::{ExternalLimits, ExternalNormalizer};
use kat_normalizer_runner::NormalizerRunner;
use kat_scheduler::LocalScheduler;

/// The environment variable that selects the data directory.
pub const ENV_DATA_DIR: &str = "KAT_DATA_DIR";

/// Where the object graph is, from `KAT_GRAPH_URI` (default `embedded:DATA_DIR/graph.kgl`), `NEO4J_USER` and
/// `NEO4J_PASSWORD`.
pub fn graph_location(data_dir: &Path) -> anyhow::Result<GraphLocation> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Ok(GraphLocation::parse(var("KAT_GRAPH_URI").as_deref(), &data_dir.join("graph.kgl"), var("NEO4J_USER"), var("NEO4J_PASSWORD"))?)
}

/// Open the object graph `KAT_GRAPH_URI` names (see [`graph_location`]).
pub async fn open_graph(data_dir: &Path) -> anyhow::Result<Graph> {
    let location = graph_location(data_dir)?;
    let hint = match &location {
        GraphLocation::Embedded(_) => "is another kat process using this data directory?",
        GraphLocation::Bolt { .. } => "is the Bolt server running, and are NEO4J_USER and NEO4J_PASSWORD right?",
    };
    Graph::connect(&location).await.with_context(|| format!("opening the graph {location}; {hint}"))
}

/// The in-process services on one data directory.
pub struct Embedded {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The exclusive lock on `kat.lock`, released when this is dropped.
    _lock: DataDirLock,
    /// Raw files and their metadata.
    pub bytes: Arc<LocalBytes>,
    /// Plugins, enablement and settings.
    pub katalogus: Arc<LocalKatalogus>,
    /// The task queues.
    pub scheduler: Arc<LocalScheduler>,
    /// How boefjes beyond the built-ins run here.
    pub runner_setup: RunnerSetup,
}

/// How a process runs boefjes beyond the built-ins: the plugin folders' local executables, the limits of their
/// runs (`BOEFJES_JOB_TIMEOUT`, `BOEFJES_MAX_OUTPUT`, `BOEFJES_MEMORY_LIMIT`), where `boefje-api` plugins
/// reach the runner (`BOEFJES_API`, `BOEFJES_API_BIND`), and with `BOEFJES_RUNTIME=kubernetes` the cluster
/// in which container plugins (`oci_image`) run as Jobs. `kat` and the `boefje-runner` service read it alike.
#[derive(Debug, Clone)]
pub struct RunnerSetup {
    /// The plugin folders' boefjes that run as local executables.
    pub local_plugins: Vec<LocalPlugin>,
    /// The limits of a local executable's run.
    pub limits: LocalLimits,
    /// Where `boefje-api` plugins (and container plugins' pods) reach the runner.
    pub boefje_api: ApiConfig,
    /// The cluster that runs container plugins, if `BOEFJES_RUNTIME=kubernetes`.
    pub kubernetes: Option<Kubernetes>,
    /// The plugin folders' normalizers with a `run` command.
    pub external_normalizers: Vec<ExternalNormalizer>,
    /// The limits of an external normalizer's run (`NORMALIZERS_JOB_TIMEOUT`, `NORMALIZERS_MAX_OUTPUT`).
    pub normalizer_limits: ExternalLimits,
}

impl RunnerSetup {
    /// The local executables of `repository` and the limits, boefje API and runtime from the process
    /// environment (a bad value is a configuration error naming the variable); with Kubernetes, connects to
    /// its API server (kubeconfig or the pod's service account).
    pub async fn from_env(repository: &PluginRepository) -> anyhow::Result<RunnerSetup> {
        let lookup = |name: &str| std::env::var(name).ok();
        let boefje_api = ApiConfig::from_vars(&lookup)?;
        let kubernetes = match KubernetesConfig::from_vars(&lookup)? {
            None => None,
            Some(_) if boefje_api.public_url.is_none() => {
                let why = "BOEFJES_API is not set: with BOEFJES_RUNTIME=kubernetes it must be the URL at which the Jobs' pods reach this runner (e.g. http://$(POD_IP):8006)";
                return Err(kat_core::config::ConfigError(why.into()).into());
            }
            Some(config) => Some(Kubernetes::connect(config).await.map_err(anyhow::Error::msg)?),
        };
        let normalizer_limits = ExternalLimits::from_vars(&lookup)?;
        let external_normalizers = repository
            .normalizers()
            .iter()
            .filter(|m| !m.run.is_empty())
            .filter_map(|m| repository.folder(&m.id).map(|folder| ExternalNormalizer { manifest: m.clone(), folder: folder.to_path_buf() }))
            .collect();
        Ok(RunnerSetup { local_plugins: local_plugins(repository), limits: LocalLimits::from_vars(&lookup)?, boefje_api, kubernetes, external_normalizers, normalizer_limits })
    }

    /// A runner of the built-in boefjes and these on `bytes` and `katalogus`; `host_env` supplies `BOEFJE_`
    /// defaults.
    pub fn runner(&self, bytes: Arc<dyn Bytes>, katalogus: Arc<dyn Katalogus>, host_env: BTreeMap<String, String>) -> BoefjeRunner {
        let runner = BoefjeRunner::new(kat_plugins::boefjes::all(), bytes, katalogus, host_env).with_local_plugins(self.local_plugins.clone(), self.limits).with_boefje_api(self.boefje_api.clone());
        match &self.kubernetes {
            Some(kubernetes) => runner.with_kubernetes(kubernetes.clone()),
            None => runner,
        }
    }

    /// The ids of every boefje a runner of this setup can run (container plugins only with Kubernetes).
    pub fn boefje_ids(&self) -> Vec<String> {
        let runnable = |p: &&LocalPlugin| !p.manifest.run.is_empty() || (self.kubernetes.is_some() && p.manifest.oci_image.is_some());
        kat_plugins::boefjes::all().iter().map(|b| b.manifest().id).chain(self.local_plugins.iter().filter(runnable).map(|p| p.manifest.id.clone())).collect()
    }
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

/// The key file of the embedded KATalogus's settings encryption.
pub const SETTINGS_KEY_FILE: &str = "katalogus.keys";

/// How the embedded KATalogus protects stored settings: OpenKAT's `BOEFJES_ENCRYPTION_MIDDLEWARE` variables when
/// set, else a NaCl key pair kept in `DIR/katalogus.keys` (mode 0600), made on first use. Returns the middleware
/// and whether the key file was just made.
pub fn settings_crypto(data_dir: &Path) -> anyhow::Result<(kat_core::crypto::Middleware, bool)> {
    use kat_core::crypto::{generate_key_pair, Middleware, ENV_MIDDLEWARE, ENV_PRIVATE_KEY, ENV_PUBLIC_KEY, LEGACY_NAMES};
    let from_env = std::iter::once(ENV_MIDDLEWARE).chain(LEGACY_NAMES.iter().filter(|(current, _)| *current == ENV_MIDDLEWARE).map(|(_, old)| *old)).any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
    if from_env {
        return Ok((Middleware::from_env(|name| std::env::var(name).ok())?, false));
    }
    let path = data_dir.join(SETTINGS_KEY_FILE);
    let made = !path.exists();
    if made {
        let (private, public) = generate_key_pair();
        create_private_file(&path, &format!("{ENV_PRIVATE_KEY}={private}\n{ENV_PUBLIC_KEY}={public}\n"))?;
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let value = |name: &str| text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix('='))).map(str::trim).map(String::from);
    let (Some(private), Some(public)) = (value(ENV_PRIVATE_KEY), value(ENV_PUBLIC_KEY)) else {
        anyhow::bail!("{} lacks {ENV_PRIVATE_KEY} or {ENV_PUBLIC_KEY}; restore it from a backup (stored settings cannot be read without it)", path.display());
    };
    Ok((Middleware::nacl_box(&private, &public).with_context(|| format!("the keys in {}", path.display()))?, made))
}

/// Create `path` (it must not exist yet) readable by its owner only (mode 0600), holding `contents`, on disk
/// before this returns: a file of secrets the data directory keeps.
pub fn create_private_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut file, contents.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    file.sync_all().with_context(|| format!("writing {}", path.display()))
}

/// The built-in plugins plus the plugin folders under `KATALOGUS_PLUGIN_DIR` (when set; a folder that cannot be
/// loaded is reported on standard error and skipped).
pub fn plugin_repository() -> PluginRepository {
    let mut repository = builtin_repository();
    if let Some(dir) = std::env::var_os(kat_katalogus::config::ENV_PLUGIN_DIR).filter(|d| !d.is_empty()) {
        for problem in repository.load_dir(Path::new(&dir)) {
            eprintln!("kat: skipped a plugin: {problem}");
        }
    }
    repository
}

/// The boefjes of `repository` loaded from a folder that run outside the process: a `run` command (a local
/// executable) or an `oci_image` (a container, with Kubernetes).
pub fn local_plugins(repository: &PluginRepository) -> Vec<LocalPlugin> {
    repository
        .boefjes()
        .iter()
        .filter(|(manifest, _)| !manifest.run.is_empty() || manifest.oci_image.is_some())
        .filter_map(|(manifest, schema)| repository.folder(&manifest.id).map(|folder| LocalPlugin { manifest: manifest.clone(), schema: schema.clone(), folder: folder.to_path_buf() }))
        .collect()
}

/// The embedded KATalogus on `DIR/katalogus.sqlite` with `repository`, settings encrypted (see
/// [`settings_crypto`]); settings a previous version stored as plain JSON are encrypted when the key pair is
/// first made.
async fn open_katalogus(data_dir: &Path, repository: PluginRepository) -> anyhow::Result<LocalKatalogus> {
    let (crypto, made) = settings_crypto(data_dir)?;
    let url = format!("sqlite://{}?mode=rwc", data_dir.join("katalogus.sqlite").display());
    let katalogus = LocalKatalogus::connect(&url, repository, Arc::new(crypto)).await?;
    if made {
        let n = katalogus.encrypt_plaintext_settings().await?;
        if n > 0 {
            eprintln!("kat: encrypted {n} stored plugin setting(s) with the new key pair in {}", data_dir.join(SETTINGS_KEY_FILE).display());
        }
    }
    Ok(katalogus)
}

impl Embedded {
    /// Open (creating when missing) every store under `data_dir`, with the scheduler's default rules.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Embedded> {
        Self::open_with(data_dir, kat_scheduler::Settings::default()).await
    }

    /// Open every store under `data_dir`, the scheduler with `rules` (`kat scan`: grace 0 from the scan's start).
    pub async fn open_with(data_dir: &Path, rules: kat_scheduler::Settings) -> anyhow::Result<Embedded> {
        Self::open_with_plugins(data_dir, rules, plugin_repository()).await
    }

    /// Open every store under `data_dir` with the plugins of `repository` (`kat bench pipeline` adds its own).
    pub async fn open_with_plugins(data_dir: &Path, rules: kat_scheduler::Settings, repository: PluginRepository) -> anyhow::Result<Embedded> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let lock = DataDirLock::take(data_dir)?;
        let runner_setup = RunnerSetup::from_env(&repository).await?;
        let katalogus = Arc::new(open_katalogus(data_dir, repository).await?);
        let scheduler_db = format!("sqlite://{}?mode=rwc", data_dir.join("scheduler.sqlite").display());
        let scheduler = LocalScheduler::open(&scheduler_db, rules, Arc::new(kat_scheduler::SystemClock), katalogus.clone()).await?;
        Ok(Embedded {
            _lock: lock,
            data_dir: data_dir.to_path_buf(),
            bytes: Arc::new(LocalBytes::open_with(data_dir, bytes_crypto()?).await?.with_inline_max(kat_bytes::config::inline_max(&|name| std::env::var(name).ok())?)),
            katalogus,
            scheduler: Arc::new(scheduler),
            runner_setup,
        })
    }

    /// Open the object graph (an embedded one holds the file's writer lease until dropped).
    pub async fn graph(&self) -> anyhow::Result<Graph> {
        open_graph(&self.data_dir).await
    }

    /// A boefje runner with the built-in boefjes and the plugin folders' local executables; `host_env` supplies
    /// `BOEFJE_` defaults.
    pub fn boefje_runner(&self, host_env: BTreeMap<String, String>) -> BoefjeRunner {
        self.runner_setup.runner(self.bytes.clone(), self.katalogus.clone(), host_env)
    }

    /// A normalizer runner with the built-in normalizers and the plugin folders' external ones.
    pub fn normalizer_runner(&self) -> NormalizerRunner {
        let setup = &self.runner_setup;
        NormalizerRunner::new(kat_plugins::normalizers::all(), self.bytes.clone()).with_external(setup.external_normalizers.clone(), setup.normalizer_limits).with_rules(kat_plugins::rules::all())
    }
}

/// An exclusive OS lock on `DIR/kat.lock`; the OS releases it when the process ends, however it ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    /// Take the lock, or fail at once naming the directory when another process holds it.
    pub fn take(data_dir: &Path) -> anyhow::Result<DataDirLock> {
        let path = data_dir.join("kat.lock");
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!("another kat process is using {}: wait for it to finish, or use another --data-dir", data_dir.display()),
            Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_at_a_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DataDirLock::take(dir.path()).expect("free");
        let e = DataDirLock::take(dir.path()).expect_err("held");
        assert!(e.to_string().contains("another kat process is using"), "{e}");
        drop(first);
        DataDirLock::take(dir.path()).expect("free again");
    }
}
