//! The normalizer worker: normalizer tasks run by the same worker pool as
//! boefje tasks (`kat_boefje_runner::Pool`), each task's lease renewed while
//! it runs. It lives here, where the runner, the graph and the pool meet:
//! `kat-normalizer-runner` knows neither the pool nor a concrete graph.
//! `kat scan` runs it in process beside the boefje pool; the
//! `normalizer-runner` service runs it against the scheduler and Bytes APIs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kat_boefje_runner::pool::with_heartbeat;
use kat_boefje_runner::{Slot, Worker};
use kat_core::services::graph::ObjectGraph;
use kat_core::services::scheduler::{Scheduler, TaskType};
use kat_core::services::ServiceResult;
use kat_core::task::Task;
use kat_normalizer_runner::{NormalizerOutcome, NormalizerRunner};

/// Runs normalizer tasks into one graph.
pub struct NormalizerWorker {
    runner: NormalizerRunner,
    graph: Arc<dyn ObjectGraph>,
}

impl NormalizerWorker {
    /// A worker that runs tasks with `runner` and saves into `graph`.
    pub fn new(runner: NormalizerRunner, graph: Arc<dyn ObjectGraph>) -> Self {
        NormalizerWorker { runner, graph }
    }
}

#[async_trait]
impl Worker for NormalizerWorker {
    type Outcome = NormalizerOutcome;
    const TASK_TYPE: TaskType = TaskType::Normalizer;

    /// A normalizer that fails is an `Err` of its run (the task is marked failed first), never an outcome.
    fn failed(_outcome: &NormalizerOutcome) -> bool {
        false
    }

    /// The task holds its slot until it ends: saving into the graph is the normalizer's work.
    async fn job(&self, scheduler: &dyn Scheduler, task: Task, every: Duration, _slot: Slot) -> Vec<(Task, ServiceResult<NormalizerOutcome>)> {
        let outcome = with_heartbeat(scheduler, task.id, every, self.runner.run_task(scheduler, &*self.graph, &task)).await;
        vec![(task, outcome)]
    }
}
