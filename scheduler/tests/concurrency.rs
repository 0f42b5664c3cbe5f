//! Concurrency: 8 workers popping over real HTTP drain 10,000 tasks and get
//! each exactly once, on SQLite and on PostgreSQL (the drain time is
//! printed); two scheduler replicas on one PostgreSQL database never hand
//! out a task twice, and expire each lease and fire each due schedule once.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{boefje_task, serve, Backend};
use kat_core::services::scheduler::{Scheduler, TaskPatch, TaskQuery, TaskType};
use kat_core::task::TaskStatus;
use kat_scheduler::{Clock, SchedulerClient};

/// Push `n` tasks through `scheduler` with 8 concurrent pushers.
async fn fill(scheduler: &kat_scheduler::LocalScheduler, n: usize) {
    let pushers: Vec<_> = (0..8)
        .map(|p| {
            let s = scheduler.clone();
            tokio::spawn(async move {
                for i in (p..n).step_by(8) {
                    s.push(boefje_task("org1", "dns-records", &format!("Hostname|internet|h{i}.test"))).await.expect("push");
                }
            })
        })
        .collect();
    for p in pushers {
        p.await.expect("pusher");
    }
}

/// 8 workers over HTTP, each on one of `bases` in turn, pop one task at a time and complete it until the queue is
/// empty; returns what each popped.
async fn drain(bases: &[String]) -> Vec<Vec<uuid::Uuid>> {
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let client = SchedulerClient::new(&bases[w % bases.len()], None);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let tasks = client.pop(TaskType::Boefje, &[], 1).await.expect("pop");
                    let Some(task) = tasks.into_iter().next() else { return mine };
                    client.patch(task.id, TaskPatch::status(TaskStatus::Completed)).await.expect("complete");
                    mine.push(task.id);
                }
            })
        })
        .collect();
    let mut out = Vec::new();
    for w in workers {
        out.push(w.await.expect("worker"));
    }
    out
}

fn exactly_once(popped: &[Vec<uuid::Uuid>], n: usize, what: &str) {
    let all: Vec<uuid::Uuid> = popped.iter().flatten().copied().collect();
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), n, "{what}: every task popped");
    assert_eq!(distinct.len(), n, "{what}: no task popped twice");
    assert!(popped.iter().filter(|w| !w.is_empty()).count() >= 2, "{what}: the workers shared the work: {:?}", popped.iter().map(Vec::len).collect::<Vec<_>>());
}

async fn ten_thousand(backend: Backend) {
    const N: usize = 10_000;
    let h = common::harness(backend).await;
    fill(&h.scheduler, N).await;
    let api = serve(&h.scheduler, None).await;
    let started = Instant::now();
    let popped = drain(std::slice::from_ref(&api.base)).await;
    let took = started.elapsed();
    eprintln!("{backend:?}: 8 HTTP workers drained {N} tasks (pop + complete) in {took:.2?}, {:.0} tasks/s ({} build)", N as f64 / took.as_secs_f64(), if cfg!(debug_assertions) { "debug" } else { "release" });
    exactly_once(&popped, N, &format!("{backend:?}"));
    let done = h.scheduler.list(&TaskQuery { status: Some(TaskStatus::Completed), limit: 1, ..TaskQuery::default() }).await.expect("list");
    assert_eq!(done.count, N as i64);
    assert_eq!(h.scheduler.open_count().await.expect("count").total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_http_workers_drain_ten_thousand_tasks_once_on_sqlite() {
    ten_thousand(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_http_workers_drain_ten_thousand_tasks_once_on_postgres() {
    ten_thousand(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_postgres_never_collide() {
    let h = common::harness(Backend::Postgres).await;
    let (a, b) = (h.scheduler.clone(), h.replica().await);
    let (api_a, api_b) = (serve(&a, None).await, serve(&b, None).await);

    // Pops through both replicas at once: every task exactly once.
    fill(&a, 2000).await;
    let popped = drain(&[api_a.base.clone(), api_b.base.clone()]).await;
    exactly_once(&popped, 2000, "two replicas");

    // Lease expiry: both replicas sweep at once; each expired lease is acted on once.
    fill(&b, 2100).await;
    let leased = a.pop(TaskType::Boefje, &[], 100).await.expect("pop");
    assert_eq!(leased.len(), 100);
    h.clock.advance(Duration::from_secs(31));
    let (x, y) = tokio::join!(a.sweep(), b.sweep());
    let (x, y) = (x.expect("sweep a"), y.expect("sweep b"));
    assert_eq!(x.len() + y.len(), 100, "each expiry once: {} + {}", x.len(), y.len());
    for t in &leased {
        let requeued = a.store().events(t.id).await.expect("events").iter().filter(|e| e.to == "queued").count();
        assert_eq!(requeued, 2, "created, then requeued once");
    }

    // Due schedules: both replicas tick at once; each due schedule fires once.
    let hashes: Vec<String> = (0..20).map(|i| kat_scheduler::hash::boefje_hash(Some(&format!("Hostname|internet|s{i}.test")), "dns-records", "org1")).collect();
    let mut conn = a.store().pool.acquire().await.expect("connection");
    for (i, hash) in hashes.iter().enumerate() {
        let input = format!("Hostname|internet|s{i}.test");
        let new = kat_scheduler::schedules::NewSchedule {
            scheduler_id: "boefje".into(),
            organisation: "org1".into(),
            hash: hash.clone(),
            data: serde_json::json!({"boefje": {"id": "dns-records"}, "input_ooi": input, "organization": "org1"}),
            schedule: Some("*/10 * * * *".into()),
            interval: None,
            deadline_at: None,
            boefje_id: None,
            input_ooi: None,
        };
        kat_scheduler::schedules::insert(&mut conn, &new, h.clock.now()).await.expect("schedule");
    }
    drop(conn);
    h.clock.advance(Duration::from_secs(600));
    let (x, y) = tokio::join!(a.tick(), b.tick());
    let fired = x.expect("tick a").len() + y.expect("tick b").len();
    assert_eq!(fired, 20, "each due schedule fires once");
    let (x, y) = tokio::join!(a.tick(), b.tick());
    assert_eq!(x.expect("tick").len() + y.expect("tick").len(), 0, "and not again before its next time");
}

/// Writes that reach the SQLite writer together share a transaction; one that fails (a 409) must not take the
/// others down with it nor leave anything behind: 50 valid and 50 invalid patches at once, then every valid one
/// stands with exactly its events, every invalid one is a 409 that changed nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_in_a_shared_batch_leaves_the_others_committed_and_itself_undone() {
    let h = common::harness(Backend::Sqlite).await;
    fill(&h.scheduler, 100).await;
    let popped = h.scheduler.pop(TaskType::Boefje, &[], 100).await.expect("pop");
    assert_eq!(popped.len(), 100);
    let patches: Vec<_> = popped
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let (s, id) = (h.scheduler.clone(), task.id);
            // Even tasks go dispatched -> running (allowed); odd ones dispatched -> pending (never allowed).
            let next = if i % 2 == 0 { TaskStatus::Running } else { TaskStatus::Pending };
            tokio::spawn(async move { (i, s.patch(id, TaskPatch::status(next)).await) })
        })
        .collect();
    for p in patches {
        let (i, result) = p.await.expect("patcher");
        match (i % 2, result) {
            (0, Ok(task)) => assert_eq!(task.status, TaskStatus::Running),
            (1, Err(e)) => assert_eq!(e.kind, kat_core::ErrorKind::Conflict, "{e}"),
            (_, other) => panic!("task {i}: {other:?}"),
        }
    }
    for (i, task) in popped.iter().enumerate() {
        let stored = h.scheduler.get(task.id).await.expect("get");
        let events = h.scheduler.store().events(task.id).await.expect("events");
        let statuses: Vec<&str> = events.iter().map(|e| e.to.as_str()).collect();
        if i % 2 == 0 {
            assert_eq!((stored.status, statuses), (TaskStatus::Running, vec!["queued", "dispatched", "running"]), "task {i}");
        } else {
            assert_eq!((stored.status, statuses), (TaskStatus::Dispatched, vec!["queued", "dispatched"]), "task {i}");
        }
    }
}
