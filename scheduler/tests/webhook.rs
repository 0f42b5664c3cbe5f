//! The task event webhook: every status change reaches `SCHEDULER_WEBHOOK_URL`
//! at least once, failed deliveries are retried after a backoff measured on
//! the test clock, and a receiver that is down never blocks a pop or a patch.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use common::{boefje_task, harness_with, settings, Backend};
use kat_core::services::scheduler::{Scheduler, TaskPatch, TaskType};
use kat_core::task::TaskStatus;
use kat_scheduler::events::Webhook;
use serde_json::Value;

/// A receiver that fails its first `failures` requests and records the rest.
async fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(Mutex::new(0usize));
    let (g, c) = (got.clone(), calls.clone());
    let app = Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let (g, c) = (g.clone(), c.clone());
            async move {
                let n = {
                    let mut calls = c.lock().expect("lock");
                    *calls += 1;
                    *calls
                };
                if n <= failures {
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                g.lock().expect("lock").push(body);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn every_status_change_is_posted_at_least_once_with_backoff() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let h = harness_with(backend, kat_scheduler::Settings { webhook: true, ..settings() }).await;
        let s = &h.scheduler;
        let (url, got) = receiver(2).await;
        let pushed = s.push(boefje_task("org1", "dns-records", "Hostname|internet|a.test")).await.expect("push");
        s.pop(TaskType::Boefje, &[], 1).await.expect("pop");
        s.patch(pushed.task.id, TaskPatch::status(TaskStatus::Running)).await.expect("runs");
        s.patch(pushed.task.id, TaskPatch::because(TaskStatus::Failed, "boom")).await.expect("fails");
        let hook = Webhook::new(s.store().clone(), &url, h.clock.clone());
        assert_eq!(hook.deliver_once(100).await.expect("deliver"), 2, "{backend:?}: two failed, two delivered");
        assert_eq!(hook.deliver_once(100).await.expect("deliver"), 0, "the failed ones wait for their backoff");
        h.clock.advance(Duration::from_secs(1));
        assert_eq!(hook.deliver_once(100).await.expect("deliver"), 2, "{backend:?}: retried after 1 s");
        let events = got.lock().expect("lock").clone();
        let mut moves: Vec<(i64, String)> = events.iter().map(|e| (e["seq"].as_i64().unwrap_or(0), e["to"].as_str().unwrap_or_default().to_string())).collect();
        moves.sort();
        assert_eq!(moves.iter().map(|(_, to)| to.as_str()).collect::<Vec<_>>(), ["queued", "dispatched", "running", "failed"], "{backend:?}");
        let failed = events.iter().find(|e| e["to"] == "failed").cloned().unwrap_or_default();
        assert_eq!((failed["reason"].as_str(), failed["organisation"].as_str(), failed["scheduler_id"].as_str(), failed["from"].as_str()), (Some("boom"), Some("org1"), Some("boefje"), Some("running")));
        assert_eq!(failed["task_id"], pushed.task.id.to_string());
        assert_eq!(hook.deliver_once(100).await.expect("deliver"), 0, "nothing left");
    }
}

#[tokio::test]
async fn a_receiver_that_is_down_never_blocks_the_queue() {
    let h = harness_with(Backend::Sqlite, kat_scheduler::Settings { webhook: true, ..settings() }).await;
    let s = &h.scheduler;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", closed.local_addr().expect("addr"));
    drop(closed);
    let hook = Webhook::new(s.store().clone(), &url, h.clock.clone());
    let started = std::time::Instant::now();
    for i in 0..20 {
        s.push(boefje_task("org1", "dns-records", &format!("Hostname|internet|h{i}.test"))).await.expect("push");
    }
    for t in s.pop(TaskType::Boefje, &[], 20).await.expect("pop") {
        s.patch(t.id, TaskPatch::status(TaskStatus::Completed)).await.expect("complete");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "pushes, pops and patches do not wait for the receiver");
    assert_eq!(hook.deliver_once(100).await.expect("deliver"), 0);
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(hook.deliver_once(100).await.expect("deliver"), 0, "still down");
    let waiting: i64 = sqlx::Row::get(&sqlx::query("SELECT count(*) FROM webhook_outbox WHERE attempts = 2").fetch_one(&s.store().pool).await.expect("count"), 0);
    assert_eq!(waiting, 60, "every event is kept for a later try");
}
