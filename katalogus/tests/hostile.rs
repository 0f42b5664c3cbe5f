//! Hostile and faulty input through real HTTP on SQLite and PostgreSQL: a
//! clone onto itself (422, nothing changes) and a clone that fails midway
//! (nothing changes), NUL characters anywhere (422 naming the field, never
//! 503, never database text), an integer setting too large for the runner,
//! every 4xx as a JSON body, 413 for a large body, the OpenAPI document's
//! request bodies, `/health` while PostgreSQL cannot be reached, and what
//! making the OpenAPI document precise for schemathesis turned up (plugin ids
//! that no URL can reach, a filter that was not checked, 404 before 422).

#[macro_use]
mod common;

use std::sync::Arc;

use common::{assert_error, nacl, postgres_url, sqlite_url, Server};
use kat_core::crypto::{generate_key_pair, Middleware};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends! {
    cloning_onto_itself_is_refused_and_changes_nothing => clone_onto_itself;
    a_clone_that_fails_midway_changes_nothing => failing_clone;
    nul_characters_are_422_naming_the_field => nul_everywhere;
    an_integer_setting_beyond_64_bits_is_refused => huge_integer;
}

/// No answer may carry database error text.
fn assert_no_database_text(body: &Value) {
    let text = body.to_string().to_lowercase();
    for needle in ["sqlx", "postgres", "sqlite", "syntax", "error returned from database", "invalid byte sequence", "0x00"] {
        assert!(!text.contains(needle), "database text {needle:?} in {body}");
    }
}

async fn clone_onto_itself(url: String) {
    let s = Server::start(&url, nacl(), None).await;
    s.organisation("o").await;
    s.call(Method::PUT, "/v1/organisations/o/port-scan/settings", Some(json!({"PORTS": "22"}))).await;
    s.call(Method::PATCH, "/v1/organisations/o/plugins/port-scan", Some(json!({"enabled": true}))).await;
    let answer = s.call(Method::POST, "/v1/organisations/o/settings/clone/o", None).await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some("to_org"));
    assert_eq!(s.get("/v1/organisations/o/port-scan/settings").await.1, json!({"PORTS": "22"}), "the settings are kept");
    assert_eq!(s.get("/v1/organisations/o/plugins/port-scan").await.1["enabled"], true, "the enablement is kept");
    assert_eq!(s.call(Method::POST, "/v1/organisations/o/settings/clone/nope", None).await.0, StatusCode::NOT_FOUND);
}

/// The source's settings of one boefje were written under another key: decrypting them fails after the
/// target's enablement was already rewritten inside the transaction, so the whole clone must roll back.
async fn failing_clone(url: String) {
    let (private, public) = generate_key_pair();
    let first = Arc::new(Middleware::nacl_box(&private, &public).expect("keys"));
    let s = Server::start(&url, first, None).await;
    s.organisation("from").await;
    s.organisation("to").await;
    assert_eq!(s.call(Method::PUT, "/v1/organisations/from/port-scan/settings", Some(json!({"PORTS": "1"}))).await.0, StatusCode::OK);
    let (other_private, other_public) = generate_key_pair();
    let s = Server::start(&url, Arc::new(Middleware::nacl_box(&other_private, &other_public).expect("keys")), None).await;
    s.call(Method::PATCH, "/v1/organisations/from/plugins/dns-records", Some(json!({"enabled": true}))).await;
    s.call(Method::PATCH, "/v1/organisations/from/plugins/kat_nmap_normalize", Some(json!({"enabled": false}))).await;
    s.call(Method::PATCH, "/v1/organisations/to/plugins/port-scan", Some(json!({"enabled": true}))).await;
    let before = s.get("/v1/organisations/to/plugins").await.1;
    let (status, body) = s.call(Method::POST, "/v1/organisations/from/settings/clone/to", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("cannot decrypt")), "{body}");
    assert_eq!(s.get("/v1/organisations/to/plugins").await.1, before, "a failed clone changes nothing");
    assert_eq!(s.get("/v1/organisations/to/port-scan/settings").await.1, json!({}));

    // With readable settings the same clone goes through, with OpenKAT's rules.
    s.call(Method::PUT, "/v1/organisations/from/port-scan/settings", Some(json!({"PORTS": "2"}))).await;
    assert_eq!(s.call(Method::POST, "/v1/organisations/from/settings/clone/to", None).await, (StatusCode::OK, Value::Null));
    let enabled = |list: &Value, id: &str| list.as_array().and_then(|a| a.iter().find(|p| p["id"] == id)).map(|p| p["enabled"].clone());
    let after = s.get("/v1/organisations/to/plugins").await.1;
    assert_eq!(enabled(&after, "dns-records"), Some(json!(true)), "enabled in the source");
    assert_eq!(enabled(&after, "port-scan"), Some(json!(false)), "enabled only in the target: disabled");
    assert_eq!(enabled(&after, "kat_nmap_normalize"), Some(json!(false)), "disabled in the source");
    assert_eq!(s.get("/v1/organisations/to/port-scan/settings").await.1, json!({"PORTS": "2"}));
}

async fn nul_everywhere(url: String) {
    let s = Server::start(&url, nacl(), None).await;
    s.organisation("o").await;
    let checks: Vec<(Method, &str, Value, &str)> = vec![
        (Method::POST, "/v1/organisations", json!({"id": "a\u{0}b", "name": "x"}), "id"),
        (Method::POST, "/v1/organisations", json!({"id": "ok", "name": "x\u{0}y"}), "name"),
        (Method::PUT, "/v1/organisations", json!({"id": "ok", "name": "x\u{0}y"}), "name"),
        (Method::POST, "/v1/organisations/o/plugins", json!({"id": "p1", "name": "P", "type": "boefje", "description": "a\u{0}"}), "description"),
        (Method::POST, "/v1/organisations/o/plugins", json!({"id": "p1", "name": "P", "type": "boefje", "consumes": ["Host\u{0}name"]}), "consumes[0]"),
        (Method::POST, "/v1/organisations/o/plugins", json!({"id": "p\u{0}1", "name": "P", "type": "normalizer"}), "id"),
        (Method::PUT, "/v1/organisations/o/port-scan/settings", json!({"PORTS": "22\u{0}"}), "PORTS"),
        (Method::PUT, "/v1/organisations/o/port-scan/settings", json!({"POR\u{0}TS": "22"}), "POR\\0TS"),
        (Method::PATCH, "/v1/organisations/o/plugins/port-scan", json!({"enabled": true, "x": "\u{0}"}), "x"),
    ];
    for (method, path, body, field) in checks {
        let answer = s.call(method.clone(), path, Some(body.clone())).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        assert_no_database_text(&answer.1);
    }
    for (path, field) in [("/v1/organisations/o/plugins?q=a%00b", "q"), ("/v1/organisations/o/plugins?ids=a%00", "ids"), ("/v1/configs?organisation_id=%00", "organisation_id"), ("/v1/organisations/a%00b", "path"), ("/v1/organisations/o/a%00/settings", "path")] {
        let answer = s.get(path).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        assert_no_database_text(&answer.1);
    }
    assert_eq!(s.get("/v1/organisations").await.1.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()), Some(vec!["o".to_string()]), "nothing was stored");

    // The embedded API refuses NUL as well (kat scan passes its own input).
    let local = kat_katalogus::LocalKatalogus::connect(&url, common::repository(), nacl()).await.expect("same database");
    let e = local.put_settings("o", "port-scan", json!({"PORTS": "1\u{0}"}).as_object().expect("map")).await.expect_err("nul value");
    assert_eq!((e.kind, e.field.as_deref()), (kat_core::ErrorKind::Invalid, Some("PORTS")));
    let e = local.ensure_organisation("x", "a\u{0}").await.expect_err("nul name");
    assert_eq!((e.kind, e.field.as_deref()), (kat_core::ErrorKind::Invalid, Some("name")));
    let e = local.add_plugin(&json!({"id": "q", "name": "Q\u{0}", "type": "normalizer"})).await.expect_err("nul plugin name");
    assert_eq!(e.field.as_deref(), Some("name"));
}

async fn huge_integer(url: String) {
    let s = Server::start(&url, nacl(), None).await;
    s.organisation("o").await;
    for value in [json!(1e29), json!(u64::MAX), json!("1e29"), json!(1.5)] {
        let answer = s.call(Method::PUT, "/v1/organisations/o/port-scan/settings", Some(json!({"TIMEOUT_MS": value}))).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some("TIMEOUT_MS"));
        assert!(!answer.1.to_string().contains("e+29") && !answer.1.to_string().contains("18446744073709551615"), "the value stays out: {}", answer.1);
    }
    assert_eq!(s.get("/v1/organisations/o/port-scan/settings").await.1, json!({}), "nothing was stored");
    assert_eq!(s.call(Method::PUT, "/v1/organisations/o/port-scan/settings", Some(json!({"TIMEOUT_MS": 2000.0}))).await.0, StatusCode::OK);
    assert_eq!(s.get("/v1/organisations/o/port-scan/settings").await.1, json!({"TIMEOUT_MS": 2000}));
}

#[tokio::test]
async fn every_client_error_is_a_json_body() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start(&sqlite_url(dir.path()), nacl(), None).await;
    s.organisation("o").await;
    for (method, path) in [(Method::DELETE, "/v1/organisations"), (Method::POST, "/v1/organisations/o"), (Method::GET, "/v1/no/such/endpoint"), (Method::GET, "/v1/organisations/%FF"), (Method::GET, "/v1/organisations/o/plugins?limit=%FF"), (Method::PUT, "/v1/configs")] {
        let response = s.client.request(method.clone(), format!("{}{path}", s.base)).send().await.expect("request");
        let status = response.status();
        assert!(status.is_client_error(), "{method} {path}: {status}");
        assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"), "{method} {path}");
        let body: Value = response.json().await.expect("JSON");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()) && body.get("field").is_some(), "{method} {path}: {body}");
    }
    assert_eq!(s.client.delete(format!("{}/v1/organisations", s.base)).send().await.expect("request").status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_large_body_is_413() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start(&sqlite_url(dir.path()), nacl(), None).await;
    s.organisation("o").await;
    let two_mib = format!("{{\"PORTS\": \"{}\"}}", "1".repeat(2 * 1024 * 1024));
    let answer = s.send(Method::PUT, "/v1/organisations/o/port-scan/settings", Some((two_mib.into_bytes(), None))).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, Some("body"));
    let hundred_mib = vec![b' '; 100 * 1024 * 1024];
    let answer = s.send(Method::POST, "/v1/organisations", Some((hundred_mib, Some("application/json")))).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, Some("body"));
    assert_eq!(s.get("/v1/organisations/o/port-scan/settings").await.1, json!({}));
}

#[tokio::test]
async fn the_openapi_document_declares_every_route_and_request_body() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start(&sqlite_url(dir.path()), nacl(), None).await;
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let with_body = [
        ("/v1/organisations", "post"),
        ("/v1/organisations", "put"),
        ("/v1/organisations/{org}/plugins", "post"),
        ("/v1/organisations/{org}/plugins/{plugin_id}", "patch"),
        ("/v1/organisations/{org}/boefjes/{plugin_id}", "patch"),
        ("/v1/organisations/{org}/normalizers/{plugin_id}", "patch"),
        ("/v1/organisations/{org}/{plugin_id}/settings", "put"),
    ];
    for (path, method) in with_body {
        let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"];
        assert!(body.is_object(), "{method} {path} lacks a JSON request body");
    }
    let without_body = [
        ("/v1/organisations/{org}", "delete"),
        ("/v1/organisations/{org}/boefjes/{plugin_id}", "delete"),
        ("/v1/organisations/{org}/normalizers/{plugin_id}", "delete"),
        ("/v1/organisations/{org}/settings/clone/{to_org}", "post"),
        ("/v1/configs", "get"),
        ("/v1/organisations/{org}/plugins/{plugin_id}/cover.jpg", "get"),
    ];
    for (path, method) in without_body {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is missing");
    }
    let configs = &doc["paths"]["/v1/configs"]["get"]["parameters"];
    let names: Vec<&str> = configs.as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["organisation_id", "boefje_id", "enabled", "with_duplicates", "offset", "limit"]);
}

#[tokio::test]
async fn inputs_found_while_making_the_document_precise() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start(&sqlite_url(dir.path()), nacl(), None).await;
    s.organisation("o").await;
    // A plugin id "." or ".." was accepted, but clients remove such path segments, so no URL could reach the plugin.
    for id in [".", "..", ".hidden"] {
        let answer = s.call(Method::POST, "/v1/organisations/o/plugins", Some(json!({"type": "normalizer", "id": id}))).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some("id"));
    }
    assert_eq!(s.call(Method::POST, "/v1/organisations/o/plugins", Some(json!({"type": "normalizer", "id": "a..b"}))).await.0, StatusCode::CREATED);
    assert_eq!(s.get("/v1/organisations/o/plugins/a..b").await.1["id"], "a..b", "a dot inside an id is fine");
    // `type` was not checked when `plugin_type` was given.
    assert_error(&s.get("/v1/organisations/o/plugins?plugin_type=boefje&type=thing").await, StatusCode::UNPROCESSABLE_ENTITY, Some("type"));
    assert_error(&s.get("/v1/organisations/o/plugins?plugin_type=thing&type=boefje").await, StatusCode::UNPROCESSABLE_ENTITY, Some("plugin_type"));
    // An organisation that does not exist is 404 before any rule about the rest of the request.
    assert_error(&s.call(Method::POST, "/v1/organisations/nobody/settings/clone/nobody", None).await, StatusCode::NOT_FOUND, Some("organisation_id"));
    let answer = s.call(Method::PUT, "/v1/organisations/nobody/port-scan/settings", Some(json!({"NOT_A_SETTING": "x"}))).await;
    assert_error(&answer, StatusCode::NOT_FOUND, Some("organisation_id"));
}

/// A TCP relay to the machine's PostgreSQL that can be cut: while it is cut, connecting is refused, as when
/// PostgreSQL is down.
struct Relay {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(port: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("relay port");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay { port, task: Some(task) }
    }

    /// Close the listener and every relayed connection.
    fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `/health` reports the database; while PostgreSQL cannot be reached it answers 503 promptly, and so do other requests.
#[tokio::test]
async fn health_reports_the_database_and_503_while_it_is_down() {
    let url = postgres_url().await;
    let name = url.rsplit('/').next().expect("database name").to_string();
    let mut relay = Relay::start(0).await;
    let relayed = format!("postgres://postgres@127.0.0.1:{}/{name}", relay.port);
    let s = Server::start(&relayed, nacl(), None).await;
    s.organisation("o").await;
    let (status, health) = s.get("/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!((health["service"].clone(), health["healthy"].clone(), health["results"][0]["service"].clone(), health["results"][0]["healthy"].clone()), (json!("katalogus"), json!(true), json!("database"), json!(true)));
    assert!(health["version"].is_string() && health.get("additional").is_some());

    relay.cut();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let (status, health) = s.get("/health").await;
    assert_eq!((status, health["healthy"].clone(), health["results"][0]["healthy"].clone()), (StatusCode::SERVICE_UNAVAILABLE, json!(false), json!(false)), "{health}");
    let answer = s.get("/v1/organisations").await;
    assert_error(&answer, StatusCode::SERVICE_UNAVAILABLE, None);
    assert_no_database_text(&answer.1);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "answers come promptly: {:?}", started.elapsed());

    let _relay = Relay::start(relay.port).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.get("/health").await.0 != StatusCode::OK && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(s.get("/health").await.0, StatusCode::OK, "healthy again once the database is back");
    assert_eq!(s.get("/v1/organisations/o").await.0, StatusCode::OK);
}
