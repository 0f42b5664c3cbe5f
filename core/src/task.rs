//! Scheduler tasks in the scheduler's (mula's) JSON shape, and the status
//! lifecycle: `pending -> queued -> dispatched -> running -> completed |
//! failed | cancelled`, with a lease-expired task going back to `queued`.
//! A task's `priority` and `type` are always present in JSON (OpenKAT's
//! workers require them).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::meta::{PluginRef, RawDataMeta};

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Created, not yet queued.
    Pending,
    /// Waiting to be popped.
    Queued,
    /// Handed to a worker, not yet started.
    Dispatched,
    /// The worker is running it.
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error, or out of retries.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl TaskStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [TaskStatus; 7] = [TaskStatus::Pending, TaskStatus::Queued, TaskStatus::Dispatched, TaskStatus::Running, TaskStatus::Completed, TaskStatus::Failed, TaskStatus::Cancelled];

    /// The lowercase name, as in the task's JSON (`queued`, `running` ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Queued => "queued",
            TaskStatus::Dispatched => "dispatched",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    /// The status named `name` (lowercase, as in JSON), if any.
    pub fn parse(name: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the task is unfinished (OpenKAT's `ACTIVE_TASK_STATUSES`): pending, queued, dispatched or running.
    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }

    /// Whether a worker holds the task (it carries a lease): dispatched or running.
    pub fn is_leased(self) -> bool {
        matches!(self, TaskStatus::Dispatched | TaskStatus::Running)
    }

    /// Whether the task is finished for good.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled)
    }

    /// Whether a task may move from `self` to `next`. A dispatched or running
    /// task may go back to `queued` (its lease ran out); a finished task never moves.
    pub fn can_become(self, next: TaskStatus) -> bool {
        use TaskStatus::*;
        match (self, next) {
            (Pending, Queued) => true,
            (Queued, Dispatched) => true,
            (Dispatched, Running) => true,
            (Dispatched | Running, Queued) => true,
            (Running | Dispatched, Completed | Failed) => true,
            (s, Cancelled) => !s.is_terminal(),
            (Pending | Queued, Failed) => true,
            _ => false,
        }
    }
}

/// A task: a boefje task (object x boefje) or a normalizer task (raw file x normalizer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The task's id.
    pub id: Uuid,
    /// Which queue it is in, e.g. `boefje` or `normalizer`.
    pub scheduler_id: String,
    /// The recurring schedule that made it, if any.
    #[serde(default)]
    pub schedule_id: Option<Uuid>,
    /// The organisation it runs for.
    pub organisation: String,
    /// Lower runs first.
    #[serde(default)]
    pub priority: Option<i64>,
    /// Where it is in its life.
    pub status: TaskStatus,
    /// `boefje` or `normalizer`.
    #[serde(rename = "type")]
    pub task_type: String,
    /// The deduplication hash of `data`.
    #[serde(default)]
    pub hash: Option<String>,
    /// The boefje or normalizer task body.
    pub data: Value,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub modified_at: OffsetDateTime,
}

/// The body of a boefje task: run `boefje` on `input_ooi` for `organization`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoefjeTask {
    /// The task body's id; the boefje run's meta gets the same id.
    pub id: Uuid,
    /// Which boefje.
    pub boefje: PluginRef,
    /// The reference of the object to scan.
    pub input_ooi: String,
    /// The organisation (OpenKAT spells it with a z here).
    pub organization: String,
}

/// The body of a normalizer task: run `normalizer` on the raw file `raw_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizerTask {
    /// The task body's id; the normalizer meta gets the same id.
    pub id: Uuid,
    /// Which normalizer.
    pub normalizer: PluginRef,
    /// The raw file to read.
    pub raw_data: RawDataMeta,
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    #[test]
    fn lifecycle_allows_only_forward_moves_and_lease_expiry() {
        let path = [Pending, Queued, Dispatched, Running, Completed];
        for pair in path.windows(2) {
            assert!(pair[0].can_become(pair[1]), "{:?} -> {:?}", pair[0], pair[1]);
        }
        assert!(Running.can_become(Queued), "an expired lease requeues");
        assert!(Running.can_become(Failed));
        for done in [Completed, Failed, Cancelled] {
            for next in [Pending, Queued, Dispatched, Running, Completed, Failed, Cancelled] {
                assert!(!done.can_become(next), "{done:?} -> {next:?}");
            }
        }
        assert!(!Queued.can_become(Running), "a task is dispatched before it runs");
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).expect("serializes"), status.as_str());
            assert_eq!(status.is_active(), !status.is_terminal());
        }
        assert_eq!(TaskStatus::parse("QUEUED"), None);
        assert!(Running.is_leased() && Dispatched.is_leased() && !Queued.is_leased());
        assert!(!Pending.can_become(Completed));
    }

    #[test]
    fn json_shape_is_the_schedulers() {
        let json = serde_json::json!({
            "id": "7134430c-8509-4944-b0be-27cb9bfb4bc2", "scheduler_id": "boefje", "organisation": "_dev",
            "priority": 1, "status": "queued", "type": "boefje", "hash": "h",
            "data": {"boefje": {"id": "dns-records"}, "input_ooi": "Hostname|internet|example.nl", "organization": "_dev"},
            "created_at": "2024-05-01T10:00:00Z", "modified_at": "2024-05-01T10:00:00Z"
        });
        let task: Task = serde_json::from_value(json.clone()).expect("parses");
        assert_eq!(task.status, Queued);
        let back = serde_json::to_value(&task).expect("serializes");
        assert_eq!(back["type"], "boefje");
        assert_eq!(back["status"], "queued");
        assert!(serde_json::from_value::<Task>(serde_json::json!({"status": "sleeping"})).is_err());
    }
}
