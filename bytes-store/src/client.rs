//! `BytesClient`: the `Bytes` trait over the REST API, for runners in
//! distributed mode. It logs in at `POST /bytes/token` on first use and again
//! when its token has expired; HTTP statuses map back to `ServiceError`
//! kinds (a meta id that exists is `Conflict`, as in `LocalBytes`: 409 from
//! this Bytes, 400 with the integrity error from OpenKAT's).

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kat_core::meta::{BoefjeMeta, NormalizerMeta, RawDataMeta};
use kat_core::services::bytes::Bytes;
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ErrorKind;
use serde_json::{json, Value};
use uuid::Uuid;

/// Bytes reached over HTTP.
pub struct BytesClient {
    base: String,
    username: String,
    password: String,
    http: reqwest::Client,
    token: tokio::sync::Mutex<Option<String>>,
}

fn kind_of(status: u16) -> ErrorKind {
    match status {
        404 => ErrorKind::NotFound,
        401 | 403 => ErrorKind::Unauthorized,
        409 => ErrorKind::Conflict,
        400 | 413 | 422 => ErrorKind::Invalid,
        500 => ErrorKind::Internal,
        _ => ErrorKind::Unavailable,
    }
}

impl BytesClient {
    /// A client for the service at `base` (e.g. `http://127.0.0.1:8002`) logging in as `username`.
    pub fn new(base: &str, username: &str, password: &str) -> Self {
        BytesClient { base: base.trim_end_matches('/').to_string(), username: username.into(), password: password.into(), http: reqwest::Client::new(), token: tokio::sync::Mutex::default() }
    }

    fn unreachable(&self, e: reqwest::Error) -> ServiceError {
        ServiceError::unavailable(format!("bytes at {} is unreachable: {e}", self.base))
    }

    async fn login(&self) -> ServiceResult<String> {
        let response = self.http.post(format!("{}/bytes/token", self.base)).form(&[("username", &self.username), ("password", &self.password)]).send().await.map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            return Err(ServiceError::new(kind_of(response.status().as_u16()), "bytes refused the login: check BYTES_USERNAME and BYTES_PASSWORD"));
        }
        let body: Value = response.json().await.map_err(|e| ServiceError::internal(format!("bytes sent an unexpected token body: {e}")))?;
        body["access_token"].as_str().map(String::from).ok_or_else(|| ServiceError::internal("bytes sent no access_token"))
    }

    /// Send a request with the token, logging in first or again when needed; returns the successful response.
    async fn send(&self, build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder) -> ServiceResult<reqwest::Response> {
        for attempt in 0..2 {
            let token = {
                let mut cached = self.token.lock().await;
                if cached.is_none() {
                    *cached = Some(self.login().await?);
                }
                cached.clone().unwrap_or_default()
            };
            let response = build(&self.http).bearer_auth(token).send().await.map_err(|e| self.unreachable(e))?;
            let status = response.status();
            if status.as_u16() == 401 && attempt == 0 {
                *self.token.lock().await = None;
                continue;
            }
            if status.is_success() {
                return Ok(response);
            }
            let detail = response.json::<Value>().await.ok().and_then(|v| v["detail"].as_str().map(String::from)).unwrap_or_else(|| status.to_string());
            // OpenKAT's 400 for a meta id that exists is a conflict, as `LocalBytes` reports it.
            let kind = if status.as_u16() == 400 && detail == crate::meta_db::INTEGRITY_ERROR { ErrorKind::Conflict } else { kind_of(status.as_u16()) };
            return Err(ServiceError::new(kind, format!("bytes: {detail}")));
        }
        Err(ServiceError::new(ErrorKind::Unauthorized, "bytes keeps refusing the token"))
    }

    /// How many `raw_file_received` events wait in the service's outbox (its `bytes_outbox_pending` gauge).
    pub async fn outbox_pending(&self) -> ServiceResult<u64> {
        let response = self.send(|http| http.get(format!("{}/metrics", self.base))).await?;
        let text = response.text().await.map_err(|e| self.unreachable(e))?;
        text.lines()
            .find_map(|line| line.strip_prefix("bytes_outbox_pending ").and_then(|n| n.trim().parse().ok()))
            .ok_or_else(|| ServiceError::internal("bytes sent metrics without bytes_outbox_pending"))
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, response: reqwest::Response) -> ServiceResult<T> {
        response.json().await.map_err(|e| ServiceError::internal(format!("bytes sent an unexpected body: {e}")))
    }
}

#[async_trait]
impl Bytes for BytesClient {
    async fn save_boefje_meta(&self, meta: &BoefjeMeta) -> ServiceResult<()> {
        self.send(|h| h.post(format!("{}/bytes/boefje_meta", self.base)).json(meta)).await.map(|_| ())
    }

    async fn get_boefje_meta(&self, id: Uuid) -> ServiceResult<BoefjeMeta> {
        let response = self.send(|h| h.get(format!("{}/bytes/boefje_meta/{id}", self.base))).await?;
        self.json(response).await
    }

    async fn save_raw(&self, boefje_meta_id: Uuid, mime_types: &[String], content: &[u8]) -> ServiceResult<RawDataMeta> {
        let body = json!({"files": [{"name": "raw", "content": STANDARD.encode(content), "tags": mime_types}]});
        let response = self.send(|h| h.post(format!("{}/bytes/raw?boefje_meta_id={boefje_meta_id}", self.base)).json(&body)).await?;
        let ids: Value = self.json(response).await?;
        let id = ids["raw"].as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(|| ServiceError::internal("bytes returned no raw id"))?;
        self.get_raw_meta(id).await
    }

    async fn get_raw_meta(&self, id: Uuid) -> ServiceResult<RawDataMeta> {
        let response = self.send(|h| h.get(format!("{}/bytes/raw/{id}/meta", self.base))).await?;
        self.json(response).await
    }

    async fn get_raw(&self, id: Uuid) -> ServiceResult<(RawDataMeta, Vec<u8>)> {
        let meta = self.get_raw_meta(id).await?;
        let response = self.send(|h| h.get(format!("{}/bytes/raw/{id}", self.base))).await?;
        let content = response.bytes().await.map_err(|e| self.unreachable(e))?.to_vec();
        Ok((meta, content))
    }

    async fn raw_of_run(&self, boefje_meta_id: Uuid) -> ServiceResult<Vec<RawDataMeta>> {
        let response = self.send(|h| h.get(format!("{}/bytes/raw?boefje_meta_id={boefje_meta_id}&limit=10000", self.base))).await?;
        self.json(response).await
    }

    async fn save_normalizer_meta(&self, meta: &NormalizerMeta) -> ServiceResult<()> {
        self.send(|h| h.post(format!("{}/bytes/normalizer_meta", self.base)).json(meta)).await.map(|_| ())
    }
}
