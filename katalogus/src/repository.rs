//! The plugin repository: which boefjes (with their settings schemas) and
//! normalizers exist. Built once at start-up and read-only afterwards.

use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_core::services::{ServiceError, ServiceResult};

/// The plugins the KATalogus serves.
#[derive(Debug, Clone, Default)]
pub struct PluginRepository {
    boefjes: Vec<(BoefjeManifest, Option<SettingsSchema>)>,
    normalizers: Vec<NormalizerManifest>,
}

impl PluginRepository {
    /// A repository of these plugins; a plugin without a name is named by its id (OpenKAT requires a name).
    pub fn new(mut boefjes: Vec<(BoefjeManifest, Option<SettingsSchema>)>, mut normalizers: Vec<NormalizerManifest>) -> Self {
        for (m, _) in &mut boefjes {
            m.name.get_or_insert_with(|| m.id.clone());
        }
        for m in &mut normalizers {
            m.name.get_or_insert_with(|| m.id.clone());
        }
        PluginRepository { boefjes, normalizers }
    }

    /// Every boefje with its schema.
    pub fn boefjes(&self) -> &[(BoefjeManifest, Option<SettingsSchema>)] {
        &self.boefjes
    }

    /// Every normalizer.
    pub fn normalizers(&self) -> &[NormalizerManifest] {
        &self.normalizers
    }

    /// One boefje with its schema.
    pub fn boefje(&self, id: &str) -> Option<&(BoefjeManifest, Option<SettingsSchema>)> {
        self.boefjes.iter().find(|(m, _)| m.id == id)
    }

    /// Fail with "not found" unless a plugin with this id exists.
    pub fn require(&self, id: &str) -> ServiceResult<()> {
        let known = self.boefje(id).is_some() || self.normalizers.iter().any(|n| n.id == id);
        if known { Ok(()) } else { Err(ServiceError::not_found(format!("no plugin {id:?}"))) }
    }
}
