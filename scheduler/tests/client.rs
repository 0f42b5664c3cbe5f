//! `SchedulerClient`: the `Scheduler` trait over real HTTP, answer for answer
//! as the in-process scheduler (dedup, pop filters, lifecycle errors as
//! their kinds with the field, events in, counts), on SQLite.

mod common;

use common::{boefje_task, dns_event, harness, object, serve, Backend};
use kat_core::services::scheduler::{Filter, Scheduler, TaskPatch, TaskQuery, TaskType};
use kat_core::task::TaskStatus;
use kat_core::ErrorKind;
use kat_scheduler::SchedulerClient;
use serde_json::json;

#[tokio::test]
async fn the_trait_over_http_behaves_as_in_process() {
    let h = harness(Backend::Sqlite).await;
    let api = serve(&h.scheduler, Some("tok")).await;
    let c = SchedulerClient::new(&api.base, Some("tok".into()));
    let a = c.push(boefje_task("org1", "dns-records", "Hostname|internet|a.test")).await.expect("push");
    assert!(a.created);
    let twin = c.push(boefje_task("org1", "dns-records", "Hostname|internet|a.test")).await.expect("push");
    assert_eq!((twin.created, twin.task.id), (false, a.task.id), "a 409 with the task is a deduplicated push");
    c.push(boefje_task("org1", "port-scan", "IPAddressV4|internet|10.0.0.1")).await.expect("push");
    let e = c.push(boefje_task("bad org", "dns-records", "Hostname|internet|a.test")).await.expect_err("bad org");
    assert_eq!((e.kind, e.field.as_deref()), (ErrorKind::Invalid, Some("organisation")));

    let listed = c.list(&TaskQuery { filters: vec![Filter::new("data", Some("boefje__id"), "eq", "port-scan")], ..TaskQuery::default() }).await.expect("list");
    assert_eq!(listed.count, 1);
    let queued = c.list(&TaskQuery { status: Some(TaskStatus::Queued), organisation: Some("org1".into()), ..TaskQuery::default() }).await.expect("list");
    assert_eq!(queued.count, 2);
    let popped = c.pop(TaskType::Boefje, &[Filter::new("data", Some("boefje__id"), "in", json!(["dns-records"]))], 10).await.expect("pop");
    assert_eq!(popped.iter().map(|t| t.id).collect::<Vec<_>>(), [a.task.id]);
    assert_eq!(c.open_count().await.expect("count"), kat_core::services::scheduler::OpenCount { queued: 1, dispatched: 1, running: 0 });
    assert_eq!(c.patch(a.task.id, TaskPatch::status(TaskStatus::Running)).await.expect("runs").status, TaskStatus::Running);
    assert_eq!(c.heartbeat(a.task.id).await.expect("beat").id, a.task.id);
    c.patch(a.task.id, TaskPatch::because(TaskStatus::Completed, "done")).await.expect("completes");
    let e = c.patch(a.task.id, TaskPatch::status(TaskStatus::Running)).await.expect_err("finished");
    assert_eq!((e.kind, e.field.as_deref()), (ErrorKind::Conflict, Some("status")));
    assert_eq!(c.heartbeat(a.task.id).await.expect_err("no lease").kind, ErrorKind::Conflict);
    assert_eq!(c.get(uuid::Uuid::new_v4()).await.expect_err("unknown").kind, ErrorKind::NotFound);
    assert_eq!(c.get(a.task.id).await.expect("get").status, TaskStatus::Completed);

    let event = dns_event("org1");
    assert_eq!(c.raw_file_received(&event).await.expect("event").len(), 1);
    assert!(c.raw_file_received(&event).await.expect("again").is_empty());
    let made = c.objects_changed("org1", &[object("Hostname|internet|b.test", 1, json!({"name": "b.test"}))], &[]).await.expect("objects");
    assert_eq!(made.iter().map(|p| (p.created, p.task.data["boefje"]["id"].clone())).collect::<Vec<_>>(), [(true, json!("dns-records")), (true, json!("dns-zone"))]);
    let locked_out = SchedulerClient::new(&api.base, None);
    assert_eq!(locked_out.pop(TaskType::Boefje, &[], 1).await.expect_err("no token").kind, ErrorKind::Unauthorized);
    let nobody = SchedulerClient::new("http://127.0.0.1:9", None);
    assert_eq!(nobody.get(a.task.id).await.expect_err("down").kind, ErrorKind::Unavailable);
}
