//! The scheduler contract: push, pop and patch tasks. A push of a task
//! whose body equals that of an unfinished task returns the existing task
//! instead of queueing a twin.

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use super::ServiceResult;
use crate::task::{Task, TaskStatus};

/// The queue a task belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskType {
    /// Run a boefje on an object.
    Boefje,
    /// Run a normalizer on a raw file.
    Normalizer,
}

impl TaskType {
    /// `boefje` or `normalizer`, as in the task's `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Boefje => "boefje",
            TaskType::Normalizer => "normalizer",
        }
    }
}

/// A task to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Its queue.
    pub task_type: TaskType,
    /// The organisation it runs for.
    pub organisation: String,
    /// Lower runs first.
    pub priority: i64,
    /// The task body (`BoefjeTask` or `NormalizerTask` as JSON).
    pub data: Value,
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    /// The queued task (the existing one when deduplicated).
    pub task: Task,
    /// False when an unfinished task with the same body already existed.
    pub created: bool,
}

/// The task queues.
#[async_trait]
pub trait Scheduler: Send + Sync {
    /// Queue a task, unless an unfinished one with the same body exists.
    async fn push(&self, task: NewTask) -> ServiceResult<Pushed>;
    /// Take the next queued task of `task_type` (marking it dispatched), if any.
    async fn pop(&self, task_type: TaskType) -> ServiceResult<Option<Task>>;
    /// Move a task to `status`; a move the lifecycle forbids is refused.
    async fn patch(&self, id: Uuid, status: TaskStatus) -> ServiceResult<Task>;
    /// One task.
    async fn get(&self, id: Uuid) -> ServiceResult<Task>;
    /// Tasks, newest first, optionally of one status.
    async fn list(&self, status: Option<TaskStatus>) -> ServiceResult<Vec<Task>>;
}
