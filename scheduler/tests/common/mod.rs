//! Shared helpers of the scheduler's integration tests: the two backends
//! every scenario runs on (a SQLite file, and a fresh PostgreSQL database
//! that needs `bash scripts/services.sh`), a test clock, and an in-memory
//! KATalogus holding the built-in plugins' real manifests (plus any a test
//! adds), whose enablement a test switches.

#![allow(dead_code, reason = "each test file uses part of the helpers")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kat_core::plugin::BoefjeManifest;
use kat_core::services::katalogus::{BoefjePlugin, Katalogus, NormalizerPlugin};
use kat_core::services::ServiceResult;
use kat_scheduler::{LocalScheduler, Settings, TestClock};
use serde_json::{Map, Value};


/// Where a scenario's database lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

pub const BOTH: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// A fresh PostgreSQL database for one test (the shared harness says how to start PostgreSQL when it is down).
pub async fn postgres_url() -> String {
    kat_tests::services::fresh_postgres("kat_scheduler").await
}

/// A database URL on `backend` (the directory must outlive it).
pub async fn url(backend: Backend, dir: &tempfile::TempDir) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("scheduler.sqlite").display()),
        Backend::Postgres => postgres_url().await,
    }
}

/// The KATalogus of the tests: the built-in plugins, all enabled, for every organisation.
#[derive(Debug, Default)]
pub struct TestKatalogus {
    boefjes: Mutex<Vec<BoefjePlugin>>,
    normalizers: Mutex<Vec<NormalizerPlugin>>,
}

impl TestKatalogus {
    /// The built-in boefjes and normalizers, enabled.
    pub fn builtin() -> Arc<TestKatalogus> {
        let boefjes = kat_plugins::boefjes::all().iter().map(|b| BoefjePlugin { manifest: b.manifest(), schema: b.schema(), enabled: true }).collect();
        let normalizers = kat_plugins::normalizers::all().iter().map(|n| NormalizerPlugin { manifest: n.manifest(), enabled: true }).collect();
        Arc::new(TestKatalogus { boefjes: Mutex::new(boefjes), normalizers: Mutex::new(normalizers) })
    }

    /// Add (enabled) a boefje from its `boefje.json` text.
    pub fn add_boefje(&self, json: &str) -> BoefjeManifest {
        let manifest = BoefjeManifest::parse("test/boefje.json", json).expect("a valid boefje.json");
        self.boefjes.lock().expect("lock").push(BoefjePlugin { manifest: manifest.clone(), schema: None, enabled: true });
        manifest
    }

    /// Switch plugin `id` on or off.
    pub fn set_enabled(&self, id: &str, enabled: bool) {
        for b in self.boefjes.lock().expect("lock").iter_mut().filter(|b| b.manifest.id == id) {
            b.enabled = enabled;
        }
        for n in self.normalizers.lock().expect("lock").iter_mut().filter(|n| n.manifest.id == id) {
            n.enabled = enabled;
        }
    }
}

#[async_trait]
impl Katalogus for TestKatalogus {
    async fn boefjes(&self, _organisation: &str) -> ServiceResult<Vec<BoefjePlugin>> {
        Ok(self.boefjes.lock().expect("lock").clone())
    }

    async fn normalizers(&self, _organisation: &str) -> ServiceResult<Vec<NormalizerPlugin>> {
        Ok(self.normalizers.lock().expect("lock").clone())
    }

    async fn settings(&self, _organisation: &str, _plugin_id: &str) -> ServiceResult<Map<String, Value>> {
        Ok(Map::new())
    }
}

/// 2024-05-01 10:00 UTC, where every test clock starts.
pub fn start() -> time::OffsetDateTime {
    time::macros::datetime!(2024-05-01 10:00 UTC)
}

/// A scheduler under test: the scheduler, its clock, its KATalogus and the directory its SQLite file lives in.
pub struct Harness {
    pub scheduler: LocalScheduler,
    pub clock: Arc<TestClock>,
    pub katalogus: Arc<TestKatalogus>,
    pub url: String,
    pub dir: tempfile::TempDir,
}

/// Short leases and grace for tests: lease 30 s, 3 attempts, grace 1 hour.
pub fn settings() -> Settings {
    Settings { lease: Duration::from_secs(30), max_attempts: 3, grace: Duration::from_secs(3600), ..Settings::default() }
}

/// A scheduler on `backend` with `settings`, a test clock and the built-in plugins.
pub async fn harness_with(backend: Backend, settings: Settings) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = url(backend, &dir).await;
    let clock = Arc::new(TestClock::new(start()));
    let katalogus = TestKatalogus::builtin();
    let scheduler = LocalScheduler::open(&url, settings, clock.clone(), katalogus.clone()).await.expect("scheduler opens");
    Harness { scheduler, clock, katalogus, url, dir }
}

/// A scheduler on `backend` with [`settings`].
pub async fn harness(backend: Backend) -> Harness {
    harness_with(backend, settings()).await
}

impl Harness {
    /// A second scheduler (a replica) on the same database, clock and KATalogus.
    pub async fn replica(&self) -> LocalScheduler {
        LocalScheduler::open(&self.url, *self.scheduler.settings(), self.clock.clone(), self.katalogus.clone()).await.expect("replica opens")
    }
}

/// A user push of `boefje` on `input` for organisation `org`.
pub fn boefje_task(org: &str, boefje: &str, input: &str) -> kat_core::services::scheduler::NewTask {
    kat_scheduler::local::boefje_push(org, boefje, &kat_core::Reference::parse(input).expect("a reference"))
}

/// A client of a served API.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

/// Status and body of a response (JSON, or the text as a JSON string; `null` when empty).
pub async fn read(response: reqwest::Response) -> (reqwest::StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}

impl Api {
    /// A call with the token; `body` is sent as JSON.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (reqwest::StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request")).await
    }

    /// A call with a raw body and no content type, as OpenKAT's clients send.
    pub async fn raw(&self, method: reqwest::Method, path: &str, body: &str) -> (reqwest::StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).body(body.to_string());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        read(request.send().await.expect("request")).await
    }
}

/// Serve `scheduler`'s API on 127.0.0.1:0 with bearer token `token`.
pub async fn serve(scheduler: &LocalScheduler, token: Option<&str>) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = kat_scheduler::api::ApiState { scheduler: scheduler.clone(), token: token.map(|t| Arc::new(t.to_string())) };
    tokio::spawn(async move { axum::serve(listener, kat_scheduler::api::router(state)).await });
    Api { base, http: reqwest::Client::new(), token: token.map(str::to_string) }
}

/// A `raw_file_received` event for a `dns-records` raw file of organisation `org`.
pub fn dns_event(org: &str) -> kat_core::events::RawFileReceived {
    use kat_core::meta::{BoefjeMeta, MimeType, PluginRef, RawDataMeta};
    let meta = BoefjeMeta {
        id: uuid::Uuid::new_v4(),
        started_at: Some(start()),
        ended_at: Some(start()),
        boefje: PluginRef { id: "dns-records".into(), version: None },
        input_ooi: Some("Hostname|internet|example.nl".into()),
        arguments: Default::default(),
        organization: org.into(),
        runnable_hash: None,
        environment: None,
    };
    let raw = RawDataMeta { id: uuid::Uuid::new_v4(), boefje_meta: meta, mime_types: vec![MimeType { value: "boefje/dns-records".into() }, MimeType { value: "dns-records".into() }], secure_hash: None, signing_provider_url: None, hash_retrieval_link: None };
    kat_core::events::RawFileReceived { event_id: uuid::Uuid::new_v4(), created_at: start(), organization: org.into(), raw_data: raw }
}

/// An object with `fields` at clearance `level`.
pub fn object(reference: &str, level: u8, fields: Value) -> kat_core::services::scheduler::ObjectState {
    kat_core::services::scheduler::ObjectState {
        reference: kat_core::Reference::parse(reference).expect("a reference"),
        scan_level: kat_core::ScanLevel::try_from(level).expect("a level"),
        fields: fields.as_object().cloned().unwrap_or_default(),
    }
}
