//! The plugin repository: which boefjes (with their settings schemas) and
//! normalizers exist, with their descriptions. It holds the built-in
//! plugins handed in at start-up, the plugins loaded from a directory of
//! manifests (`KATALOGUS_PLUGIN_DIR`), and plugins added over the API
//! (the only editable ones; the store persists them).
//!
//! A directory holds one folder per plugin with `boefje.json` or
//! `normalizer.json`, and optionally `schema.json`, `description.md` and
//! `cover.jpg`. A
//! folder that does not parse is reported (file and reason, which names the
//! field) and skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ErrorKind;

/// The plugins the KATalogus serves.
#[derive(Debug, Clone, Default)]
pub struct PluginRepository {
    boefjes: Vec<(BoefjeManifest, Option<SettingsSchema>)>,
    normalizers: Vec<NormalizerManifest>,
    descriptions: BTreeMap<String, String>,
    covers: BTreeMap<String, Vec<u8>>,
    editable: BTreeSet<String>,
}

impl PluginRepository {
    /// A repository of these (static) plugins; a plugin without a name is named by its id (OpenKAT requires a name).
    pub fn new(boefjes: Vec<(BoefjeManifest, Option<SettingsSchema>)>, normalizers: Vec<NormalizerManifest>) -> Self {
        let mut repository = PluginRepository::default();
        for (manifest, schema) in boefjes {
            let _ = repository.add_boefje(manifest, schema, false);
        }
        for manifest in normalizers {
            let _ = repository.add_normalizer(manifest, false);
        }
        repository
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

    /// A plugin's `description.md`, if it has one.
    pub fn description(&self, id: &str) -> Option<&str> {
        self.descriptions.get(id).map(String::as_str)
    }

    /// A plugin's `cover.jpg`, if its folder has one.
    pub fn cover(&self, id: &str) -> Option<&[u8]> {
        self.covers.get(id).map(Vec::as_slice)
    }

    /// Whether the plugin was added over the API (and so may be edited).
    pub fn is_editable(&self, id: &str) -> bool {
        self.editable.contains(id)
    }

    /// Fail with "not found" unless a plugin with this id exists.
    pub fn require(&self, id: &str) -> ServiceResult<()> {
        if self.contains(id) { Ok(()) } else { Err(ServiceError::not_found(format!("no plugin {id:?}"))) }
    }

    fn contains(&self, id: &str) -> bool {
        self.boefje(id).is_some() || self.normalizers.iter().any(|n| n.id == id)
    }

    /// Add a boefje; an id that exists is a conflict.
    pub fn add_boefje(&mut self, mut manifest: BoefjeManifest, schema: Option<SettingsSchema>, editable: bool) -> ServiceResult<()> {
        self.check_new(&manifest.id)?;
        manifest.name.get_or_insert_with(|| manifest.id.clone());
        if editable {
            self.editable.insert(manifest.id.clone());
        }
        self.boefjes.push((manifest, schema));
        Ok(())
    }

    /// Add a normalizer; an id that exists is a conflict.
    pub fn add_normalizer(&mut self, mut manifest: NormalizerManifest, editable: bool) -> ServiceResult<()> {
        self.check_new(&manifest.id)?;
        manifest.name.get_or_insert_with(|| manifest.id.clone());
        if editable {
            self.editable.insert(manifest.id.clone());
        }
        self.normalizers.push(manifest);
        Ok(())
    }

    /// Replace an editable boefje's manifest (its schema stays).
    pub fn replace_boefje(&mut self, manifest: BoefjeManifest) -> ServiceResult<()> {
        self.check_editable(&manifest.id)?;
        let slot = self.boefjes.iter_mut().find(|(m, _)| m.id == manifest.id).ok_or_else(|| ServiceError::not_found(format!("no boefje {:?}", manifest.id)))?;
        slot.0 = manifest;
        Ok(())
    }

    /// Replace an editable normalizer's manifest.
    pub fn replace_normalizer(&mut self, manifest: NormalizerManifest) -> ServiceResult<()> {
        self.check_editable(&manifest.id)?;
        let slot = self.normalizers.iter_mut().find(|m| m.id == manifest.id).ok_or_else(|| ServiceError::not_found(format!("no normalizer {:?}", manifest.id)))?;
        *slot = manifest;
        Ok(())
    }

    /// Fail unless `id` is a valid id that no plugin has yet.
    pub fn check_new(&self, id: &str) -> ServiceResult<()> {
        let valid = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(ServiceError::invalid(format!("plugin id {id:?}: use 1 to 64 letters, digits, '-', '_' or '.'")).with_field("id"));
        }
        if self.contains(id) {
            return Err(ServiceError::new(ErrorKind::Conflict, format!("a plugin with id {id:?} already exists")).with_field("id"));
        }
        Ok(())
    }

    /// Fail unless the plugin exists and was added over the API.
    pub fn check_editable(&self, id: &str) -> ServiceResult<()> {
        self.require(id)?;
        if self.is_editable(id) { Ok(()) } else { Err(ServiceError::new(ErrorKind::Conflict, format!("plugin {id:?} is static (built in or from the plugin directory) and cannot be edited"))) }
    }

    /// Load every plugin folder under `dir`; returns one line per folder that was skipped and why.
    pub fn load_dir(&mut self, dir: &Path) -> Vec<String> {
        let mut problems = Vec::new();
        let mut folders: Vec<_> = match std::fs::read_dir(dir) {
            Ok(entries) => entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect(),
            Err(e) => return vec![format!("{}: cannot read the plugin directory: {e}", dir.display())],
        };
        folders.sort();
        for folder in folders {
            if let Err(problem) = self.load_folder(&folder) {
                tracing::warn!("skipping plugin: {problem}");
                problems.push(problem);
            }
        }
        problems
    }

    fn load_folder(&mut self, folder: &Path) -> Result<(), String> {
        let read = |name: &str| -> Result<Option<String>, String> {
            let path = folder.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", path.display())),
            }
        };
        let named = |name: &str| folder.join(name).display().to_string();
        let description = read("description.md")?;
        let id = if let Some(text) = read("boefje.json")? {
            let manifest = BoefjeManifest::parse(&named("boefje.json"), &text).map_err(|e| e.to_string())?;
            let schema = read("schema.json")?.map(|t| SettingsSchema::parse(&named("schema.json"), &t)).transpose().map_err(|e| e.to_string())?;
            let id = manifest.id.clone();
            self.add_boefje(manifest, schema, false).map_err(|e| format!("{}: {e}", named("boefje.json")))?;
            id
        } else if let Some(text) = read("normalizer.json")? {
            let manifest = NormalizerManifest::parse(&named("normalizer.json"), &text).map_err(|e| e.to_string())?;
            let id = manifest.id.clone();
            self.add_normalizer(manifest, false).map_err(|e| format!("{}: {e}", named("normalizer.json")))?;
            id
        } else {
            return Err(format!("{}: holds neither boefje.json nor normalizer.json", folder.display()));
        };
        if let Ok(cover) = std::fs::read(folder.join("cover.jpg")) {
            self.covers.insert(id.clone(), cover);
        }
        if let Some(text) = description {
            self.descriptions.insert(id, text);
        }
        Ok(())
    }
}
