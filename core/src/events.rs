//! Events that flow between services, in OpenKAT's JSON shapes.
//!
//! Bytes emits [`RawFileReceived`] for every saved raw file; the scheduler
//! turns it into normalizer tasks. Delivery is at least once, so every
//! consumer must be idempotent (the scheduler deduplicates on the raw id).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::meta::RawDataMeta;

/// A raw file was stored: the body of OpenKAT's `raw_file_received` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawFileReceived {
    /// Unique per event (a redelivered event keeps its id).
    pub event_id: Uuid,
    /// When the raw file was stored.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The organisation the raw file belongs to.
    pub organization: String,
    /// The raw file's metadata (with its boefje meta and mime types).
    pub raw_data: RawDataMeta,
}
