//! The SQLite task queue on a real file: deduplication, pop order, the
//! status lifecycle, and crash recovery.

use kat_core::services::scheduler::{NewTask, Scheduler, TaskType};
use kat_core::task::TaskStatus;
use kat_core::ErrorKind;
use kat_scheduler::LocalScheduler;
use serde_json::json;

fn task(input: &str, priority: i64) -> NewTask {
    NewTask { task_type: TaskType::Boefje, organisation: "o".into(), priority, data: json!({"boefje": {"id": "dns-records"}, "input_ooi": input, "organization": "o"}) }
}

#[tokio::test]
async fn pushes_are_deduplicated_while_unfinished_and_pops_follow_priority() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = LocalScheduler::open(&dir.path().join("s.sqlite")).await.expect("opens");
    let a = s.push(task("Hostname|internet|a.test", 5)).await.expect("push");
    assert!(a.created);
    assert_eq!(a.task.scheduler_id, "boefje-o");
    let again = s.push(task("Hostname|internet|a.test", 5)).await.expect("push");
    assert!(!again.created, "a twin of a queued task is not queued");
    assert_eq!(again.task.id, a.task.id);
    let b = s.push(task("Hostname|internet|b.test", 1)).await.expect("push");
    assert_eq!(s.open_count().await.expect("count"), 2);

    assert!(s.pop(TaskType::Normalizer).await.expect("pop").is_none(), "queues are separate");
    let first = s.pop(TaskType::Boefje).await.expect("pop").expect("a task");
    assert_eq!(first.id, b.task.id, "lower priority number first");
    assert_eq!(first.status, TaskStatus::Dispatched);
    assert_eq!(first.data["id"], first.id.to_string(), "the body carries the task id");
    let second = s.pop(TaskType::Boefje).await.expect("pop").expect("a task");
    assert_eq!(second.id, a.task.id);
    assert!(s.pop(TaskType::Boefje).await.expect("pop").is_none());

    s.patch(second.id, TaskStatus::Running).await.expect("runs");
    s.patch(second.id, TaskStatus::Completed).await.expect("completes");
    let err = s.patch(second.id, TaskStatus::Running).await.expect_err("a finished task never moves");
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("completed"), "{}", err.message);
    let rerun = s.push(task("Hostname|internet|a.test", 5)).await.expect("push");
    assert!(rerun.created, "after the task finished, the same work can be queued again");
    assert_eq!(s.get(uuid_of(&rerun.task.id.to_string())).await.expect("get").status, TaskStatus::Queued);
    assert_eq!(s.list(Some(TaskStatus::Completed)).await.expect("list").len(), 1);
    assert_eq!(s.get(uuid_of("7134430c-8509-4944-b0be-27cb9bfb4bc2")).await.expect_err("unknown").kind, ErrorKind::NotFound);
}

fn uuid_of(s: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(s).expect("uuid")
}

#[tokio::test]
async fn tasks_survive_a_restart_and_orphans_are_requeued() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.sqlite");
    let id = {
        let s = LocalScheduler::open(&path).await.expect("opens");
        s.push(task("Hostname|internet|a.test", 0)).await.expect("push");
        s.pop(TaskType::Boefje).await.expect("pop").expect("task").id
    };
    let s = LocalScheduler::open(&path).await.expect("reopens");
    assert_eq!(s.get(id).await.expect("kept").status, TaskStatus::Dispatched);
    assert_eq!(s.requeue_orphans().await.expect("requeue"), 1);
    assert_eq!(s.pop(TaskType::Boefje).await.expect("pop").map(|t| t.id), Some(id));
}
