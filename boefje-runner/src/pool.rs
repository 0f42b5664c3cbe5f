//! The worker pool: keeps up to `BOEFJES_POOL_SIZE` tasks running at once,
//! each popped from the scheduler and run by one shared [`Worker`]: the
//! [`BoefjeRunner`] for boefje tasks, and (wired by `kat-tools`, since this
//! crate may not know the graph) a normalizer worker for normalizer tasks.
//!
//! The pool asks the scheduler for as many tasks as it has free running
//! places (with its filters, such as the plugin ids this runner serves) and
//! runs each as its own tokio task, with a heartbeat beside it that renews
//! the task's lease every [`PoolConfig::heartbeat_every`] until the job
//! ends. A job gives its running place back when its plugin has ended and
//! it holds its share of the pool's storing budget ([`crate::slot`]), so the
//! next pop does not wait for Bytes to commit the output. There is no batch
//! barrier: a freed place is filled by the next pop at once, so one slow
//! boefje never holds up the others. A runner that dies mid-job stops
//! heartbeating, and the scheduler's lease expiry hands its task to another
//! runner.
//!
//! A runner with Kubernetes first takes back the tasks of Jobs an earlier
//! life of it left running (see `runner::kubernetes`), beside its slots.
//!
//! [`Pool::run`] works until its stop future resolves (the caller wires
//! SIGTERM to it), then pops nothing more and lets the running jobs finish
//! (each is bounded by its own timeout). [`Pool::drain`] works until the
//! queue is empty and nothing runs, for one-shot callers and tests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kat_core::config::{get, number, ConfigError};
use kat_core::services::scheduler::{Filter, Scheduler, TaskType};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::task::Task;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::slot::{Places, Slot};
use crate::{BoefjeOutcome, BoefjeRunner};

/// How many jobs run at once.
pub const ENV_POOL_SIZE: &str = "BOEFJES_POOL_SIZE";
/// Comma-separated boefje ids: pop only tasks of these boefjes.
pub const ENV_POOL_FILTER_PLUGINS: &str = "BOEFJES_POOL_FILTER_PLUGINS";
/// Comma-separated container images: pop only tasks of boefjes with one of these `oci_image`s.
pub const ENV_POOL_FILTER_IMAGES: &str = "BOEFJES_POOL_FILTER_IMAGES";
/// The pool size without `BOEFJES_POOL_SIZE`.
pub const DEFAULT_POOL_SIZE: usize = 8;
/// The largest `BOEFJES_POOL_SIZE`.
pub const MAX_POOL_SIZE: usize = 1024;
/// The longest wait between pops while the scheduler keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How a [`Pool`] works.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// How many plugins run at once (at least 1); beside them, up to twice this many MiB of outputs (or one
    /// larger output) wait to be stored ([`crate::slot`]).
    pub size: usize,
    /// The filters of every pop (mula's filter language), such as `data.boefje__id in [...]`.
    pub filters: Vec<Filter>,
    /// How long to wait before popping again after a pop found nothing (a job that ends cuts the wait short).
    pub idle_wait: Duration,
    /// How often a running job's lease is renewed; keep it well under the scheduler's lease (a third of it).
    pub heartbeat_every: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { size: DEFAULT_POOL_SIZE, filters: Vec::new(), idle_wait: Duration::from_millis(500), heartbeat_every: Duration::from_secs(20) }
    }
}

impl PoolConfig {
    /// The pool's settings from `BOEFJES_POOL_SIZE` (1 to 1024, default 8), `BOEFJES_POOL_FILTER_PLUGINS`
    /// (comma-separated boefje ids; empty or unset: every boefje) and `BOEFJES_POOL_FILTER_IMAGES`
    /// (comma-separated `oci_image`s; empty or unset: any); the rest are the defaults.
    pub fn from_vars(lookup: &impl Fn(&str) -> Option<String>) -> Result<PoolConfig, ConfigError> {
        let size = number(lookup, ENV_POOL_SIZE, DEFAULT_POOL_SIZE, 1, MAX_POOL_SIZE)?;
        let list = |name: &str| -> Vec<String> { get(lookup, name).map(|text| text.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).collect()).unwrap_or_default() };
        let (plugins, images) = (list(ENV_POOL_FILTER_PLUGINS), list(ENV_POOL_FILTER_IMAGES));
        let mut filters = Vec::new();
        if !plugins.is_empty() {
            filters.push(plugin_filter(&plugins));
        }
        if !images.is_empty() {
            filters.push(image_filter(&images));
        }
        Ok(PoolConfig { size, filters, ..PoolConfig::default() })
    }
}

/// A filter that pops only tasks of these boefjes.
pub fn plugin_filter(ids: &[String]) -> Filter {
    Filter::new("data", Some("boefje__id"), "in", ids.to_vec())
}

/// A filter that pops only tasks of boefjes with one of these container images (`data.boefje.oci_image`).
pub fn image_filter(images: &[String]) -> Filter {
    Filter::new("data", Some("boefje__oci_image"), "in", images.to_vec())
}

/// What a pool runs: the tasks of one queue.
#[async_trait]
pub trait Worker: Send + Sync + 'static {
    /// What one task's run gives.
    type Outcome: Send + 'static;
    /// The queue it pops from.
    const TASK_TYPE: TaskType;
    /// Whether an outcome is a failed plugin run (the task is marked failed), for [`PoolStats::failed`].
    fn failed(outcome: &Self::Outcome) -> bool;
    /// Tasks an earlier life of this worker left running elsewhere, to run again first.
    async fn orphaned_tasks(&self, _scheduler: &dyn Scheduler) -> Vec<Task> {
        Vec::new()
    }
    /// Run one popped task (and any it serves alongside), renewing their leases every `every`; the outcome of
    /// each task. The job holds `slot` until it ends, or calls [`Slot::plugin_ended`] once its plugin has run
    /// to let the pool start the next one while it stores the output.
    async fn job(&self, scheduler: &dyn Scheduler, task: Task, every: Duration, slot: Slot) -> Vec<(Task, ServiceResult<Self::Outcome>)>;
}

#[async_trait]
impl Worker for BoefjeRunner {
    type Outcome = BoefjeOutcome;
    const TASK_TYPE: TaskType = TaskType::Boefje;

    fn failed(outcome: &BoefjeOutcome) -> bool {
        outcome.error.is_some()
    }

    async fn orphaned_tasks(&self, scheduler: &dyn Scheduler) -> Vec<Task> {
        BoefjeRunner::orphaned_tasks(self, scheduler).await
    }

    /// The task with the duplicates of other organisations it may run for (see `shared`).
    /// A shared run holds its slot until every task it serves is stored.
    async fn job(&self, scheduler: &dyn Scheduler, task: Task, every: Duration, mut slot: Slot) -> Vec<(Task, ServiceResult<BoefjeOutcome>)> {
        let duplicates = self.claim_duplicates(scheduler, &task).await;
        if duplicates.is_empty() {
            let outcome = with_heartbeat(scheduler, task.id, every, self.run_task_in(scheduler, &task, &mut slot)).await;
            return vec![(task, outcome)];
        }
        let ids: Vec<Uuid> = std::iter::once(task.id).chain(duplicates.iter().map(|t| t.id)).collect();
        with_heartbeats(scheduler, &ids, every, self.run_shared(scheduler, &task, duplicates)).await
    }
}

/// What a pool did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Jobs that ended (completed, failed or in error).
    pub run: u64,
    /// Jobs whose boefje failed (the task is marked failed, with an `error/boefje` raw file).
    pub failed: u64,
    /// Jobs that ended in a store or scheduler failure, or panicked (the lease hands the task on if it was not patched).
    pub errors: u64,
    /// Pops that failed (the scheduler was unreachable).
    pub pop_errors: u64,
}

impl PoolStats {
    fn record<W: Worker>(&mut self, joined: Result<Vec<(Uuid, ServiceResult<W::Outcome>)>, tokio::task::JoinError>) {
        let outcomes = match joined {
            Ok(outcomes) => outcomes,
            Err(e) => {
                self.run += 1;
                self.errors += 1;
                tracing::error!("a job panicked or was cancelled: {e}");
                return;
            }
        };
        for (id, outcome) in outcomes {
            self.run += 1;
            match outcome {
                Ok(outcome) if !W::failed(&outcome) => {}
                Ok(_) => self.failed += 1,
                Err(e) => {
                    self.errors += 1;
                    tracing::error!(task = %id, "task could not be run or recorded: {e}");
                }
            }
        }
    }
}

/// When the work loop ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// When the stop future resolves and the running jobs have finished.
    Stopped,
    /// When a pop finds nothing and no job runs (or a pop fails).
    Drained,
}

/// Called with each task a job ran and what the run gave (for progress and reports).
pub type OnDone<O> = Arc<dyn Fn(&Task, &ServiceResult<O>) + Send + Sync>;

/// Runs a worker's tasks from the scheduler, up to [`PoolConfig::size`] at once.
pub struct Pool<W: Worker = BoefjeRunner> {
    runner: Arc<W>,
    scheduler: Arc<dyn Scheduler>,
    config: PoolConfig,
    on_done: Option<OnDone<W::Outcome>>,
}

impl<W: Worker> Pool<W> {
    /// A pool that pops from `scheduler` and runs with `runner`. A size of 0 is taken as 1.
    pub fn new(runner: Arc<W>, scheduler: Arc<dyn Scheduler>, mut config: PoolConfig) -> Self {
        config.size = config.size.max(1);
        Pool { runner, scheduler, config, on_done: None }
    }

    /// Call `on_done` after each job with its task and outcome (from the job's own tokio task).
    pub fn on_done(mut self, on_done: impl Fn(&Task, &ServiceResult<W::Outcome>) + Send + Sync + 'static) -> Self {
        self.on_done = Some(Arc::new(on_done));
        self
    }

    /// Work until `stop` resolves: then pop nothing more, wait for the running jobs and return what was done.
    /// A failing pop is logged and retried after a back-off (doubling from `idle_wait` up to 10 s).
    pub async fn run(self, stop: impl Future<Output = ()>) -> ServiceResult<PoolStats> {
        let (stopped, stop_here) = tokio::sync::oneshot::channel::<()>();
        let mut work = Spawned(tokio::spawn(self.work(async move { drop(stop_here.await) }, Until::Stopped)));
        tokio::pin!(stop);
        tokio::select! {
            joined = &mut work.0 => return joined_stats(joined),
            () = &mut stop => drop(stopped.send(())),
        }
        joined_stats((&mut work.0).await)
    }

    /// Work until a pop finds nothing while no job runs. A failing pop ends the work: the running jobs
    /// finish and the pop's error is returned.
    pub async fn drain(self) -> ServiceResult<PoolStats> {
        let mut work = Spawned(tokio::spawn(self.work(std::future::pending(), Until::Drained)));
        joined_stats((&mut work.0).await)
    }

    async fn work(self, stop: impl Future<Output = ()>, until: Until) -> ServiceResult<PoolStats> {
        tokio::pin!(stop);
        let mut jobs: JoinSet<Vec<(Uuid, ServiceResult<W::Outcome>)>> = JoinSet::new();
        let places = Places::new(self.config.size);
        let mut stats = PoolStats::default();
        let mut backoff = self.config.idle_wait;
        let mut stopping = false;
        let mut failure = None;
        // Jobs an earlier life of this runner left running in the cluster: run their tasks again first.
        for task in self.runner.orphaned_tasks(&*self.scheduler).await {
            jobs.spawn(job(self.runner.clone(), self.scheduler.clone(), task, self.config.heartbeat_every, places.take(), self.on_done.clone()));
        }
        loop {
            // How long to wait for a job to end before popping again; `None`: a freed place (or the stop) wakes us.
            let mut wait = None;
            let free = places.free();
            if !stopping && free > 0 {
                match self.scheduler.pop(W::TASK_TYPE, &self.config.filters, free).await {
                    Ok(tasks) if tasks.is_empty() => {
                        backoff = self.config.idle_wait;
                        if until == Until::Drained && jobs.is_empty() {
                            break;
                        }
                        wait = Some(self.config.idle_wait);
                    }
                    Ok(tasks) => {
                        backoff = self.config.idle_wait;
                        let popped = tasks.len();
                        for task in tasks {
                            tracing::debug!(task = %task.id, "task popped");
                            jobs.spawn(job(self.runner.clone(), self.scheduler.clone(), task, self.config.heartbeat_every, places.take(), self.on_done.clone()));
                        }
                        if popped < free {
                            // The queue may hold more already; otherwise the next pop finds nothing and waits.
                            continue;
                        }
                    }
                    Err(e) => {
                        stats.pop_errors += 1;
                        if until == Until::Drained {
                            tracing::warn!("cannot pop tasks: {e}; draining ends");
                            stopping = true;
                            failure = Some(e);
                        } else {
                            tracing::warn!("cannot pop tasks: {e}; trying again in {backoff:?}");
                            wait = Some(backoff);
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                }
            }
            if stopping && jobs.is_empty() {
                break;
            }
            tokio::select! {
                () = &mut stop, if !stopping => {
                    tracing::info!(running = jobs.len(), "pool stopping: no more pops, waiting for the running jobs");
                    stopping = true;
                }
                Some(joined) = jobs.join_next(), if !jobs.is_empty() => stats.record::<W>(joined),
                // Every free place was filled: a job's plugin ended (or the job did), so pop for the freed place.
                () = places.wait_free(), if !stopping && wait.is_none() => {}
                () = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
                else => {}
            }
            // Take every job that has ended too, so their slots are refilled by one pop.
            while let Some(joined) = jobs.try_join_next() {
                stats.record::<W>(joined);
            }
            if stopping && jobs.is_empty() {
                break;
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(stats),
        }
    }
}

/// The result of the pool's own task. The pool works in a task of its own on a runtime worker, wherever it
/// is awaited from: awaited on the thread that blocks on a `main` future, every job's end was a wake-up
/// across threads (a tenth of the no-op runner's throughput). Dropping `run`'s or `drain`'s future still
/// ends the pool and its jobs at once ([`Spawned`]), as it did when the pool worked inside that future.
fn joined_stats(joined: Result<ServiceResult<PoolStats>, tokio::task::JoinError>) -> ServiceResult<PoolStats> {
    joined.unwrap_or_else(|e| Err(ServiceError::internal(format!("the worker pool stopped unexpectedly: {e}"))))
}

/// The pool's own task, aborted (with its jobs) when the future that awaits it is dropped.
struct Spawned(tokio::task::JoinHandle<ServiceResult<PoolStats>>);

impl Drop for Spawned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run one popped task with the worker in `slot`, then tell `on_done`.
async fn job<W: Worker>(runner: Arc<W>, scheduler: Arc<dyn Scheduler>, task: Task, every: Duration, slot: Slot, on_done: Option<OnDone<W::Outcome>>) -> Vec<(Uuid, ServiceResult<W::Outcome>)> {
    let results = runner.job(&*scheduler, task, every, slot).await;
    if let Some(on_done) = on_done {
        for (task, outcome) in &results {
            on_done(task, outcome);
        }
    }
    results.into_iter().map(|(task, outcome)| (task.id, outcome)).collect()
}

/// Run `work` for task `id`, renewing its lease every `every` until the work ends; a failing heartbeat is
/// logged, not fatal. (Also what `kat scan` wraps a normalizer task in.)
pub async fn with_heartbeat<F: Future>(scheduler: &dyn Scheduler, id: Uuid, every: Duration, work: F) -> F::Output {
    with_heartbeats(scheduler, &[id], every, work).await
}

/// [`with_heartbeat`] for several tasks that one piece of work serves.
pub async fn with_heartbeats<F: Future>(scheduler: &dyn Scheduler, ids: &[Uuid], every: Duration, work: F) -> F::Output {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ticks.tick() => {
                for id in ids {
                    if let Err(e) = scheduler.heartbeat(*id).await {
                        tracing::warn!(task = %id, "cannot renew the lease of a running task: {e}");
                    }
                }
            }
        }
    }
}
