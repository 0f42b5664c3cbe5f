//! Shared helpers of the Bytes integration tests: a boefje meta, the two
//! backends every database scenario runs on (SQLite with the local
//! filesystem, PostgreSQL with S3 on moto; both need `bash
//! scripts/services.sh`), and the REST API served on 127.0.0.1:0 with a
//! logged-in client.

#![allow(dead_code, reason = "each test file uses part of the helpers")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kat_bytes::api::{auth::Auth, router, BytesState};
use kat_bytes::{storage, LocalBytes};
use kat_core::crypto::Middleware;
use kat_core::meta::{BoefjeMeta, PluginRef};
use object_store::ObjectStore;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A dns-records run on `example.nl` for `_dev`, with a fresh id, started and ended.
pub fn boefje_meta() -> BoefjeMeta {
    BoefjeMeta {
        id: uuid::Uuid::new_v4(),
        started_at: Some(time::macros::datetime!(2024-05-01 10:00:00 UTC)),
        ended_at: Some(time::macros::datetime!(2024-05-01 10:00:01.5 UTC)),
        boefje: PluginRef { id: "dns-records".into(), version: None },
        input_ooi: Some("Hostname|internet|example.nl".into()),
        arguments: BTreeMap::new(),
        organization: "_dev".into(),
        runnable_hash: None,
        environment: Some(BTreeMap::from([("RECORD_TYPES".to_string(), "A".to_string())])),
    }
}

pub const MOTO: &str = "http://127.0.0.1:5000";

/// Where a scenario's metadata and contents live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `bytes.sqlite` and `raw/` in a temporary directory.
    SqliteFiles,
    /// A fresh PostgreSQL database and a fresh bucket on moto.
    PostgresS3,
}

/// A fresh PostgreSQL database for one test (the shared harness says how to start PostgreSQL when it is down).
pub async fn postgres_url() -> String {
    kat_tests::services::fresh_postgres("kat_bytes").await
}

/// A fresh bucket on moto.
pub async fn s3_store() -> Arc<dyn ObjectStore> {
    let bucket = kat_tests::services::fresh_bucket("kat-test").await;
    let aws = |name: &str| match name {
        "AWS_ENDPOINT_URL" => Some(MOTO.to_string()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("testing".to_string()),
        _ => None,
    };
    storage::s3(&bucket, aws).expect("S3 store")
}

/// The database URL and the contents store of `backend`: `bytes.sqlite` and `raw/` in `dir`, or a fresh PostgreSQL
/// database and a fresh bucket.
pub async fn database(backend: Backend, dir: &std::path::Path) -> (String, Arc<dyn ObjectStore>) {
    match backend {
        Backend::SqliteFiles => (format!("sqlite://{}?mode=rwc", dir.join("bytes.sqlite").display()), storage::local(dir).expect("store")),
        Backend::PostgresS3 => (postgres_url().await, s3_store().await),
    }
}

/// The store on `backend`, the place its contents live, and the temporary directory that must outlive it. Every
/// content goes to the object store (`BYTES_INLINE_MAX=0`), where the scenarios look for it; `inline.rs` tests
/// contents kept in the metadata database.
pub async fn open(backend: Backend) -> (Arc<LocalBytes>, Arc<dyn ObjectStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (bytes, store) = match backend {
        Backend::SqliteFiles => {
            let store = storage::local(dir.path()).expect("local store");
            (LocalBytes::open_with_store(dir.path(), store.clone(), Arc::new(Middleware::Identity)).await.expect("bytes on SQLite"), store)
        }
        Backend::PostgresS3 => {
            let store = s3_store().await;
            (LocalBytes::connect(&postgres_url().await, store.clone(), Arc::new(Middleware::Identity)).await.expect("bytes on PostgreSQL"), store)
        }
    };
    (Arc::new(bytes.with_inline_max(0)), store, dir)
}

/// A client of the API with a token.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

impl Api {
    /// A JSON call with the token (`Bearer`); the body comes back as JSON, or as a JSON string when it is not JSON.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request")).await
    }
}

/// Status and body of a response (JSON, or the text as a JSON string).
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Serve the API for `bytes` on 127.0.0.1:0 with user `bytes`/`s3cret` and log in at `/bytes/token`.
pub async fn start(bytes: Arc<LocalBytes>, max_raw_size: usize) -> Api {
    start_with(bytes, max_raw_size, Duration::from_secs(600)).await
}

/// As [`start`], with tokens living `lifetime`; the login is not checked.
pub async fn serve(bytes: Arc<LocalBytes>, max_raw_size: usize, lifetime: Duration) -> String {
    let state = BytesState { bytes, auth: Arc::new(Auth::new("bytes", "s3cret", lifetime)), max_raw_size };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    base
}

async fn start_with(bytes: Arc<LocalBytes>, max_raw_size: usize, lifetime: Duration) -> Api {
    let base = serve(bytes, max_raw_size, lifetime).await;
    let http = reqwest::Client::new();
    let login: Value = http.post(format!("{base}/bytes/token")).form(&[("username", "bytes"), ("password", "s3cret")]).send().await.expect("login").json().await.expect("token JSON");
    Api { base, http, token: login["access_token"].as_str().expect("token").to_string() }
}
