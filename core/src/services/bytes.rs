//! The Bytes contract: boefje metas, raw files with their metadata, and
//! normalizer metas. A saved raw file is on disk before `save_raw` returns,
//! and its arrival is announced (at least once) as a `raw_file_received`
//! event by the implementation.

use async_trait::async_trait;
use uuid::Uuid;

use super::ServiceResult;
use crate::meta::{BoefjeMeta, NormalizerMeta, RawDataMeta};

/// The raw-data store.
#[async_trait]
pub trait Bytes: Send + Sync {
    /// Store the metadata of a boefje run (saving the same id again replaces it).
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
}
