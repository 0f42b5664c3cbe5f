//! The whole pipeline in one process (DESIGN.md section 2): declare
//! targets, then loop until nothing is left to do:
//!
//! 1. relay pending `raw_file_received` events from the Bytes outbox to the
//!    scheduler (normalizer tasks), acknowledging them after;
//! 2. run queued normalizer tasks; their new or raised objects become
//!    boefje tasks;
//! 3. run up to `workers` queued boefje tasks concurrently; their raw files
//!    become events.
//!
//! A failed task does not stop the run: it is collected in the summary.

use std::collections::BTreeMap;

use futures::future::join_all;
use kat_core::services::graph::{ObjectGraph, StoredObject};
use kat_core::services::scheduler::{Scheduler, TaskType};
use kat_core::services::ServiceResult;
use kat_core::task::{BoefjeTask, NormalizerTask, Task};
use kat_core::{Ooi, ScanLevel};
use kat_graph::Graph;
use kat_scheduler::subscriptions::{boefje_task, on_new_objects, on_raw_file_received};

use crate::embedded::Embedded;

/// The clearance `kat scan` declares its targets with.
pub const TARGET_CLEARANCE: ScanLevel = ScanLevel::L2;

/// A task that failed, for the final report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTask {
    /// The task id.
    pub task_id: uuid::Uuid,
    /// What ran on what, e.g. `port-scan on IPAddressV4|internet|127.0.0.1`.
    pub label: String,
    /// Why it failed.
    pub error: String,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Boefje tasks run.
    pub boefje_tasks: usize,
    /// Normalizer tasks run.
    pub normalizer_tasks: usize,
    /// Tasks that failed.
    pub failed: Vec<FailedTask>,
}

/// A progress report: tasks finished so far, tasks still open, the last task's label.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Tasks finished in this run.
    pub done: usize,
    /// Tasks queued or running.
    pub open: i64,
    /// The task that just finished.
    pub label: String,
}

/// The pipeline on the embedded services and graph.
pub struct Pipeline<'a> {
    stores: &'a Embedded,
    graph: &'a Graph,
    boefjes: kat_boefje_runner::BoefjeRunner,
    normalizers: kat_normalizer_runner::NormalizerRunner,
    workers: usize,
}

impl<'a> Pipeline<'a> {
    /// A pipeline whose boefjes see `BOEFJE_` defaults from `host_env`, running `workers` boefjes at a time.
    pub fn new(stores: &'a Embedded, graph: &'a Graph, host_env: BTreeMap<String, String>, workers: usize) -> Self {
        Pipeline { boefjes: stores.boefje_runner(host_env), normalizers: stores.normalizer_runner(), stores, graph, workers: workers.max(1) }
    }

    /// Declare `objects` for `organisation` with `level`, and queue the boefjes that
    /// may run on them (even when they are known already, so a second scan re-scans).
    pub async fn declare(&self, organisation: &str, objects: &[Ooi], level: ScanLevel) -> ServiceResult<()> {
        self.stores.katalogus.ensure_organisation(organisation, organisation).await?;
        for ooi in objects {
            let report = ObjectGraph::declare(self.graph, ooi, level)?;
            self.schedule(organisation, &report.new_or_raised).await?;
            for plugin in self.stores.katalogus.boefjes_for(organisation, ooi.object_type(), level).await? {
                self.stores.scheduler.push(boefje_task(organisation, &plugin, ooi.reference())?).await?;
            }
        }
        Ok(())
    }

    async fn schedule(&self, organisation: &str, objects: &[StoredObject]) -> ServiceResult<()> {
        on_new_objects(self.stores.scheduler.as_ref(), self.stores.katalogus.as_ref(), organisation, objects).await.map(|_| ())
    }

    /// Run every queued task, and every task they lead to, until none is left.
    pub async fn run_until_idle(&self, progress: &mut dyn FnMut(Progress)) -> ServiceResult<RunSummary> {
        let scheduler = self.stores.scheduler.as_ref();
        scheduler.requeue_orphans().await?;
        let mut summary = RunSummary::default();
        loop {
            let mut busy = self.relay_events().await? > 0;
            while let Some(task) = scheduler.pop(TaskType::Normalizer).await? {
                busy = true;
                let label = normalizer_label(&task);
                match self.normalizers.run_task(scheduler, self.graph, &task).await {
                    Ok(outcome) => self.schedule(&task.organisation, &outcome.report.new_or_raised).await?,
                    Err(e) => summary.failed.push(FailedTask { task_id: task.id, label: label.clone(), error: e.to_string() }),
                }
                summary.normalizer_tasks += 1;
                progress(Progress { done: summary.boefje_tasks + summary.normalizer_tasks, open: scheduler.open_count().await?, label });
            }
            let mut batch: Vec<Task> = Vec::new();
            while batch.len() < self.workers {
                match scheduler.pop(TaskType::Boefje).await? {
                    Some(task) => batch.push(task),
                    None => break,
                }
            }
            busy |= !batch.is_empty();
            let outcomes = join_all(batch.iter().map(|task| self.boefjes.run_task(scheduler, task))).await;
            for (task, outcome) in batch.iter().zip(outcomes) {
                let label = boefje_label(task);
                let error = match outcome {
                    Ok(o) => o.error,
                    Err(e) => Some(e.to_string()),
                };
                if let Some(error) = error {
                    summary.failed.push(FailedTask { task_id: task.id, label: label.clone(), error });
                }
                summary.boefje_tasks += 1;
                progress(Progress { done: summary.boefje_tasks + summary.normalizer_tasks, open: scheduler.open_count().await?, label });
            }
            if !busy {
                return Ok(summary);
            }
        }
    }

    /// Hand pending outbox events to the scheduler; returns how many there were.
    async fn relay_events(&self) -> ServiceResult<usize> {
        let events = self.stores.bytes.pending_events(500).await?;
        for (_, event) in &events {
            on_raw_file_received(self.stores.scheduler.as_ref(), self.stores.katalogus.as_ref(), event).await?;
        }
        let seqs: Vec<i64> = events.iter().map(|(seq, _)| *seq).collect();
        self.stores.bytes.ack_events(&seqs).await?;
        Ok(events.len())
    }
}

fn boefje_label(task: &Task) -> String {
    match serde_json::from_value::<BoefjeTask>(task.data.clone()) {
        Ok(b) => format!("{} on {}", b.boefje.id, b.input_ooi),
        Err(_) => format!("boefje task {}", task.id),
    }
}

fn normalizer_label(task: &Task) -> String {
    match serde_json::from_value::<NormalizerTask>(task.data.clone()) {
        Ok(n) => format!("{} on raw {} of {}", n.normalizer.id, n.raw_data.id, n.raw_data.boefje_meta.input_ooi.unwrap_or_default()),
        Err(_) => format!("normalizer task {}", task.id),
    }
}
