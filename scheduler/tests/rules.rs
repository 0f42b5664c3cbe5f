//! The rules that create tasks, in process under the test clock, on SQLite
//! and PostgreSQL: cron and interval schedules fire at their times (and
//! stop when the boefje is disabled or the object deleted); raw files give
//! one normalizer task per event; objects give boefje tasks by type,
//! clearance and conditions, held back by the grace period and ranked;
//! enabling a plugin schedules what already exists.

mod common;

use std::time::Duration;

use common::{dns_event, harness, object, Backend, BOTH};
use kat_core::services::scheduler::{Scheduler, TaskPatch, TaskQuery, TaskType};
use kat_core::task::{Task, TaskStatus};
use kat_core::Reference;
use kat_scheduler::ranker::{NEW_PRIORITY, RERUN_BASE};
use serde_json::json;

async fn finish_all(s: &kat_scheduler::LocalScheduler) -> Vec<Task> {
    let mut done = Vec::new();
    for queue in TaskType::ALL {
        for t in s.pop(queue, &[], 1000).await.expect("pop") {
            s.patch(t.id, TaskPatch::status(TaskStatus::Completed)).await.expect("complete");
            done.push(t);
        }
    }
    done
}

fn boefjes_of(tasks: &[Task]) -> Vec<String> {
    let mut ids: Vec<String> = tasks.iter().filter_map(|t| t.data["boefje"]["id"].as_str().map(str::to_string)).collect();
    ids.sort();
    ids
}

async fn schedules(backend: Backend) {
    let h = harness(backend).await;
    let s = &h.scheduler;
    h.katalogus.add_boefje(r#"{"id": "six-hourly", "consumes": ["Hostname"], "scan_level": 1, "cron": "0 */6 * * *"}"#);
    h.katalogus.add_boefje(r#"{"id": "every-90", "consumes": ["Hostname"], "scan_level": 1, "interval": 90}"#);
    let host = object("Hostname|internet|x.test", 1, json!({"name": "x.test", "network": "Network|internet"}));
    let made = s.objects_changed("org1", std::slice::from_ref(&host), &[]).await.expect("objects");
    assert_eq!(boefjes_of(&made.iter().map(|p| p.task.clone()).collect::<Vec<_>>()), ["dns-records", "dns-zone", "every-90", "six-hourly"], "{backend:?}: a new object runs every boefje at once");
    assert!(made.iter().all(|p| p.task.priority == Some(NEW_PRIORITY)));
    assert!(made.iter().filter(|p| ["six-hourly", "every-90"].contains(&p.task.data["boefje"]["id"].as_str().unwrap_or_default())).all(|p| p.task.schedule_id.is_some()), "cron and interval boefjes get a schedule");
    finish_all(s).await;

    let at = |h_: u8, m: u8| time::OffsetDateTime::new_utc(common::start().date(), time::Time::from_hms(h_, m, 0).unwrap_or(time::Time::MIDNIGHT));
    let mut fired = Vec::new();
    for (hour, minute) in [(11, 29), (11, 30), (11, 59), (12, 0), (12, 59), (13, 0), (14, 29), (14, 30), (17, 59), (18, 0)] {
        h.clock.set(at(hour, minute));
        for p in s.tick().await.expect("tick") {
            fired.push((hour, minute, p.task.data["boefje"]["id"].as_str().unwrap_or_default().to_string()));
            assert_eq!(s.task_row(p.task.id).await.expect("row").origin, "schedule");
        }
        finish_all(s).await;
    }
    let expect = |x: &[(u8, u8, &str)]| x.iter().map(|(a, b, c)| (*a, *b, c.to_string())).collect::<Vec<_>>();
    assert_eq!(fired, expect(&[(11, 30, "every-90"), (12, 0, "six-hourly"), (13, 0, "every-90"), (14, 30, "every-90"), (17, 59, "every-90"), (18, 0, "six-hourly")]), "{backend:?}: an overdue schedule fires at the next tick");

    // A due schedule waits while its task is unfinished, then fires once.
    h.clock.set(at(19, 30));
    let busy = s.tick().await.expect("tick");
    assert_eq!(busy.len(), 1);
    h.clock.set(at(21, 30));
    assert!(s.tick().await.expect("tick").is_empty(), "{backend:?}: the 21:00 run waits for the unfinished one");
    finish_all(s).await;
    assert_eq!(s.tick().await.expect("tick").len(), 1, "then it fires");
    finish_all(s).await;

    // Disabling the boefje stops its schedules; deleting the object stops the rest.
    h.katalogus.set_enabled("six-hourly", false);
    s.sync_plugins("org1").await.expect("sync");
    h.clock.set(at(23, 59) + Duration::from_secs(3600));
    let after = s.tick().await.expect("tick");
    assert_eq!(boefjes_of(&after.iter().map(|p| p.task.clone()).collect::<Vec<_>>()), ["every-90"], "{backend:?}: six-hourly is off");
    finish_all(s).await;
    s.objects_changed("org1", &[], &[Reference::parse("Hostname|internet|x.test").expect("ref")]).await.expect("delete");
    h.clock.advance(Duration::from_secs(86_400));
    assert!(s.tick().await.expect("tick").is_empty(), "{backend:?}: the object is gone");
}

#[tokio::test]
async fn cron_and_interval_schedules_fire_at_their_times_on_sqlite() {
    schedules(Backend::Sqlite).await;
}

#[tokio::test]
async fn cron_and_interval_schedules_fire_at_their_times_on_postgres() {
    schedules(Backend::Postgres).await;
}

#[tokio::test]
async fn a_dns_raw_file_gives_one_normalizer_task_per_event() {
    for backend in BOTH {
        let h = harness(backend).await;
        let s = &h.scheduler;
        let event = dns_event("org1");
        let made = s.raw_file_received(&event).await.expect("event");
        assert_eq!(made.len(), 1, "{backend:?}");
        assert_eq!((made[0].task.data["normalizer"]["id"].clone(), made[0].task.scheduler_id.clone()), (json!("kat_dns_normalize"), "normalizer".to_string()));
        assert!(s.raw_file_received(&event).await.expect("again").is_empty(), "{backend:?}: the same event adds nothing");
        let mut error = dns_event("org1");
        error.raw_data.mime_types.push(kat_core::meta::MimeType { value: "error/boefje".into() });
        assert!(s.raw_file_received(&error).await.expect("error raw").is_empty(), "an error raw file is not normalized");
        h.katalogus.set_enabled("kat_dns_normalize", false);
        s.sync_plugins("org1").await.expect("sync: recorded off");
        let quiet = dns_event("org1");
        assert!(s.raw_file_received(&quiet).await.expect("event").is_empty(), "{backend:?}: a disabled normalizer gets nothing");
        h.katalogus.set_enabled("kat_dns_normalize", true);
        let caught_up = s.sync_plugins("org1").await.expect("sync: switched on");
        assert_eq!(caught_up.iter().map(|p| p.task.data["raw_data"]["id"].clone()).collect::<Vec<_>>(), [json!(quiet.raw_data.id)], "{backend:?}: switching it on queues the raw file it missed, only that one");
        let all = s.list(&TaskQuery { scheduler_id: Some("normalizer".into()), limit: 100, ..TaskQuery::default() }).await.expect("list");
        assert_eq!(all.count, 2);
    }
}

#[tokio::test]
async fn objects_give_boefje_tasks_by_clearance_and_conditions_and_grace_holds_reruns() {
    for backend in BOTH {
        let h = harness(backend).await;
        let s = &h.scheduler;
        h.katalogus.add_boefje(r#"{"id": "web-only", "consumes": ["IPPort"], "scan_level": 2, "conditions": [{"field": "port", "operator": "in", "value": [80, 443]}]}"#);
        let port = |n: u16, level: u8| object(&format!("IPPort|internet|10.0.0.1|tcp|{n}"), level, json!({"address": "IPAddressV4|internet|10.0.0.1", "protocol": "tcp", "port": n}));
        let made = s.objects_changed("org1", &[port(443, 2), port(22, 2), port(80, 1)], &[]).await.expect("objects");
        let inputs: Vec<_> = made.iter().map(|p| p.task.data["input_ooi"].as_str().unwrap_or_default().to_string()).collect();
        assert_eq!(inputs, ["IPPort|internet|10.0.0.1|tcp|443"], "{backend:?}: port 22 fails the condition, port 80 lacks clearance");
        let ip = object("IPAddressV4|internet|10.0.0.9", 2, json!({"address": "10.0.0.9", "network": "Network|internet"}));
        let first = s.objects_changed("org1", std::slice::from_ref(&ip), &[]).await.expect("objects");
        assert_eq!(boefjes_of(&first.iter().map(|p| p.task.clone()).collect::<Vec<_>>()), ["port-scan"]);
        assert!(s.objects_changed("org1", std::slice::from_ref(&ip), &[]).await.expect("again").iter().all(|p| !p.created), "deduplicated while queued");
        finish_all(s).await;
        h.clock.advance(Duration::from_secs(1800));
        assert!(s.objects_changed("org1", std::slice::from_ref(&ip), &[]).await.expect("again").is_empty(), "{backend:?}: within the grace period");
        h.clock.advance(Duration::from_secs(1801));
        let rerun = s.objects_changed("org1", std::slice::from_ref(&ip), &[]).await.expect("rerun");
        assert_eq!(rerun.len(), 1, "{backend:?}: after the grace period it runs again");
        let finished = common::start().unix_timestamp();
        assert_eq!(rerun[0].task.priority, Some(RERUN_BASE + finished), "a rerun ranks by when the last run finished");
        assert_eq!(s.task_row(rerun[0].task.id).await.expect("row").origin, "rerun");

        // Enabling a boefje schedules it for the objects that exist (OpenKAT #3503).
        s.sync_plugins("org1").await.expect("record the current enablement");
        h.katalogus.add_boefje(r#"{"id": "late-ip", "consumes": ["IPAddressV4"], "scan_level": 1}"#);
        let late = s.sync_plugins("org1").await.expect("sync");
        assert_eq!(late.iter().map(|p| (p.task.data["boefje"]["id"].clone(), p.task.data["input_ooi"].clone())).collect::<Vec<_>>(), [(json!("late-ip"), json!("IPAddressV4|internet|10.0.0.9"))], "{backend:?}");
        assert!(s.sync_plugins("org1").await.expect("sync").is_empty(), "a change is acted on once");
    }
}

#[tokio::test]
async fn run_on_create_and_update_as_openkat() {
    for backend in BOTH {
        let h = harness(backend).await;
        let s = &h.scheduler;
        h.katalogus.add_boefje(r#"{"id": "on-create", "consumes": ["IPPort"], "scan_level": 1, "run_on": ["create"], "interval": 60}"#);
        h.katalogus.add_boefje(r#"{"id": "on-update", "consumes": ["IPPort"], "scan_level": 1, "run_on": ["update"]}"#);
        let port = |state: &str| object("IPPort|internet|10.0.0.2|tcp|8080", 1, json!({"address": "IPAddressV4|internet|10.0.0.2", "protocol": "tcp", "port": 8080, "state": state}));
        let created = s.objects_changed("org1", &[port("open")], &[]).await.expect("created");
        let ids: Vec<String> = boefjes_of(&created.iter().map(|p| p.task.clone()).collect::<Vec<_>>()).into_iter().filter(|b| b.starts_with("on-")).collect();
        assert_eq!(ids, ["on-create"], "{backend:?}: a new object runs only the create boefje");
        assert!(created.iter().all(|p| p.task.schedule_id.is_none()), "{backend:?}: run_on boefjes get no recurring schedule");
        finish_all(s).await;
        h.clock.advance(Duration::from_secs(90_000));
        let updated = s.objects_changed("org1", &[port("filtered")], &[]).await.expect("updated");
        let ids: Vec<String> = boefjes_of(&updated.iter().map(|p| p.task.clone()).collect::<Vec<_>>()).into_iter().filter(|b| b.starts_with("on-")).collect();
        assert_eq!(ids, ["on-update"], "{backend:?}: a changed object runs only the update boefje");
    }
}
