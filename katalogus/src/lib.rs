//! `kat-katalogus`: the KATalogus, the catalogue of plugins and of each
//! organisation's plugin enablement and settings.
//!
//! The plugin repository (which plugins exist) is handed in at start-up:
//! the `kat` binary passes the built-in plugins' manifests, so this crate
//! never depends on `kat-plugins`. Enablement and settings live in SQLite.
//! Built-in plugins are enabled by default; an organisation's explicit
//! choice overrides that.
//!
//! Settings are checked on write: every name must pass the job-environment
//! rules (`kat_core::env_rules`), must be a property of the plugin's
//! `schema.json`, its value is converted to the schema's type, and the whole
//! set must validate against the schema (JSON Schema 2020-12).
//!
//! # Layout
//! - [`repository`]: the plugins that exist.
//! - [`LocalKatalogus`]: the in-process implementation of `kat_core::services::katalogus::Katalogus`.

#![forbid(unsafe_code)]

pub mod repository;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use kat_core::env_rules::{check_setting_name, convert_value};
use kat_core::services::katalogus::{BoefjePlugin, Katalogus, NormalizerPlugin};
use kat_core::services::{ServiceError, ServiceResult};
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

pub use repository::PluginRepository;

/// The KATalogus on a local SQLite file.
pub struct LocalKatalogus {
    pool: SqlitePool,
    repository: PluginRepository,
}

fn db_error(e: sqlx::Error) -> ServiceError {
    ServiceError::unavailable(format!("katalogus database: {e}"))
}

impl LocalKatalogus {
    /// Open (creating when missing) the database at `path`, serving the plugins of `repository`.
    pub async fn open(path: &Path, repository: PluginRepository) -> ServiceResult<LocalKatalogus> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(db_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(|e| ServiceError::unavailable(format!("cannot open {}: {e}", path.display())))?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(|e| ServiceError::unavailable(format!("migrating {}: {e}", path.display())))?;
        Ok(LocalKatalogus { pool, repository })
    }

    /// Create the organisation if it does not exist yet.
    pub async fn ensure_organisation(&self, id: &str, name: &str) -> ServiceResult<()> {
        check_organisation_id(id)?;
        sqlx::query("INSERT INTO organisations (id, name) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING").bind(id).bind(name).execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }

    /// Enable or disable a plugin for an organisation.
    pub async fn set_enabled(&self, organisation: &str, plugin_id: &str, enabled: bool) -> ServiceResult<()> {
        self.repository.require(plugin_id)?;
        self.require_organisation(organisation).await?;
        sqlx::query("INSERT INTO plugin_states (organisation, plugin_id, enabled) VALUES (?1, ?2, ?3) ON CONFLICT (organisation, plugin_id) DO UPDATE SET enabled = excluded.enabled")
            .bind(organisation)
            .bind(plugin_id)
            .bind(enabled)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Replace an organisation's settings of a plugin, after checking every name and value.
    pub async fn put_settings(&self, organisation: &str, plugin_id: &str, settings: &Map<String, Value>) -> ServiceResult<()> {
        let schema = &self.repository.boefje(plugin_id).ok_or_else(|| ServiceError::not_found(format!("no boefje {plugin_id:?}: only boefjes take settings")))?.1;
        self.require_organisation(organisation).await?;
        let mut checked = Map::new();
        for (key, value) in settings {
            check_setting_name(key)?;
            let schema = schema.as_ref().ok_or_else(|| ServiceError::invalid(format!("setting {key}: boefje {plugin_id} has no schema.json, so it takes no settings")))?;
            if !schema.keys().contains(&key.as_str()) {
                return Err(ServiceError::invalid(format!("setting {key}: not a property of {plugin_id}'s schema.json")));
            }
            if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                return Err(ServiceError::invalid(format!("setting {key}: a value must be a string, number or boolean")));
            }
            checked.insert(key.clone(), convert_value(schema, key, value)?);
        }
        if let Some(schema) = schema {
            kat_core::schema_check::validate_settings(schema, &checked)?;
        }
        sqlx::query("INSERT INTO settings (organisation, plugin_id, body) VALUES (?1, ?2, ?3) ON CONFLICT (organisation, plugin_id) DO UPDATE SET body = excluded.body")
            .bind(organisation)
            .bind(plugin_id)
            .bind(Value::Object(checked).to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// The ids of the enabled boefjes that consume `object_type` and may run at clearance `level`.
    pub async fn boefjes_for(&self, organisation: &str, object_type: &str, level: kat_core::ScanLevel) -> ServiceResult<Vec<String>> {
        Ok(self
            .boefjes(organisation)
            .await?
            .into_iter()
            .filter(|p| p.enabled && p.manifest.scan_level <= level && p.manifest.consumes.iter().any(|c| c == object_type))
            .map(|p| p.manifest.id)
            .collect())
    }

    async fn require_organisation(&self, id: &str) -> ServiceResult<()> {
        let found = sqlx::query("SELECT 1 FROM organisations WHERE id = ?1").bind(id).fetch_optional(&self.pool).await.map_err(db_error)?;
        found.map(|_| ()).ok_or_else(|| ServiceError::not_found(format!("no organisation {id:?}")))
    }

    async fn enabled_overrides(&self, organisation: &str) -> ServiceResult<Vec<(String, bool)>> {
        let rows = sqlx::query("SELECT plugin_id, enabled FROM plugin_states WHERE organisation = ?1").bind(organisation).fetch_all(&self.pool).await.map_err(db_error)?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<bool, _>(1))).collect())
    }
}

/// Organisation ids are short codes: letters, digits, `-` and `_`.
fn check_organisation_id(id: &str) -> ServiceResult<()> {
    let ok = !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(ServiceError::invalid(format!("organisation id {id:?}: use 1 to 32 letters, digits, '-' or '_'"))) }
}

#[async_trait]
impl Katalogus for LocalKatalogus {
    async fn boefjes(&self, organisation: &str) -> ServiceResult<Vec<BoefjePlugin>> {
        let overrides = self.enabled_overrides(organisation).await?;
        let enabled = |id: &str| overrides.iter().find(|(p, _)| p == id).is_none_or(|(_, e)| *e);
        Ok(self.repository.boefjes().iter().map(|(m, s)| BoefjePlugin { enabled: enabled(&m.id), manifest: m.clone(), schema: s.clone() }).collect())
    }

    async fn normalizers(&self, organisation: &str) -> ServiceResult<Vec<NormalizerPlugin>> {
        let overrides = self.enabled_overrides(organisation).await?;
        let enabled = |id: &str| overrides.iter().find(|(p, _)| p == id).is_none_or(|(_, e)| *e);
        Ok(self.repository.normalizers().iter().map(|m| NormalizerPlugin { enabled: enabled(&m.id), manifest: m.clone() }).collect())
    }

    async fn settings(&self, organisation: &str, plugin_id: &str) -> ServiceResult<Map<String, Value>> {
        let row = sqlx::query("SELECT body FROM settings WHERE organisation = ?1 AND plugin_id = ?2").bind(organisation).bind(plugin_id).fetch_optional(&self.pool).await.map_err(db_error)?;
        match row {
            None => Ok(Map::new()),
            Some(row) => match serde_json::from_str(row.get::<&str, _>(0)) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(ServiceError::internal(format!("stored settings of {plugin_id} for {organisation} are corrupt"))),
            },
        }
    }
}
