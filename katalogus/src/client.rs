//! `KatalogusClient`: the `Katalogus` trait over the REST API, for runners
//! in distributed mode. Plugins come back from OpenKAT's plugin JSON; HTTP
//! statuses map back to `ServiceError` kinds.

use async_trait::async_trait;
use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_core::services::katalogus::{BoefjePlugin, Katalogus, NormalizerPlugin};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ErrorKind;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A KATalogus reached over HTTP.
#[derive(Debug, Clone)]
pub struct KatalogusClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl KatalogusClient {
    /// A client for the service at `base` (e.g. `http://127.0.0.1:8003`), with an optional bearer token.
    pub fn new(base: &str, token: Option<String>) -> Self {
        KatalogusClient { base: base.trim_end_matches('/').to_string(), token, http: reqwest::Client::new() }
    }

    /// Send `method path` (with a JSON `body` when given); a status other than 2xx becomes the `ServiceError`
    /// of its kind with the service's `detail`.
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> ServiceResult<reqwest::Response> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| ServiceError::unavailable(format!("katalogus at {} is unreachable: {e}", self.base)))?;
        let status = response.status();
        if !status.is_success() {
            let detail = response.json::<Value>().await.ok().and_then(|v| v["detail"].as_str().map(String::from)).unwrap_or_else(|| status.to_string());
            let kind = match status.as_u16() {
                404 => ErrorKind::NotFound,
                401 | 403 => ErrorKind::Unauthorized,
                409 => ErrorKind::Conflict,
                400 | 422 => ErrorKind::Invalid,
                500 => ErrorKind::Internal,
                _ => ErrorKind::Unavailable,
            };
            return Err(ServiceError::new(kind, format!("katalogus: {detail}")));
        }
        Ok(response)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> ServiceResult<T> {
        let response = self.send(reqwest::Method::GET, path, None).await?;
        response.json().await.map_err(|e| ServiceError::internal(format!("katalogus sent an unexpected body: {e}")))
    }

    /// Create the organisation `id` unless it exists; returns whether it was created.
    pub async fn ensure_organisation(&self, id: &str, name: &str) -> ServiceResult<bool> {
        match self.send(reqwest::Method::GET, &format!("/v1/organisations/{}", encode(id)), None).await {
            Ok(_) => Ok(false),
            Err(e) if e.kind == ErrorKind::NotFound => {
                self.send(reqwest::Method::POST, "/v1/organisations", Some(&serde_json::json!({"id": id, "name": name}))).await?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// Switch `plugin_id` on or off for `organisation` (OpenKAT's `PATCH .../plugins/{plugin_id}`).
    pub async fn set_enabled(&self, organisation: &str, plugin_id: &str, enabled: bool) -> ServiceResult<()> {
        let path = format!("/v1/organisations/{}/plugins/{}", encode(organisation), encode(plugin_id));
        self.send(reqwest::Method::PATCH, &path, Some(&serde_json::json!({"enabled": enabled}))).await.map(drop)
    }

    async fn plugins(&self, organisation: &str, plugin_type: &str) -> ServiceResult<Vec<Value>> {
        self.get(&format!("/v1/organisations/{}/plugins?plugin_type={plugin_type}", encode(organisation))).await
    }
}

/// Percent-encode a path segment (organisation ids are plain, but stay safe).
fn encode(segment: &str) -> String {
    segment.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn parse_plugin<T: DeserializeOwned>(plugin: &Value) -> ServiceResult<T> {
    serde_json::from_value(plugin.clone()).map_err(|e| ServiceError::internal(format!("katalogus sent a plugin that does not parse: {e}")))
}

#[async_trait]
impl Katalogus for KatalogusClient {
    async fn boefjes(&self, organisation: &str) -> ServiceResult<Vec<BoefjePlugin>> {
        self.plugins(organisation, "boefje")
            .await?
            .iter()
            .map(|p| {
                let schema = match &p["boefje_schema"] {
                    Value::Null => None,
                    schema => Some(SettingsSchema::parse("schema.json", &schema.to_string())?),
                };
                Ok(BoefjePlugin { manifest: parse_plugin::<BoefjeManifest>(p)?, schema, enabled: p["enabled"] == true })
            })
            .collect()
    }

    async fn normalizers(&self, organisation: &str) -> ServiceResult<Vec<NormalizerPlugin>> {
        self.plugins(organisation, "normalizer").await?.iter().map(|p| Ok(NormalizerPlugin { manifest: parse_plugin::<NormalizerManifest>(p)?, enabled: p["enabled"] == true })).collect()
    }

    async fn settings(&self, organisation: &str, plugin_id: &str) -> ServiceResult<Map<String, Value>> {
        self.get(&format!("/v1/organisations/{}/{}/settings", encode(organisation), encode(plugin_id))).await
    }

    async fn health(&self) -> ServiceResult<()> {
        self.send(reqwest::Method::GET, "/health", None).await.map(drop)
    }

    async fn shares_tasks(&self, organisation: &str, boefje_id: &str) -> ServiceResult<bool> {
        // OpenKAT's default for both flags is true.
        // As OpenKAT: an object keyed by organisation id.
        let organisations: Map<String, Value> = self.get("/v1/organisations").await?;
        let sharing: Vec<&str> = organisations.iter().filter(|(_, o)| o["deduplicate"] != false).map(|(id, _)| id.as_str()).collect();
        if !(sharing.contains(&organisation) && sharing.iter().any(|o| *o != organisation)) {
            return Ok(false);
        }
        let plugin: Value = self.get(&format!("/v1/organisations/{}/plugins/{}", encode(organisation), encode(boefje_id))).await?;
        Ok(plugin["deduplicate"] != false)
    }
}
