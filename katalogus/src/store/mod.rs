//! The KATalogus database: organisations, enablement and encrypted
//! settings, on SQLite or PostgreSQL through one `sqlx::AnyPool` (ids and
//! JSON as text, flags as integers, `$n` placeholders, so one set of
//! queries serves both; each backend has its own migrations).

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use kat_core::crypto::Middleware;
use kat_core::env_rules::{check_setting_name, convert_value};
use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_core::services::katalogus::{BoefjePlugin, Katalogus, NormalizerPlugin};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ErrorKind;
use serde_json::{Map, Value};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor, Row};

use crate::repository::PluginRepository;

/// The KATalogus on a database.
pub struct LocalKatalogus {
    pool: AnyPool,
    repository: RwLock<PluginRepository>,
    crypto: Arc<Middleware>,
}

fn db_error(e: sqlx::Error) -> ServiceError {
    ServiceError::unavailable(format!("katalogus database: {e}"))
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Organisation {
    /// Short code, e.g. `_dev`.
    pub id: String,
    /// Display name.
    pub name: String,
}

impl LocalKatalogus {
    /// Open (creating when missing) a SQLite file, with settings stored as plain JSON.
    pub async fn open(path: &std::path::Path, repository: PluginRepository) -> ServiceResult<LocalKatalogus> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display()), repository, Arc::new(Middleware::Identity)).await
    }

    /// Connect to `sqlite://...` or `postgres://...`, run the migrations, and store settings through `crypto`.
    pub async fn connect(url: &str, repository: PluginRepository, crypto: Arc<Middleware>) -> ServiceResult<LocalKatalogus> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if !sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err(ServiceError::invalid("KATALOGUS_DB_URI must start with sqlite:// or postgres://").with_field("KATALOGUS_DB_URI"));
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        conn.execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| ServiceError::unavailable(format!("cannot open the katalogus database: {e}")))?;
        let migrated = if sqlite { sqlx::migrate!("./migrations/sqlite").run(&pool).await } else { sqlx::migrate!("./migrations/postgres").run(&pool).await };
        migrated.map_err(|e| ServiceError::unavailable(format!("migrating the katalogus database: {e}")))?;
        let katalogus = LocalKatalogus { pool, repository: RwLock::new(repository), crypto };
        katalogus.load_stored_plugins().await?;
        Ok(katalogus)
    }

    /// Whether the plugin was added over the API (and so may be edited).
    pub fn is_editable(&self, id: &str) -> bool {
        self.plugins().is_editable(id)
    }

    /// A plugin's `description.md`, if it has one.
    pub fn description(&self, id: &str) -> Option<String> {
        self.plugins().description(id).map(String::from)
    }

    /// A plugin's `cover.jpg`, if it has one.
    pub fn cover(&self, id: &str) -> Option<Vec<u8>> {
        self.plugins().cover(id).map(<[u8]>::to_vec)
    }

    fn plugins(&self) -> std::sync::RwLockReadGuard<'_, PluginRepository> {
        self.repository.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn plugins_mut(&self) -> std::sync::RwLockWriteGuard<'_, PluginRepository> {
        self.repository.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fail with "not found" unless the plugin exists.
    pub fn require_plugin(&self, id: &str) -> ServiceResult<()> {
        self.plugins().require(id)
    }

    async fn load_stored_plugins(&self) -> ServiceResult<()> {
        let rows = sqlx::query("SELECT id, plugin_type, manifest, schema_json FROM plugins ORDER BY id").fetch_all(&self.pool).await.map_err(db_error)?;
        for row in rows {
            let (id, kind, manifest, schema): (String, String, String, Option<String>) = (row.get(0), row.get(1), row.get(2), row.get(3));
            let added = match kind.as_str() {
                "boefje" => parse_boefje(&manifest, schema.as_deref()).and_then(|(m, s)| self.plugins_mut().add_boefje(m, s, true)),
                _ => NormalizerManifest::parse(&id, &manifest).map_err(ServiceError::from).and_then(|m| self.plugins_mut().add_normalizer(m, true)),
            };
            if let Err(e) = added {
                tracing::warn!(plugin = %id, "stored plugin skipped: {e}");
            }
        }
        Ok(())
    }

    /// Add a plugin from OpenKAT's plugin JSON (`"type": "boefje"` or `"normalizer"`); it is stored and editable.
    pub async fn add_plugin(&self, plugin: &Value) -> ServiceResult<()> {
        let kind = plugin["type"].as_str().unwrap_or_default();
        let schema = plugin.get("boefje_schema").filter(|v| !v.is_null()).map(Value::to_string);
        let manifest = strip_api_fields(plugin);
        match kind {
            "boefje" => {
                let (m, s) = parse_boefje(&manifest, schema.as_deref())?;
                self.plugins().check_new(&m.id)?;
                self.store_plugin(&m.id, kind, &manifest, schema.as_deref()).await?;
                self.plugins_mut().add_boefje(m, s, true)
            }
            "normalizer" => {
                let m = NormalizerManifest::parse("plugin", &manifest)?;
                self.plugins().check_new(&m.id)?;
                self.store_plugin(&m.id, kind, &manifest, None).await?;
                self.plugins_mut().add_normalizer(m, true)
            }
            _ => Err(ServiceError::invalid("type must be boefje or normalizer").with_field("type")),
        }
    }

    /// Change fields of a plugin added over the API; `kind` is `boefje` or `normalizer`.
    pub async fn edit_plugin(&self, kind: &str, id: &str, changes: &Map<String, Value>) -> ServiceResult<()> {
        let current = {
            let plugins = self.plugins();
            match kind {
                "boefje" => plugins.boefje(id).map(|(m, _)| serde_json::to_value(m)),
                _ => plugins.normalizers().iter().find(|m| m.id == id).map(serde_json::to_value),
            }
        };
        let Some(Ok(Value::Object(mut fields))) = current else { return Err(ServiceError::not_found(format!("no {kind} {id:?}"))) };
        for (key, value) in changes {
            if key == "id" && value != id {
                return Err(ServiceError::invalid("a plugin's id cannot change").with_field("id"));
            }
            fields.insert(key.clone(), value.clone());
        }
        let manifest = Value::Object(fields).to_string();
        if kind == "boefje" {
            let m = BoefjeManifest::parse("plugin", &manifest)?;
            self.update_stored_manifest(id, &manifest).await?;
            self.plugins_mut().replace_boefje(m)
        } else {
            let m = NormalizerManifest::parse("plugin", &manifest)?;
            self.update_stored_manifest(id, &manifest).await?;
            self.plugins_mut().replace_normalizer(m)
        }
    }

    /// Store an edited manifest, after checking that the plugin may be edited.
    async fn update_stored_manifest(&self, id: &str, manifest: &str) -> ServiceResult<()> {
        self.plugins().check_editable(id)?;
        sqlx::query("UPDATE plugins SET manifest = $2 WHERE id = $1").bind(id).bind(manifest).execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }

    async fn store_plugin(&self, id: &str, kind: &str, manifest: &str, schema: Option<&str>) -> ServiceResult<()> {
        let done = sqlx::query("INSERT INTO plugins (id, plugin_type, manifest, schema_json) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING")
            .bind(id)
            .bind(kind)
            .bind(manifest)
            .bind(schema)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(ServiceError::new(ErrorKind::Conflict, format!("a plugin with id {id:?} already exists")).with_field("id"));
        }
        Ok(())
    }

    /// Every organisation, by id.
    pub async fn organisations(&self) -> ServiceResult<Vec<Organisation>> {
        let rows = sqlx::query("SELECT id, name FROM organisations ORDER BY id").fetch_all(&self.pool).await.map_err(db_error)?;
        Ok(rows.iter().map(|r| Organisation { id: r.get(0), name: r.get(1) }).collect())
    }

    /// One organisation.
    pub async fn organisation(&self, id: &str) -> ServiceResult<Organisation> {
        let row = sqlx::query("SELECT id, name FROM organisations WHERE id = $1").bind(id).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.map(|r| Organisation { id: r.get(0), name: r.get(1) }).ok_or_else(|| ServiceError::not_found(format!("no organisation {id:?}")))
    }

    /// Create an organisation; an existing id is a conflict.
    pub async fn create_organisation(&self, org: &Organisation) -> ServiceResult<()> {
        check_organisation_id(&org.id)?;
        let done = sqlx::query("INSERT INTO organisations (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING").bind(&org.id).bind(&org.name).execute(&self.pool).await.map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(ServiceError::new(ErrorKind::Conflict, format!("organisation {:?} already exists", org.id)).with_field("id"));
        }
        Ok(())
    }

    /// Create the organisation if it does not exist yet.
    pub async fn ensure_organisation(&self, id: &str, name: &str) -> ServiceResult<()> {
        match self.create_organisation(&Organisation { id: id.to_string(), name: name.to_string() }).await {
            Err(e) if e.kind == ErrorKind::Conflict => Ok(()),
            other => other,
        }
    }

    /// Delete an organisation with its enablement and settings.
    pub async fn delete_organisation(&self, id: &str) -> ServiceResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("DELETE FROM settings WHERE organisation = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
        sqlx::query("DELETE FROM plugin_states WHERE organisation = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
        let done = sqlx::query("DELETE FROM organisations WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(ServiceError::not_found(format!("no organisation {id:?}")));
        }
        tx.commit().await.map_err(db_error)
    }

    /// Enable or disable a plugin for an organisation.
    pub async fn set_enabled(&self, organisation: &str, plugin_id: &str, enabled: bool) -> ServiceResult<()> {
        self.require_plugin(plugin_id)?;
        self.organisation(organisation).await?;
        sqlx::query("INSERT INTO plugin_states (organisation, plugin_id, enabled) VALUES ($1, $2, $3) ON CONFLICT (organisation, plugin_id) DO UPDATE SET enabled = excluded.enabled")
            .bind(organisation)
            .bind(plugin_id)
            .bind(i64::from(enabled))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Check a whole settings set for `plugin_id`: names, schema keys, types, then the schema itself.
    pub fn check_settings(&self, plugin_id: &str, settings: &Map<String, Value>) -> ServiceResult<Map<String, Value>> {
        let schema = self.plugins().boefje(plugin_id).map(|(_, s)| s.clone()).ok_or_else(|| ServiceError::not_found(format!("no boefje {plugin_id:?}: only boefjes take settings")))?;
        let mut checked = Map::new();
        for (key, value) in settings {
            check_setting_name(key)?;
            let Some(schema) = schema.as_ref() else {
                return Err(ServiceError::invalid(format!("setting {key}: boefje {plugin_id} has no schema.json, so it takes no settings")).with_field(key.clone()));
            };
            if !schema.keys().contains(&key.as_str()) {
                return Err(ServiceError::invalid(format!("setting {key}: not a property of {plugin_id}'s schema.json")).with_field(key.clone()));
            }
            if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                return Err(ServiceError::invalid(format!("setting {key}: a value must be a string, number or boolean")).with_field(key.clone()));
            }
            checked.insert(key.clone(), convert_value(schema, key, value)?);
        }
        if let Some(schema) = &schema {
            kat_core::schema_check::validate_settings(schema, &checked)?;
        }
        Ok(checked)
    }

    /// Replace an organisation's settings of a plugin, after checking every name and value.
    pub async fn put_settings(&self, organisation: &str, plugin_id: &str, settings: &Map<String, Value>) -> ServiceResult<()> {
        let checked = self.check_settings(plugin_id, settings)?;
        self.organisation(organisation).await?;
        let blob = self.crypto.encrypt(&Value::Object(checked).to_string()).map_err(|e| ServiceError::internal(e.to_string()))?;
        sqlx::query("INSERT INTO settings (organisation, plugin_id, body) VALUES ($1, $2, $3) ON CONFLICT (organisation, plugin_id) DO UPDATE SET body = excluded.body")
            .bind(organisation)
            .bind(plugin_id)
            .bind(blob)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Remove an organisation's settings of a plugin (absent settings are not an error).
    pub async fn delete_settings(&self, organisation: &str, plugin_id: &str) -> ServiceResult<()> {
        self.require_plugin(plugin_id)?;
        self.organisation(organisation).await?;
        sqlx::query("DELETE FROM settings WHERE organisation = $1 AND plugin_id = $2").bind(organisation).bind(plugin_id).execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }

    /// Copy every setting and enablement of `from` to `to`, replacing `to`'s.
    pub async fn clone_settings(&self, from: &str, to: &str) -> ServiceResult<()> {
        self.organisation(from).await?;
        self.organisation(to).await?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        for table in [CLONE_SETTINGS, CLONE_STATES] {
            let (delete, insert) = table;
            sqlx::query(delete).bind(to).execute(&mut *tx).await.map_err(db_error)?;
            sqlx::query(insert).bind(from).bind(to).execute(&mut *tx).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    async fn enabled_overrides(&self, organisation: &str) -> ServiceResult<Vec<(String, bool)>> {
        let rows = sqlx::query("SELECT plugin_id, enabled FROM plugin_states WHERE organisation = $1").bind(organisation).fetch_all(&self.pool).await.map_err(db_error)?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) != 0)).collect())
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
}

/// The manifest fields of OpenKAT's plugin JSON (the API adds `type`, `enabled`, ... which manifests do not hold).
fn strip_api_fields(plugin: &Value) -> String {
    let mut fields = plugin.as_object().cloned().unwrap_or_default();
    for key in ["type", "enabled", "boefje_schema", "static", "version", "created", "related", "environment_keys", "run_on"] {
        fields.remove(key);
    }
    Value::Object(fields).to_string()
}

fn parse_boefje(manifest: &str, schema: Option<&str>) -> ServiceResult<(BoefjeManifest, Option<SettingsSchema>)> {
    let m = BoefjeManifest::parse("plugin", manifest)?;
    let s = schema.map(|s| SettingsSchema::parse("boefje_schema", s)).transpose()?;
    Ok((m, s))
}

const CLONE_SETTINGS: (&str, &str) = ("DELETE FROM settings WHERE organisation = $1", "INSERT INTO settings (organisation, plugin_id, body) SELECT $2, plugin_id, body FROM settings WHERE organisation = $1");
const CLONE_STATES: (&str, &str) = ("DELETE FROM plugin_states WHERE organisation = $1", "INSERT INTO plugin_states (organisation, plugin_id, enabled) SELECT $2, plugin_id, enabled FROM plugin_states WHERE organisation = $1");

/// Organisation ids are short codes: letters, digits, `-` and `_`.
fn check_organisation_id(id: &str) -> ServiceResult<()> {
    let ok = !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(ServiceError::invalid(format!("organisation id {id:?}: use 1 to 32 letters, digits, '-' or '_'")).with_field("id")) }
}

#[async_trait]
impl Katalogus for LocalKatalogus {
    async fn boefjes(&self, organisation: &str) -> ServiceResult<Vec<BoefjePlugin>> {
        let overrides = self.enabled_overrides(organisation).await?;
        let enabled = |id: &str| overrides.iter().find(|(p, _)| p == id).is_none_or(|(_, e)| *e);
        Ok(self.plugins().boefjes().iter().map(|(m, s)| BoefjePlugin { enabled: enabled(&m.id), manifest: m.clone(), schema: s.clone() }).collect())
    }

    async fn normalizers(&self, organisation: &str) -> ServiceResult<Vec<NormalizerPlugin>> {
        let overrides = self.enabled_overrides(organisation).await?;
        let enabled = |id: &str| overrides.iter().find(|(p, _)| p == id).is_none_or(|(_, e)| *e);
        Ok(self.plugins().normalizers().iter().map(|m| NormalizerPlugin { enabled: enabled(&m.id), manifest: m.clone() }).collect())
    }

    async fn settings(&self, organisation: &str, plugin_id: &str) -> ServiceResult<Map<String, Value>> {
        let row = sqlx::query("SELECT body FROM settings WHERE organisation = $1 AND plugin_id = $2").bind(organisation).bind(plugin_id).fetch_optional(&self.pool).await.map_err(db_error)?;
        let Some(row) = row else { return Ok(Map::new()) };
        let plain = self.crypto.decrypt(row.get::<&str, _>(0)).map_err(|e| ServiceError::internal(format!("settings of {plugin_id} for {organisation}: {e}")))?;
        match serde_json::from_str(&plain) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ServiceError::internal(format!("stored settings of {plugin_id} for {organisation} are corrupt"))),
        }
    }
}
