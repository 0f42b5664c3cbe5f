//! `kat-normalizer-runner`: runs one normalizer task. It fetches the raw
//! file from Bytes (whose hash is checked on read), runs the normalizer, and
//! saves the objects in the graph as an observation of the boefje's input
//! object: method = `boefje id/normalizer id`, source = the input object
//! (OpenKAT's origin is boefje, normalizer and input), so a newer
//! run replaces the older one and objects it no longer sees are removed.
//! It then records a normalizer meta in Bytes and hands the scheduler every
//! object of the observation with its clearance, and the deleted ones
//! (`Scheduler::objects_changed`), which turns them into boefje tasks.
//!
//! After the observation, the rules ([`rules`], OpenKAT's bits) are
//! evaluated on its objects and their conclusions (findings) saved.
//!
//! The graph is passed per call as `&dyn ObjectGraph`; the observation is
//! saved in the graph of the raw file's organisation.

#![forbid(unsafe_code)]

pub mod external;
pub mod rules;

use std::sync::Arc;

use kat_core::builtin::{Normalizer, Rule};
use kat_core::meta::{NormalizerMeta, PluginRef, RawDataMeta};
use kat_core::services::bytes::Bytes;
use kat_core::services::graph::{ObjectGraph, SaveReport};
use kat_core::services::scheduler::{ObjectState, Scheduler, TaskPatch};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::{NormalizerTask, Task, TaskStatus};
use kat_core::{Ooi, Reference};
use time::OffsetDateTime;

use external::{ExternalLimits, ExternalNormalizer, Output};

/// What one normalizer run produced.
#[derive(Debug)]
pub struct NormalizerOutcome {
    /// The objects the normalizer gave.
    pub objects: Vec<Ooi>,
    /// The objects the rules concluded after the save (findings, websites): like the normalizer's objects, the
    /// scheduler hears of them, so a rescan reaches what the rules found too.
    pub concluded: Vec<Ooi>,
    /// What saving them changed in the graph.
    pub report: SaveReport,
}

/// Runs normalizer tasks.
pub struct NormalizerRunner {
    normalizers: Vec<Box<dyn Normalizer>>,
    external: Vec<ExternalNormalizer>,
    limits: ExternalLimits,
    rules: Vec<Box<dyn Rule>>,
    bytes: Arc<dyn Bytes>,
}

impl NormalizerRunner {
    /// A runner for the built-in `normalizers`, reading raw files from `bytes`.
    pub fn new(normalizers: Vec<Box<dyn Normalizer>>, bytes: Arc<dyn Bytes>) -> Self {
        NormalizerRunner { normalizers, external: Vec::new(), limits: ExternalLimits::default(), rules: Vec::new(), bytes }
    }

    /// Evaluate `rules` on the objects of each saved observation, saving their findings ([`rules`]).
    pub fn with_rules(mut self, rules: Vec<Box<dyn Rule>>) -> Self {
        self.rules = rules;
        self
    }

    /// Also run the plugin folders' normalizers with a `run` command, within `limits`.
    pub fn with_external(mut self, external: Vec<ExternalNormalizer>, limits: ExternalLimits) -> Self {
        self.external = external;
        self.limits = limits;
        self
    }

    /// Run a popped (dispatched) task: mark it running, run it, hand the scheduler every object of the
    /// observation with its clearance (and the deleted ones), mark it completed or failed.
    ///
    /// All objects go to the scheduler, not only new ones, so a rerun after a crash between saving and
    /// reporting schedules what the first run could not; the scheduler's grace period and deduplication keep
    /// that from repeating work.
    pub async fn run_task(&self, scheduler: &dyn Scheduler, graph: &dyn ObjectGraph, task: &Task) -> ServiceResult<NormalizerOutcome> {
        scheduler.patch(task.id, TaskPatch::status(TaskStatus::Running)).await?;
        let outcome = match serde_json::from_value::<NormalizerTask>(task.data.clone()) {
            Ok(body) => self.execute(&body, graph).await,
            Err(e) => Err(ServiceError::invalid(format!("task {} is not a normalizer task: {e}", task.id))),
        };
        let reported = match &outcome {
            Ok(outcome) => report_objects(scheduler, graph, &task.organisation, outcome).await,
            Err(_) => Ok(()),
        };
        let patch = match (&outcome, &reported) {
            (Ok(_), Ok(())) => TaskPatch::status(TaskStatus::Completed),
            (Err(e), _) | (_, Err(e)) => TaskPatch::because(TaskStatus::Failed, e.to_string()),
        };
        scheduler.patch(task.id, patch).await?;
        reported?;
        outcome
    }

    /// Run a normalizer task body now (`run_normalizer`): normalize, then commit.
    pub async fn execute(&self, task: &NormalizerTask, graph: &dyn ObjectGraph) -> ServiceResult<NormalizerOutcome> {
        let normalized = self.normalize(task).await?;
        self.commit(task, normalized, graph).await
    }

    /// Read the task's raw file (its hash checked) and run the normalizer on it, saving nothing. An external
    /// normalizer's output is validated whole: one bad object fails the run, naming it.
    pub async fn normalize(&self, task: &NormalizerTask) -> ServiceResult<Normalized> {
        let started_at = OffsetDateTime::now_utc();
        let id = &task.normalizer.id;
        let builtin = self.normalizers.iter().find(|n| n.manifest().id == *id);
        let external = self.external.iter().find(|n| n.manifest.id == *id);
        if builtin.is_none() && external.is_none() {
            return Err(ServiceError::not_found(format!("unknown normalizer {id:?}")));
        }
        let (raw_meta, content) = self.bytes.get_raw(task.raw_data.id).await?;
        let input_text = raw_meta.boefje_meta.input_ooi.clone().ok_or_else(|| ServiceError::invalid(format!("raw file {} has no input object", raw_meta.id)))?;
        let input = Reference::parse(&input_text)?;
        let output = match (builtin, external) {
            (Some(normalizer), _) => normalizer.normalize(&input, &content).map(|observed| Output { observed, ..Output::default() }).map_err(|e| e.to_string()),
            (None, Some(normalizer)) => {
                let meta = NormalizerMeta { id: task.id, started_at: Some(started_at), ended_at: None, raw_data: raw_meta.clone(), normalizer: PluginRef { id: id.clone(), version: None } };
                let meta_json = serde_json::to_string(&meta).map_err(|e| ServiceError::internal(format!("normalizer meta: {e}")))?;
                external::run(normalizer, &content, &meta_json, &self.limits).await
            }
            (None, None) => unreachable!("checked above"),
        };
        let output = output.map_err(|e| ServiceError::invalid(format!("normalizer {id} cannot read raw file {}: {e}", raw_meta.id)))?;
        let method = match self.derivation_path(&raw_meta).await? {
            None => format!("{}/{}", raw_meta.boefje_meta.boefje.id, id),
            Some(path) => format!("{}/{}/derived:{path}", raw_meta.boefje_meta.boefje.id, id),
        };
        Ok(Normalized { method, input, objects: output.observed, declared: output.declared, derived: output.derived, raw_meta, started_at })
    }

    /// Where a derived raw file sits in its run's tree of derived files, e.g. `0.1` (the second file derived from
    /// the first file derived from the boefje's output); `None` for a boefje's own output. Each derived file is
    /// its own observation (its origin's method ends in `derived:PATH`): files of one run that one normalizer
    /// reads would otherwise replace each other's objects, and a rescan's file in the same place replaces the
    /// last one's.
    async fn derivation_path(&self, raw: &RawDataMeta) -> ServiceResult<Option<String>> {
        let mut places = Vec::new();
        let mut mime_types: Vec<String> = raw.mime_types.iter().map(|m| m.value.clone()).collect();
        while let Some((parent, index)) = kat_core::derived::parent(mime_types.iter().map(String::as_str)) {
            places.push(index.to_string());
            if places.len() > 64 {
                return Err(ServiceError::invalid(format!("raw file {} derives from more than 64 generations", raw.id)));
            }
            mime_types = self.bytes.get_raw_meta(parent).await?.mime_types.into_iter().map(|m| m.value).collect();
        }
        places.reverse();
        Ok((!places.is_empty()).then(|| places.join(".")))
    }

    /// Save what [`NormalizerRunner::normalize`] gave as the observation of its input object in the raw file's
    /// organisation, and record the normalizer meta in Bytes.
    pub async fn commit(&self, task: &NormalizerTask, normalized: Normalized, graph: &dyn ObjectGraph) -> ServiceResult<NormalizerOutcome> {
        let Normalized { method, input, objects, declared, derived, raw_meta, started_at } = normalized;
        self.store_derived(&raw_meta, &derived).await?;
        let organisation = &raw_meta.boefje_meta.organization;
        let (itself, observed) = Normalized::split(&input, &objects);
        let mut report = graph.save_observation(organisation, &method, &input, &observed).await?;
        if !itself.is_empty() {
            graph.affirm(organisation, &method, &input, &itself).await?;
        }
        let declarations = graph.save_declarations(organisation, &method, &input, &declared).await?;
        report.absorb(declarations);
        let concluded = rules::apply(&self.rules, graph, organisation, &objects, &report.deleted).await?;
        report.absorb(concluded.report);
        let meta = NormalizerMeta { id: task.id, started_at: Some(started_at), ended_at: Some(OffsetDateTime::now_utc()), raw_data: raw_meta, normalizer: PluginRef { id: task.normalizer.id.clone(), version: None } };
        match self.bytes.save_normalizer_meta(&meta).await {
            // The same task ran before and was interrupted after recording its run (its lease ran out): the
            // observation above replaced that attempt's, and the first record of the run stands.
            Err(e) if e.kind == kat_core::ErrorKind::Conflict => tracing::info!(normalizer_meta_id = %meta.id, "normalizer task ran again; its first meta is kept"),
            other => other?,
        }
        tracing::debug!(normalizer = %task.normalizer.id, objects = objects.len(), new = report.new_or_raised.len(), deleted = report.deleted.len(), "normalized");
        Ok(NormalizerOutcome { objects, concluded: concluded.objects, report })
    }

    /// Store the raw files derived from `parent` as raw files of its boefje run, with the marker mime types of
    /// `kat_core::derived`, so they are normalized in turn; beyond `KAT_MAX_DERIVE_DEPTH` they are dropped
    /// (with a warning), which stops a normalizer that keeps deriving what it reads.
    async fn store_derived(&self, parent: &kat_core::meta::RawDataMeta, derived: &[external::DerivedRaw]) -> ServiceResult<()> {
        let depth = kat_core::derived::depth(parent.mime_types.iter().map(|m| m.value.as_str())) + 1;
        if !derived.is_empty() && depth > self.limits.max_derive_depth {
            tracing::warn!(raw = %parent.id, depth, "derived raw files dropped: deeper than KAT_MAX_DERIVE_DEPTH ({})", self.limits.max_derive_depth);
            return Ok(());
        }
        for (index, raw) in derived.iter().enumerate() {
            let content = raw.bytes().map_err(ServiceError::invalid)?;
            let mut mime_types = raw.mime_types.clone();
            mime_types.extend(kat_core::derived::markers(parent.id, index, depth, &raw.dispatch_to, raw.should_scan));
            self.bytes.save_raw(parent.boefje_meta.id, &mime_types, &content).await?;
        }
        Ok(())
    }
}

/// A normalizer's result, not saved yet.
#[derive(Debug)]
pub struct Normalized {
    /// The origin's method: `boefje id/normalizer id`.
    pub method: String,
    /// The boefje's input object, the observation's source.
    pub input: Reference,
    /// The objects the normalizer gave (observed on the input object).
    pub objects: Vec<Ooi>,
    /// The objects it declared (an external normalizer's `{"declaration": ...}` lines).
    pub declared: Vec<Ooi>,
    /// The raw files it derived (an external normalizer's `{"raw_file": ...}` lines).
    pub derived: Vec<external::DerivedRaw>,
    /// The raw file it read.
    pub raw_meta: kat_core::meta::RawDataMeta,
    /// When the run started.
    pub started_at: OffsetDateTime,
}

impl Normalized {
    /// The objects `normalized` gave, split into the input object given back (a website with the certificate it
    /// serves), whose fields are added to the stored object (an affirmation: an observation made on an object
    /// cannot be what keeps that object alive), and the rest, the observation's result.
    pub fn split(input: &Reference, objects: &[Ooi]) -> (Vec<Ooi>, Vec<Ooi>) {
        objects.iter().cloned().partition(|o| o.reference() == input)
    }

    /// The observation's result: the objects given, but the input object.
    pub fn observed(&self) -> Vec<Ooi> {
        Normalized::split(&self.input, &self.objects).1
    }
}

/// Hand the scheduler the objects of an observation, and those whose clearance the save raised, with their
/// clearance as the graph now holds them, and the objects the save deleted.
async fn report_objects(scheduler: &dyn Scheduler, graph: &dyn ObjectGraph, organisation: &str, outcome: &NormalizerOutcome) -> ServiceResult<()> {
    let mut saved = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let references = outcome.objects.iter().chain(&outcome.concluded).map(|o| o.reference()).chain(outcome.report.new_or_raised.iter().map(|o| o.ooi.reference()));
    for reference in references {
        if seen.insert(reference.clone())
            && let Some(stored) = graph.get(organisation, reference).await?
        {
            saved.push(ObjectState::of(&stored));
        }
    }
    scheduler.objects_changed(organisation, &saved, &outcome.report.deleted).await.map(|_| ())
}
