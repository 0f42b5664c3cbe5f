//! Every endpoint of the REST API through real HTTP, on SQLite and on
//! PostgreSQL: mula's paths, status codes and JSON shapes, the bearer
//! token, and the answers to bad input (404 for an unknown scheduler, 422
//! naming the field for malformed filters, bodies and cron expressions,
//! 409 for a forbidden status move; never a 5xx).

mod common;

use common::{dns_event, object, serve, Backend};
use reqwest::Method;
use serde_json::{json, Value};

fn boefje_body(input: &str) -> Value {
    json!({"organisation": "org1", "data": {"boefje": {"id": "dns-records"}, "input_ooi": input, "organization": "org1"}})
}

async fn every_endpoint(backend: Backend) {
    let h = common::harness(backend).await;
    let api = serve(&h.scheduler, Some("s3cret")).await;
    let anonymous = common::Api { base: api.base.clone(), http: reqwest::Client::new(), token: None };

    // Health is open; everything else needs the token.
    let (status, health) = anonymous.call(Method::GET, "/health", None).await;
    assert_eq!((status.as_u16(), health["healthy"].clone(), health["service"].clone()), (200, json!(true), json!("scheduler")), "{backend:?}");
    let (status, body) = anonymous.call(Method::GET, "/schedulers", None).await;
    assert_eq!(status.as_u16(), 401, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.contains("s3cret")));
    assert_eq!(api.call(Method::GET, "/", None).await, (reqwest::StatusCode::OK, Value::Null));

    // Schedulers.
    let (status, list) = api.call(Method::GET, "/schedulers", None).await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(list.as_array().map(|l| l.iter().map(|s| s["id"].as_str().unwrap_or_default().to_string()).collect::<Vec<_>>()), Some(vec!["boefje".to_string(), "normalizer".to_string()]));
    assert_eq!(api.call(Method::GET, "/schedulers/report", None).await.0.as_u16(), 404);

    // Push: 201, then 409 for the same work, 422 for bodies that do not fit, 400 for a mismatched scheduler id.
    let (status, a) = api.call(Method::POST, "/schedulers/boefje/push", Some(boefje_body("Hostname|internet|a.test"))).await;
    assert_eq!(status.as_u16(), 201, "{a}");
    assert!(a["priority"].is_i64() && a["type"] == "boefje" && a["status"] == "queued" && a["hash"].as_str().is_some_and(|h| h.len() == 32), "{a}");
    let (status, twin) = api.call(Method::POST, "/schedulers/boefje/push", Some(boefje_body("Hostname|internet|a.test"))).await;
    assert_eq!((status.as_u16(), twin["task"]["id"].clone()), (409, a["id"].clone()), "{twin}");
    for (body, field) in [
        (json!({"organisation": "org1", "data": {"input_ooi": "x", "organization": "org1"}}), "data.boefje"),
        (json!({"organisation": "org1", "data": {"boefje": {"id": "x"}, "input_ooi": "x", "organization": "org1"}, "colour": 1}), "colour"),
        (json!({"organisation": "bad org!", "data": {"boefje": {"id": "x"}, "input_ooi": "x", "organization": "org1"}}), "organisation"),
        (json!({"organisation": "org1", "data": []}), "data"),
    ] {
        let (status, e) = api.call(Method::POST, "/schedulers/boefje/push", Some(body.clone())).await;
        assert_eq!(status.as_u16(), 422, "{body} -> {e}");
        assert!(e["field"].as_str().is_some_and(|f| f.starts_with(field)), "{body} -> {e}");
    }
    let (status, e) = api.call(Method::POST, "/schedulers/normalizer/push", Some(boefje_body("Hostname|internet|a.test"))).await;
    assert_eq!((status.as_u16(), e["field"].as_str()), (422, Some("data.normalizer")), "a body that does not match its queue: {e}");
    let mut wrong = boefje_body("Hostname|internet|b.test");
    wrong["scheduler_id"] = json!("normalizer");
    assert_eq!(api.call(Method::POST, "/schedulers/boefje/push", Some(wrong)).await.0.as_u16(), 400);
    assert_eq!(api.call(Method::POST, "/schedulers/nope/push", Some(boefje_body("Hostname|internet|b.test"))).await.0.as_u16(), 404);
    let (status, b) = api.raw(Method::POST, "/schedulers/boefje/push", &boefje_body("Hostname|internet|b.test").to_string()).await;
    assert_eq!(status.as_u16(), 201, "a body without Content-Type is read: {b}");
    let (_, info) = api.call(Method::GET, "/schedulers/boefje", None).await;
    assert_eq!((info["qsize"].clone(), info["item_type"].clone()), (json!(2), json!("BoefjeTask")));

    // Pop with filters (mula's body), with null, with none; bad filters are 422 naming the field.
    let filter = json!({"filters": [{"column": "data", "field": "input_ooi", "operator": "eq", "value": "Hostname|internet|b.test"}]});
    let (status, popped) = api.call(Method::POST, "/schedulers/boefje/pop?limit=5", Some(filter)).await;
    assert_eq!(status.as_u16(), 200, "{popped}");
    assert_eq!(popped["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(popped["results"][0]["id"], b["id"]);
    assert_eq!(popped["results"][0]["status"], "dispatched");
    let (_, empty) = api.raw(Method::POST, "/schedulers/normalizer/pop", "null").await;
    assert_eq!(empty, json!({"results": []}), "an empty queue is an empty list, never 404");
    for (body, field) in [
        (json!({"filters": [{"column": "data", "field": "input_ooi", "operator": "le", "value": "x"}]}), "filters[0].operator"),
        (json!({"filters": [{"column": "colour", "operator": "eq", "value": "x"}]}), "filters[0].column"),
        (json!({"filters": {"or": [{"column": "priority", "operator": "gt", "value": "high"}]}}), "filters.or[0].value"),
        (json!({"filters": 7}), "filters"),
    ] {
        let (status, e) = api.call(Method::POST, "/schedulers/boefje/pop", Some(body.clone())).await;
        assert_eq!((status.as_u16(), e["field"].as_str()), (422, Some(field)), "{body} -> {e}");
    }
    assert_eq!(api.call(Method::POST, "/schedulers/boefje/pop?limit=0", None).await.0.as_u16(), 422);
    assert_eq!(api.call(Method::POST, "/schedulers/nope/pop", None).await.0.as_u16(), 404);
    let (_, popped) = api.call(Method::POST, "/schedulers/boefje/pop", None).await;
    assert_eq!(popped["results"][0]["id"], a["id"], "no body: the next task");

    // One task, patch along the lifecycle, heartbeat, events.
    let a_id = a["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(api.call(Method::GET, &format!("/tasks/{a_id}"), None).await.1["status"], "dispatched");
    assert_eq!(api.call(Method::GET, "/tasks/not-a-uuid", None).await.0.as_u16(), 422);
    assert_eq!(api.call(Method::GET, &format!("/tasks/{}", uuid::Uuid::new_v4()), None).await.0.as_u16(), 404);
    let (status, running) = api.call(Method::PATCH, &format!("/tasks/{a_id}"), Some(json!({"status": "running"}))).await;
    assert_eq!((status.as_u16(), running["status"].clone()), (200, json!("running")));
    let (status, beat) = api.call(Method::POST, &format!("/tasks/{a_id}/heartbeat"), None).await;
    assert_eq!((status.as_u16(), beat["id"].clone()), (200, a["id"].clone()));
    assert_eq!(api.call(Method::PATCH, &format!("/tasks/{a_id}"), Some(json!({}))).await.0.as_u16(), 400, "no data to patch");
    assert_eq!(api.call(Method::PATCH, &format!("/tasks/{a_id}"), Some(json!({"status": "sleeping"}))).await.0.as_u16(), 422);
    assert_eq!(api.call(Method::PATCH, &format!("/tasks/{a_id}"), Some(json!({"status": "completed", "colour": "ignored"}))).await.0.as_u16(), 200);
    let (status, e) = api.call(Method::PATCH, &format!("/tasks/{a_id}"), Some(json!({"status": "running"}))).await;
    assert_eq!((status.as_u16(), e["field"].as_str()), (409, Some("status")), "a JSON body says why: {e}");
    assert_eq!(api.call(Method::POST, &format!("/tasks/{a_id}/heartbeat"), None).await.0.as_u16(), 409);
    let (status, events) = api.call(Method::GET, &format!("/tasks/{a_id}/events"), None).await;
    assert_eq!(status.as_u16(), 200);
    let moves: Vec<&str> = events.as_array().map(|l| l.iter().filter_map(|e| e["to"].as_str()).collect()).unwrap_or_default();
    assert_eq!(moves, ["queued", "dispatched", "running", "completed"]);
    assert_eq!(api.call(Method::GET, &format!("/tasks/{}/events", uuid::Uuid::new_v4()), None).await.0.as_u16(), 404);

    // Lists: filters, pagination links, stats.
    for i in 0..3 {
        api.call(Method::POST, "/schedulers/boefje/push", Some(boefje_body(&format!("Hostname|internet|c{i}.test")))).await;
    }
    let (status, page) = api.call(Method::GET, "/tasks?scheduler_id=boefje&status=queued&limit=2", None).await;
    assert_eq!((status.as_u16(), page["count"].clone(), page["results"].as_array().map(Vec::len)), (200, json!(3), Some(2)), "{page}");
    assert!(page["next"].as_str().is_some_and(|n| n.contains("offset=2") && n.starts_with("http://")), "{page}");
    assert_eq!(page["previous"], Value::Null);
    let (_, page2) = api.call(Method::GET, "/tasks?scheduler_id=boefje&status=queued&limit=2&offset=2", None).await;
    assert!(page2["previous"].as_str().is_some_and(|p| p.contains("offset=0")));
    let (_, searched) = api.call(Method::POST, "/tasks", Some(json!({"filters": [{"column": "data", "field": "input_ooi", "operator": "like", "value": "%c1%"}]}))).await;
    assert_eq!(searched["count"], 1, "{searched}");
    assert_eq!(api.call(Method::GET, "/tasks?status=sleeping", None).await.1["field"], "status");
    assert_eq!(api.call(Method::GET, "/tasks?min_created_at=2024-05-02&max_created_at=2024-05-01", None).await.0.as_u16(), 400);
    assert_eq!(api.call(Method::GET, "/tasks?organisation=a%00b", None).await.0.as_u16(), 422);
    let (status, stats) = api.call(Method::GET, "/tasks/stats?scheduler_id=boefje", None).await;
    assert_eq!(status.as_u16(), 200);
    let hour = stats.as_object().and_then(|m| m.get("2024-05-01T10:00:00+00:00")).cloned().unwrap_or_default();
    assert_eq!((hour["completed"].clone(), hour["queued"].clone(), hour["total"].clone()), (json!(1), json!(3), json!(5)), "{stats}");

    // Schedules.
    let schedule = json!({"scheduler_id": "boefje", "organisation": "org1", "schedule": "0 * * * *", "data": {"boefje": {"id": "dns-records"}, "input_ooi": "Hostname|internet|s.test", "organization": "org1"}});
    let (status, created) = api.call(Method::POST, "/schedules", Some(schedule.clone())).await;
    assert_eq!(status.as_u16(), 201, "{created}");
    assert_eq!((created["deadline_at"].clone(), created["enabled"].clone()), (json!("2024-05-01T11:00:00Z"), json!(true)), "the cron's next time");
    assert_eq!(api.call(Method::POST, "/schedules", Some(schedule.clone())).await.0.as_u16(), 409, "same hash");
    for (change, field) in [(json!({"schedule": "61 * * * *"}), "schedule"), (json!({"schedule": null}), "schedule"), (json!({"scheduler_id": "report"}), "scheduler_id"), (json!({"data": {"input_ooi": "x"}}), "data.boefje")] {
        let mut body = schedule.clone();
        for (k, v) in change.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        let (status, e) = api.call(Method::POST, "/schedules", Some(body)).await;
        assert_eq!((status.as_u16(), e["field"].as_str()), (422, Some(field)), "{change} -> {e}");
    }
    let id = created["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(api.call(Method::GET, &format!("/schedules/{id}"), None).await.1["schedule"], "0 * * * *");
    let (_, listed) = api.call(Method::GET, "/schedules?organisation=org1&enabled=true", None).await;
    assert_eq!(listed["count"], 1);
    let (_, found) = api.call(Method::POST, "/schedules/search", Some(json!({"filters": [{"column": "data", "field": "input_ooi", "operator": "eq", "value": "Hostname|internet|s.test"}]}))).await;
    assert_eq!(found["count"], 1, "{found}");
    let (status, patched) = api.call(Method::PATCH, &format!("/schedules/{id}"), Some(json!({"enabled": false, "schedule": "*/5 * * * *"}))).await;
    assert_eq!((status.as_u16(), patched["enabled"].clone(), patched["deadline_at"].clone()), (200, json!(false), json!("2024-05-01T10:05:00Z")), "{patched}");
    assert_eq!(api.call(Method::PATCH, &format!("/schedules/{id}"), Some(json!({}))).await.0.as_u16(), 400);
    assert_eq!(api.call(Method::PATCH, &format!("/schedules/{id}"), Some(json!({"schedule": "bad format"}))).await.1["field"], "schedule");
    assert_eq!(api.call(Method::GET, "/schedules?min_deadline_at=2024-05-02&max_deadline_at=2024-05-01", None).await.0.as_u16(), 400);
    assert_eq!(api.call(Method::DELETE, &format!("/schedules/{id}"), None).await.0.as_u16(), 204);
    assert_eq!(api.call(Method::GET, &format!("/schedules/{id}"), None).await.0.as_u16(), 404);

    // Events in: objects and raw files; explain.
    let objects = json!({"organisation": "org2", "saved": [object("Hostname|internet|new.test", 1, json!({"name": "new.test", "network": "Network|internet"}))], "deleted": []});
    let (status, made) = api.call(Method::POST, "/objects", Some(objects)).await;
    assert_eq!(status.as_u16(), 200, "{made}");
    assert_eq!((made["results"][0]["created"].clone(), made["results"][0]["task"]["data"]["boefje"]["id"].clone()), (json!(true), json!("dns-records")), "{made}");
    let (status, e) = api.call(Method::POST, "/objects", Some(json!({"organisation": "org2", "saved": [{"reference": "Nope|x", "scan_level": 1}]}))).await;
    assert_eq!((status.as_u16(), e["field"].as_str()), (422, Some("saved[0].reference")), "{e}");
    let event = serde_json::to_value(dns_event("org2")).unwrap_or_default();
    let (status, made) = api.call(Method::POST, "/raw_file_received", Some(event.clone())).await;
    assert_eq!((status.as_u16(), made["results"][0]["task"]["data"]["normalizer"]["id"].clone()), (200, json!("kat_dns_normalize")), "{made}");
    assert_eq!(api.call(Method::POST, "/raw_file_received", Some(event)).await.1, json!({"results": []}), "a repeated event adds nothing");
    let (status, why) = api.call(Method::GET, "/explain?organisation=org2&boefje_id=dns-records&input_ooi=Hostname%7Cinternet%7Cnew.test", None).await;
    assert_eq!(status.as_u16(), 200, "{why}");
    assert_eq!(why["reasons"][0]["code"], "deduplicated", "{why}");
    assert_eq!(api.call(Method::GET, "/explain?organisation=org2&boefje_id=dns-records", None).await.1["field"], "input_ooi");

    // Metrics and the OpenAPI document.
    let (status, metrics) = api.call(Method::GET, "/metrics", None).await;
    assert_eq!(status.as_u16(), 200);
    let text = metrics.as_str().unwrap_or_default();
    assert!(text.contains("scheduler_tasks{queue=\"boefje\",status=\"completed\"} 1") && text.contains("scheduler_pops_total 2"), "{text}");
    let (_, doc) = api.call(Method::GET, "/openapi.json", None).await;
    assert!(doc["paths"]["/schedulers/{scheduler_id}/push"]["post"]["requestBody"].is_object(), "request bodies are declared");
    assert!(doc["paths"]["/tasks/{task_id}/heartbeat"].is_object() && doc["paths"]["/explain"].is_object());
    assert_eq!(api.call(Method::DELETE, "/schedulers", None).await.1["field"], "method", "405 is JSON too");
}

#[tokio::test]
async fn every_endpoint_on_sqlite() {
    every_endpoint(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_endpoint_on_postgres() {
    every_endpoint(Backend::Postgres).await;
}
