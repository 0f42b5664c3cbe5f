//! The KATalogus database: organisations, enablement and encrypted
//! settings, on SQLite or PostgreSQL through one `sqlx::AnyPool` (ids and
//! JSON as text, flags as integers, `$n` placeholders, so one set of
//! queries serves both; each backend has its own migrations).
//!
//! The database is opened with `kat_server::db::open` (a corrupt SQLite file
//! fails at once, a PostgreSQL that is starting is waited for, requests wait
//! at most 3 s for a connection), and every database error reaches callers
//! through `kat_server::db::db_error`, so no database text is ever answered.
//!
//! Enablement follows OpenKAT: per organisation, boefjes are off and
//! normalizers are on until the organisation says otherwise
//! ([`LocalKatalogus::set_enabled`]).
//!
//! - [`organisations`]: creating, upserting, reading and deleting organisations;
//! - [`plugins`]: plugins added, edited and deleted over the API;
//! - [`configs`]: OpenKAT's boefje configs (`GET /v1/configs`) and cloning an organisation's configuration.

pub mod configs;
pub mod organisations;
pub mod plugins;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use kat_core::crypto::Middleware;
use kat_core::env_rules::{check_setting_name, convert_value};
use kat_core::services::katalogus::{BoefjePlugin, Katalogus, NormalizerPlugin};
use kat_core::services::{ServiceError, ServiceResult};
use serde_json::{Map, Value};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

pub use organisations::Organisation;

use crate::repository::{PluginExtras, PluginKind, PluginRepository};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long `connect` waits for a PostgreSQL server that refuses connections.
pub const DEFAULT_DB_WAIT: Duration = Duration::from_secs(60);

/// The KATalogus on a database.
pub struct LocalKatalogus {
    pool: AnyPool,
    repository: RwLock<PluginRepository>,
    crypto: Arc<Middleware>,
    /// On a SQLite file: the connection a job's settings are read through on the caller's thread (every task
    /// a runner starts reads them once).
    reader: Option<kat_server::sqlite::Reader>,
}

/// Every database error becomes a generic message (the details go to the log).
pub(crate) fn db(e: sqlx::Error) -> ServiceError {
    kat_server::db::db_error("katalogus")(e)
}

impl LocalKatalogus {
    /// Open (creating when missing) a SQLite file, with settings stored as plain JSON.
    pub async fn open(path: &std::path::Path, repository: PluginRepository) -> ServiceResult<LocalKatalogus> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display()), repository, Arc::new(Middleware::Identity)).await
    }

    /// Connect to `sqlite://...` or `postgres://...`, run the migrations, and store settings through `crypto`.
    pub async fn connect(url: &str, repository: PluginRepository, crypto: Arc<Middleware>) -> ServiceResult<LocalKatalogus> {
        Self::connect_with(url, repository, crypto, DEFAULT_DB_WAIT).await
    }

    /// As `connect`, waiting up to `wait` for a PostgreSQL server that refuses connections.
    pub async fn connect_with(url: &str, repository: PluginRepository, crypto: Arc<Middleware>, wait: Duration) -> ServiceResult<LocalKatalogus> {
        let spec = kat_server::db::DbSpec { what: "katalogus", variable: crate::config::ENV_DB_URI, sqlite: &SQLITE, postgres: &POSTGRES, wait, durability: kat_server::db::Durability::Full, scrub_deleted: true };
        let opened = kat_server::db::open(url, spec).await?;
        let reader = match kat_server::db::sqlite_file(url).filter(|_| !opened.postgres) {
            Some(file) => Some(kat_server::sqlite::Reader::open(&file, "katalogus")?),
            None => None,
        };
        let katalogus = LocalKatalogus { pool: opened.pool, repository: RwLock::new(repository), crypto, reader };
        katalogus.load_stored_plugins().await?;
        Ok(katalogus)
    }

    /// Whether the database answers (for `/health`).
    pub async fn database_is_up(&self) -> bool {
        kat_server::db::ping(&self.pool).await
    }

    /// Whether the plugin was added over the API (and so may be edited).
    pub fn is_editable(&self, id: &str) -> bool {
        self.plugins().is_editable(id)
    }

    /// A plugin's `description.md`, if it has one.
    pub fn description(&self, id: &str) -> Option<String> {
        self.plugins().description(id).map(String::from)
    }

    /// A plugin's cover: its own, else the default cover.
    pub fn cover(&self, id: &str) -> Vec<u8> {
        self.plugins().cover(id).unwrap_or(crate::repository::DEFAULT_COVER).to_vec()
    }

    /// Close the database and wait until every connection is closed (on SQLite the last one checkpoints its
    /// write-ahead log into the database file).
    pub async fn close(&self) {
        if let Some(reader) = &self.reader {
            reader.close();
        }
        self.pool.close().await;
    }

    /// A plugin's extra fields (`version`, `created`, `run_on`, `deduplicate`).
    pub fn extras(&self, id: &str) -> PluginExtras {
        self.plugins().extras(id)
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

    /// Whether `id` is a boefje or a normalizer, if it exists.
    pub fn plugin_kind(&self, id: &str) -> Option<PluginKind> {
        self.plugins().kind(id)
    }

    /// Enable or disable a plugin for an organisation. `kat scan` calls this for the boefjes it runs,
    /// since boefjes are off by default.
    pub async fn set_enabled(&self, organisation: &str, plugin_id: &str, enabled: bool) -> ServiceResult<()> {
        self.require_plugin(plugin_id)?;
        self.organisation(organisation).await?;
        sqlx::query("INSERT INTO plugin_states (organisation, plugin_id, enabled) VALUES ($1, $2, $3) ON CONFLICT (organisation, plugin_id) DO UPDATE SET enabled = excluded.enabled")
            .bind(organisation)
            .bind(plugin_id)
            .bind(i64::from(enabled))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Check a whole settings set for `plugin_id`: names, schema keys, text, types, then the schema itself.
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
            match value {
                Value::String(text) => kat_core::ids::check_text(text, key)?,
                Value::Number(_) | Value::Bool(_) => {}
                _ => return Err(ServiceError::invalid(format!("setting {key}: a value must be a string, number or boolean")).with_field(key.clone())),
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
        self.organisation(organisation).await?;
        self.require_plugin(plugin_id)?;
        let checked = self.check_settings(plugin_id, settings)?;
        let blob = self.crypto.encrypt(&Value::Object(checked).to_string()).map_err(|e| ServiceError::internal(e.to_string()))?;
        sqlx::query("INSERT INTO settings (organisation, plugin_id, body) VALUES ($1, $2, $3) ON CONFLICT (organisation, plugin_id) DO UPDATE SET body = excluded.body")
            .bind(organisation)
            .bind(plugin_id)
            .bind(blob)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Remove an organisation's settings of a plugin (absent settings are not an error).
    pub async fn delete_settings(&self, organisation: &str, plugin_id: &str) -> ServiceResult<()> {
        self.require_plugin(plugin_id)?;
        self.organisation(organisation).await?;
        sqlx::query("DELETE FROM settings WHERE organisation = $1 AND plugin_id = $2").bind(organisation).bind(plugin_id).execute(&self.pool).await.map_err(db)?;
        Ok(())
    }

    /// Decrypt a stored settings blob.
    fn open_settings(&self, organisation: &str, plugin_id: &str, blob: &str) -> ServiceResult<Map<String, Value>> {
        let plain = self.crypto.decrypt(blob).map_err(|e| ServiceError::internal(format!("settings of {plugin_id} for {organisation}: {e}")))?;
        match serde_json::from_str(&plain) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ServiceError::internal(format!("stored settings of {plugin_id} for {organisation} are corrupt"))),
        }
    }

    /// Encrypt settings that were stored as plain JSON (by an `IDENTITY` store, such as the embedded KATalogus of
    /// earlier versions) with this store's middleware; returns how many rows changed. A no-op under `IDENTITY`.
    pub async fn encrypt_plaintext_settings(&self) -> ServiceResult<usize> {
        if matches!(self.crypto.as_ref(), Middleware::Identity) {
            return Ok(0);
        }
        let rows = sqlx::query("SELECT organisation, plugin_id, body FROM settings").fetch_all(&self.pool).await.map_err(db)?;
        let mut changed = 0;
        for row in rows {
            let (organisation, plugin_id, body): (String, String, String) = (row.get(0), row.get(1), row.get(2));
            if !matches!(serde_json::from_str::<Value>(&body), Ok(Value::Object(_))) {
                continue;
            }
            let blob = self.crypto.encrypt(&body).map_err(|e| ServiceError::internal(e.to_string()))?;
            sqlx::query("UPDATE settings SET body = $3 WHERE organisation = $1 AND plugin_id = $2 AND body = $4")
                .bind(&organisation)
                .bind(&plugin_id)
                .bind(blob)
                .bind(&body)
                .execute(&self.pool)
                .await
                .map_err(db)?;
            changed += 1;
        }
        Ok(changed)
    }

    /// The organisation's explicit enable/disable choices (plugins without one follow OpenKAT's default).
    pub async fn plugin_states(&self, organisation: &str) -> ServiceResult<Vec<(String, bool)>> {
        self.enabled_overrides(organisation).await
    }

    async fn enabled_overrides(&self, organisation: &str) -> ServiceResult<Vec<(String, bool)>> {
        let rows = sqlx::query("SELECT plugin_id, enabled FROM plugin_states WHERE organisation = $1").bind(organisation).fetch_all(&self.pool).await.map_err(db)?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) != 0)).collect())
    }
}

/// Whether a plugin is enabled for an organisation: its explicit choice, else OpenKAT's default (boefjes off, normalizers on).
fn enabled(overrides: &[(String, bool)], id: &str, kind: PluginKind) -> bool {
    overrides.iter().find(|(p, _)| p == id).map_or(kind == PluginKind::Normalizer, |(_, e)| *e)
}

#[async_trait]
impl Katalogus for LocalKatalogus {
    async fn boefjes(&self, organisation: &str) -> ServiceResult<Vec<BoefjePlugin>> {
        let overrides = self.enabled_overrides(organisation).await?;
        let plugins = self.plugins();
        let boefje = |(m, s): &(kat_core::plugin::BoefjeManifest, Option<kat_core::plugin::SettingsSchema>)| {
            // `run_on` is kept with the plugin's other OpenKAT extras; the scheduler reads it from the manifest.
            let mut manifest = m.clone();
            manifest.run_on = plugins.extras(&m.id).run_on.unwrap_or_default().into_iter().map(|r| r.as_str().to_string()).collect();
            BoefjePlugin { enabled: enabled(&overrides, &m.id, PluginKind::Boefje), manifest, schema: s.clone() }
        };
        Ok(plugins.boefjes().iter().map(boefje).collect())
    }

    async fn normalizers(&self, organisation: &str) -> ServiceResult<Vec<NormalizerPlugin>> {
        let overrides = self.enabled_overrides(organisation).await?;
        Ok(self.plugins().normalizers().iter().map(|m| NormalizerPlugin { enabled: enabled(&overrides, &m.id, PluginKind::Normalizer), manifest: m.clone() }).collect())
    }

    async fn settings(&self, organisation: &str, plugin_id: &str) -> ServiceResult<Map<String, Value>> {
        const SQL: &str = "SELECT body FROM settings WHERE organisation = $1 AND plugin_id = $2";
        let body = match &self.reader {
            Some(reader) => reader.optional_text(SQL, &[organisation, plugin_id])?,
            None => sqlx::query(SQL).bind(organisation).bind(plugin_id).fetch_optional(&self.pool).await.map_err(db)?.map(|row| row.get::<String, _>(0)),
        };
        match body {
            Some(body) => self.open_settings(organisation, plugin_id, &body),
            None => Ok(Map::new()),
        }
    }

    async fn shares_tasks(&self, organisation: &str, boefje_id: &str) -> ServiceResult<bool> {
        if !self.extras(boefje_id).deduplicate {
            return Ok(false);
        }
        let organisations = self.organisations().await?;
        let sharing = |o: &&crate::store::organisations::Organisation| o.deduplicate;
        Ok(organisations.iter().filter(sharing).any(|o| o.id == organisation) && organisations.iter().filter(sharing).any(|o| o.id != organisation))
    }
}
