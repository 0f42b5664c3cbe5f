//! The KATalogus REST API through real HTTP on 127.0.0.1, on SQLite and on
//! the machine's PostgreSQL (a fresh database per test), with settings
//! encrypted at rest. PostgreSQL must run: `bash scripts/services.sh`.

mod common;

use std::sync::Arc;

use common::{ids, nacl, postgres_url, repository, Server};
use kat_core::crypto::{generate_key_pair, Middleware};
use kat_katalogus::LocalKatalogus;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Every endpoint, its success and its 404/409/422 cases.
async fn every_endpoint(s: &Server) {
    use reqwest::Method;
    assert_eq!(s.get("/health").await.0, StatusCode::OK);
    let (status, body) = s.call(Method::POST, "/v1/organisations", Some(json!({"id": "org-a", "name": "A"}))).await;
    assert_eq!((status, body.clone()), (StatusCode::CREATED, json!({"id": "org-a", "name": "A", "deduplicate": true})));
    assert_eq!(s.call(Method::PUT, "/v1/organisations", Some(json!({"id": "org-b", "name": "B"}))).await.0, StatusCode::OK);
    let (status, body) = s.call(Method::POST, "/v1/organisations", Some(json!({"id": "org-a", "name": "again"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("already exists")), "{body}");
    let (status, body) = s.call(Method::POST, "/v1/organisations", Some(json!({"id": "bad id!", "name": "x"}))).await;
    assert_eq!((status, body["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("id")), "{body}");
    let (status, body) = s.call(Method::POST, "/v1/organisations", Some(json!({"name": "no id"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].is_string());
    let (status, body) = s.get("/v1/organisations").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["org-a"], json!({"id": "org-a", "name": "A", "deduplicate": true}), "{body}");
    assert_eq!(s.get("/v1/organisations/org-a").await, (StatusCode::OK, json!({"id": "org-a", "name": "A", "deduplicate": true})));
    assert_eq!(s.get("/v1/organisations/nope").await.0, StatusCode::NOT_FOUND);

    // Plugins and their filters.
    let (status, all) = s.get("/v1/organisations/org-a/plugins").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&all), ["port-scan", "dns-records", "kat_nmap_normalize"]);
    let scan = &all[0];
    assert_eq!((scan["type"].clone(), scan["scan_level"].clone(), scan["enabled"].clone()), (json!("boefje"), json!(2), json!(false)));
    assert_eq!(scan["boefje_schema"]["properties"]["TIMEOUT_MS"]["type"], "integer");
    for (query, expected) in [
        ("?type=normalizer", vec!["kat_nmap_normalize"]),
        ("?q=TCP", vec!["port-scan"]),
        ("?ids=dns-records&ids=kat_nmap_normalize", vec!["dns-records", "kat_nmap_normalize"]),
        ("?ids=port-scan,dns-records", vec!["port-scan", "dns-records"]),
        ("?consumes=Hostname", vec!["dns-records"]),
        ("?consumes=boefje/nmap", vec!["kat_nmap_normalize"]),
        ("?produces=IPPort", vec!["kat_nmap_normalize"]),
        ("?scan_level=2", vec!["port-scan", "kat_nmap_normalize"]),
        ("?offset=1&limit=1", vec!["dns-records"]),
    ] {
        let (status, list) = s.get(&format!("/v1/organisations/org-a/plugins{query}")).await;
        assert_eq!((status, ids(&list)), (StatusCode::OK, expected), "{query}");
    }
    for bad in ["?limit=many", "?state=maybe", "?type=thing"] {
        assert_eq!(s.get(&format!("/v1/organisations/org-a/plugins{bad}")).await.0, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(s.get("/v1/organisations/nope/plugins").await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v1/organisations/org-a/plugins/dns-records").await.1["id"], "dns-records");
    assert_eq!(s.get("/v1/organisations/org-a/plugins/nope").await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v1/organisations/org-a/plugins/port-scan/schema.json").await.1["properties"]["PORTS"]["type"], "string");
    let (status, text) = s.get("/v1/organisations/org-a/plugins/port-scan/description.md").await;
    assert_eq!((status, text), (StatusCode::OK, json!("TCP connect scan")), "without description.md, the plugin's description");

    // Enable / disable, per organisation.
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/org-a/plugins/port-scan", Some(json!({"enabled": true}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(ids(&s.get("/v1/organisations/org-a/plugins?state=true").await.1), ["port-scan", "kat_nmap_normalize"]);
    assert_eq!(s.get("/v1/organisations/org-b/plugins/port-scan").await.1["enabled"], false, "org-b is not touched");
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/org-a/plugins/nope", Some(json!({"enabled": true}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/org-a/plugins/dns-records", Some(json!({"enabled": "yes"}))).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    // Settings: validated, converted, isolated, deleted, cloned.
    let path = "/v1/organisations/org-a/port-scan/settings";
    assert_eq!(s.get(path).await, (StatusCode::OK, json!({})));
    let put = s.call(Method::PUT, path, Some(json!({"PORTS": "22,80", "TIMEOUT_MS": "250", "API_KEY": "hunter2-secret"}))).await;
    assert_eq!(put, (StatusCode::OK, Value::Null));
    assert_eq!(s.get(path).await.1, json!({"PORTS": "22,80", "TIMEOUT_MS": 250, "API_KEY": "hunter2-secret"}));
    for (settings, field) in [
        (json!({"LD_PRELOAD": "x"}), "LD_PRELOAD"),
        (json!({"PATH": "x"}), "PATH"),
        (json!({"LC_ALL": "x"}), "LC_ALL"),
        (json!({"1ABC": "x"}), "1ABC"),
        (json!({"A-B": "x"}), "A-B"),
        (json!({"TIMEOUT_MS": 999999}), "TIMEOUT_MS"),
        (json!({"PORTS": "x".repeat(65)}), "PORTS"),
    ] {
        let (status, body) = s.call(Method::PUT, path, Some(settings.clone())).await;
        assert_eq!((status, body["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(field)), "{settings}: {body}");
        assert!(!body.to_string().contains("xxxx") && !body.to_string().contains("999999"), "values stay out of errors: {body}");
    }
    assert_eq!(s.call(Method::PUT, path, Some(json!(["not", "an", "object"]))).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.call(Method::PUT, "/v1/organisations/nope/port-scan/settings", Some(json!({}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::PUT, "/v1/organisations/org-a/nope/settings", Some(json!({}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v1/organisations/org-b/port-scan/settings").await.1, json!({}), "organisations are isolated");
    assert_eq!(s.get("/v1/organisations/org-a/nope/settings").await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::POST, "/v1/organisations/org-a/settings/clone/org-b", None).await, (StatusCode::OK, Value::Null));
    assert_eq!(s.get("/v1/organisations/org-b/port-scan/settings").await.1["PORTS"], "22,80");
    assert_eq!(s.get("/v1/organisations/org-b/plugins/port-scan").await.1["enabled"], true, "enablement is cloned too");
    assert_eq!(s.call(Method::POST, "/v1/organisations/org-a/settings/clone/nope", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::DELETE, path, None).await.0, StatusCode::OK);
    assert_eq!(s.get(path).await.1, json!({}));
    assert_eq!(s.get("/v1/organisations/org-b/port-scan/settings").await.1["PORTS"], "22,80", "deleting org-a's settings leaves org-b's");

    assert_eq!(s.call(Method::DELETE, "/v1/organisations/org-b", None).await.0, StatusCode::OK);
    assert_eq!(s.call(Method::DELETE, "/v1/organisations/org-b", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v1/no/such/endpoint").await.0, StatusCode::NOT_FOUND);
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{doc}");
    for (path, method) in [("/v1/organisations", "post"), ("/v1/organisations/{org}/plugins", "get"), ("/v1/organisations/{org}/{plugin_id}/settings", "put"), ("/v1/organisations/{org}/settings/clone/{to_org}", "post")] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from the OpenAPI document");
    }
    // No response but the settings GET carries a setting value.
    s.call(Method::PUT, path, Some(json!({"API_KEY": "masked-secret-value"}))).await;
    for listing in ["/v1/organisations/org-a/plugins", "/v1/organisations/org-a/plugins/port-scan", "/metrics", "/v1/organisations", "/openapi.json", "/health"] {
        assert!(!s.get(listing).await.1.to_string().contains("masked-secret-value"), "{listing} leaks a setting");
    }
    let (status, metrics) = s.get("/metrics").await;
    assert!(status == StatusCode::OK && metrics.as_str().is_some_and(|m| m.contains("katalogus_requests_total")), "{metrics}");
}

#[tokio::test]
async fn every_endpoint_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.sqlite").display());
    every_endpoint(&Server::start(&url, nacl(), None).await).await;
}

#[tokio::test]
async fn every_endpoint_on_postgres() {
    let url = postgres_url().await;
    every_endpoint(&Server::start(&url, nacl(), None).await).await;
}

#[tokio::test]
async fn settings_are_encrypted_at_rest_and_a_wrong_key_never_yields_ciphertext() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("k.sqlite");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let (private, public) = generate_key_pair();
    let right = Arc::new(Middleware::nacl_box(&private, &public).expect("keys"));
    let s = Server::start(&url, right.clone(), None).await;
    s.call(reqwest::Method::POST, "/v1/organisations", Some(json!({"id": "o", "name": "O"}))).await;
    s.call(reqwest::Method::PUT, "/v1/organisations/o/port-scan/settings", Some(json!({"API_KEY": "plain-secret-value"}))).await;
    let on_disk = std::fs::read(&file).expect("db file");
    let wal = std::fs::read(dir.path().join("k.sqlite-wal")).unwrap_or_default();
    for bytes in [on_disk, wal] {
        assert!(!String::from_utf8_lossy(&bytes).contains("plain-secret-value"), "the secret is stored in clear");
    }

    let (other_private, other_public) = generate_key_pair();
    let wrong = Server::start(&url, Arc::new(Middleware::nacl_box(&other_private, &other_public).expect("keys")), None).await;
    let (status, body) = wrong.get("/v1/organisations/o/port-scan/settings").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("cannot decrypt")), "{body}");
    assert!(body.get("API_KEY").is_none() && !body.to_string().contains("plain-secret-value"));
    let plain = Server::start(&url, Arc::new(Middleware::Identity), None).await;
    let (status, body) = plain.get("/v1/organisations/o/port-scan/settings").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "ciphertext is never served as settings: {body}");
    assert_eq!(Server::start(&url, right, None).await.get("/v1/organisations/o/port-scan/settings").await.1["API_KEY"], "plain-secret-value");
}

#[tokio::test]
async fn a_token_guards_every_endpoint_but_health() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.sqlite").display());
    let s = Server::start(&url, Arc::new(Middleware::Identity), Some("t0ken")).await;
    let anonymous = Server { base: s.base.clone(), client: reqwest::Client::new(), token: None };
    let wrong = Server { base: s.base.clone(), client: reqwest::Client::new(), token: Some("t0kem".into()) };
    assert_eq!(anonymous.get("/health").await.0, StatusCode::OK);
    for path in ["/v1/organisations", "/v1/organisations/x/plugins", "/metrics", "/v1/nothing"] {
        assert_eq!(anonymous.get(path).await.0, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(wrong.get(path).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(s.get("/v1/organisations").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_http_client_sees_what_the_local_catalogue_sees() {
    use kat_core::services::katalogus::Katalogus;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.sqlite").display());
    let s = Server::start(&url, nacl(), Some("tok")).await;
    s.call(reqwest::Method::POST, "/v1/organisations", Some(json!({"id": "o", "name": "O"}))).await;
    s.call(reqwest::Method::PUT, "/v1/organisations/o/port-scan/settings", Some(json!({"PORTS": "443", "TIMEOUT_MS": 900}))).await;
    s.call(reqwest::Method::PATCH, "/v1/organisations/o/plugins/kat_nmap_normalize", Some(json!({"enabled": false}))).await;
    let client = kat_katalogus::KatalogusClient::new(&s.base, Some("tok".into()));
    let local = LocalKatalogus::connect(&url, repository(), nacl()).await.expect("same database");
    assert_eq!(client.boefjes("o").await.expect("boefjes"), local.boefjes("o").await.expect("boefjes"));
    assert_eq!(client.normalizers("o").await.expect("normalizers"), local.normalizers("o").await.expect("normalizers"));
    assert!(!client.normalizers("o").await.expect("normalizers")[0].enabled);
    let settings = client.settings("o", "port-scan").await.expect("settings");
    assert_eq!(Value::Object(settings), json!({"PORTS": "443", "TIMEOUT_MS": 900}));
    assert_eq!(client.settings("nope", "port-scan").await.expect_err("no org").kind, kat_core::ErrorKind::NotFound);
    // Sharing tasks across organisations: both flags, and another sharing organisation; the client and the store agree.
    assert!(!client.shares_tasks("o", "port-scan").await.expect("flags"), "no other organisation to share with");
    s.call(reqwest::Method::POST, "/v1/organisations", Some(json!({"id": "p", "name": "P"}))).await;
    s.call(reqwest::Method::POST, "/v1/organisations", Some(json!({"id": "q", "name": "Q", "deduplicate": false}))).await;
    for (org, shares) in [("o", true), ("p", true), ("q", false)] {
        assert_eq!(client.shares_tasks(org, "port-scan").await.expect("flags"), shares, "{org}");
        assert_eq!(local.shares_tasks(org, "port-scan").await.expect("flags"), shares, "{org}");
    }
    let anonymous = kat_katalogus::KatalogusClient::new(&s.base, None);
    assert_eq!(anonymous.boefjes("o").await.expect_err("no token").kind, kat_core::ErrorKind::Unauthorized);
    let down = kat_katalogus::KatalogusClient::new("http://127.0.0.1:9", None);
    assert_eq!(down.settings("o", "port-scan").await.expect_err("down").kind, kat_core::ErrorKind::Unavailable);
}
