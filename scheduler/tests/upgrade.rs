//! A database written by an earlier release keeps working after the
//! migrations that followed: on SQLite and PostgreSQL, the first migration
//! alone makes the schema, rows are written the way that release wrote them
//! (an unfinished task, a finished one with its event log), and opening the
//! scheduler runs the rest. The finished task's events are still listed, the
//! unfinished task still deduplicates a push of the same work and is still
//! popped, and the finished one no longer does.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{boefje_task, Backend};
use kat_core::services::scheduler::{Scheduler, TaskPatch, TaskType};
use kat_core::task::TaskStatus;
use kat_scheduler::hash::boefje_hash;
use kat_scheduler::{LocalScheduler, TestClock};

/// Apply only `0001_init.sql` of `backend`'s migrations to the database at `url`.
async fn first_migration_only(backend: Backend, url: &str) -> sqlx::AnyPool {
    let folder = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
    let only = tempfile::tempdir().expect("temp dir");
    let first = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(folder).join("0001_init.sql");
    std::fs::copy(&first, only.path().join("0001_init.sql")).expect("copy the first migration");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    sqlx::migrate::Migrator::new(only.path()).await.expect("read the migration").run(&pool).await.expect("first migration");
    pool
}

/// Insert a task row as the first release did.
async fn old_task(pool: &sqlx::AnyPool, id: uuid::Uuid, input: &str, status: &str, finished_at: Option<i64>) {
    let data = serde_json::json!({"id": id, "boefje": {"id": "dns-records"}, "input_ooi": input, "organization": "org1"});
    sqlx::query(
        "INSERT INTO tasks (id, scheduler_id, organisation, task_type, priority, status, hash, data, origin, attempts, created_at, modified_at, finished_at) \
         VALUES ($1, 'boefje', 'org1', 'boefje', 1, $2, $3, $4, 'user', 0, 1, 2, $5)",
    )
    .bind(id.to_string())
    .bind(status)
    .bind(boefje_hash(Some(input), "dns-records", "org1"))
    .bind(data.to_string())
    .bind(finished_at)
    .execute(pool)
    .await
    .expect("old task");
}

async fn upgrade(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = common::url(backend, &dir).await;
    let pool = first_migration_only(backend, &url).await;
    let (open, done) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    old_task(&pool, open, "Hostname|internet|open.test", "queued", None).await;
    old_task(&pool, done, "Hostname|internet|done.test", "completed", Some(3)).await;
    for (at, from, to) in [(1, None, "queued"), (2, Some("queued"), "dispatched"), (3, Some("dispatched"), "completed")] {
        sqlx::query("INSERT INTO task_events (task_id, at, from_status, to_status) VALUES ($1, $2, $3, $4)").bind(done.to_string()).bind(at as i64).bind(from).bind(to).execute(&pool).await.expect("old event");
    }
    pool.close().await;

    let s = LocalScheduler::open(&url, common::settings(), Arc::new(TestClock::new(common::start())), common::TestKatalogus::builtin()).await.expect("the later migrations run");
    let moves: Vec<String> = s.store().events(done).await.expect("events").into_iter().map(|e| e.to).collect();
    assert_eq!(moves, ["queued", "dispatched", "completed"], "{backend:?}: the old event log is still listed per task");
    let twin = s.push(boefje_task("org1", "dns-records", "Hostname|internet|open.test")).await.expect("push");
    assert_eq!((twin.created, twin.task.id), (false, open), "{backend:?}: the old unfinished task still deduplicates");
    let again = s.push(boefje_task("org1", "dns-records", "Hostname|internet|done.test")).await.expect("push");
    assert!(again.created, "{backend:?}: the old finished task does not hold its work back");
    let popped: Vec<_> = s.pop(TaskType::Boefje, &[], 5).await.expect("pop").into_iter().map(|t| t.id).collect();
    assert!(popped.contains(&open) && popped.contains(&again.task.id) && popped.len() == 2, "{backend:?}: {popped:?}");
    s.patch(open, TaskPatch::status(TaskStatus::Running)).await.expect("runs");
    let moves: Vec<String> = s.store().events(open).await.expect("events").into_iter().map(|e| e.to).collect();
    assert_eq!(moves, ["dispatched", "running"], "{backend:?}: new events of an old task are listed (the old release logged none for it here)");
}

#[tokio::test]
async fn an_old_sqlite_database_upgrades() {
    upgrade(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_old_postgres_database_upgrades() {
    upgrade(Backend::Postgres).await;
}

