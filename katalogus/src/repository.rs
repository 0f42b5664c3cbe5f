//! The plugin repository: which boefjes (with their settings schemas) and
//! normalizers exist, with what OpenKAT's plugin JSON holds beyond our
//! manifests ([`PluginExtras`]: `version`, `created`, `run_on`,
//! `deduplicate`), descriptions and covers. It holds the built-in plugins
//! handed in at start-up, the plugins loaded from a directory tree
//! (`KATALOGUS_PLUGIN_DIR`), and plugins added over the API (the only
//! editable ones; the store persists them).
//!
//! Static plugins (built in or from the directory) get OpenKAT's implicit
//! values: a boefje produces `boefje/<id>` (and `boefje/<id>-<version>`
//! when it has a version), a normalizer consumes `normalizer/<id>`. Plugins
//! added over the API are kept exactly as posted, as OpenKAT keeps them.
//!
//! The directory is read the way OpenKAT lays out its own plugins: every
//! folder at any depth that holds `boefje.json` is a boefje (with its
//! `schema.json`, `description.md` and `cover.jpg`), every folder that holds
//! `normalizer.json` is a normalizer (with `normalizer_cover.jpg`), and one
//! folder may hold both. Anything that looks like a plugin but cannot be
//! loaded is skipped and reported as `file: reason`. Each loaded plugin's
//! folder is kept ([`PluginRepository::folder`]), because a boefje's `run`
//! command is relative to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ErrorKind;
use serde::{Deserialize, Serialize};

/// How deep the plugin directory is searched.
const MAX_DEPTH: usize = 16;

/// The cover served for plugins without their own (a flat-colour 32x32 JPEG made for this project).
pub const DEFAULT_COVER: &[u8] = include_bytes!("default_cover.jpg");

/// Boefje or normalizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// A boefje.
    Boefje,
    /// A normalizer.
    Normalizer,
}

impl PluginKind {
    /// `boefje` or `normalizer`, as OpenKAT's `type` field says.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Boefje => "boefje",
            PluginKind::Normalizer => "normalizer",
        }
    }
}

/// When OpenKAT runs a boefje on its own (`run_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOn {
    /// When an object is created.
    Create,
    /// When an object is updated.
    Update,
}

impl RunOn {
    /// `create` or `update`, as in OpenKAT's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOn::Create => "create",
            RunOn::Update => "update",
        }
    }
}

/// The fields of OpenKAT's plugin JSON that our manifests do not hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginExtras {
    /// A version string.
    #[serde(default)]
    pub version: Option<String>,
    /// When the plugin was made (ISO 8601 text, kept as given).
    #[serde(default)]
    pub created: Option<String>,
    /// Boefjes only: run on object creation and/or update.
    #[serde(default)]
    pub run_on: Option<Vec<RunOn>>,
    /// Boefjes only: whether its tasks may be shared between organisations with equal settings.
    #[serde(default = "yes_by_default")]
    pub deduplicate: bool,
}

/// `true`, for serde defaults.
pub(crate) fn yes_by_default() -> bool {
    true
}

impl Default for PluginExtras {
    fn default() -> Self {
        PluginExtras { version: None, created: None, run_on: None, deduplicate: true }
    }
}

/// The plugins the KATalogus serves.
#[derive(Debug, Clone, Default)]
pub struct PluginRepository {
    boefjes: Vec<(BoefjeManifest, Option<SettingsSchema>)>,
    normalizers: Vec<NormalizerManifest>,
    extras: BTreeMap<String, PluginExtras>,
    descriptions: BTreeMap<String, String>,
    covers: BTreeMap<String, Vec<u8>>,
    editable: BTreeSet<String>,
    folders: BTreeMap<String, PathBuf>,
}

/// OpenKAT's answer to a second plugin with a taken id or name (`field` is `id` or `name`).
pub fn duplicate(field: &str) -> ServiceError {
    ServiceError::new(ErrorKind::Conflict, format!("Duplicate plugin: a plugin with this {field} already exists")).with_field(field)
}

/// OpenKAT's answer for a plugin that does not exist.
pub fn plugin_not_found(id: &str) -> ServiceError {
    let shown: String = id.chars().take(64).collect();
    ServiceError::not_found(format!("Plugin with id '{shown}' not found")).with_field("plugin_id")
}

impl PluginRepository {
    /// A repository of these (static) plugins; a plugin without a name is named by its id (OpenKAT requires a name).
    pub fn new(boefjes: Vec<(BoefjeManifest, Option<SettingsSchema>)>, normalizers: Vec<NormalizerManifest>) -> Self {
        let mut repository = PluginRepository::default();
        for (manifest, schema) in boefjes {
            if let Err(e) = repository.add_static_boefje(manifest, schema, PluginExtras::default()) {
                tracing::warn!("built-in boefje skipped: {e}");
            }
        }
        for manifest in normalizers {
            if let Err(e) = repository.add_static_normalizer(manifest, PluginExtras::default()) {
                tracing::warn!("built-in normalizer skipped: {e}");
            }
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

    /// One normalizer.
    pub fn normalizer(&self, id: &str) -> Option<&NormalizerManifest> {
        self.normalizers.iter().find(|m| m.id == id)
    }

    /// Whether `id` is a boefje or a normalizer, if it exists.
    pub fn kind(&self, id: &str) -> Option<PluginKind> {
        if self.boefje(id).is_some() {
            Some(PluginKind::Boefje)
        } else if self.normalizer(id).is_some() {
            Some(PluginKind::Normalizer)
        } else {
            None
        }
    }

    /// A plugin's extra fields (the defaults when it has none).
    pub fn extras(&self, id: &str) -> PluginExtras {
        self.extras.get(id).cloned().unwrap_or_default()
    }

    /// A plugin's `description.md`, if it has one.
    pub fn description(&self, id: &str) -> Option<&str> {
        self.descriptions.get(id).map(String::as_str)
    }

    /// A plugin's own cover (`cover.jpg` of a boefje, `normalizer_cover.jpg` of a normalizer), if its folder has one.
    pub fn cover(&self, id: &str) -> Option<&[u8]> {
        self.covers.get(id).map(Vec::as_slice)
    }

    /// The folder a plugin was loaded from (for a boefje's `run`, which is relative to it); `None` for
    /// built-in plugins and plugins added over the API.
    pub fn folder(&self, id: &str) -> Option<&Path> {
        self.folders.get(id).map(PathBuf::as_path)
    }

    /// Whether the plugin was added over the API (and so may be edited).
    pub fn is_editable(&self, id: &str) -> bool {
        self.editable.contains(id)
    }

    /// Fail with "not found" unless a plugin with this id exists.
    pub fn require(&self, id: &str) -> ServiceResult<()> {
        self.kind(id).map(|_| ()).ok_or_else(|| plugin_not_found(id))
    }

    /// Fail unless `id` is a valid plugin id that no plugin has yet.
    pub fn check_new_id(&self, id: &str) -> ServiceResult<()> {
        let valid = !id.is_empty() && id.len() <= 64 && !id.starts_with('.') && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            let shown: String = id.chars().take(64).map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
            return Err(ServiceError::invalid(format!("plugin id {shown:?}: use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'")).with_field("id"));
        }
        if self.kind(id).is_some() {
            return Err(duplicate("id"));
        }
        Ok(())
    }

    /// Fail when another plugin of the same kind (not `except`) already has this display name, as OpenKAT does.
    pub fn check_name_free(&self, kind: PluginKind, name: &str, except: Option<&str>) -> ServiceResult<()> {
        let taken = match kind {
            PluginKind::Boefje => self.boefjes.iter().any(|(m, _)| Some(m.id.as_str()) != except && display_name(&m.name, &m.id) == name),
            PluginKind::Normalizer => self.normalizers.iter().any(|m| Some(m.id.as_str()) != except && display_name(&m.name, &m.id) == name),
        };
        if taken { Err(duplicate("name")) } else { Ok(()) }
    }

    fn add_static_boefje(&mut self, mut manifest: BoefjeManifest, schema: Option<SettingsSchema>, extras: PluginExtras) -> ServiceResult<()> {
        let mut implicit = vec![format!("boefje/{}", manifest.id)];
        if let Some(version) = &extras.version {
            implicit.push(format!("boefje/{}-{version}", manifest.id));
        }
        for mime in implicit {
            if !manifest.produces.contains(&mime) {
                manifest.produces.push(mime);
            }
        }
        self.add_boefje(manifest, schema, extras, false)
    }

    fn add_static_normalizer(&mut self, mut manifest: NormalizerManifest, extras: PluginExtras) -> ServiceResult<()> {
        let implicit = format!("normalizer/{}", manifest.id);
        if !manifest.consumes.contains(&implicit) {
            manifest.consumes.push(implicit);
        }
        self.add_normalizer(manifest, extras, false)
    }

    /// Add a boefje; an id that exists is refused.
    pub fn add_boefje(&mut self, mut manifest: BoefjeManifest, schema: Option<SettingsSchema>, extras: PluginExtras, editable: bool) -> ServiceResult<()> {
        self.check_new_id(&manifest.id)?;
        manifest.name.get_or_insert_with(|| manifest.id.clone());
        self.remember(&manifest.id, extras, editable);
        self.boefjes.push((manifest, schema));
        Ok(())
    }

    /// Add a normalizer; an id that exists is refused.
    pub fn add_normalizer(&mut self, mut manifest: NormalizerManifest, extras: PluginExtras, editable: bool) -> ServiceResult<()> {
        self.check_new_id(&manifest.id)?;
        manifest.name.get_or_insert_with(|| manifest.id.clone());
        self.remember(&manifest.id, extras, editable);
        self.normalizers.push(manifest);
        Ok(())
    }

    fn remember(&mut self, id: &str, extras: PluginExtras, editable: bool) {
        if editable {
            self.editable.insert(id.to_string());
        }
        if extras != PluginExtras::default() {
            self.extras.insert(id.to_string(), extras);
        }
    }

    /// Replace an editable boefje's manifest, schema and extras.
    pub fn replace_boefje(&mut self, mut manifest: BoefjeManifest, schema: Option<SettingsSchema>, extras: PluginExtras) -> ServiceResult<()> {
        self.check_editable(&manifest.id)?;
        manifest.name.get_or_insert_with(|| manifest.id.clone());
        let id = manifest.id.clone();
        let slot = self.boefjes.iter_mut().find(|(m, _)| m.id == id).ok_or_else(|| plugin_not_found(&id))?;
        *slot = (manifest, schema);
        self.extras.insert(id, extras);
        Ok(())
    }

    /// Replace an editable normalizer's manifest and extras.
    pub fn replace_normalizer(&mut self, mut manifest: NormalizerManifest, extras: PluginExtras) -> ServiceResult<()> {
        self.check_editable(&manifest.id)?;
        manifest.name.get_or_insert_with(|| manifest.id.clone());
        let id = manifest.id.clone();
        let slot = self.normalizers.iter_mut().find(|m| m.id == id).ok_or_else(|| plugin_not_found(&id))?;
        *slot = manifest;
        self.extras.insert(id, extras);
        Ok(())
    }

    /// Forget an editable plugin.
    pub fn remove(&mut self, id: &str) -> ServiceResult<()> {
        self.check_editable(id)?;
        self.boefjes.retain(|(m, _)| m.id != id);
        self.normalizers.retain(|m| m.id != id);
        self.descriptions.remove(id);
        self.covers.remove(id);
        self.folders.remove(id);
        self.extras.remove(id);
        self.editable.remove(id);
        Ok(())
    }

    /// Fail unless the plugin exists and was added over the API.
    pub fn check_editable(&self, id: &str) -> ServiceResult<()> {
        self.require(id)?;
        if self.is_editable(id) {
            Ok(())
        } else {
            Err(ServiceError::new(ErrorKind::Forbidden, format!("Plugin with id '{id}' is static, so updating it is not allowed")).with_field("plugin_id"))
        }
    }

    /// Load every plugin under `dir`, at any depth; returns one `file: reason` line per thing skipped.
    pub fn load_dir(&mut self, dir: &Path) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = std::fs::read_dir(dir) {
            return vec![format!("{}: cannot read the plugin directory: {e}", dir.display())];
        }
        self.walk(dir, 0, &mut problems);
        for problem in &problems {
            tracing::warn!("skipping plugin: {problem}");
        }
        problems
    }

    fn walk(&mut self, folder: &Path, depth: usize, problems: &mut Vec<String>) {
        if depth > MAX_DEPTH {
            problems.push(format!("{}: deeper than {MAX_DEPTH} folders below the plugin directory, not searched", folder.display()));
            return;
        }
        self.load_folder(folder, problems);
        let mut children: Vec<_> = match std::fs::read_dir(folder) {
            Ok(entries) => entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.') && e.file_name() != "__pycache__")
                .map(|e| e.path())
                .collect(),
            Err(e) => {
                problems.push(format!("{}: cannot read the folder: {e}", folder.display()));
                return;
            }
        };
        children.sort();
        for child in children {
            self.walk(&child, depth + 1, problems);
        }
    }

    /// Load the boefje and/or the normalizer of one folder.
    fn load_folder(&mut self, folder: &Path, problems: &mut Vec<String>) {
        let named = |name: &str| folder.join(name).display().to_string();
        let read = |name: &str| -> Result<Option<String>, String> {
            match std::fs::read_to_string(folder.join(name)) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", named(name))),
            }
        };
        let boefje = (|| -> Result<(), String> {
            let Some(text) = read("boefje.json")? else { return Ok(()) };
            let manifest = BoefjeManifest::parse(&named("boefje.json"), &text).map_err(|e| e.to_string())?;
            let extras = parse_extras(&named("boefje.json"), &text)?;
            let schema = read("schema.json")?.map(|t| SettingsSchema::parse(&named("schema.json"), &t)).transpose().map_err(|e| e.to_string())?;
            let id = manifest.id.clone();
            self.add_static_boefje(manifest, schema, extras).map_err(|e| format!("{}: {e}", named("boefje.json")))?;
            self.folders.insert(id.clone(), folder.to_path_buf());
            if let Some(text) = read("description.md")? {
                self.descriptions.insert(id.clone(), text);
            }
            if let Ok(cover) = std::fs::read(folder.join("cover.jpg")) {
                self.covers.insert(id, cover);
            }
            Ok(())
        })();
        let normalizer = (|| -> Result<(), String> {
            let Some(text) = read("normalizer.json")? else { return Ok(()) };
            let manifest = NormalizerManifest::parse(&named("normalizer.json"), &text).map_err(|e| e.to_string())?;
            let extras = parse_extras(&named("normalizer.json"), &text)?;
            let id = manifest.id.clone();
            self.add_static_normalizer(manifest, extras).map_err(|e| format!("{}: {e}", named("normalizer.json")))?;
            self.folders.insert(id.clone(), folder.to_path_buf());
            if let Ok(cover) = std::fs::read(folder.join("normalizer_cover.jpg")) {
                self.covers.insert(id, cover);
            }
            Ok(())
        })();
        problems.extend([boefje, normalizer].into_iter().filter_map(Result::err));
    }
}

/// The name OpenKAT shows: the manifest's name, else the id.
pub fn display_name<'a>(name: &'a Option<String>, id: &'a str) -> &'a str {
    name.as_deref().unwrap_or(id)
}

/// The extra fields of a manifest's JSON text; `what` names the file or input for the error.
pub fn parse_extras(what: &str, text: &str) -> Result<PluginExtras, String> {
    serde_json::from_str(text).map_err(|e| format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::DEFAULT_COVER;

    /// The default cover is a well-formed baseline JPEG: SOI, tables, a 32x32 three-component frame, one scan, EOI.
    #[test]
    fn the_default_cover_is_a_well_formed_jpeg() {
        let jpeg = DEFAULT_COVER;
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "starts with SOI");
        let (mut at, mut markers) = (2, Vec::new());
        loop {
            assert_eq!(jpeg[at], 0xFF, "a marker at {at}");
            let marker = jpeg[at + 1];
            markers.push(marker);
            if marker == 0xD9 {
                assert_eq!(at + 2, jpeg.len(), "EOI ends the file");
                break;
            }
            let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
            if marker == 0xC0 {
                assert_eq!(&jpeg[at + 4..at + 10], &[8, 0, 32, 0, 32, 3], "8-bit, 32x32, three components");
            }
            at += 2 + length;
            if marker == 0xDA {
                // Entropy-coded data: every 0xFF is stuffed with 0x00 until the next marker.
                while !(jpeg[at] == 0xFF && jpeg[at + 1] != 0x00) {
                    at += if jpeg[at] == 0xFF { 2 } else { 1 };
                }
            }
        }
        assert_eq!(markers, [0xE0, 0xDB, 0xC0, 0xC4, 0xDA, 0xD9]);
    }
}
