//! The scheduler contract (DESIGN.md sections 2 and 6): push tasks, pop
//! them with a lease, report progress, and hand the scheduler the events
//! that create tasks (a raw file was stored, objects were saved).
//!
//! A push of a task whose hash (boefje, object and organisation; or
//! normalizer, raw file and organisation) equals that of an unfinished task
//! returns the existing task instead of queueing a twin. A popped task is
//! leased to its worker: `patch` to `running`, any later patch and
//! `heartbeat` renew the lease; a task whose lease runs out goes back to
//! `queued`, or to `failed` after the attempt budget.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::ServiceResult;
use crate::events::RawFileReceived;
use crate::reference::Reference;
use crate::scan_level::ScanLevel;
use crate::task::{Task, TaskStatus};

/// The queue a task belongs to (mula's scheduler ids `boefje` and `normalizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskType {
    /// Run a boefje on an object.
    Boefje,
    /// Run a normalizer on a raw file.
    Normalizer,
}

impl TaskType {
    /// Both queues.
    pub const ALL: [TaskType; 2] = [TaskType::Boefje, TaskType::Normalizer];

    /// `boefje` or `normalizer`: the task's `type` and its scheduler id.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Boefje => "boefje",
            TaskType::Normalizer => "normalizer",
        }
    }

    /// The queue named `name`, if any.
    pub fn parse(name: &str) -> Option<TaskType> {
        TaskType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// A task to queue, as a user or tool pushes it. Pushed tasks rank before
/// the ones the scheduler makes itself and are never held back by the grace
/// period.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Its queue.
    pub task_type: TaskType,
    /// The organisation it runs for.
    pub organisation: String,
    /// Lower runs first; `None` gives the rank of a user push.
    pub priority: Option<i64>,
    /// The task body (`BoefjeTask` or `NormalizerTask` as JSON); its `id`, when valid, becomes the task id.
    pub data: Value,
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    /// The queued task (the existing one when deduplicated).
    pub task: Task,
    /// False when an unfinished task with the same hash already existed.
    pub created: bool,
}

/// One condition of mula's filter language: `column` of the task (or, with
/// `field`, a path into its JSON `data` with `__` between keys), an
/// `operator` (`eq`, `ne`, `in`, `not_in`, `lt`, `gt`, `lte`, `gte`, ...)
/// and a `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// A task column: `organisation`, `priority`, `status`, `data`, ...
    pub column: String,
    /// A path inside a JSON column, such as `boefje__id`.
    #[serde(default)]
    pub field: Option<String>,
    /// The comparison.
    pub operator: String,
    /// What to compare with (a list for `in` and `not_in`).
    #[serde(default)]
    pub value: Value,
}

impl Filter {
    /// `column` (or `column.field`) `operator` `value`.
    pub fn new(column: &str, field: Option<&str>, operator: &str, value: impl Into<Value>) -> Filter {
        Filter { column: column.to_string(), field: field.map(str::to_string), operator: operator.to_string(), value: value.into() }
    }
}

/// A change to a task (mula's `PATCH /tasks/{id}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskPatch {
    /// The new status; the same `running` again renews the lease.
    #[serde(default)]
    pub status: Option<TaskStatus>,
    /// Why (recorded in the task's event log), e.g. a worker's error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TaskPatch {
    /// Move to `status`.
    pub fn status(status: TaskStatus) -> TaskPatch {
        TaskPatch { status: Some(status), reason: None }
    }

    /// Move to `status` because of `reason`.
    pub fn because(status: TaskStatus, reason: impl Into<String>) -> TaskPatch {
        TaskPatch { status: Some(status), reason: Some(reason.into()) }
    }
}

/// Which tasks to list (mula's `GET /tasks`), newest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskQuery {
    /// Only this queue.
    pub scheduler_id: Option<String>,
    /// Only this organisation.
    pub organisation: Option<String>,
    /// Only this type (`boefje`, `normalizer`).
    pub task_type: Option<String>,
    /// Only this status.
    pub status: Option<TaskStatus>,
    /// Further conditions.
    pub filters: Vec<Filter>,
    /// Skip this many.
    pub offset: i64,
    /// At most this many (clamped to 1..=500 by the service; 0 means the default of 10).
    pub limit: i64,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// How many match in all.
    pub count: i64,
    /// This page.
    pub results: Vec<T>,
}

/// An object as the normalizer runner saw it, with its clearance: the
/// scheduler keeps an index of these to queue boefjes, check their
/// conditions and explain its choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectState {
    /// The object's reference (its type is the reference's).
    pub reference: Reference,
    /// Its clearance.
    pub scan_level: ScanLevel,
    /// Its fields, as in the object's JSON.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

impl ObjectState {
    /// The state of a stored object.
    pub fn of(object: &super::graph::StoredObject) -> ObjectState {
        ObjectState { reference: object.ooi.reference().clone(), scan_level: object.scan_level, fields: object.ooi.fields().to_map() }
    }
}

/// How many unfinished tasks there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OpenCount {
    /// Waiting to be popped (pending included).
    pub queued: i64,
    /// Popped, not yet started.
    pub dispatched: i64,
    /// Being run.
    pub running: i64,
}

impl OpenCount {
    /// All unfinished tasks.
    pub fn total(&self) -> i64 {
        self.queued + self.dispatched + self.running
    }
}

/// The task queues.
#[async_trait]
pub trait Scheduler: Send + Sync {
    /// Queue a task as a user push, unless an unfinished one with the same hash exists.
    async fn push(&self, task: NewTask) -> ServiceResult<Pushed>;
    /// Take up to `limit` queued tasks of `task_type` that match every filter, best first, leasing them (status `dispatched`).
    async fn pop(&self, task_type: TaskType, filters: &[Filter], limit: usize) -> ServiceResult<Vec<Task>>;
    /// Change a task; a status move the lifecycle forbids is a `Conflict`. Renews the lease of a task that stays leased.
    async fn patch(&self, id: Uuid, patch: TaskPatch) -> ServiceResult<Task>;
    /// Renew the lease of a dispatched or running task.
    async fn heartbeat(&self, id: Uuid) -> ServiceResult<Task>;
    /// One task.
    async fn get(&self, id: Uuid) -> ServiceResult<Task>;
    /// Tasks, newest first.
    async fn list(&self, query: &TaskQuery) -> ServiceResult<Page<Task>>;
    /// A raw file was stored: queue one task per enabled normalizer that reads one of its mime types (once per event id).
    async fn raw_file_received(&self, event: &RawFileReceived) -> ServiceResult<Vec<Pushed>>;
    /// A normalizer saved `saved` (every object of its observation, with clearance) and deleted `deleted`:
    /// queue the boefjes they call for, and stop the schedules of deleted objects.
    async fn objects_changed(&self, organisation: &str, saved: &[ObjectState], deleted: &[Reference]) -> ServiceResult<Vec<Pushed>>;
    /// How many tasks are unfinished (for "the pipeline is quiet").
    async fn open_count(&self) -> ServiceResult<OpenCount>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_patches_have_mulas_shape() {
        let f: Filter = serde_json::from_value(serde_json::json!({"column": "data", "field": "boefje__id", "operator": "in", "value": ["dns-records"]})).expect("parses");
        assert_eq!(f, Filter::new("data", Some("boefje__id"), "in", serde_json::json!(["dns-records"])));
        let p: TaskPatch = serde_json::from_value(serde_json::json!({"status": "running"})).expect("parses");
        assert_eq!(p, TaskPatch::status(TaskStatus::Running));
        assert!(serde_json::from_value::<TaskPatch>(serde_json::json!({"status": "sleeping"})).is_err());
        assert_eq!(TaskType::parse("normalizer"), Some(TaskType::Normalizer));
        assert_eq!(TaskType::parse("report"), None);
        assert_eq!(OpenCount { queued: 1, dispatched: 2, running: 3 }.total(), 6);
    }
}
