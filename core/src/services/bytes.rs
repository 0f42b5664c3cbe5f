//! The Bytes contract: boefje metas, raw files with their metadata, and
//! normalizer metas. A saved raw file is on disk before `save_raw` returns,
//! and its arrival is announced (at least once) as a `raw_file_received`
//! event by the implementation. [`Bytes::save_run`] stores a finished run
//! (its meta and raw files) at once; an implementation may write it in one
//! transaction.

use async_trait::async_trait;
use uuid::Uuid;

use super::ServiceResult;
use crate::meta::{BoefjeMeta, NormalizerMeta, RawDataMeta};

/// The raw-data store.
#[async_trait]
pub trait Bytes: Send + Sync {
    /// Store the metadata of a boefje run; a meta whose id exists is refused (`Conflict`, OpenKAT's integrity
    /// error) and the stored one kept.
    async fn save_boefje_meta(&self, meta: &BoefjeMeta) -> ServiceResult<()>;
    /// The metadata of a boefje run.
    async fn get_boefje_meta(&self, id: Uuid) -> ServiceResult<BoefjeMeta>;
    /// Store one raw file of the run `boefje_meta_id`, tagged with `mime_types`.
    async fn save_raw(&self, boefje_meta_id: Uuid, mime_types: &[String], content: &[u8]) -> ServiceResult<RawDataMeta>;
    /// A raw file's metadata.
    async fn get_raw_meta(&self, id: Uuid) -> ServiceResult<RawDataMeta>;
    /// A raw file's metadata and contents (contents are checked against the stored hash).
    async fn get_raw(&self, id: Uuid) -> ServiceResult<(RawDataMeta, Vec<u8>)>;
    /// The raw files of one boefje run, oldest first.
    async fn raw_of_run(&self, boefje_meta_id: Uuid) -> ServiceResult<Vec<RawDataMeta>>;
    /// Record a normalizer run.
    async fn save_normalizer_meta(&self, meta: &NormalizerMeta) -> ServiceResult<()>;
    /// Store a finished run: its meta, then each raw file (mime types, contents), in order; the raw files'
    /// metadata in the same order. A meta whose id exists is refused (`Conflict`) before any raw file is
    /// stored. By default [`save_run_one_by_one`].
    async fn save_run(&self, meta: &BoefjeMeta, files: &[(Vec<String>, &[u8])]) -> ServiceResult<Vec<RawDataMeta>> {
        save_run_one_by_one(self, meta, files).await
    }
}

/// [`Bytes::save_run`] as separate calls: `save_boefje_meta`, then [`save_raws_one_by_one`].
pub async fn save_run_one_by_one<B: Bytes + ?Sized>(bytes: &B, meta: &BoefjeMeta, files: &[(Vec<String>, &[u8])]) -> ServiceResult<Vec<RawDataMeta>> {
    bytes.save_boefje_meta(meta).await?;
    save_raws_one_by_one(bytes, meta.id, files).await
}

/// `save_raw` for each file (mime types, contents) of the stored run `boefje_meta_id`, in order.
pub async fn save_raws_one_by_one<B: Bytes + ?Sized>(bytes: &B, boefje_meta_id: Uuid, files: &[(Vec<String>, &[u8])]) -> ServiceResult<Vec<RawDataMeta>> {
    let mut saved = Vec::with_capacity(files.len());
    for (mime_types, content) in files {
        saved.push(bytes.save_raw(boefje_meta_id, mime_types, content).await?);
    }
    Ok(saved)
}
