//! `kat-boefje-runner`: runs one boefje task. It asks the KATalogus for the
//! organisation's settings, builds the job environment under the rules of
//! `kat_core::env_rules` (settings, plus `BOEFJE_`-prefixed host defaults for
//! keys of the boefje's schema, nothing else), runs the boefje, and stores
//! the boefje meta and every raw file in Bytes.
//!
//! A failure of the boefje itself (unknown id, wrong input, bad setting,
//! scan error) is evidence too: it is stored as a raw file tagged
//! `error/boefje` and the task is marked failed. Only a failure of the
//! stores is returned as an `Err`.
//!
//! The boefje meta keeps the job environment without the values of
//! settings the schema marks secret.
//!
//! This crate talks to the services only through `kat_core::services`
//! traits, and gets its boefjes as `Box<dyn Boefje>`; it never depends on the
//! service crates or on `kat-plugins`.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use kat_core::builtin::{Boefje, RawFile};
use kat_core::env_rules::build_job_env;
use kat_core::meta::{BoefjeMeta, PluginRef};
use kat_core::services::bytes::Bytes;
use kat_core::services::katalogus::Katalogus;
use kat_core::services::scheduler::{Scheduler, TaskPatch};
use kat_core::services::ServiceResult;
use kat_core::task::{BoefjeTask, Task, TaskStatus};
use kat_core::Reference;
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// The mime type of the raw file that holds a failed run's error message.
pub const ERROR_MIME_TYPE: &str = "error/boefje";

/// What one boefje run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BoefjeOutcome {
    /// The boefje meta id (the task body's id).
    pub boefje_meta_id: Uuid,
    /// Which boefje ran.
    pub boefje_id: String,
    /// The object it ran on, as given.
    pub input_ooi: String,
    /// The raw files stored (including the error file of a failed run).
    pub raw_ids: Vec<Uuid>,
    /// Why the run failed, if it did.
    pub error: Option<String>,
}

/// Runs boefje tasks against the given services.
pub struct BoefjeRunner {
    boefjes: Vec<Box<dyn Boefje>>,
    bytes: Arc<dyn Bytes>,
    katalogus: Arc<dyn Katalogus>,
    host_env: BTreeMap<String, String>,
}

impl BoefjeRunner {
    /// A runner for `boefjes`; `host_env` is the runner's own environment (only `BOEFJE_` names are used).
    pub fn new(boefjes: Vec<Box<dyn Boefje>>, bytes: Arc<dyn Bytes>, katalogus: Arc<dyn Katalogus>, host_env: BTreeMap<String, String>) -> Self {
        BoefjeRunner { boefjes, bytes, katalogus, host_env }
    }

    /// Run a popped (dispatched) task: mark it running, run it, mark it completed or failed.
    pub async fn run_task(&self, scheduler: &dyn Scheduler, task: &Task) -> ServiceResult<BoefjeOutcome> {
        let body: BoefjeTask = match serde_json::from_value(task.data.clone()) {
            Ok(body) => body,
            Err(e) => {
                let error = kat_core::services::ServiceError::invalid(format!("task {} is not a boefje task: {e}", task.id));
                scheduler.patch(task.id, TaskPatch::because(TaskStatus::Failed, error.to_string())).await?;
                return Err(error);
            }
        };
        scheduler.patch(task.id, TaskPatch::status(TaskStatus::Running)).await?;
        let outcome = self.execute(&body).await;
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

    /// Run a boefje task body now, without the scheduler (`run_boefje`).
    pub async fn execute(&self, task: &BoefjeTask) -> ServiceResult<BoefjeOutcome> {
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
        let result = self.run_boefje(task, &mut meta).await;
        meta.ended_at = Some(OffsetDateTime::now_utc());
        self.save_meta(&meta).await?;
        let (files, error) = match result {
            Ok(files) => (files, None),
            Err(message) => {
                tracing::warn!(boefje = %task.boefje.id, input = %task.input_ooi, "boefje failed: {message}");
                (vec![RawFile { name: "error".into(), mime_types: vec![ERROR_MIME_TYPE.into()], content: message.clone().into_bytes() }], Some(message))
            }
        };
        let mut raw_ids = Vec::new();
        for file in files {
            // As OpenKAT: every raw file of a boefje is also tagged `boefje/<id>` (and `boefje/<id>-<version>`).
            let mut mime_types = file.mime_types;
            mime_types.push(format!("boefje/{}", task.boefje.id));
            if let Some(version) = &task.boefje.version {
                mime_types.push(format!("boefje/{}-{version}", task.boefje.id));
            }
            raw_ids.push(self.bytes.save_raw(meta.id, &mime_types, &file.content).await?.id);
        }
        Ok(BoefjeOutcome { boefje_meta_id: meta.id, boefje_id: task.boefje.id.clone(), input_ooi: task.input_ooi.clone(), raw_ids, error })
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

    /// Everything that can fail because of the boefje, its input or its settings; the error is a message for the error raw file.
    async fn run_boefje(&self, task: &BoefjeTask, meta: &mut BoefjeMeta) -> Result<Vec<RawFile>, String> {
        let boefje = self.boefjes.iter().find(|b| b.manifest().id == task.boefje.id).ok_or_else(|| format!("unknown boefje {:?}", task.boefje.id))?;
        let manifest = boefje.manifest();
        meta.boefje = PluginRef { id: manifest.id.clone(), version: task.boefje.version.clone() };
        let input = Reference::parse(&task.input_ooi).map_err(|e| e.to_string())?;
        if !manifest.consumes.iter().any(|c| c == input.object_type()) {
            return Err(format!("boefje {} consumes {}, not {}", manifest.id, manifest.consumes.join(", "), input.object_type()));
        }
        meta.arguments.insert("input".into(), json!({"object_type": input.object_type(), "primary_key": input.as_str()}));
        let settings: BTreeMap<String, Value> = self.katalogus.settings(&task.organization, &manifest.id).await.map_err(|e| e.to_string())?.into_iter().collect();
        let schema = boefje.schema();
        let env = build_job_env(schema.as_ref(), &self.host_env, &settings).map_err(|e| e.to_string())?;
        let is_secret = |key: &str| schema.as_ref().is_some_and(|s| s.is_secret(key));
        meta.environment = Some(env.iter().filter(|(k, _)| !is_secret(k)).map(|(k, v)| (k.clone(), v.expose().clone())).collect());
        boefje.run(&input, &env).await.map_err(|e| e.to_string())
    }
}
