//! `kat-boefje-runner`: runs one boefje task. It asks the KATalogus for the
//! organisation's settings, builds the job environment under the rules of
//! `kat_core::env_rules` (settings, plus `BOEFJE_`-prefixed host defaults for
//! keys of the boefje's schema, nothing else), runs the boefje, and stores
//! the boefje meta and every raw file in Bytes.
//!
//! Two kinds of boefje run here: built-ins (`Box<dyn Boefje>`, in process,
//! the job environment as a map) and local executables from plugin folders
//! ([`runner::local`], a process with the job environment, `BOEFJE_META` and
//! limits; its standard error is the job log, stored as a raw file tagged
//! `boefje/log`, see [`runner::log`]). Both get the input object in the boefje
//! meta's `arguments.input`, in OpenKAT's shape.
//!
//! A local executable whose `boefje.json` says `"protocol": "boefje-api"`
//! speaks OpenKAT's container protocol instead of writing to standard output:
//! the runner starts its boefje API ([`runner::api`]) on first use, registers
//! the task under a random token and gives the program its input URL as last
//! argument; the files it posts are stored with their own tags (plus
//! `boefje/<id>`), its standard output and error are both the job log. A
//! posted `COMPLETED` completes the task even if the program then exits
//! non-zero or runs past its timeout (as in OpenKAT, where the post ends the
//! task; the job log says so); a posted `FAILED` stores the files as
//! `error/boefje` and fails the task; a program that ends without posting
//! fails the task.
//!
//! A failure of the boefje itself (unknown id, wrong input, bad setting,
//! scan error, a local run's exit status, timeout or output limit) is
//! evidence too: it is stored as a raw file tagged `error/boefje` (a local
//! run's output, else the message) and the task is marked failed. Only a
//! failure of the stores is returned as an `Err`.
//!
//! The boefje meta keeps the job environment without the values of
//! settings the schema marks secret.
//!
//! [`Pool`] runs many tasks at once: it pops boefje tasks from the scheduler
//! into `BOEFJES_POOL_SIZE` slots, renews each running task's lease, and
//! refills a slot as soon as its plugin has ended, while the job stores its
//! output (see [`pool`] and [`slot`]).
//!
//! This crate talks to the services only through `kat_core::services`
//! traits, and gets its boefjes as `Box<dyn Boefje>`; it never depends on the
//! service crates or on `kat-plugins`.

#![forbid(unsafe_code)]

pub mod pool;
pub mod runner;
pub mod slot;
mod shared;

use std::collections::BTreeMap;
use std::sync::Arc;

use kat_core::builtin::{Boefje, JobEnv, RawFile};
use kat_core::env_rules::build_job_env;
use kat_core::meta::{BoefjeMeta, PluginRef};
use kat_core::services::bytes::{save_raws_one_by_one, Bytes};
use kat_core::services::katalogus::Katalogus;
use kat_core::services::scheduler::{Scheduler, TaskPatch};
use kat_core::services::ServiceResult;
use kat_core::task::{BoefjeTask, Task, TaskStatus};
use kat_core::ooi::openkat::input_from_reference;
use kat_core::plugin::{BoefjeManifest, Protocol, SettingsSchema};
use kat_core::Reference;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

pub use pool::{Pool, PoolConfig, PoolStats, Worker};
pub use slot::Slot;
pub use runner::api::ApiConfig;
pub use runner::local::{LocalLimits, LocalPlugin};
use runner::api::{BoefjeApi, PostedOutput, PostedStatus};
use runner::kubernetes::spec::RunSpec;
pub use runner::kubernetes::{Kubernetes, KubernetesConfig};
pub use runner::log::{LogLevel, LogLine};

/// The mime type of the raw file that holds a failed run's output or error message.
pub const ERROR_MIME_TYPE: &str = "error/boefje";
/// The mime type of a local run's job log (its standard error).
pub const LOG_MIME_TYPE: &str = "boefje/log";

/// What one boefje run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BoefjeOutcome {
    /// The boefje meta id (the task body's id).
    pub boefje_meta_id: Uuid,
    /// Which boefje ran.
    pub boefje_id: String,
    /// The object it ran on, as given.
    pub input_ooi: String,
    /// The raw files stored (including the error file of a failed run), not the job log.
    pub raw_ids: Vec<Uuid>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// The raw file that holds the job log of a local run, if it wrote one.
    pub log_raw_id: Option<Uuid>,
    /// The job log's lines with their levels (secret setting values replaced by `***`).
    pub log: Vec<LogLine>,
}

/// What a run produced, before it is stored.
#[derive(Clone)]
struct Produced {
    files: Vec<RawFile>,
    log: Vec<u8>,
    error: Option<String>,
}

impl Produced {
    /// How many bytes it holds (files and log).
    fn size(&self) -> usize {
        self.files.iter().map(|f| f.content.len()).sum::<usize>() + self.log.len()
    }

    /// A run that failed before it produced anything: the message is the error file.
    fn failed(message: String) -> Produced {
        Produced { files: vec![error_file(message.clone().into_bytes())], log: Vec::new(), error: Some(message) }
    }
}

/// Add a line of the runner's own to a job log.
fn note(log: &mut Vec<u8>, level: LogLevel, text: &str) {
    if !log.is_empty() && !log.ends_with(b"\n") {
        log.push(b'\n');
    }
    log.extend_from_slice(format!("{level}: kat-boefje-runner: {text}\n").as_bytes());
}

/// A local run's job log: its output with every `hidden` value replaced by `***`, then the runner's notes
/// about the run as warnings.
fn job_log(output: &[u8], hidden: &[&str], notes: &[String]) -> Vec<u8> {
    let mut log = runner::log::redact(output, hidden);
    for text in notes {
        note(&mut log, LogLevel::Warning, text);
    }
    log
}

/// The task a `boefje-api` plugin is given, in the scheduler's shape: the scheduler's task (running), or one
/// made up from the boefje meta; its `data` is the boefje meta with the whole job environment, as OpenKAT's
/// boefje API gives it.
fn api_task(scheduler_task: Option<&Task>, meta: &BoefjeMeta, env: &JobEnv) -> Result<Task, String> {
    let mut data = meta.clone();
    data.environment = Some(plain(env));
    let data = serde_json::to_value(&data).map_err(|e| format!("cannot write the boefje meta: {e}"))?;
    let now = OffsetDateTime::now_utc();
    Ok(match scheduler_task {
        // OpenKAT's adapter requires an integer priority.
        Some(task) => Task { status: TaskStatus::Running, priority: task.priority.or(Some(0)), data, ..task.clone() },
        None => Task {
            id: meta.id,
            scheduler_id: "boefje".into(),
            schedule_id: None,
            organisation: meta.organization.clone(),
            priority: Some(0),
            status: TaskStatus::Running,
            task_type: "boefje".into(),
            hash: None,
            data,
            created_at: now,
            modified_at: now,
        },
    })
}

/// A job environment's values in the clear: for the plugin (the boefje API, a Job's Secret), never for stored
/// metadata.
fn plain(env: &JobEnv) -> BTreeMap<String, String> {
    env.iter().map(|(k, v)| (k.clone(), v.expose().clone())).collect()
}

/// Mark a task completed or failed after its run, and pass the outcome on.
async fn finish(scheduler: &dyn Scheduler, task: &Task, outcome: ServiceResult<BoefjeOutcome>) -> ServiceResult<BoefjeOutcome> {
    let patch = match &outcome {
        Ok(o) => match &o.error {
            None => TaskPatch::status(TaskStatus::Completed),
            Some(error) => TaskPatch::because(TaskStatus::Failed, error.clone()),
        },
        Err(e) => TaskPatch::because(TaskStatus::Failed, e.to_string()),
    };
    scheduler.patch(task.id, patch).await?;
    outcome
}

fn error_file(content: Vec<u8>) -> RawFile {
    RawFile { name: "error".into(), mime_types: vec![ERROR_MIME_TYPE.into()], content }
}

/// A boefje this runner can run.
enum Plugin<'a> {
    Builtin(&'a dyn Boefje),
    Local(&'a LocalPlugin),
    /// A plugin folder's `oci_image`, run as a Kubernetes Job.
    Container(&'a LocalPlugin, &'a Kubernetes),
}

/// Runs boefje tasks against the given services.
pub struct BoefjeRunner {
    /// The built-in boefjes with their manifests and schemas, read once (a built-in parses its JSON on each call).
    boefjes: Vec<(BoefjeManifest, Option<SettingsSchema>, Box<dyn Boefje>)>,
    local: Vec<LocalPlugin>,
    limits: LocalLimits,
    bytes: Arc<dyn Bytes>,
    katalogus: Arc<dyn Katalogus>,
    host_env: BTreeMap<String, String>,
    /// Where the boefje API listens; `None`: read `BOEFJES_API_BIND`/`BOEFJES_API` when it first starts.
    api_config: Option<ApiConfig>,
    /// The boefje API, started by the first `boefje-api` or container run.
    api: tokio::sync::OnceCell<BoefjeApi>,
    /// Where container boefjes run, if anywhere.
    kubernetes: Option<Kubernetes>,
    /// Recent answers of `Katalogus::shares_tasks` (see `shared`).
    sharing: shared::SharingCache,
}

impl BoefjeRunner {
    /// A runner for `boefjes`; `host_env` is the runner's own environment (only `BOEFJE_` names are used).
    pub fn new(boefjes: Vec<Box<dyn Boefje>>, bytes: Arc<dyn Bytes>, katalogus: Arc<dyn Katalogus>, host_env: BTreeMap<String, String>) -> Self {
        let boefjes = boefjes.into_iter().map(|b| (b.manifest(), b.schema(), b)).collect();
        BoefjeRunner { boefjes, local: Vec::new(), limits: LocalLimits::default(), bytes, katalogus, host_env, api_config: None, api: tokio::sync::OnceCell::new(), kubernetes: None, sharing: shared::SharingCache::default() }
    }

    /// Serve the boefje API of `boefje-api` plugins as `config` says, instead of as the process's
    /// `BOEFJES_API_BIND` and `BOEFJES_API` say.
    pub fn with_boefje_api(mut self, config: ApiConfig) -> Self {
        self.api_config = Some(config);
        self
    }

    /// The boefje API, started on first use.
    async fn boefje_api(&self) -> Result<&BoefjeApi, String> {
        self.api
            .get_or_try_init(|| async {
                let config = match &self.api_config {
                    Some(config) => config.clone(),
                    None => ApiConfig::from_vars(&|name| std::env::var(name).ok()).map_err(|e| e.to_string())?,
                };
                BoefjeApi::start(&config, self.limits.max_output).await.map_err(|e| format!("cannot start the boefje API on {}: {e}", config.bind))
            })
            .await
    }

    /// Run the plugin folders' container boefjes (`oci_image`) as Jobs in this cluster.
    pub fn with_kubernetes(mut self, kubernetes: Kubernetes) -> Self {
        self.kubernetes = Some(kubernetes);
        self
    }

    /// The tasks of Jobs an earlier life of this runner left running, with their leases renewed, for the
    /// pool to run again (a run re-attaches to its Job). None without Kubernetes; a task that is no longer
    /// dispatched or running is left to the scheduler (its next run deletes the old Job).
    pub async fn orphaned_tasks(&self, scheduler: &dyn Scheduler) -> Vec<Task> {
        let Some(kubernetes) = &self.kubernetes else { return Vec::new() };
        let ids = match kubernetes.orphaned_tasks().await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("cannot look for Jobs left by an earlier run of this runner: {e}");
                return Vec::new();
            }
        };
        let mut tasks = Vec::new();
        for id in ids {
            match scheduler.heartbeat(id).await {
                Ok(task) => {
                    tracing::info!(task = %id, "taking back the task of a Job this runner left running");
                    tasks.push(task);
                }
                Err(e) => tracing::info!(task = %id, "not taking back the task of a Job this runner left running: {e}"),
            }
        }
        tasks
    }

    /// Also run these local executable boefjes (plugin folders with a `run` command), within `limits`.
    pub fn with_local_plugins(mut self, plugins: Vec<LocalPlugin>, limits: LocalLimits) -> Self {
        self.local = plugins;
        self.limits = limits;
        self
    }

    /// Run a popped (dispatched) task: mark it running, run it, mark it completed or failed.
    pub async fn run_task(&self, scheduler: &dyn Scheduler, task: &Task) -> ServiceResult<BoefjeOutcome> {
        self.run_task_in(scheduler, task, &mut Slot::detached()).await
    }

    /// [`Self::run_task`] in a pool's slot, which moves from running to storing when the plugin has ended.
    pub async fn run_task_in(&self, scheduler: &dyn Scheduler, task: &Task, slot: &mut Slot) -> ServiceResult<BoefjeOutcome> {
        let body: BoefjeTask = match serde_json::from_value(task.data.clone()) {
            Ok(body) => body,
            Err(e) => {
                let error = kat_core::services::ServiceError::invalid(format!("task {} is not a boefje task: {e}", task.id));
                scheduler.patch(task.id, TaskPatch::because(TaskStatus::Failed, error.to_string())).await?;
                return Err(error);
            }
        };
        scheduler.patch(task.id, TaskPatch::status(TaskStatus::Running)).await?;
        let (meta, produced) = self.produce(&body, Some(task)).await;
        slot.plugin_ended(produced.size()).await;
        let outcome = self.store(&body, meta, produced).await;
        finish(scheduler, task, outcome).await
    }

    /// Run a boefje task body now, without the scheduler (`run_boefje`); a `boefje-api` plugin is given a task
    /// in the scheduler's shape made up from the body.
    pub async fn execute(&self, task: &BoefjeTask) -> ServiceResult<BoefjeOutcome> {
        let (meta, produced) = self.produce(task, None).await;
        self.store(task, meta, produced).await
    }

    /// Run the boefje of a task body: its meta (ended) and what it produced, failures included;
    /// `scheduler_task` is the scheduler's task it came from, which a `boefje-api` plugin is given.
    async fn produce(&self, task: &BoefjeTask, scheduler_task: Option<&Task>) -> (BoefjeMeta, Produced) {
        let mut meta = BoefjeMeta {
            id: task.id,
            started_at: Some(OffsetDateTime::now_utc()),
            ended_at: None,
            boefje: task.boefje.clone(),
            input_ooi: Some(task.input_ooi.clone()),
            arguments: BTreeMap::new(),
            organization: task.organization.clone(),
            runnable_hash: None,
            environment: None,
        };
        let produced = self.run_boefje(task, &mut meta, scheduler_task).await.unwrap_or_else(Produced::failed);
        meta.ended_at = Some(OffsetDateTime::now_utc());
        (meta, produced)
    }

    /// Store a run's meta, job log (when there is one) and raw files in Bytes as one run (`Bytes::save_run`, one
    /// transaction in process); a meta whose id exists (a task that runs again) goes the way of [`Self::save_meta`].
    async fn store(&self, task: &BoefjeTask, meta: BoefjeMeta, produced: Produced) -> ServiceResult<BoefjeOutcome> {
        let Produced { files, log, error } = produced;
        if let Some(message) = &error {
            tracing::warn!(boefje = %task.boefje.id, input = %task.input_ooi, "boefje failed: {message}");
        }
        let lines = runner::log::parse(&log);
        runner::log::emit(&task.boefje.id, &task.id, &lines);
        // The log is not tagged `boefje/<id>`: normalizers that read the boefje's output must not get it.
        let mut raws: Vec<(Vec<String>, &[u8])> = Vec::with_capacity(files.len() + 1);
        if !log.is_empty() {
            raws.push((vec![LOG_MIME_TYPE.to_string()], &log));
        }
        for file in &files {
            // As OpenKAT: every raw file of a boefje is also tagged `boefje/<id>` (and `boefje/<id>-<version>`).
            let mut mime_types = file.mime_types.clone();
            mime_types.push(format!("boefje/{}", task.boefje.id));
            if let Some(version) = &task.boefje.version {
                mime_types.push(format!("boefje/{}-{version}", task.boefje.id));
            }
            raws.push((mime_types, &file.content));
        }
        let saved = match self.bytes.save_run(&meta, &raws).await {
            Err(e) if e.kind == kat_core::ErrorKind::Conflict => {
                self.save_meta(&meta).await?;
                save_raws_one_by_one(&*self.bytes, meta.id, &raws).await?
            }
            other => other?,
        };
        let mut ids = saved.into_iter().map(|raw| raw.id);
        let log_raw_id = if log.is_empty() { None } else { ids.next() };
        let raw_ids = ids.collect();
        Ok(BoefjeOutcome { boefje_meta_id: meta.id, boefje_id: task.boefje.id.clone(), input_ooi: task.input_ooi.clone(), raw_ids, error, log_raw_id, log: lines })
    }

    /// Store the run's meta. A task that runs again after an interrupted attempt (its lease ran out) has the same id,
    /// and Bytes keeps the first meta of an id (as OpenKAT's does): the earlier meta of the same run is kept and
    /// this attempt's raw files join it; a meta of another run under the same id is refused.
    async fn save_meta(&self, meta: &BoefjeMeta) -> ServiceResult<()> {
        match self.bytes.save_boefje_meta(meta).await {
            Err(e) if e.kind == kat_core::ErrorKind::Conflict => {
                let stored = self.bytes.get_boefje_meta(meta.id).await?;
                let same_run = stored.organization == meta.organization && stored.boefje.id == meta.boefje.id && stored.input_ooi == meta.input_ooi;
                if !same_run {
                    return Err(e);
                }
                tracing::info!(boefje_meta_id = %meta.id, "boefje task ran again after an interrupted attempt; its first meta is kept");
                Ok(())
            }
            other => other,
        }
    }

    /// The boefje with this id: a built-in, else a local executable.
    fn plugin(&self, id: &str) -> Option<(Plugin<'_>, BoefjeManifest, Option<SettingsSchema>)> {
        if let Some((manifest, schema, b)) = self.boefjes.iter().find(|(m, _, _)| m.id == id) {
            return Some((Plugin::Builtin(b.as_ref()), manifest.clone(), schema.clone()));
        }
        let local = self.local.iter().find(|p| p.manifest.id == id)?;
        let plugin = match (&self.kubernetes, &local.manifest.oci_image) {
            (Some(kubernetes), Some(_)) => Plugin::Container(local, kubernetes),
            _ => Plugin::Local(local),
        };
        Some((plugin, local.manifest.clone(), local.schema.clone()))
    }

    /// `organisation`'s job environment for boefje `boefje_id`: its KATalogus settings and this runner's
    /// `BOEFJE_` defaults, under the boefje's schema (`env_rules`).
    async fn job_env(&self, organisation: &str, boefje_id: &str, schema: Option<&SettingsSchema>) -> Result<JobEnv, String> {
        let settings: BTreeMap<String, Value> = self.katalogus.settings(organisation, boefje_id).await.map_err(|e| e.to_string())?.into_iter().collect();
        build_job_env(schema, &self.host_env, &settings).map_err(|e| e.to_string())
    }

    /// Run the boefje. An `Err` is a failure before it produced anything (unknown boefje, wrong input, bad
    /// settings, a program that cannot start), as the message for the error raw file.
    async fn run_boefje(&self, task: &BoefjeTask, meta: &mut BoefjeMeta, scheduler_task: Option<&Task>) -> Result<Produced, String> {
        let (plugin, manifest, schema) = self.plugin(&task.boefje.id).ok_or_else(|| format!("unknown boefje {:?}", task.boefje.id))?;
        meta.boefje = PluginRef { id: manifest.id.clone(), version: task.boefje.version.clone() };
        let input = Reference::parse(&task.input_ooi).map_err(|e| e.to_string())?;
        if !manifest.consumes.iter().any(|c| c == input.object_type()) {
            return Err(format!("boefje {} consumes {}, not {}", manifest.id, manifest.consumes.join(", "), input.object_type()));
        }
        // OpenKAT's boefjes read the object's fields (`input["name"]`); the task names only the object, so
        // the fields are those its natural key determines.
        meta.arguments.insert("input".into(), input_from_reference(&input, None));
        let env = self.job_env(&task.organization, &manifest.id, schema.as_ref()).await?;
        let is_secret = |key: &str| schema.as_ref().is_some_and(|s| s.is_secret(key));
        meta.environment = Some(env.iter().filter(|(k, _)| !is_secret(k)).map(|(k, v)| (k.clone(), v.expose().clone())).collect());
        // The values a plugin's log must not show.
        let secrets: Vec<&str> = env.iter().filter(|(k, _)| is_secret(k)).map(|(_, v)| v.expose().as_str()).collect();
        match plugin {
            Plugin::Builtin(boefje) => {
                let files = boefje.run(&input, &env).await.map_err(|e| e.to_string())?;
                Ok(Produced { files, log: Vec::new(), error: None })
            }
            Plugin::Container(plugin, kubernetes) => self.run_container(plugin, kubernetes, &env, meta, &secrets, scheduler_task).await,
            Plugin::Local(local) => {
                if local.manifest.run.is_empty() && let Some(image) = &local.manifest.oci_image {
                    return Err(format!("boefje {} is the container image {image}; this runner runs container images only with BOEFJES_RUNTIME=kubernetes", local.manifest.id));
                }
                match local.manifest.protocol {
                    Protocol::Stdout => self.run_local(local, &env, meta, &secrets).await,
                    Protocol::BoefjeApi => self.run_api(local, &env, meta, &secrets, scheduler_task).await,
                }
            }
        }
    }

    /// Run a local executable; its output is stored with its `produces` tags, or with `error/boefje` when the
    /// run failed (then the message closes its job log).
    async fn run_local(&self, plugin: &LocalPlugin, env: &JobEnv, meta: &BoefjeMeta, secrets: &[&str]) -> Result<Produced, String> {
        let meta_json = serde_json::to_string(meta).map_err(|e| format!("cannot write the boefje meta: {e}"))?;
        let run = runner::local::run(plugin, env, &meta_json, &self.limits, None).await?;
        let mut log = job_log(&run.stderr, secrets, &run.notes);
        let file = match &run.failure {
            None => RawFile { name: "output".into(), mime_types: plugin.manifest.produces.clone(), content: run.stdout },
            Some(failure) => {
                note(&mut log, LogLevel::Error, failure);
                error_file(if run.stdout.is_empty() { failure.clone().into_bytes() } else { run.stdout })
            }
        };
        Ok(Produced { files: vec![file], log, error: run.failure })
    }

    /// Run a local executable that speaks the boefje API: register the task, start the program with its
    /// input URL, and take what it posted. Its standard output and error are the job log (the token and
    /// secret values redacted).
    async fn run_api(&self, plugin: &LocalPlugin, env: &JobEnv, meta: &BoefjeMeta, secrets: &[&str], scheduler_task: Option<&Task>) -> Result<Produced, String> {
        let meta_json = serde_json::to_string(meta).map_err(|e| format!("cannot write the boefje meta: {e}"))?;
        let api = self.boefje_api().await?;
        let mut registration = api.register(&api_task(scheduler_task, meta, env)?)?;
        let run = runner::local::run(plugin, env, &meta_json, &self.limits, Some(registration.input_url())).await;
        let posted = registration.take_output();
        let hidden: Vec<&str> = secrets.iter().copied().chain([registration.token()]).collect();
        let run = run.map(|run| (job_log(&run.stderr, &hidden, &run.notes), run.failure));
        // The token ends with the run.
        drop(registration);
        let (log, failure) = run?;
        Ok(from_posted(posted, failure, log, None))
    }

    /// A container run as a Kubernetes Job: the plugin gets the task through the boefje API, as a `boefje-api`
    /// executable does; the pod's log is the job log (token and secret values redacted) and, when the Job ended
    /// without posting, the error file.
    async fn run_container(&self, plugin: &LocalPlugin, kubernetes: &Kubernetes, env: &JobEnv, meta: &BoefjeMeta, secrets: &[&str], scheduler_task: Option<&Task>) -> Result<Produced, String> {
        let api = self.boefje_api().await?;
        let task = api_task(scheduler_task, meta, env)?;
        let image = plugin.manifest.oci_image.as_deref().unwrap_or_default();
        let timeout_seconds = plugin.manifest.timeout.unwrap_or(self.limits.job_timeout.as_secs());
        let config = kubernetes.config();
        let spec = RunSpec {
            task_id: task.id,
            boefje_id: &plugin.manifest.id,
            organisation: &meta.organization,
            image,
            arguments: &plugin.manifest.oci_arguments,
            timeout_seconds,
            ttl_seconds: config.ttl_seconds,
            resources: &config.resources,
            runner_id: &config.runner_id,
        };
        let run = kubernetes.run(api, &task, &spec, &plain(env), self.limits.max_output).await?;
        let hidden: Vec<&str> = secrets.iter().copied().chain([run.token.as_str()]).collect();
        let log = job_log(&run.log, &hidden, &[]);
        let evidence = log.clone();
        Ok(from_posted(run.posted, run.failure, log, Some(evidence)))
    }
}

/// What a run that speaks the boefje API produced: the files it posted (with their tags when it posted
/// `COMPLETED`, as `error/boefje` when `FAILED`), or when it posted nothing a failure whose error file is
/// `evidence` (else the message). `failure` is what went wrong with the run itself.
fn from_posted(posted: Option<PostedOutput>, failure: Option<String>, mut log: Vec<u8>, evidence: Option<Vec<u8>>) -> Produced {
    let Some(posted) = posted else {
        let message = match failure {
            Some(failure) => format!("the plugin ended without posting its output ({failure})"),
            None => "the plugin ended without posting its output".to_string(),
        };
        note(&mut log, LogLevel::Error, &message);
        let content = evidence.filter(|e| !e.is_empty()).unwrap_or_else(|| message.clone().into_bytes());
        return Produced { files: vec![error_file(content)], log, error: Some(message) };
    };
    let mut seen = Vec::new();
    for file in &posted.files {
        let mut tags = file.tags.clone().unwrap_or_default();
        tags.sort();
        tags.dedup();
        if seen.contains(&tags) {
            note(&mut log, LogLevel::Warning, &format!("file {:?} has the same tags as an earlier file of this run; Bytes keeps only the first", file.name));
        }
        seen.push(tags);
    }
    match posted.status {
        PostedStatus::Completed => {
            if let Some(failure) = &failure {
                note(&mut log, LogLevel::Warning, &format!("the plugin posted COMPLETED, then {failure}; its output is kept and the task completes"));
            }
            let files = posted.files.into_iter().map(|f| RawFile { name: f.name, mime_types: f.tags.unwrap_or_default(), content: f.content }).collect();
            Produced { files, log, error: None }
        }
        PostedStatus::Failed => {
            let message = match &failure {
                Some(failure) => format!("the plugin posted FAILED, then {failure}"),
                None => "the plugin posted FAILED".to_string(),
            };
            note(&mut log, LogLevel::Error, &message);
            // Its own tags are dropped: the boefje's normalizers must not read a failed run's output.
            let mut files: Vec<RawFile> = posted.files.into_iter().map(|f| RawFile { name: f.name, ..error_file(f.content) }).collect();
            if files.is_empty() {
                files.push(error_file(message.clone().into_bytes()));
            }
            Produced { files, log, error: Some(message) }
        }
    }
}
