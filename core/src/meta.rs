//! Job metadata in OpenKAT's JSON shapes: `BoefjeMeta` (one boefje run),
//! `RawDataMeta` (one raw file of a run) and `NormalizerMeta` (one
//! normalizer run on a raw file). Bytes stores them; runners create them.
//!
//! Unknown fields in incoming JSON are ignored, so metadata written by newer
//! OpenKAT versions still reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// A plugin named in metadata: its id and optional version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRef {
    /// The plugin id, e.g. `dns-records`.
    pub id: String,
    /// The plugin version, if known.
    #[serde(default)]
    pub version: Option<String>,
}

/// One boefje run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoefjeMeta {
    /// The run's id.
    pub id: Uuid,
    /// When the boefje started.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it ended.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// Which boefje ran.
    pub boefje: PluginRef,
    /// The reference of the object it ran on.
    #[serde(default)]
    pub input_ooi: Option<String>,
    /// The arguments it was given (`input` holds the input object).
    #[serde(default)]
    pub arguments: BTreeMap<String, Value>,
    /// The organisation the run belongs to (OpenKAT spells it with a z here).
    pub organization: String,
    /// A hash of the runnable (image or code), if known.
    #[serde(default)]
    pub runnable_hash: Option<String>,
    /// The job environment, without secret values.
    #[serde(default)]
    pub environment: Option<BTreeMap<String, String>>,
}

/// A mime type tag of a raw file, as `{"value": "boefje/dns-records"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MimeType {
    /// The mime type.
    pub value: String,
}

/// One raw file's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawDataMeta {
    /// The raw file's id.
    pub id: Uuid,
    /// The run that produced it.
    pub boefje_meta: BoefjeMeta,
    /// Its mime types.
    #[serde(default)]
    pub mime_types: Vec<MimeType>,
    /// `sha512:<hex>` over contents and timestamp.
    #[serde(default)]
    pub secure_hash: Option<String>,
    /// Where the hash can be retrieved, if signed externally.
    #[serde(default)]
    pub signing_provider_url: Option<String>,
    /// Link to the hash at the signing provider.
    #[serde(default)]
    pub hash_retrieval_link: Option<String>,
}

/// One normalizer run on a raw file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizerMeta {
    /// The run's id.
    pub id: Uuid,
    /// When it started.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it ended.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// The raw file it read.
    pub raw_data: RawDataMeta,
    /// Which normalizer ran.
    pub normalizer: PluginRef,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openkats_normalizer_meta_fixture() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/openkat/dns-normalize.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}: shared/ must sit beside the repository"));
        let meta: NormalizerMeta = serde_json::from_str(&text).expect("OpenKAT's shape parses");
        assert_eq!(meta.normalizer.id, "kat_dns_normalize");
        assert_eq!(meta.raw_data.boefje_meta.boefje.id, "dns-records");
        assert_eq!(meta.raw_data.boefje_meta.organization, "_dev");
        assert_eq!(meta.raw_data.boefje_meta.input_ooi.as_deref(), Some("Hostname|internet|example.nl"));
        assert_eq!(meta.raw_data.mime_types, [MimeType { value: "boefje/dns-records".into() }]);
        assert_eq!(meta.raw_data.boefje_meta.arguments["input"]["name"], "example.nl");
        let again: NormalizerMeta = serde_json::from_value(serde_json::to_value(&meta).expect("serializes")).expect("round-trips");
        assert_eq!(again, meta);
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let json = r#"{"id":"7134430c-8509-4944-b0be-27cb9bfb4bc2","started_at":"2024-05-01T10:00:00Z","boefje":{"id":"x"},"organization":"o"}"#;
        let meta: BoefjeMeta = serde_json::from_str(json).expect("parses");
        assert_eq!(meta.started_at.map(|t| t.unix_timestamp()), Some(1_714_557_600));
        assert!(serde_json::from_str::<BoefjeMeta>(&json.replace("2024-05-01T10:00:00Z", "yesterday")).is_err());
        assert!(serde_json::from_str::<BoefjeMeta>(&json.replace("7134430c", "zzzz")).is_err());
    }
}
