//! The whole pipeline in one process (DESIGN.md section 2): declare
//! targets, then run until nothing is left to do:
//!
//! - the boefje worker pool (`kat_boefje_runner::Pool`, the same pool the
//!   `boefje-runner` service uses) keeps up to `workers` boefje tasks
//!   running, each popped as soon as a slot is free; their raw files become
//!   events;
//! - the normalizer worker pool (the same pool over
//!   [`crate::normalizer_pool::NormalizerWorker`], as the
//!   `normalizer-runner` service uses) runs normalizer tasks; the normalizer
//!   runner hands the scheduler the objects, which become boefje tasks;
//! - this loop relays pending `raw_file_received` events from the Bytes
//!   outbox to the scheduler (normalizer tasks), acknowledging them after,
//!   and reports progress.
//!
//! The run is over when no task is open and then no event waits in the
//! outbox (in that order: a task finishes only after its raw files and their
//! events are stored). Tasks are popped with leases, renewed by a heartbeat
//! while they run.
//!
//! A failed task does not stop the run: it is collected in the summary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kat_boefje_runner::{Pool, PoolConfig, PoolStats};
use kat_core::services::katalogus::Katalogus;
use kat_core::services::scheduler::{ObjectState, Scheduler};
use kat_core::services::ServiceResult;
use kat_core::task::{BoefjeTask, NormalizerTask, Task};
use kat_core::{Ooi, ScanLevel};
use kat_graph::Graph;
use kat_scheduler::local::boefje_push;

use crate::embedded::Embedded;
use crate::normalizer_pool::NormalizerWorker;

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
    /// Whether it was a boefje task (else a normalizer task).
    pub boefje: bool,
    /// The object it ran on (a normalizer task: the object its raw file's boefje ran on).
    pub input_ooi: Option<String>,
}

/// The pipeline on the embedded services and graph.
pub struct Pipeline<'a> {
    stores: &'a Embedded,
    graph: Arc<Graph>,
    boefjes: Arc<kat_boefje_runner::BoefjeRunner>,
    normalizers: Arc<NormalizerWorker>,
    workers: usize,
}

impl<'a> Pipeline<'a> {
    /// A pipeline whose boefjes see `BOEFJE_` defaults from `host_env`, running `workers` boefjes (and as
    /// many normalizers) at a time.
    pub fn new(stores: &'a Embedded, graph: Arc<Graph>, host_env: BTreeMap<String, String>, workers: usize) -> Self {
        Self::with_boefje_runner(stores, graph, stores.boefje_runner(host_env), workers)
    }

    /// A pipeline whose boefje tasks run on `boefjes` (`kat bench pipeline` brings its own no-op boefje).
    pub fn with_boefje_runner(stores: &'a Embedded, graph: Arc<Graph>, boefjes: kat_boefje_runner::BoefjeRunner, workers: usize) -> Self {
        let normalizers = Arc::new(NormalizerWorker::new(stores.normalizer_runner(), graph.clone()));
        Pipeline { boefjes: Arc::new(boefjes), normalizers, stores, graph, workers: workers.max(1) }
    }

    /// Declare `objects` for `organisation` with `level`, and queue the boefjes that
    /// may run on them (even when they are known already, so a second scan re-scans).
    pub async fn declare(&self, organisation: &str, objects: &[Ooi], level: ScanLevel) -> ServiceResult<()> {
        self.stores.katalogus.ensure_organisation(organisation, organisation).await?;
        // Record the plugins' enablement, so that a plugin switched on later is scheduled for what exists.
        self.stores.scheduler.sync_plugins(organisation).await?;
        declare_objects(self.stores.katalogus.as_ref(), self.stores.scheduler.as_ref(), &self.graph, organisation, objects, level).await
    }

    /// Run every queued task, and every task they lead to, until nothing is queued, leased or waiting in the
    /// outbox. Tasks still leased by a worker that is gone (a run that crashed) are waited for until their
    /// leases run out and they are queued again.
    pub async fn run_until_idle(&self, progress: &mut dyn FnMut(Progress)) -> ServiceResult<RunSummary> {
        self.run(None, progress).await
    }

    /// Run tasks as they come, and relay events, until `stop` resolves (`kat serve`: the services of a
    /// deployment in one process), however much is open then; the running jobs finish first.
    pub async fn run_until_stopped(&self, stop: impl std::future::Future<Output = ()> + Send + 'static, progress: &mut dyn FnMut(Progress)) -> ServiceResult<RunSummary> {
        self.run(Some(Box::pin(stop)), progress).await
    }

    /// Run the pools and the relay until the pipeline is idle (`stop` is `None`) or `stop` resolves.
    async fn run(&self, until: Option<Stop<'_>>, progress: &mut dyn FnMut(Progress)) -> ServiceResult<RunSummary> {
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        let config = PoolConfig { size: self.workers, idle_wait: Duration::from_millis(50), heartbeat_every: self.heartbeat_every(), ..PoolConfig::default() };
        let boefje_done = done_tx.clone();
        let boefjes = Pool::new(self.boefjes.clone(), self.stores.scheduler.clone(), config.clone()).on_done(move |task, outcome| {
            let error = match outcome {
                Ok(o) => o.error.clone(),
                Err(e) => Some(e.to_string()),
            };
            // The receiver lives until the pools have stopped.
            let (label, input_ooi) = boefje_label(task);
            let _ = boefje_done.send(Done { task_id: task.id, label, input_ooi, error, boefje: true });
        });
        let normalizers = Pool::new(self.normalizers.clone(), self.stores.scheduler.clone(), config).on_done(move |task, outcome| {
            let error = outcome.as_ref().err().map(ToString::to_string);
            let (label, input_ooi) = normalizer_label(task);
            let _ = done_tx.send(Done { task_id: task.id, label, input_ooi, error, boefje: false });
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let boefjes = tokio::spawn(boefjes.run(until_stopped(stopped.clone())));
        let normalizers = tokio::spawn(normalizers.run(until_stopped(stopped)));
        let mut summary = RunSummary::default();
        let result = self.relay_until(&mut summary, &mut done_rx, until, progress).await;
        let _ = stop.send(true);
        let joined = |r: Result<ServiceResult<PoolStats>, tokio::task::JoinError>| r.map_err(|e| kat_core::services::ServiceError::internal(format!("a worker pool stopped: {e}")))?;
        let (boefje_stats, normalizer_stats) = (joined(boefjes.await), joined(normalizers.await));
        // Jobs that ended while the pools stopped.
        while let Ok(done) = done_rx.try_recv() {
            self.task_done(&mut summary, done, progress).await?;
        }
        boefje_stats?;
        normalizer_stats?;
        result.map(|()| summary)
    }

    /// Relay events and report finished tasks while the pools run, until nothing is open or pending (without
    /// `stop`) or until `stop` resolves.
    async fn relay_until(&self, summary: &mut RunSummary, done: &mut tokio::sync::mpsc::UnboundedReceiver<Done>, mut stop: Option<Stop<'_>>, progress: &mut dyn FnMut(Progress)) -> ServiceResult<()> {
        let scheduler = self.stores.scheduler.as_ref();
        loop {
            while let Ok(finished) = done.try_recv() {
                self.task_done(summary, finished, progress).await?;
            }
            // Count first, relay second: a task that is no longer open stored its events before the count.
            let quiet = stop.is_none() && scheduler.open_count().await?.total() == 0;
            if self.relay_events().await? > 0 {
                continue;
            }
            if quiet {
                return Ok(());
            }
            let stopped = async {
                match stop.as_mut() {
                    Some(stop) => stop.await,
                    None => std::future::pending().await,
                }
            };
            // Wake on a finished task (its events may be waiting) or after a short while.
            tokio::select! {
                Some(finished) = done.recv() => self.task_done(summary, finished, progress).await?,
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                () = stopped => return Ok(()),
            }
        }
    }

    /// How often a running task's lease is renewed: a third of the lease, at least every 100 ms.
    fn heartbeat_every(&self) -> Duration {
        (self.stores.scheduler.settings().lease / 3).max(Duration::from_millis(100))
    }

    /// Count a finished task and report it.
    async fn task_done(&self, summary: &mut RunSummary, Done { task_id, label, input_ooi, error, boefje }: Done, progress: &mut dyn FnMut(Progress)) -> ServiceResult<()> {
        if let Some(error) = error {
            summary.failed.push(FailedTask { task_id, label: label.clone(), error });
        }
        if boefje {
            summary.boefje_tasks += 1;
        } else {
            summary.normalizer_tasks += 1;
        }
        progress(Progress { done: summary.boefje_tasks + summary.normalizer_tasks, open: self.stores.scheduler.open_count().await?.total(), label, boefje, input_ooi });
        Ok(())
    }

    /// Hand pending outbox events to the scheduler; returns how many there were.
    async fn relay_events(&self) -> ServiceResult<usize> {
        let events = self.stores.bytes.pending_events(500).await?;
        for (_, event) in &events {
            self.stores.scheduler.raw_file_received(event).await?;
        }
        let seqs: Vec<i64> = events.iter().map(|(seq, _)| *seq).collect();
        self.stores.bytes.ack_events(&seqs).await?;
        Ok(events.len())
    }
}

/// Declare `objects` in `graph` for `organisation` with `level`, push a task for every enabled boefje that may
/// run on each (even when the object is known already, so a second scan re-scans), and tell the scheduler which
/// objects are new or raised. The embedded pipeline and `kat scan --api` (over HTTP) both declare with this.
pub async fn declare_objects(katalogus: &dyn Katalogus, scheduler: &dyn Scheduler, graph: &Graph, organisation: &str, objects: &[Ooi], level: ScanLevel) -> ServiceResult<()> {
    for ooi in objects {
        let report = graph.declare(organisation, ooi, level).await?;
        for plugin in katalogus.boefjes_for(organisation, ooi.object_type(), level).await? {
            scheduler.push(boefje_push(organisation, &plugin, ooi.reference())).await?;
        }
        let mut saved: Vec<ObjectState> = report.new_or_raised.iter().map(ObjectState::of).collect();
        if let Some(stored) = graph.get(organisation, ooi.reference()).await? {
            saved.push(ObjectState::of(&stored));
        }
        scheduler.objects_changed(organisation, &saved, &report.deleted).await?;
    }
    Ok(())
}

/// What ends a service's run (`kat serve`: SIGTERM).
type Stop<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// A task a pool finished.
struct Done {
    task_id: uuid::Uuid,
    /// What ran on what.
    label: String,
    /// The object it ran on.
    input_ooi: Option<String>,
    /// Why it failed, if it did.
    error: Option<String>,
    /// A boefje task (else a normalizer task).
    boefje: bool,
}

/// A finished boefje task's label and the object it ran on.
pub(crate) fn boefje_label(task: &Task) -> (String, Option<String>) {
    match serde_json::from_value::<BoefjeTask>(task.data.clone()) {
        Ok(b) => (format!("{} on {}", b.boefje.id, b.input_ooi), Some(b.input_ooi)),
        Err(_) => (format!("boefje task {}", task.id), None),
    }
}

/// A finished normalizer task's label and the object its raw file's boefje ran on.
pub(crate) fn normalizer_label(task: &Task) -> (String, Option<String>) {
    match serde_json::from_value::<NormalizerTask>(task.data.clone()) {
        Ok(n) => {
            let input = n.raw_data.boefje_meta.input_ooi;
            (format!("{} on raw {} of {}", n.normalizer.id, n.raw_data.id, input.as_deref().unwrap_or_default()), input)
        }
        Err(_) => (format!("normalizer task {}", task.id), None),
    }
}
