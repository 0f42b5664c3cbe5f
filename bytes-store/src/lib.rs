//! `kat-bytes`: Bytes, the raw-data store. It keeps every raw file a boefje
//! produced as evidence: contents through `object_store` (local filesystem
//! by default), metadata in SQLite (or PostgreSQL, `BYTES_DB_URI`) through `sqlx`, and a `sha512:` secure
//! hash per file (over the plain contents) that is re-checked on every
//! read. Contents may be encrypted at rest (`BYTES_ENCRYPTION_MIDDLEWARE`),
//! stored as `nonce || NaCl box` as OpenKAT's Bytes stores them.
//!
//! Saving a raw file writes its contents first, then, in one database
//! transaction, its metadata and a `raw_file_received` event in the outbox.
//! The outbox is drained by whoever relays events (the in-process pipeline in
//! embedded mode); an event stays pending until it is acknowledged, so it is
//! delivered at least once.
//!
//! # Layout
//! - [`api`]: OpenKAT's Bytes REST API under `/bytes` (axum).
//! - [`client`]: `BytesClient`, the `Bytes` trait over HTTP.
//! - [`config`]: `Config` from the `BYTES_*` variables; [`serve`] runs the service.
//! - [`hashing`]: OpenKAT's secure hash.
//! - [`storage`]: raw contents on the local filesystem or in S3.
//! - [`relay`]: the outbox relay to RabbitMQ (publisher confirms, reconnects).
//! - [`meta_db`]: the SQLite metadata and outbox tables; [`queries`]: filtered listings for the API.
//! - [`LocalBytes`]: the in-process implementation of `kat_core::services::bytes::Bytes`.

#![forbid(unsafe_code)]

pub mod api;
pub mod client;
pub mod config;
pub mod hashing;
pub mod meta_db;
pub mod queries;
pub mod relay;
pub mod storage;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use kat_core::crypto::Middleware;
use kat_core::events::RawFileReceived;
use kat_core::meta::{BoefjeMeta, MimeType, NormalizerMeta, RawDataMeta};
use kat_core::services::bytes::Bytes;
use kat_core::services::{ServiceError, ServiceResult};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use time::OffsetDateTime;
use uuid::Uuid;

use meta_db::MetaDb;

/// Bytes on local disk: `bytes.sqlite` and `raw/` under one directory.
pub struct LocalBytes {
    db: MetaDb,
    store: Arc<dyn ObjectStore>,
    crypto: Arc<Middleware>,
}

impl LocalBytes {
    /// Open (creating when missing) the store under `dir`, keeping contents unencrypted.
    pub async fn open(dir: &Path) -> ServiceResult<LocalBytes> {
        Self::open_with(dir, Arc::new(Middleware::Identity)).await
    }

    /// Open the store under `dir`, encrypting contents at rest with `crypto`.
    pub async fn open_with(dir: &Path, crypto: Arc<Middleware>) -> ServiceResult<LocalBytes> {
        Self::open_with_store(dir, storage::local(dir)?, crypto).await
    }

    /// Metadata in `dir/bytes.sqlite`, contents in `store` (local or S3, see [`storage`]).
    pub async fn open_with_store(dir: &Path, store: Arc<dyn ObjectStore>, crypto: Arc<Middleware>) -> ServiceResult<LocalBytes> {
        std::fs::create_dir_all(dir).map_err(|e| ServiceError::unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let db = MetaDb::open(&dir.join("bytes.sqlite")).await?;
        Ok(LocalBytes { db, store, crypto })
    }

    /// Metadata in the database at `db_url` (`sqlite://...` or `postgres://...`), contents in `store`.
    pub async fn connect(db_url: &str, store: Arc<dyn ObjectStore>, crypto: Arc<Middleware>) -> ServiceResult<LocalBytes> {
        Ok(LocalBytes { db: MetaDb::connect(db_url).await?, store, crypto })
    }

    /// Up to `limit` events not yet acknowledged, oldest first, with their outbox sequence numbers.
    pub async fn pending_events(&self, limit: i64) -> ServiceResult<Vec<(i64, RawFileReceived)>> {
        self.db.pending_events(limit).await
    }

    /// Mark events as delivered.
    pub async fn ack_events(&self, seqs: &[i64]) -> ServiceResult<()> {
        self.db.ack_events(seqs).await
    }

    /// Every raw file's metadata, oldest first.
    pub async fn all_raw(&self) -> ServiceResult<Vec<RawDataMeta>> {
        self.db.raw_metas(None).await
    }

    /// The metadata database, for filtered listings.
    pub fn meta_db(&self) -> &MetaDb {
        &self.db
    }

    /// Check one stored raw file against its hash (and decrypt it, when encrypted).
    pub async fn verify(&self, id: Uuid) -> ServiceResult<()> {
        self.get_raw(id).await.map(|_| ())
    }

    fn location(meta: &RawDataMeta) -> StorePath {
        StorePath::from(format!("{}/{}", meta.boefje_meta.organization, meta.id))
    }
}

#[async_trait]
impl Bytes for LocalBytes {
    async fn save_boefje_meta(&self, meta: &BoefjeMeta) -> ServiceResult<()> {
        self.db.save_boefje_meta(meta).await
    }

    async fn get_boefje_meta(&self, id: Uuid) -> ServiceResult<BoefjeMeta> {
        self.db.boefje_meta(id).await
    }

    async fn save_raw(&self, boefje_meta_id: Uuid, mime_types: &[String], content: &[u8]) -> ServiceResult<RawDataMeta> {
        let boefje_meta = self.db.boefje_meta(boefje_meta_id).await?;
        let now = OffsetDateTime::now_utc();
        let hashed_at = hashing::isoformat(now);
        let mut mime_types: Vec<MimeType> = mime_types.iter().map(|m| MimeType { value: m.clone() }).collect();
        mime_types.sort();
        mime_types.dedup();
        // As OpenKAT: one raw file per run and set of mime types; saving it again returns the first.
        let key = serde_json::to_string(&mime_types).map_err(|e| ServiceError::internal(e.to_string()))?;
        if let Some(existing) = self.db.raw_with_mime_types(boefje_meta_id, &key).await? {
            return Ok(existing);
        }
        let meta = RawDataMeta {
            id: Uuid::new_v4(),
            boefje_meta,
            mime_types,
            secure_hash: Some(hashing::secure_hash(content, &hashed_at)),
            signing_provider_url: None,
            hash_retrieval_link: None,
        };
        let stored = self.crypto.encrypt_bytes(content).map_err(|e| ServiceError::internal(e.to_string()))?;
        self.store
            .put(&Self::location(&meta), PutPayload::from(stored))
            .await
            .map_err(|e| ServiceError::unavailable(format!("cannot write raw file {}: {e}", meta.id)))?;
        let event = RawFileReceived { event_id: Uuid::new_v4(), created_at: now, organization: meta.boefje_meta.organization.clone(), raw_data: meta.clone() };
        self.db.insert_raw(&meta, &hashed_at, content.len(), &event).await?;
        tracing::debug!(raw_id = %meta.id, size = content.len(), "raw file saved");
        Ok(meta)
    }

    async fn get_raw_meta(&self, id: Uuid) -> ServiceResult<RawDataMeta> {
        self.db.raw_meta(id).await.map(|(meta, _)| meta)
    }

    async fn get_raw(&self, id: Uuid) -> ServiceResult<(RawDataMeta, Vec<u8>)> {
        let (meta, hashed_at) = self.db.raw_meta(id).await?;
        let stored = self
            .store
            .get(&Self::location(&meta))
            .await
            .map_err(|e| ServiceError::unavailable(format!("cannot read raw file {id}: {e}")))?
            .bytes()
            .await
            .map_err(|e| ServiceError::unavailable(format!("cannot read raw file {id}: {e}")))?
            .to_vec();
        let content = self.crypto.decrypt_bytes(&stored).map_err(|e| ServiceError::internal(format!("raw file {id}: {e}")))?;
        if meta.secure_hash.as_deref() != Some(hashing::secure_hash(&content, &hashed_at).as_str()) {
            return Err(ServiceError::internal(format!("raw file {id} does not match its stored hash: it was altered after it was saved")));
        }
        Ok((meta, content))
    }

    async fn raw_of_run(&self, boefje_meta_id: Uuid) -> ServiceResult<Vec<RawDataMeta>> {
        self.db.raw_metas(Some(boefje_meta_id)).await
    }

    async fn save_normalizer_meta(&self, meta: &NormalizerMeta) -> ServiceResult<()> {
        self.db.save_normalizer_meta(meta).await
    }
}

/// Open the store and serve the API on `listener` until the process ends.
pub async fn serve(config: config::Config, listener: tokio::net::TcpListener) -> ServiceResult<()> {
    let store = storage::from_env(&config.data_dir, |name| std::env::var(name).ok())?;
    let bytes = match &config.db_uri {
        Some(url) => LocalBytes::connect(url, store, Arc::new(config.crypto)).await?,
        None => LocalBytes::open_with_store(&config.data_dir, store, Arc::new(config.crypto)).await?,
    };
    let bytes = Arc::new(bytes);
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(uri) = &config.queue_uri {
        let relay = relay::RelayConfig { uri: uri.clone(), queue: relay::DEFAULT_QUEUE.into(), batch: 500 };
        tokio::spawn(relay::run(bytes.clone(), relay, stop_rx));
    } else {
        tracing::warn!("QUEUE_URI is not set: raw_file_received events stay in the outbox");
    }
    let state = api::BytesState { bytes, auth: Arc::new(api::auth::Auth::new(&config.username, &config.password, config.token_lifetime)), max_raw_size: config.max_raw_size };
    axum::serve(listener, api::router(state)).await.map_err(|e| ServiceError::unavailable(format!("bytes server stopped: {e}")))
}
