//! The KATalogus contract: which plugins exist, which an organisation has
//! enabled, and the organisation's settings of each plugin.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::ServiceResult;
use crate::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};

/// A boefje as an organisation sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BoefjePlugin {
    /// Its `boefje.json`.
    pub manifest: BoefjeManifest,
    /// Its `schema.json`, if it takes settings.
    pub schema: Option<SettingsSchema>,
    /// Whether the organisation has it enabled.
    pub enabled: bool,
}

/// A normalizer as an organisation sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizerPlugin {
    /// Its `normalizer.json`.
    pub manifest: NormalizerManifest,
    /// Whether the organisation has it enabled.
    pub enabled: bool,
}

/// The plugin and settings catalogue.
#[async_trait]
pub trait Katalogus: Send + Sync {
    /// Every boefje, with the organisation's enablement.
    async fn boefjes(&self, organisation: &str) -> ServiceResult<Vec<BoefjePlugin>>;
    /// Every normalizer, with the organisation's enablement.
    async fn normalizers(&self, organisation: &str) -> ServiceResult<Vec<NormalizerPlugin>>;
    /// The organisation's settings of one plugin (empty when none are set).
    async fn settings(&self, organisation: &str, plugin_id: &str) -> ServiceResult<Map<String, Value>>;
    /// The ids of the boefjes enabled for the organisation that consume `object_type` and may run at
    /// clearance `level` (their scan level is at most `level`).
    async fn boefjes_for(&self, organisation: &str, object_type: &str, level: crate::ScanLevel) -> ServiceResult<Vec<String>> {
        Ok(self
            .boefjes(organisation)
            .await?
            .into_iter()
            .filter(|p| p.enabled && p.manifest.scan_level <= level && p.manifest.consumes.iter().any(|c| c == object_type))
            .map(|p| p.manifest.id)
            .collect())
    }
    /// Whether the catalogue answers (a service: its `/health`); an in-process one always does.
    async fn health(&self) -> ServiceResult<()> {
        Ok(())
    }
    /// Whether this boefje's tasks of this organisation may run once for several organisations: OpenKAT's
    /// `deduplicate` of the organisation and of the boefje are set, and another organisation's is too. A
    /// catalogue that cannot say answers no.
    async fn shares_tasks(&self, _organisation: &str, _boefje_id: &str) -> ServiceResult<bool> {
        Ok(false)
    }
}
