//! Scan profiles (secator's profiles): a named set of boefjes with settings,
//! applied to an organisation by `kat scan --profile NAME`. Three ship with
//! `kat` (`quick`, `full`, `web`, the files in `tools/profiles/`); a user adds
//! their own, or replaces a shipped one, as `profiles/NAME.json` in
//! `KATALOGUS_PLUGIN_DIR`:
//!
//! ```json
//! {"name": "NAME", "description": "...", "boefjes": ["dns-records", ...],
//!  "settings": {"port-scan": {"PORTS": "80,443"}}}
//! ```
//!
//! Applying one enables exactly its boefjes for the organisation (the others
//! are disabled) and sets the settings it names, keeping the organisation's
//! other settings; like any KATalogus change it lasts beyond the scan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use kat_core::services::katalogus::Katalogus;
use kat_katalogus::LocalKatalogus;

/// The profiles that ship with `kat`, as (name, file text).
const SHIPPED: [(&str, &str); 3] = [("quick", include_str!("../profiles/quick.json")), ("full", include_str!("../profiles/full.json")), ("web", include_str!("../profiles/web.json"))];

/// A scan profile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Its name, as `--profile` takes it.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The boefjes it enables (every other one is disabled).
    pub boefjes: Vec<String>,
    /// Settings per plugin id.
    #[serde(default)]
    pub settings: BTreeMap<String, Map<String, Value>>,
}

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No profile has that name.
    #[error("unknown profile {name:?}; known: {}", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: Vec<String>,
    },
    /// A profile file cannot be read or parsed.
    #[error("profile {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The profile names a plugin that does not exist, or settings the KATalogus refuses.
    #[error("profile {name}: {reason}")]
    Refused {
        /// The profile.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// The folder of user profiles in a plugin directory.
pub fn user_dir(plugin_dir: &Path) -> PathBuf {
    plugin_dir.join("profiles")
}

/// Every profile by name: the shipped ones, then the user's from `plugin_dir` (which replace shipped ones of the
/// same name).
pub fn all(plugin_dir: Option<&Path>) -> Result<BTreeMap<String, Profile>, ProfileError> {
    let mut profiles = BTreeMap::new();
    for (name, text) in SHIPPED {
        profiles.insert(name.to_string(), parse(&format!("(shipped) {name}.json"), text)?);
    }
    let Some(dir) = plugin_dir.map(user_dir).filter(|d| d.is_dir()) else { return Ok(profiles) };
    let entries = std::fs::read_dir(&dir).map_err(|e| ProfileError::Invalid { path: dir.display().to_string(), reason: e.to_string() })?;
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    files.sort();
    for path in files {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| ProfileError::Invalid { path: shown.clone(), reason: e.to_string() })?;
        let profile = parse(&shown, &text)?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if profile.name != stem {
            return Err(ProfileError::Invalid { path: shown, reason: format!("its name {:?} is not its file name {stem:?}", profile.name) });
        }
        profiles.insert(profile.name.clone(), profile);
    }
    Ok(profiles)
}

fn parse(path: &str, text: &str) -> Result<Profile, ProfileError> {
    serde_json::from_str(text).map_err(|e| ProfileError::Invalid { path: path.to_string(), reason: e.to_string() })
}

/// The profile called `name`.
pub fn find(name: &str, plugin_dir: Option<&Path>) -> Result<Profile, ProfileError> {
    let mut profiles = all(plugin_dir)?;
    profiles.remove(name).ok_or_else(|| ProfileError::Unknown { name: name.to_string(), known: profiles.into_keys().collect() })
}

/// What applying a profile changed, for the scan to say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Boefjes now enabled.
    pub enabled: Vec<String>,
    /// Boefjes now disabled.
    pub disabled: Vec<String>,
}

/// Enable exactly `profile`'s boefjes for `organisation` and set its settings (checked by the KATalogus against
/// each plugin's schema), keeping the organisation's other settings.
pub async fn apply(katalogus: &LocalKatalogus, organisation: &str, profile: &Profile) -> Result<Applied, ProfileError> {
    let refused = |reason: String| ProfileError::Refused { name: profile.name.clone(), reason };
    let boefjes = katalogus.boefjes(organisation).await.map_err(|e| refused(e.to_string()))?;
    let known: Vec<&str> = boefjes.iter().map(|b| b.manifest.id.as_str()).collect();
    if let Some(unknown) = profile.boefjes.iter().find(|b| !known.contains(&b.as_str())) {
        return Err(refused(format!("unknown boefje {unknown:?}; known: {}", known.join(", "))));
    }
    for (plugin, values) in &profile.settings {
        let mut settings = katalogus.settings(organisation, plugin).await.map_err(|e| refused(format!("settings of {plugin}: {e}")))?;
        settings.extend(values.clone());
        katalogus.put_settings(organisation, plugin, &settings).await.map_err(|e| refused(format!("settings of {plugin}: {e}")))?;
    }
    let mut applied = Applied::default();
    for boefje in &boefjes {
        let id = &boefje.manifest.id;
        let wanted = profile.boefjes.contains(id);
        katalogus.set_enabled(organisation, id, wanted).await.map_err(|e| refused(e.to_string()))?;
        if wanted {
            applied.enabled.push(id.clone());
        } else {
            applied.disabled.push(id.clone());
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_profiles_parse_and_user_profiles_replace_them() {
        let shipped = all(None).expect("shipped profiles parse");
        assert_eq!(shipped.keys().collect::<Vec<_>>(), ["full", "quick", "web"]);
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(user_dir(dir.path())).expect("profiles dir");
        std::fs::write(user_dir(dir.path()).join("web.json"), r#"{"name": "web", "boefjes": ["dns-records"]}"#).expect("write");
        std::fs::write(user_dir(dir.path()).join("mine.json"), r#"{"name": "mine", "boefjes": []}"#).expect("write");
        let profiles = all(Some(dir.path())).expect("profiles");
        assert_eq!(profiles.keys().collect::<Vec<_>>(), ["full", "mine", "quick", "web"]);
        assert_eq!(profiles["web"].boefjes, ["dns-records"]);
        let err = find("nope", Some(dir.path())).expect_err("unknown");
        assert_eq!(err.to_string(), "unknown profile \"nope\"; known: full, mine, quick, web");
        std::fs::write(user_dir(dir.path()).join("bad.json"), r#"{"name": "other", "boefjes": []}"#).expect("write");
        assert!(all(Some(dir.path())).expect_err("misnamed").to_string().contains("is not its file name"));
        std::fs::write(user_dir(dir.path()).join("bad.json"), r#"{"name": "bad", "boefjes": [], "extra": 1}"#).expect("write");
        assert!(all(Some(dir.path())).expect_err("unknown field").to_string().contains("unknown field"));
    }
}
