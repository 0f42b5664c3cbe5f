//! Shared helpers of the KATalogus integration tests: a test plugin
//! repository, a fresh PostgreSQL database per test, a server on 127.0.0.1
//! with a small HTTP client, and `on_both_backends!`, which runs one
//! scenario on SQLite and on PostgreSQL.

#![allow(dead_code, unused_macros)]

use std::sync::Arc;

use kat_core::crypto::{generate_key_pair, Middleware};
use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_katalogus::api::{router, AppState};
use kat_katalogus::{LocalKatalogus, PluginRepository};
use reqwest::{Method, StatusCode};
use serde_json::Value;


/// Run each scenario (an `async fn(String)` taking a database URL) as two tests, `NAME::on_sqlite` and
/// `NAME::on_postgres` (declare the module with `#[macro_use] mod common;`).
macro_rules! on_both_backends {
    ($($name:ident => $scenario:ident;)*) => {$(
        mod $name {
            #[tokio::test]
            async fn on_sqlite() {
                let dir = tempfile::tempdir().expect("temp dir");
                super::$scenario(super::common::sqlite_url(dir.path())).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                super::$scenario(super::common::postgres_url().await).await;
            }
        }
    )*};
}

pub fn repository() -> PluginRepository {
    let scan = BoefjeManifest::parse("port-scan/boefje.json", r#"{"id": "port-scan", "name": "Port scan", "description": "TCP connect scan", "consumes": ["IPAddressV4"], "produces": ["boefje/nmap"], "scan_level": 2}"#).expect("manifest");
    let schema = SettingsSchema::parse(
        "port-scan/schema.json",
        r#"{"type": "object", "properties": {"PORTS": {"type": "string", "maxLength": 64}, "TIMEOUT_MS": {"type": "integer", "maximum": 60000}, "API_KEY": {"type": "string", "format": "password"}}}"#,
    )
    .expect("schema");
    let dns = BoefjeManifest::parse("dns-records/boefje.json", r#"{"id": "dns-records", "name": "DNS records", "consumes": ["Hostname"], "produces": ["boefje/dns-records"], "scan_level": 1, "oci_image": "ghcr.io/minvws/openkat/dns:latest"}"#).expect("manifest");
    let normalizer = NormalizerManifest::parse("n/normalizer.json", r#"{"id": "kat_nmap_normalize", "name": "Nmap normalizer", "consumes": ["boefje/nmap"], "produces": ["IPPort"]}"#).expect("manifest");
    PluginRepository::new(vec![(scan, Some(schema)), (dns, None)], vec![normalizer])
}

/// A fresh PostgreSQL database for one test (the shared harness says how to start PostgreSQL when it is down).
pub async fn postgres_url() -> String {
    kat_tests::services::fresh_postgres("kat_katalogus").await
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

    /// A request with a JSON body (`Content-Type: application/json`).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.send(method, path, body.map(|b| (b.to_string().into_bytes(), Some("application/json")))).await
    }

    /// A request with raw body bytes and the given content type (`None`: no `Content-Type` header, as OpenKAT's clients send).
    pub async fn send(&self, method: Method, path: &str, body: Option<(Vec<u8>, Option<&str>)>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some((bytes, content_type)) = body {
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            request = request.body(bytes);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    /// Create an organisation (and fail the test if that does not work).
    pub async fn organisation(&self, id: &str) {
        let (status, body) = self.call(Method::POST, "/v1/organisations", Some(serde_json::json!({"id": id, "name": id.to_uppercase()}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// The ids of a plugin list.
pub fn ids(list: &Value) -> Vec<&str> {
    list.as_array().map(|a| a.iter().filter_map(|p| p["id"].as_str()).collect()).unwrap_or_default()
}

/// Assert an error answer: the status, OpenKAT's `detail` and our `field`.
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, field: Option<&str>) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert!(body["detail"].is_string(), "an error has a detail: {body}");
    assert_eq!(body["field"].as_str(), field, "{body}");
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
