//! `kat-bytes`: Bytes, the raw-data store. It keeps every raw file a boefje
//! produced as evidence: contents through `object_store` (local filesystem
//! by default), metadata in SQLite (or PostgreSQL, `BYTES_DB_URI`) through
//! `sqlx`, and OpenKAT's `sha512:` secure hash per file (over the plain
//! contents and the run's `ended_at`, see [`hashing`]) that is re-checked on
//! every read. A run without `ended_at` gets no raw files (422), because the
//! hash could not be OpenKAT's. Contents may be encrypted at rest
//! (`BYTES_ENCRYPTION_MIDDLEWARE`), stored as `nonce || NaCl box` as
//! OpenKAT's Bytes stores them.
//!
//! Saving a raw file writes its contents first, then, in one database
//! transaction, its metadata and a `raw_file_received` event in the outbox.
//! Small contents (at most [`LocalBytes::inline_max`] bytes as stored,
//! `BYTES_INLINE_MAX`) are not written as an object of their own: they go
//! into their metadata row, in the same transaction, so they are as durable
//! as the metadata and cost no file or S3 request.
//! The outbox is drained by whoever relays events (the in-process pipeline in
//! embedded mode, [`relay`] in the service); an event stays pending until it
//! is acknowledged, so it is delivered at least once. Contents written
//! without metadata (a kill between the two steps) are found by
//! [`LocalBytes::orphans`] (`kat verify-raw --all`).
//!
//! # Layout
//! - [`api`]: OpenKAT's Bytes REST API (axum).
//! - [`client`]: `BytesClient`, the `Bytes` trait over HTTP.
//! - [`config`]: `Config` from the `BYTES_*` variables; [`serve`] runs the service.
//! - [`hashing`]: OpenKAT's secure hash (Python's float `repr` of the timestamp).
//! - [`storage`]: raw contents on the local filesystem or in S3.
//! - `save`: preparing raw files and writing contents and metadata (one file, or a whole run at once).
//! - [`relay`]: the outbox relay to RabbitMQ (publisher confirms, mandatory publishing, reconnects).
//! - [`meta_db`]: the metadata and outbox tables; [`queries`]: filtered listings for the API.
//! - [`LocalBytes`]: the in-process implementation of `kat_core::services::bytes::Bytes`.

#![forbid(unsafe_code)]

pub mod api;
pub mod client;
pub mod config;
mod group_commit;
pub mod hashing;
pub mod meta_db;
pub mod queries;
pub mod relay;
mod save;
pub mod serve;
pub mod storage;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use futures::TryStreamExt;
use hashing::HashRule;
use kat_core::crypto::Middleware;
use kat_core::events::RawFileReceived;
use kat_core::meta::{BoefjeMeta, MimeType, NormalizerMeta, RawDataMeta};
use kat_core::services::bytes::{save_run_one_by_one, Bytes};
use kat_core::services::{ServiceError, ServiceResult};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use uuid::Uuid;

use meta_db::MetaDb;
pub use serve::serve;

/// Bytes on local disk: `bytes.sqlite` and `raw/` under one directory.
pub struct LocalBytes {
    db: Arc<MetaDb>,
    store: Arc<dyn ObjectStore>,
    crypto: Arc<Middleware>,
    relay: relay::RelayStatus,
    inline_max: usize,
}

/// Contents of at most this many bytes (as stored) are kept in the metadata database unless configured otherwise:
/// one filesystem block, below which a file of its own costs more than the bytes it holds.
pub const DEFAULT_INLINE_MAX: usize = 4096;

/// The largest `BYTES_INLINE_MAX` accepted (larger contents belong in the object store).
pub const MAX_INLINE_MAX: usize = 1 << 20;

impl LocalBytes {
    fn new(db: MetaDb, store: Arc<dyn ObjectStore>, crypto: Arc<Middleware>) -> LocalBytes {
        LocalBytes { db: Arc::new(db), store, crypto, relay: relay::RelayStatus::default(), inline_max: DEFAULT_INLINE_MAX }
    }

    /// Keep contents of at most `max` bytes as stored (encrypted, when they are) in the metadata database
    /// instead of the object store; 0 keeps every content in the object store. Capped at [`MAX_INLINE_MAX`].
    pub fn with_inline_max(mut self, max: usize) -> LocalBytes {
        self.inline_max = max.min(MAX_INLINE_MAX);
        self
    }

    /// The largest contents (as stored) kept in the metadata database.
    pub fn inline_max(&self) -> usize {
        self.inline_max
    }

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
        Ok(Self::new(db, store, crypto))
    }

    /// The store under `dir` for reading only: nothing in `dir` is created, migrated or written (for the
    /// command-line tools on a read-only data directory).
    pub async fn open_read_only(dir: &Path, crypto: Arc<Middleware>) -> ServiceResult<LocalBytes> {
        let db = MetaDb::open_read_only(&dir.join("bytes.sqlite")).await?;
        Ok(Self::new(db, storage::local_read_only(dir)?, crypto))
    }

    /// Metadata in the database at `db_url` (`sqlite://...` or `postgres://...`), contents in `store`.
    pub async fn connect(db_url: &str, store: Arc<dyn ObjectStore>, crypto: Arc<Middleware>) -> ServiceResult<LocalBytes> {
        Ok(Self::new(MetaDb::connect(db_url).await?, store, crypto))
    }

    /// As [`LocalBytes::connect`], waiting up to `wait` for a PostgreSQL server that refuses connections.
    pub async fn connect_waiting(db_url: &str, wait: std::time::Duration, store: Arc<dyn ObjectStore>, crypto: Arc<Middleware>) -> ServiceResult<LocalBytes> {
        Ok(Self::new(MetaDb::connect_waiting(db_url, wait).await?, store, crypto))
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

    /// Close the metadata database, waiting until its files are settled (before copying a data directory).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Whether the contents store answers (for `/health`): a `HEAD` of a key that need not exist, within 3 s.
    pub async fn store_answers(&self) -> Result<(), String> {
        let probe = StorePath::from("kat-health-probe");
        match tokio::time::timeout(std::time::Duration::from_secs(3), self.store.head(&probe)).await {
            Ok(Ok(_) | Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(e)) => Err(format!("the contents store does not answer: {e}")),
            Err(_) => Err("the contents store gave no answer within 3 s".into()),
        }
    }

    /// The relay's connection state (for `/health`).
    pub fn relay_state(&self) -> relay::RelayState {
        self.relay.get()
    }

    pub(crate) fn relay_status(&self) -> &relay::RelayStatus {
        &self.relay
    }

    /// Check one stored raw file against its hash (and decrypt it, when encrypted).
    pub async fn verify(&self, id: Uuid) -> ServiceResult<()> {
        self.get_raw(id).await.map(|_| ())
    }

    /// Stored contents without metadata (`ORGANISATION/NAME`), such as those left by a kill between writing
    /// a raw file's contents and its metadata.
    pub async fn orphans(&self) -> ServiceResult<Vec<String>> {
        let known: HashSet<String> = self.db.raw_locations().await?.into_iter().collect();
        let objects: Vec<object_store::ObjectMeta> = self.store.list(None).try_collect().await.map_err(|e| ServiceError::unavailable(format!("cannot list the stored raw files: {e}")))?;
        let mut orphans: Vec<String> = objects.into_iter().map(|o| o.location.to_string()).filter(|l| !known.contains(l)).collect();
        orphans.sort();
        Ok(orphans)
    }

    /// Where a raw file's contents live: `ORGANISATION/RAW_ID`, for a valid organisation id only.
    fn location(meta: &RawDataMeta) -> ServiceResult<StorePath> {
        let organization = &meta.boefje_meta.organization;
        if !kat_core::ids::is_organisation_id(organization) {
            return Err(ServiceError::internal(format!("raw file {} belongs to a run whose organisation id is not valid; it is not read or written", meta.id)));
        }
        Ok(StorePath::from(format!("{organization}/{}", meta.id)))
    }

    /// The text a raw file's hash covers, by the rule it was saved with.
    fn hashed_text(meta: &RawDataMeta, rule: HashRule, stored: String) -> ServiceResult<String> {
        match rule {
            HashRule::IsoFormat => Ok(stored),
            HashRule::EndedAtTimestamp => {
                let ended_at = meta.boefje_meta.ended_at.ok_or_else(|| ServiceError::internal(format!("raw file {}: its run lost its ended_at", meta.id)))?;
                Ok(hashing::python_timestamp(ended_at))
            }
        }
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
        let mime_types = save::mime_set(mime_types);
        // As OpenKAT: one raw file per run and set of mime types; saving it again returns the first.
        let key = serde_json::to_string(&mime_types).map_err(|e| ServiceError::internal(e.to_string()))?;
        if let Some(existing) = self.db.raw_with_mime_types(boefje_meta_id, &key).await? {
            return self.get_raw_meta(existing).await;
        }
        let ended_at = boefje_meta.ended_at.ok_or_else(|| {
            ServiceError::invalid(format!("boefje meta {boefje_meta_id} has no ended_at: a raw file's hash covers it, so save the run with ended_at first")).with_field("ended_at")
        })?;
        let hashed_text = hashing::python_timestamp(ended_at);
        let raw = self.prepare(boefje_meta, &hashed_text, mime_types, content)?;
        let mut saved = save::write(self.store.clone(), self.db.clone(), hashed_text, None, vec![raw]).await?;
        saved.pop().ok_or_else(|| ServiceError::internal("saving a raw file returned nothing"))
    }

    /// The run's meta and raw files in one transaction (contents bound for the object store written first). A run
    /// without `ended_at`, or with a set of mime types twice (Bytes keeps the first file of a set), is saved one
    /// call at a time instead, which answers both as OpenKAT does.
    async fn save_run(&self, meta: &BoefjeMeta, files: &[(Vec<String>, &[u8])]) -> ServiceResult<Vec<RawDataMeta>> {
        // Refused as `save_boefje_meta` refuses it, before any contents are prepared.
        kat_core::ids::check_organisation_id(&meta.organization, "organization")?;
        let sets: Vec<Vec<MimeType>> = files.iter().map(|(mime_types, _)| save::mime_set(mime_types)).collect();
        let repeated = (1..sets.len()).any(|i| sets[..i].contains(&sets[i]));
        let Some(ended_at) = meta.ended_at.filter(|_| !repeated) else {
            return save_run_one_by_one(self, meta, files).await;
        };
        let hashed_text = hashing::python_timestamp(ended_at);
        let raws = files.iter().zip(sets).map(|((_, content), set)| self.prepare(meta.clone(), &hashed_text, set, content)).collect::<ServiceResult<Vec<_>>>()?;
        save::write(self.store.clone(), self.db.clone(), hashed_text, Some(meta.clone()), raws).await
    }

    async fn get_raw_meta(&self, id: Uuid) -> ServiceResult<RawDataMeta> {
        self.db.raw_meta(id).await.map(|(meta, _, _)| meta)
    }

    async fn get_raw(&self, id: Uuid) -> ServiceResult<(RawDataMeta, Vec<u8>)> {
        let (meta, rule, stored_text, inline) = self.db.raw_with_content(id).await?;
        let stored = match inline {
            Some(stored) => stored,
            None => {
                let unreadable = |e: object_store::Error| ServiceError::unavailable(format!("cannot read raw file {id}: {e}"));
                self.store.get(&Self::location(&meta)?).await.map_err(unreadable)?.bytes().await.map_err(unreadable)?.to_vec()
            }
        };
        let content = self.crypto.decrypt_bytes(&stored).map_err(|e| ServiceError::internal(format!("raw file {id}: {e}")))?;
        let text = Self::hashed_text(&meta, rule, stored_text)?;
        if meta.secure_hash.as_deref() != Some(hashing::secure_hash(&content, &text).as_str()) {
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
