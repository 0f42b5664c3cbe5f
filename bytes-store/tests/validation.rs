//! What Bytes refuses, through real HTTP on SQLite with files and on
//! PostgreSQL with S3 (moto; `bash scripts/services.sh`): NUL characters
//! in stored strings and list filters and bad organisation ids (empty, `..`,
//! absolute paths, `org1/sub`, 100,000 characters in a body, 60,000 in a query) are 422 naming the field,
//! never a 503 or a file outside the organisation's folder; bad UUIDs in
//! paths, wrong methods and unknown paths are JSON errors too; a login with
//! an absurd token lifetime is a 500, not a panic.

mod common;

use std::time::Duration;

use common::{open, read, serve, start, Api, Backend};
use futures::TryStreamExt;
use object_store::ObjectStore;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Call, and check that an error answer is JSON with a `detail`.
async fn call(api: &Api, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = api.http.request(method, format!("{}{path}", api.base)).bearer_auth(&api.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let shown: String = path.chars().take(80).collect();
    let response = request.send().await.unwrap_or_else(|e| panic!("{shown}: {}", e.to_string().chars().take(200).collect::<String>()));
    let json = response.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    let (status, body) = read(response).await;
    if status.is_client_error() || status.is_server_error() {
        assert!(json && body["detail"].is_string(), "{shown}: a {status} that is not JSON with a detail: {body}");
    }
    (status, body)
}

async fn refused(api: &Api, method: Method, path: &str, body: Option<Value>, field: &str) {
    let (status, answer) = call(api, method, path, body).await;
    let shown: String = path.chars().take(80).collect();
    assert_eq!((status, answer["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{shown}: {answer}");
}

fn meta(organization: &str) -> Value {
    json!({"id": uuid::Uuid::new_v4(), "started_at": "2024-05-01T10:00:00Z", "ended_at": "2024-05-01T10:00:01Z", "boefje": {"id": "dns-records"},
           "input_ooi": "Hostname|internet|example.nl", "arguments": {}, "organization": organization, "environment": {}})
}

#[tokio::test]
async fn refusals_on_sqlite_and_files() {
    let (bytes, store, dir) = open(Backend::SqliteFiles).await;
    refusals(&start(bytes, 1024).await, store).await;
    let entries: Vec<String> = std::fs::read_dir(dir.path()).expect("data dir").filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(entries.iter().all(|e| e.starts_with("bytes.sqlite") || e == "raw"), "nothing is written beside raw/ and the database: {entries:?}");
}

#[tokio::test]
async fn refusals_on_postgres_and_s3() {
    let (bytes, store, _dir) = open(Backend::PostgresS3).await;
    refusals(&start(bytes, 1024).await, store).await;
}

async fn refusals(api: &Api, store: std::sync::Arc<dyn ObjectStore>) {
    // NUL characters anywhere in a stored body, named by their JSON path.
    for (path, field) in [
        (vec!["organization"], "organization"),
        (vec!["boefje", "id"], "boefje.id"),
        (vec!["input_ooi"], "input_ooi"),
        (vec!["arguments", "input"], "arguments.input"),
        (vec!["environment", "KEY"], "environment.KEY"),
    ] {
        let mut body = meta("org1");
        let mut at = &mut body;
        for part in &path[..path.len() - 1] {
            at = &mut at[*part];
        }
        at[path[path.len() - 1]] = json!("bad\u{0}value");
        refused(api, Method::POST, "/bytes/boefje_meta", Some(body), field).await;
    }
    // NUL characters in list filters, named by the parameter.
    for (path, field) in [
        ("/bytes/boefje_meta?organization=a%00b", "organization"),
        ("/bytes/boefje_meta?boefje_id=x%00", "boefje_id"),
        ("/bytes/raw?mime_types=text%00", "mime_types"),
        ("/bytes/raws?organization=%00", "organization"),
        ("/bytes/mime_types?mime_types=%00x", "mime_types"),
        ("/bytes/normalizer_meta?normalizer_id=n%00", "normalizer_id"),
    ] {
        refused(api, Method::GET, path, None, field).await;
    }

    // Organisation ids in a body and in every list filter.
    // 100,000 characters in a body; in a query string 60,000 (HTTP libraries refuse URIs over 64 KiB).
    let (long, long_query) = ("x".repeat(100_000), "y".repeat(60_000));
    for (bad, in_query) in [("", ""), ("..", ".."), ("/abs/path", "/abs/path"), ("org1/sub", "org1/sub"), (long.as_str(), long_query.as_str())] {
        refused(api, Method::POST, "/bytes/boefje_meta", Some(meta(bad)), "organization").await;
        let encoded = in_query.replace('/', "%2F");
        for list in ["/bytes/boefje_meta", "/bytes/normalizer_meta", "/bytes/raw", "/bytes/raws", "/bytes/mime_types"] {
            refused(api, Method::GET, &format!("{list}?organization={encoded}"), None, "organization").await;
        }
    }
    let objects: Vec<object_store::ObjectMeta> = store.list(None).try_collect().await.expect("list the store");
    assert!(objects.is_empty(), "nothing was stored: {objects:?}");

    // Bad UUIDs in paths and queries, wrong methods, unknown paths: JSON errors naming what is wrong.
    refused(api, Method::GET, "/bytes/raw/not-a-uuid", None, "raw_id").await;
    refused(api, Method::GET, "/bytes/raw/not-a-uuid/meta", None, "raw_id").await;
    refused(api, Method::GET, "/bytes/boefje_meta/42", None, "boefje_meta_id").await;
    refused(api, Method::GET, "/bytes/normalizer_meta/x", None, "normalizer_meta_id").await;
    refused(api, Method::GET, "/bytes/raw?boefje_meta_id=x", None, "boefje_meta_id").await;
    refused(api, Method::GET, "/bytes/raws?raw_ids=x", None, "raw_ids").await;
    refused(api, Method::GET, "/bytes/raw?limit=-1", None, "limit").await;
    refused(api, Method::POST, "/bytes/raw", Some(json!({"files": []})), "boefje_meta_id").await;
    let (status, body) = call(api, Method::DELETE, "/bytes/raw", None).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method")), "{body}");
    assert_eq!(call(api, Method::PUT, "/token", None).await.0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(call(api, Method::GET, "/nothing/here", None).await.0, StatusCode::NOT_FOUND);
    let (status, body) = read(api.http.post(format!("{}/token", api.base)).send().await.expect("login")).await;
    assert!(status.is_client_error() && body["detail"].is_string(), "a login without a form: {status} {body}");
}

#[tokio::test]
async fn an_absurd_token_lifetime_never_panics_the_login() {
    let (bytes, _store, _dir) = open(Backend::SqliteFiles).await;
    let base = serve(bytes, 1024, Duration::MAX).await;
    let http = reqwest::Client::new();
    let (status, body) = read(http.post(format!("{base}/token")).form(&[("username", "bytes"), ("password", "s3cret")]).send().await.expect("login")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("BYTES_ACCESS_TOKEN_EXPIRE_MINUTES")), "{body}");
    assert_eq!(http.get(format!("{base}/health")).send().await.expect("still serving").status(), StatusCode::OK);
}
