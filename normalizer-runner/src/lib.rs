//! `kat-normalizer-runner`: runs one normalizer task. It fetches the raw
//! file from Bytes (whose hash is checked on read), runs the normalizer, and
//! saves the objects in the graph as an observation of the boefje's input
//! object: method = `boefje id/normalizer id`, source = the input object
//! (OpenKAT's origin is boefje, normalizer and input), so a newer
//! run replaces the older one and objects it no longer sees are removed.
//! It then records a normalizer meta in Bytes.
//!
//! The graph is passed per call as `&dyn ObjectGraph` because the embedded
//! engine is synchronous and single-writer; the caller owns it.

#![forbid(unsafe_code)]

use std::sync::Arc;

use kat_core::builtin::Normalizer;
use kat_core::meta::{NormalizerMeta, PluginRef};
use kat_core::services::bytes::Bytes;
use kat_core::services::graph::{ObjectGraph, SaveReport};
use kat_core::services::scheduler::Scheduler;
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::{NormalizerTask, Task, TaskStatus};
use kat_core::{Ooi, Reference};
use time::OffsetDateTime;

/// What one normalizer run produced.
#[derive(Debug)]
pub struct NormalizerOutcome {
    /// The objects the normalizer gave.
    pub objects: Vec<Ooi>,
    /// What saving them changed in the graph.
    pub report: SaveReport,
}

/// Runs normalizer tasks.
pub struct NormalizerRunner {
    normalizers: Vec<Box<dyn Normalizer>>,
    bytes: Arc<dyn Bytes>,
}

impl NormalizerRunner {
    /// A runner for `normalizers`, reading raw files from `bytes`.
    pub fn new(normalizers: Vec<Box<dyn Normalizer>>, bytes: Arc<dyn Bytes>) -> Self {
        NormalizerRunner { normalizers, bytes }
    }

    /// Run a popped (dispatched) task: mark it running, run it, mark it completed or failed.
    pub async fn run_task(&self, scheduler: &dyn Scheduler, graph: &dyn ObjectGraph, task: &Task) -> ServiceResult<NormalizerOutcome> {
        scheduler.patch(task.id, TaskStatus::Running).await?;
        let outcome = match serde_json::from_value::<NormalizerTask>(task.data.clone()) {
            Ok(body) => self.execute(&body, graph).await,
            Err(e) => Err(ServiceError::invalid(format!("task {} is not a normalizer task: {e}", task.id))),
        };
        scheduler.patch(task.id, if outcome.is_ok() { TaskStatus::Completed } else { TaskStatus::Failed }).await?;
        outcome
    }

    /// Run a normalizer task body now (`run_normalizer`).
    pub async fn execute(&self, task: &NormalizerTask, graph: &dyn ObjectGraph) -> ServiceResult<NormalizerOutcome> {
        let started_at = OffsetDateTime::now_utc();
        let normalizer = self.normalizers.iter().find(|n| n.manifest().id == task.normalizer.id).ok_or_else(|| ServiceError::not_found(format!("unknown normalizer {:?}", task.normalizer.id)))?;
        let (raw_meta, content) = self.bytes.get_raw(task.raw_data.id).await?;
        let input_text = raw_meta.boefje_meta.input_ooi.clone().ok_or_else(|| ServiceError::invalid(format!("raw file {} has no input object", raw_meta.id)))?;
        let input = Reference::parse(&input_text)?;
        let objects = normalizer
            .normalize(&input, &content)
            .map_err(|e| ServiceError::invalid(format!("normalizer {} cannot read raw file {}: {e}", task.normalizer.id, raw_meta.id)))?;
        let method = format!("{}/{}", raw_meta.boefje_meta.boefje.id, task.normalizer.id);
        let report = graph.save_observation(&method, &input, &objects)?;
        let meta = NormalizerMeta { id: task.id, started_at: Some(started_at), ended_at: Some(OffsetDateTime::now_utc()), raw_data: raw_meta, normalizer: PluginRef { id: task.normalizer.id.clone(), version: None } };
        self.bytes.save_normalizer_meta(&meta).await?;
        tracing::debug!(normalizer = %task.normalizer.id, objects = objects.len(), new = report.new_or_raised.len(), deleted = report.deleted.len(), "normalized");
        Ok(NormalizerOutcome { objects, report })
    }
}
