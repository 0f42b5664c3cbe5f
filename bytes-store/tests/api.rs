//! The Bytes REST API through real HTTP on 127.0.0.1, on SQLite with the
//! local filesystem and on PostgreSQL with S3 (moto); both must run:
//! `bash scripts/services.sh`. Covered: login, metas, raw files (dedup per mime-type set,
//! 413, bad base64, unknown run), filters, mime type counts, metrics, the
//! OpenAPI document, and a tampered file refused.

mod common;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{open, start, Api, Backend};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn boefje_meta(id: &str, org: &str, boefje: &str, started_at: &str) -> Value {
    json!({"id": id, "started_at": started_at, "ended_at": "2024-05-01T10:00:02.25Z", "boefje": {"id": boefje}, "input_ooi": "Hostname|internet|example.nl", "organization": org, "arguments": {}, "environment": {"PORTS": "80"}})
}

#[tokio::test]
async fn every_endpoint_on_sqlite_and_the_filesystem() {
    let (bytes, store, _dir) = open(Backend::SqliteFiles).await;
    every_endpoint(&start(bytes, 1024).await, store).await;
}

#[tokio::test]
async fn every_endpoint_on_postgres_and_s3() {
    let (bytes, store, _dir) = open(Backend::PostgresS3).await;
    every_endpoint(&start(bytes, 1024).await, store).await;
}

/// Every endpoint; `store` is where the service keeps contents, for the tamper check.
async fn every_endpoint(api: &Api, store: Arc<dyn ObjectStore>) {
    let anonymous = api.http.get(format!("{}/bytes/raw", api.base)).send().await.expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api.http.get(format!("{}/health", api.base)).send().await.expect("health").status(), StatusCode::OK);

    let run_a = "7134430c-8509-4944-b0be-27cb9bfb4bc2";
    let run_b = "8134430c-8509-4944-b0be-27cb9bfb4bc2";
    assert_eq!(api.call(Method::POST, "/bytes/boefje_meta", Some(boefje_meta(run_a, "org-a", "dns-records", "2024-05-01T10:00:00Z"))).await.0, StatusCode::CREATED);
    assert_eq!(api.call(Method::POST, "/bytes/boefje_meta", Some(boefje_meta(run_b, "org-b", "port-scan", "2024-05-01T10:05:00Z"))).await.0, StatusCode::CREATED);
    assert_eq!(api.call(Method::POST, "/bytes/boefje_meta", Some(json!({"id": "nope"}))).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.call(Method::GET, &format!("/bytes/boefje_meta/{run_a}"), None).await.1["boefje"]["id"], "dns-records");
    assert_eq!(api.call(Method::GET, "/bytes/boefje_meta/9134430c-8509-4944-b0be-27cb9bfb4bc2", None).await.0, StatusCode::NOT_FOUND);
    let (_, list) = api.call(Method::GET, "/bytes/boefje_meta?organization=org-b", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (_, list) = api.call(Method::GET, "/bytes/boefje_meta?descending=true&limit=1", None).await;
    assert_eq!(list[0]["id"], run_b);
    let (_, list) = api.call(Method::GET, "/bytes/boefje_meta?descending=false&limit=5", None).await;
    assert_eq!(list.as_array().map(|l| l.iter().map(|m| m["id"].clone()).collect::<Vec<_>>()), Some(vec![json!(run_a), json!(run_b)]));

    // Raw files: base64 in, ids out, deduplicated per run and mime-type set.
    let files = json!({"status": "COMPLETED", "files": [
        {"name": "answer", "content": STANDARD.encode(br#"{"dns_records": "x"}"#), "tags": ["boefje/dns-records"]},
        {"name": "log", "content": STANDARD.encode(b"plain log"), "tags": ["text/plain", "dns-records"]},
    ]});
    let (status, ids) = api.call(Method::POST, &format!("/bytes/raw?boefje_meta_id={run_a}"), Some(files.clone())).await;
    assert_eq!(status, StatusCode::OK, "{ids}");
    let answer = ids["answer"].as_str().expect("id").to_string();
    let log = ids["log"].as_str().expect("id").to_string();
    let (_, again) = api.call(Method::POST, &format!("/bytes/raw?boefje_meta_id={run_a}"), Some(files)).await;
    assert_eq!(again["answer"], answer.as_str(), "the same run and mime types give the same raw file");
    let one = |name: &str, content: &[u8], tags: Value| json!({"files": [{"name": name, "content": STANDARD.encode(content), "tags": tags}]});
    let (_, b_ids) = api.call(Method::POST, &format!("/bytes/raw?boefje_meta_id={run_b}"), Some(one("xml", b"<nmaprun/>", json!(["boefje/nmap"])))).await;
    let nmap = b_ids["xml"].as_str().expect("id").to_string();

    let raw = api.http.get(format!("{}/bytes/raw/{answer}", api.base)).bearer_auth(&api.token).send().await.expect("raw");
    assert_eq!(raw.bytes().await.expect("bytes").as_ref(), br#"{"dns_records": "x"}"#);
    let (_, meta) = api.call(Method::GET, &format!("/bytes/raw/{answer}/meta"), None).await;
    assert!(meta["secure_hash"].as_str().is_some_and(|h| h.starts_with("sha512:")));
    assert_eq!(meta["boefje_meta"]["id"], run_a);

    for (query, expected) in [
        ("?organization=org-b", vec![nmap.as_str()]),
        (&*format!("?boefje_meta_id={run_b}"), vec![nmap.as_str()]),
        ("?limit=10", vec![answer.as_str(), log.as_str(), nmap.as_str()]),
        ("?limit=10&descending=true", vec![nmap.as_str(), log.as_str(), answer.as_str()]),
        ("", vec![answer.as_str()]),
        // A file must carry every mime type asked for (OpenKAT's `@>`).
        ("?mime_types=boefje/nmap&mime_types=boefje/dns-records&limit=10", vec![]),
        ("?mime_types=dns-records&mime_types=text/plain&limit=10", vec![log.as_str()]),
        ("?mime_types=boefje/dns-records&limit=10", vec![answer.as_str()]),
        ("?organization=org-a&limit=1", vec![answer.as_str()]),
        ("?organization=org-a&organization=org-b&limit=10", vec![answer.as_str(), log.as_str(), nmap.as_str()]),
        (&*format!("?raw_ids={nmap}&raw_ids={answer}&limit=10"), vec![answer.as_str(), nmap.as_str()]),
    ] {
        let (status, list) = api.call(Method::GET, &format!("/bytes/raw{query}"), None).await;
        let got: Vec<&str> = list.as_array().map(|a| a.iter().filter_map(|m| m["id"].as_str()).collect()).unwrap_or_default();
        assert_eq!((status, got), (StatusCode::OK, expected), "{query}");
    }
    assert_eq!(api.call(Method::GET, "/bytes/raw?normalized=maybe", None).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, counts) = api.call(Method::GET, "/bytes/mime_types", None).await;
    assert_eq!(counts, json!({"boefje/dns-records": 1, "boefje/nmap": 1, "dns-records": 1, "text/plain": 1}));

    // Normalizer metas mark raw files as normalized.
    let raw_meta = api.call(Method::GET, &format!("/bytes/raw/{nmap}/meta"), None).await.1;
    let normalizer_meta = json!({"id": "a134430c-8509-4944-b0be-27cb9bfb4bc2", "raw_data": raw_meta, "normalizer": {"id": "kat_nmap_normalize"}});
    assert_eq!(api.call(Method::POST, "/bytes/normalizer_meta", Some(normalizer_meta)).await.0, StatusCode::CREATED);
    assert_eq!(api.call(Method::GET, "/bytes/normalizer_meta/a134430c-8509-4944-b0be-27cb9bfb4bc2", None).await.1["normalizer"]["id"], "kat_nmap_normalize");
    assert_eq!(api.call(Method::GET, "/bytes/normalizer_meta?normalizer_id=kat_nmap_normalize", None).await.1.as_array().map(Vec::len), Some(1));
    let (_, normalized) = api.call(Method::GET, "/bytes/raw?normalized=true&limit=10", None).await;
    assert_eq!(normalized.as_array().map(|a| a.len()), Some(1));
    assert_eq!(normalized[0]["id"], nmap.as_str());
    let (_, pending) = api.call(Method::GET, "/bytes/raw?normalized=false&limit=10", None).await;
    assert_eq!(pending.as_array().map(|a| a.len()), Some(2));
    // `normalized` filters the mime type counts too.
    assert_eq!(api.call(Method::GET, "/bytes/mime_types?normalized=true", None).await.1, json!({"boefje/nmap": 1}));
    assert_eq!(api.call(Method::GET, "/bytes/mime_types?normalized=false", None).await.1, json!({"boefje/dns-records": 1, "dns-records": 1, "text/plain": 1}));
    assert_eq!(api.call(Method::GET, "/bytes/mime_types?normalized=false&mime_types=text/plain", None).await.1, json!({"dns-records": 1, "text/plain": 1}));
    assert_eq!(api.call(Method::GET, &format!("/bytes/mime_types?boefje_meta_id={run_b}"), None).await.1, json!({"boefje/nmap": 1}));

    // Bad input: 413, bad base64, bad mime type, unknown run, unknown raw.
    let (status, body) = api.call(Method::POST, &format!("/bytes/raw?boefje_meta_id={run_b}"), Some(one("big", &[7u8; 2048], json!(["x/y"])))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("BYTES_MAX_RAW_SIZE")), "{body}");
    let (status, body) = api.call(Method::POST, &format!("/bytes/raw?boefje_meta_id={run_b}"), Some(json!({"files": [{"name": "f", "content": "!!not base64", "tags": []}]}))).await;
    assert_eq!((status, body["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("content")), "{body}");
    let (status, body) = api.call(Method::POST, &format!("/bytes/raw?boefje_meta_id={run_b}"), Some(one("f", b"x", json!(["bad type"])))).await;
    assert_eq!((status, body["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("tags")), "{body}");
    assert_eq!(api.call(Method::POST, "/bytes/raw?boefje_meta_id=9134430c-8509-4944-b0be-27cb9bfb4bc2", Some(one("f", b"x", json!([])))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.call(Method::POST, "/bytes/raw?boefje_meta_id=zzz", Some(one("f", b"x", json!([])))).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.call(Method::GET, "/bytes/raw/9134430c-8509-4944-b0be-27cb9bfb4bc2", None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.call(Method::GET, "/bytes/nothing", None).await.0, StatusCode::NOT_FOUND);

    // Metrics and the OpenAPI document, behind the token too.
    let (status, metrics) = api.call(Method::GET, "/metrics", None).await;
    assert!(status == StatusCode::OK && metrics.as_str().is_some_and(|m| m.contains("bytes_raw_files 3") && m.contains("bytes_outbox_pending 3")), "{metrics}");
    let openkat = "# HELP bytes_database_organizations_total Total amount of organizations in the bytes database.\n# TYPE bytes_database_organizations_total gauge\nbytes_database_organizations_total 2.0\n\
                   # HELP bytes_database_raw_files_total Total amount of raw files in the bytes database.\n# TYPE bytes_database_raw_files_total gauge\n\
                   bytes_database_raw_files_total{organization_id=\"org-a\"} 2.0\nbytes_database_raw_files_total{organization_id=\"org-b\"} 1.0\n";
    assert!(metrics.as_str().is_some_and(|m| m.starts_with(openkat)), "OpenKAT's families come first, as OpenKAT prints them: {metrics}");
    let (status, doc) = api.call(Method::GET, "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    for (path, method) in [("/bytes/raw", "post"), ("/bytes/raw/{raw_id}", "get"), ("/token", "post"), ("/bytes/mime_types", "get"), ("/bytes/raws", "get"), ("/bytes/normalizer_metas", "get"), ("/health", "get")] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from the OpenAPI document");
    }
    for path in ["/bytes/raw", "/bytes/boefje_meta", "/bytes/normalizer_meta", "/token"] {
        assert!(doc["paths"][path]["post"]["requestBody"]["content"].is_object(), "POST {path} declares no request body: {}", doc["paths"][path]["post"]);
    }
    for path in ["/metrics", "/openapi.json"] {
        assert_eq!(api.http.get(format!("{}{path}", api.base)).send().await.expect("request").status(), StatusCode::UNAUTHORIZED, "{path} without a token");
    }

    // A flipped byte in storage: the raw file is refused, never served.
    let location = StorePath::from(format!("org-b/{nmap}"));
    let mut stored = store.get(&location).await.expect("stored object").bytes().await.expect("bytes").to_vec();
    stored[0] ^= 1;
    store.put(&location, PutPayload::from(stored)).await.expect("tamper");
    let (status, body) = api.call(Method::GET, &format!("/bytes/raw/{nmap}"), None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("does not match its stored hash")), "{body}");
}
