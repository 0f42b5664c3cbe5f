//! Saving raw files in [`LocalBytes`]: each file is prepared (mime types
//! normalised, OpenKAT's hash over the plain contents and the run's
//! `ended_at`, contents encrypted when configured, kept inline in the row
//! or bound for the object store), then [`write`] stores the contents bound
//! for the object store first and the metadata of all the files (with their
//! run's meta, for a whole run) in one transaction. Contents whose metadata
//! could not be written are removed again, best effort.

use std::sync::Arc;

use kat_core::events::RawFileReceived;
use kat_core::meta::{BoefjeMeta, MimeType, RawDataMeta};
use kat_core::services::{ServiceError, ServiceResult};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::hashing::{self, HashRule};
use crate::meta_db::{MetaDb, RawInsert};
use crate::LocalBytes;

/// One raw file ready to be written.
pub(crate) struct Prepared {
    meta: RawDataMeta,
    location: StorePath,
    event: RawFileReceived,
    /// The plain contents' size.
    size: usize,
    /// The stored contents when they go to the object store.
    to_store: Option<Vec<u8>>,
    /// The stored contents when they live in the metadata row.
    in_row: Option<Vec<u8>>,
}

/// A set of mime types as Bytes keeps it: sorted, each once.
pub(crate) fn mime_set(mime_types: &[String]) -> Vec<MimeType> {
    let mut set: Vec<MimeType> = mime_types.iter().map(|m| MimeType { value: m.clone() }).collect();
    set.sort();
    set.dedup();
    set
}

impl LocalBytes {
    /// A raw file of `boefje_meta` with `mime_types`, hashed over `content` and `hashed_text`.
    pub(crate) fn prepare(&self, boefje_meta: BoefjeMeta, hashed_text: &str, mime_types: Vec<MimeType>, content: &[u8]) -> ServiceResult<Prepared> {
        let meta = RawDataMeta {
            id: Uuid::now_v7(),
            boefje_meta,
            mime_types,
            secure_hash: Some(hashing::secure_hash(content, hashed_text)),
            signing_provider_url: None,
            hash_retrieval_link: None,
        };
        let stored = self.crypto.encrypt_bytes(content).map_err(|e| ServiceError::internal(e.to_string()))?;
        let location = Self::location(&meta)?;
        let event = RawFileReceived { event_id: Uuid::now_v7(), created_at: OffsetDateTime::now_utc(), organization: meta.boefje_meta.organization.clone(), raw_data: meta.clone() };
        let (to_store, in_row) = if stored.len() <= self.inline_max { (None, Some(stored)) } else { (Some(stored), None) };
        Ok(Prepared { meta, location, event, size: content.len(), to_store, in_row })
    }
}

/// Write `raws` (hashed over `hashed_text`), with `run`'s meta when it is a whole run: contents for the object
/// store first, then every row in one transaction. The work runs in a task of its own: a caller that goes away
/// (a client that hung up, a runner killed mid-request) drops its future, and dropped between the two steps it
/// would leave contents in the store that no metadata names.
pub(crate) async fn write(store: Arc<dyn ObjectStore>, db: Arc<MetaDb>, hashed_text: String, run: Option<BoefjeMeta>, mut raws: Vec<Prepared>) -> ServiceResult<Vec<RawDataMeta>> {
    let work = tokio::spawn(async move {
        let mut written = Vec::new();
        let mut failure = None;
        for raw in &mut raws {
            let Some(contents) = raw.to_store.take() else { continue };
            match store.put(&raw.location, PutPayload::from(contents)).await {
                Ok(_) => written.push(raw.location.clone()),
                Err(e) => {
                    failure = Some(ServiceError::unavailable(format!("cannot write raw file {}: {e}", raw.meta.id)));
                    break;
                }
            }
        }
        let saved = match failure {
            Some(e) => Err(e),
            None => {
                let rows: Vec<RawInsert<'_>> = raws
                    .iter_mut()
                    .map(|raw| RawInsert { meta: &raw.meta, rule: HashRule::EndedAtTimestamp, hashed_text: &hashed_text, size: raw.size, content: raw.in_row.take(), event: &raw.event })
                    .collect();
                match &run {
                    Some(meta) => db.insert_run(meta, rows).await,
                    None => match rows.into_iter().next() {
                        Some(row) => db.insert_raw(row).await,
                        None => Ok(()),
                    },
                }
            }
        };
        if let Err(e) = saved {
            // Best effort: contents whose metadata could not be written are nobody's (`kat verify-raw --all`
            // lists what a failing delete leaves).
            for location in written {
                if let Err(gone) = store.delete(&location).await {
                    tracing::warn!(%location, "cannot remove the contents of a raw file whose metadata failed: {gone}");
                }
            }
            return Err(e);
        }
        for raw in &raws {
            tracing::debug!(raw_id = %raw.meta.id, size = raw.size, "raw file saved");
        }
        Ok(raws.into_iter().map(|raw| raw.meta).collect())
    });
    work.await.map_err(|e| ServiceError::internal(format!("saving a raw file stopped: {e}")))?
}
