//! Shared helpers of the KATalogus integration tests: a test plugin
//! repository, a fresh PostgreSQL database per test, and a server on
//! 127.0.0.1 with a small HTTP client.

#![allow(dead_code)]

use std::sync::Arc;

use kat_core::crypto::{generate_key_pair, Middleware};
use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_katalogus::api::{router, AppState};
use kat_katalogus::{LocalKatalogus, PluginRepository};
use reqwest::StatusCode;
use serde_json::Value;

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn repository() -> PluginRepository {
    let scan = BoefjeManifest::parse("port-scan/boefje.json", r#"{"id": "port-scan", "name": "Port scan", "description": "TCP connect scan", "consumes": ["IPAddressV4"], "produces": ["boefje/nmap"], "scan_level": 2}"#).expect("manifest");
    let schema = SettingsSchema::parse(
        "port-scan/schema.json",
        r#"{"type": "object", "properties": {"PORTS": {"type": "string", "maxLength": 64}, "TIMEOUT_MS": {"type": "integer", "maximum": 60000}, "API_KEY": {"type": "string", "format": "password"}}}"#,
    )
    .expect("schema");
    let dns = BoefjeManifest::parse("dns-records/boefje.json", r#"{"id": "dns-records", "consumes": ["Hostname"], "produces": ["boefje/dns-records"], "scan_level": 1}"#).expect("manifest");
    let normalizer = NormalizerManifest::parse("n/normalizer.json", r#"{"id": "kat_nmap_normalize", "consumes": ["boefje/nmap"], "produces": ["IPPort"]}"#).expect("manifest");
    PluginRepository::new(vec![(scan, Some(schema)), (dns, None)], vec![normalizer])
}

/// A fresh PostgreSQL database for one test.
pub async fn postgres_url() -> String {
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(PG_ADMIN).await.unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {PG_ADMIN} ({e}); start it with `bash scripts/services.sh`"));
    let name = format!("kat_katalogus_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create a test database");
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub token: Option<String>,
}

impl Server {
    pub async fn start(db_url: &str, crypto: Arc<Middleware>, token: Option<&str>) -> Server {
        Self::start_with(db_url, crypto, token, repository()).await
    }

    pub async fn start_with(db_url: &str, crypto: Arc<Middleware>, token: Option<&str>, plugins: PluginRepository) -> Server {
        let katalogus = LocalKatalogus::connect(db_url, plugins, crypto).await.expect("katalogus connects");
        let app = router(AppState::new(Arc::new(katalogus), token.map(String::from)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server { base, client: reqwest::Client::new(), token: token.map(String::from) }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }
}


/// A NaCl middleware with a fresh key pair.
pub fn nacl() -> Arc<Middleware> {
    let (private, public) = generate_key_pair();
    Arc::new(Middleware::nacl_box(&private, &public).expect("keys"))
}

/// A SQLite URL in `dir`.
pub fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("k.sqlite").display())
}
