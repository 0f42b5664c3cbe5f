//! The leased queue in process on SQLite and PostgreSQL: deduplicated
//! pushes, pop order and filters, the status lifecycle with its event log,
//! heartbeats, and workers that go silent (their tasks are queued again and
//! finish on another worker, or fail after the attempt budget; none is left
//! dispatched or running). Time moves only through the test clock.

mod common;

use std::time::Duration;

use common::{boefje_task, harness, Backend, BOTH};
use kat_core::services::scheduler::{Filter, Scheduler, TaskPatch, TaskQuery, TaskType};
use kat_core::task::TaskStatus;
use kat_core::ErrorKind;
use serde_json::json;

async fn lifecycle(backend: Backend) {
    let h = harness(backend).await;
    let s = &h.scheduler;
    let a = s.push(boefje_task("org1", "dns-records", "Hostname|internet|a.test")).await.expect("push");
    assert!(a.created);
    assert_eq!((a.task.scheduler_id.as_str(), a.task.task_type.as_str(), a.task.status), ("boefje", "boefje", TaskStatus::Queued));
    assert_eq!(a.task.data["id"], a.task.id.to_string(), "the body carries the task id");
    assert_eq!(a.task.hash.as_deref(), Some(kat_scheduler::hash::boefje_hash(Some("Hostname|internet|a.test"), "dns-records", "org1").as_str()));
    let twin = s.push(boefje_task("org1", "dns-records", "Hostname|internet|a.test")).await.expect("push");
    assert!(!twin.created, "{backend:?}: an unfinished twin is not queued again");
    assert_eq!(twin.task.id, a.task.id);
    let mut urgent = boefje_task("org1", "dns-records", "Hostname|internet|b.test");
    urgent.priority = Some(0);
    let b = s.push(urgent).await.expect("push");
    assert_eq!(s.open_count().await.expect("count").queued, 2);

    assert!(s.pop(TaskType::Normalizer, &[], 5).await.expect("pop").is_empty(), "queues are separate");
    let popped = s.pop(TaskType::Boefje, &[], 5).await.expect("pop");
    assert_eq!(popped.iter().map(|t| t.id).collect::<Vec<_>>(), [b.task.id, a.task.id], "{backend:?}: lower priority number first");
    assert!(popped.iter().all(|t| t.status == TaskStatus::Dispatched));
    let row = s.task_row(a.task.id).await.expect("row");
    assert_eq!(row.lease_until, Some(common::start() + Duration::from_secs(30)), "pop leases for SCHEDULER_LEASE_SECONDS");

    h.clock.advance(Duration::from_secs(10));
    s.patch(a.task.id, TaskPatch::status(TaskStatus::Running)).await.expect("runs");
    assert_eq!(s.task_row(a.task.id).await.expect("row").lease_until, Some(common::start() + Duration::from_secs(40)), "running renews the lease");
    h.clock.advance(Duration::from_secs(10));
    s.patch(a.task.id, TaskPatch::status(TaskStatus::Running)).await.expect("a repeated running renews");
    h.clock.advance(Duration::from_secs(5));
    let beat = s.heartbeat(a.task.id).await.expect("heartbeat");
    assert_eq!(beat.status, TaskStatus::Running);
    assert_eq!(s.task_row(a.task.id).await.expect("row").lease_until, Some(common::start() + Duration::from_secs(55)));
    let done = s.patch(a.task.id, TaskPatch::because(TaskStatus::Failed, "boefje crashed")).await.expect("fails");
    assert_eq!(done.status, TaskStatus::Failed);
    let row = s.task_row(a.task.id).await.expect("row");
    assert_eq!((row.lease_until, row.reason.as_deref()), (None, Some("boefje crashed")), "a finished task holds no lease");
    let e = s.patch(a.task.id, TaskPatch::status(TaskStatus::Running)).await.expect_err("a finished task never moves");
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.message.contains("failed") && e.message.contains("running"), "{}", e.message);
    assert_eq!(s.heartbeat(a.task.id).await.expect_err("no lease").kind, ErrorKind::Conflict);
    assert_eq!(s.patch(a.task.id, TaskPatch::default()).await.expect_err("empty").kind, ErrorKind::Invalid);
    assert_eq!(s.patch(uuid::Uuid::new_v4(), TaskPatch::status(TaskStatus::Running)).await.expect_err("unknown").kind, ErrorKind::NotFound);
    let e = s.patch(b.task.id, TaskPatch::status(TaskStatus::Queued)).await.expect("a worker may hand a task back");
    assert_eq!(e.status, TaskStatus::Queued);

    let events = h.scheduler.store().events(a.task.id).await.expect("events");
    let moves: Vec<(Option<&str>, &str)> = events.iter().map(|e| (e.from.as_deref(), e.to.as_str())).collect();
    assert_eq!(moves, [(None, "queued"), (Some("queued"), "dispatched"), (Some("dispatched"), "running"), (Some("running"), "failed")], "renewals are not status changes");
    assert_eq!(events[3].reason.as_deref(), Some("boefje crashed"));

    let again = s.push(boefje_task("org1", "dns-records", "Hostname|internet|a.test")).await.expect("push");
    assert!(again.created && again.task.id != a.task.id, "after the task finished, a user push queues the work again");
    let failed = s.list(&TaskQuery { status: Some(TaskStatus::Failed), ..TaskQuery::default() }).await.expect("list");
    assert_eq!((failed.count, failed.results[0].id), (1, a.task.id));
    assert_eq!(s.get(uuid::Uuid::new_v4()).await.expect_err("unknown").kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn lifecycle_on_sqlite() {
    lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn lifecycle_on_postgres() {
    lifecycle(Backend::Postgres).await;
}

#[tokio::test]
async fn pops_filter_on_columns_and_json_fields() {
    for backend in BOTH {
        let h = harness(backend).await;
        let s = &h.scheduler;
        for (org, boefje, input, priority) in [("o1", "dns-records", "Hostname|internet|a.test", 5), ("o2", "dns-records", "Hostname|internet|b.test", 6), ("o1", "port-scan", "IPAddressV4|internet|10.0.0.1", 7)] {
            let mut t = boefje_task(org, boefje, input);
            t.priority = Some(priority);
            s.push(t).await.expect("push");
        }
        let only = |f: Vec<Filter>| async move { s.pop(TaskType::Boefje, &f, 10).await.expect("pop") };
        let got = only(vec![Filter::new("data", Some("boefje__id"), "in", json!(["port-scan"]))]).await;
        assert_eq!(got.len(), 1, "{backend:?}");
        assert_eq!(got[0].data["boefje"]["id"], "port-scan");
        let got = only(vec![Filter::new("organisation", None, "eq", "o2"), Filter::new("priority", None, "lt", 10)]).await;
        assert_eq!(got.iter().map(|t| t.organisation.as_str()).collect::<Vec<_>>(), ["o2"], "{backend:?}");
        let got = only(vec![Filter::new("data", Some("input_ooi"), "starts_with", "Hostname|")]).await;
        assert_eq!(got.len(), 1, "{backend:?}: the last hostname task");
        assert!(only(vec![]).await.is_empty(), "{backend:?}: drained");
        let bad = s.pop(TaskType::Boefje, &[Filter::new("priority", None, "le", 1)], 1).await.expect_err("no le");
        assert_eq!(bad.field.as_deref(), Some("filters[0].operator"));
    }
}

/// A worker pops tasks and goes silent: its tasks come back, finish on another worker or fail after three
/// expired leases, and none stays dispatched or running.
async fn silent_workers(backend: Backend) {
    let h = harness(backend).await;
    let s = &h.scheduler;
    for i in 0..6 {
        s.push(boefje_task("org1", "dns-records", &format!("Hostname|internet|h{i}.test"))).await.expect("push");
    }
    let first = s.pop(TaskType::Boefje, &[], 6).await.expect("pop");
    assert_eq!(first.len(), 6);
    for t in &first[..3] {
        s.patch(t.id, TaskPatch::status(TaskStatus::Running)).await.expect("runs");
    }
    // The worker dies. Nothing changes before the lease ends...
    h.clock.advance(Duration::from_secs(29));
    assert!(s.pop(TaskType::Boefje, &[], 6).await.expect("pop").is_empty(), "{backend:?}: leases still hold");
    // ...and after it, the next pop (on another worker) gets every task back.
    h.clock.advance(Duration::from_secs(2));
    let second = s.pop(TaskType::Boefje, &[], 6).await.expect("pop");
    assert_eq!(second.len(), 6, "{backend:?}: every task was queued again");
    for t in &second {
        let row = s.task_row(t.id).await.expect("row");
        assert_eq!((row.attempts, row.reason.as_deref()), (1, Some("lease expired 1 time")));
    }
    // The second worker completes four and goes silent on two; those run out of attempts.
    for t in &second[..4] {
        s.patch(t.id, TaskPatch::status(TaskStatus::Running)).await.expect("runs");
        s.patch(t.id, TaskPatch::status(TaskStatus::Completed)).await.expect("completes");
    }
    let stuck: Vec<_> = second[4..].iter().map(|t| t.id).collect();
    h.clock.advance(Duration::from_secs(31));
    assert_eq!(s.pop(TaskType::Boefje, &[], 6).await.expect("pop").len(), 2, "third attempt");
    h.clock.advance(Duration::from_secs(31));
    let expired = s.sweep().await.expect("sweep");
    assert_eq!(expired.len(), 2, "{backend:?}: the sweeper expires without a pop");
    assert!(expired.iter().all(|e| e.status == TaskStatus::Failed && e.attempts == 3));
    for id in &stuck {
        let row = s.task_row(*id).await.expect("row");
        assert_eq!((row.task.status, row.reason.as_deref()), (TaskStatus::Failed, Some("lease expired 3 times")), "{backend:?}");
        let events = s.store().events(*id).await.expect("events");
        assert_eq!(events.last().map(|e| (e.from.as_deref(), e.to.as_str())), Some((Some("dispatched"), "failed")));
    }
    let all = s.list(&TaskQuery { limit: 100, ..TaskQuery::default() }).await.expect("list");
    assert_eq!(all.count, 6);
    assert!(all.results.iter().all(|t| matches!(t.status, TaskStatus::Completed | TaskStatus::Failed)), "{backend:?}: no task is left dispatched or running");
    assert_eq!(s.open_count().await.expect("count").total(), 0);
    assert_eq!(s.metrics().lease_expiries.load(std::sync::atomic::Ordering::Relaxed), 6 + 2 + 2);
}

#[tokio::test]
async fn a_silent_worker_loses_its_tasks_on_sqlite() {
    silent_workers(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_silent_worker_loses_its_tasks_on_postgres() {
    silent_workers(Backend::Postgres).await;
}
