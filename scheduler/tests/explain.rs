//! `explain`: each reason why a boefje did or did not run on an object, in
//! process on SQLite and through `GET /explain` on PostgreSQL.

mod common;

use std::time::Duration;

use common::{harness, object, serve, Backend};
use kat_core::services::scheduler::{Scheduler, TaskPatch, TaskType};
use kat_core::task::TaskStatus;
use kat_core::Reference;
use kat_scheduler::explain::Explanation;
use kat_scheduler::LocalScheduler;
use serde_json::json;

/// Explain in process, or over HTTP through `api`.
async fn explain(s: &LocalScheduler, api: Option<&common::Api>, org: &str, boefje: &str, input: &str) -> Explanation {
    match api {
        None => s.explain(org, boefje, input).await.expect("explain"),
        Some(api) => {
            let input = input.replace('|', "%7C");
            let (status, body) = api.call(reqwest::Method::GET, &format!("/explain?organisation={org}&boefje_id={boefje}&input_ooi={input}"), None).await;
            assert_eq!(status.as_u16(), 200, "{body}");
            let codes: Vec<serde_json::Value> = body["reasons"].as_array().cloned().unwrap_or_default();
            // Rebuild enough of the answer to compare codes and details.
            Explanation {
                organisation: org.into(),
                boefje_id: boefje.into(),
                input_ooi: input,
                would_run: body["would_run"].as_bool().unwrap_or(false),
                reasons: codes
                    .iter()
                    .map(|r| kat_scheduler::explain::Reason { code: Box::leak(r["code"].as_str().unwrap_or_default().to_string().into_boxed_str()), message: r["message"].as_str().unwrap_or_default().into(), detail: r["detail"].clone() })
                    .collect(),
                latest_task: None,
            }
        }
    }
}

fn has(e: &Explanation, code: &str) -> serde_json::Value {
    e.reasons.iter().find(|r| r.code == code).map(|r| r.detail.clone()).unwrap_or_else(|| panic!("no {code} in {:#?}", e.reasons))
}

async fn every_reason(backend: Backend, over_http: bool) {
    let h = harness(backend).await;
    let s = &h.scheduler;
    let api = if over_http { Some(serve(s, None).await) } else { None };
    let api = api.as_ref();
    h.katalogus.add_boefje(r#"{"id": "web-only", "consumes": ["IPPort"], "scan_level": 1, "conditions": [{"field": "port", "operator": "eq", "value": 443}]}"#);
    h.katalogus.add_boefje(r#"{"id": "off", "consumes": ["Hostname"], "scan_level": 1}"#);
    h.katalogus.set_enabled("off", false);
    let host = "Hostname|internet|x.test";
    let ip = "IPAddressV4|internet|10.0.0.1";
    let ssh = "IPPort|internet|10.0.0.1|tcp|22";

    let e = explain(s, api, "org1", "nope", host).await;
    has(&e, "unknown_boefje");
    has(&e, "unknown_object");
    assert!(!e.would_run);
    s.objects_changed("org1", &[object(host, 1, json!({"name": "x.test"})), object(ip, 1, json!({})), object(ssh, 2, json!({"port": 22}))], &[]).await.expect("objects");
    has(&explain(s, api, "org1", "off", host).await, "not_enabled");
    has(&explain(s, api, "org1", "port-scan", host).await, "not_consumed");
    let detail = has(&explain(s, api, "org1", "port-scan", ip).await, "clearance_too_low");
    assert_eq!((detail["object_level"].clone(), detail["boefje_level"].clone()), (json!(1), json!(2)), "{backend:?}: both levels");
    let detail = has(&explain(s, api, "org1", "web-only", ssh).await, "condition_false");
    assert_eq!(detail["condition"], "port eq 443");

    // The dns-records task on the hostname: deduplicated while queued, lease expiries, failure, a run, grace.
    let detail = has(&explain(s, api, "org1", "dns-records", host).await, "deduplicated");
    let task_id = detail["task_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(detail["status"], "queued");
    for _ in 0..3 {
        assert_eq!(s.pop(TaskType::Boefje, &[kat_core::services::scheduler::Filter::new("data", Some("boefje__id"), "eq", "dns-records")], 1).await.expect("pop").len(), 1);
        h.clock.advance(Duration::from_secs(31));
        s.sweep().await.expect("sweep");
    }
    let e = explain(s, api, "org1", "dns-records", host).await;
    assert_eq!(has(&e, "lease_expired")["times"], 3, "{backend:?}");
    let failed = has(&e, "failed");
    assert_eq!((failed["task_id"].as_str(), failed["reason"].as_str()), (Some(task_id.as_str()), Some("lease expired 3 times")));
    // Failed work is not held back: it runs again when the object is reported again.
    has(&e, "within_grace");
    h.clock.advance(Duration::from_secs(3601));
    let e = explain(s, api, "org1", "dns-records", host).await;
    assert!(e.would_run && e.reasons.iter().any(|r| r.code == "eligible"), "{backend:?}: {:#?}", e.reasons);
    let again = s.objects_changed("org1", &[object(host, 1, json!({"name": "x.test"}))], &[]).await.expect("objects");
    let rerun = again.iter().find(|p| p.task.data["boefje"]["id"] == "dns-records").expect("rerun").task.id;
    s.pop(TaskType::Boefje, &[], 10).await.expect("pop");
    s.patch(rerun, TaskPatch::status(TaskStatus::Completed)).await.expect("completes");
    let e = explain(s, api, "org1", "dns-records", host).await;
    let ran = has(&e, "ran");
    assert_eq!((ran["task_id"].as_str(), ran["status"].as_str()), (Some(rerun.to_string().as_str()), Some("completed")));
    let until = has(&e, "within_grace");
    assert!(until["until"].as_str().is_some_and(|u| u.starts_with("2024-05-01T12:")), "{backend:?}: until when: {until}");
    assert!(!e.would_run);

    s.objects_changed("org1", &[], &[Reference::parse(host).expect("ref")]).await.expect("delete");
    has(&explain(s, api, "org1", "dns-records", host).await, "object_deleted");
}

#[tokio::test]
async fn every_reason_in_process_on_sqlite() {
    every_reason(Backend::Sqlite, false).await;
}

#[tokio::test]
async fn every_reason_over_http_on_postgres() {
    every_reason(Backend::Postgres, true).await;
}
