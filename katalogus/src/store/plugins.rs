//! Plugins added, edited and deleted over the API, as OpenKAT's
//! `POST .../plugins`, `PATCH .../boefjes/{id}`, `PATCH
//! .../normalizers/{id}` and the `DELETE`s do it.
//!
//! - Adding: the body is OpenKAT's plugin JSON; keys that are not plugin
//!   fields (`enabled`, `static`, `authors`, ...) are ignored. A taken id,
//!   or a name another plugin of the same kind has, is OpenKAT's
//!   "Duplicate plugin: ..." (a `Conflict`, which the API answers with 400).
//!   `boefje_schema` must be a valid JSON Schema whose property names pass
//!   the environment rules, `cron` a valid schedule, `run_on` a list of
//!   `create`/`update` (422 otherwise).
//! - Editing: only the fields OpenKAT lets a PATCH change are applied
//!   (others are ignored); `null` clears a field. Static plugins cannot be
//!   edited: OpenKAT answers 404 until some organisation has enabled or
//!   configured the plugin, then 403 for a boefje and 400 for a normalizer,
//!   and so do we.
//! - Deleting: an added plugin goes with its settings and enablement in
//!   every organisation; a static plugin is refused (403).

use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ErrorKind;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sqlx::Row;

use super::{db, LocalKatalogus};
use crate::repository::{display_name, plugin_not_found, PluginExtras, PluginKind};

/// The fields of a boefje that a `PATCH .../boefjes/{id}` may change.
const BOEFJE_EDITABLE: &[&str] = &["name", "version", "created", "description", "scan_level", "consumes", "produces", "boefje_schema", "cron", "interval", "run_on", "oci_image", "oci_arguments"];
/// The fields of a normalizer that a `PATCH .../normalizers/{id}` may change.
const NORMALIZER_EDITABLE: &[&str] = &["name", "version", "created", "description", "consumes", "produces"];
/// The stored fields of a boefje (the editable ones, its id and `deduplicate`).
const BOEFJE_STORED: &[&str] = &["id", "deduplicate"];

/// Which strict checks a parse applies.
#[derive(Debug, Clone, Copy)]
struct Checks {
    schema: bool,
    cron: bool,
}

/// A plugin as parsed from OpenKAT's JSON.
enum Parsed {
    Boefje(BoefjeManifest, Option<SettingsSchema>, PluginExtras),
    Normalizer(NormalizerManifest, PluginExtras),
}

impl Parsed {
    fn name(&self) -> &str {
        match self {
            Parsed::Boefje(m, _, _) => display_name(&m.name, &m.id),
            Parsed::Normalizer(m, _) => display_name(&m.name, &m.id),
        }
    }
}

/// Deserialize `value`, naming the field at fault.
fn field_parse<T: DeserializeOwned>(value: &Value) -> ServiceResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_string() } else { path };
        ServiceError::invalid(format!("{field}: {}", e.inner())).with_field(field)
    })
}

/// The manifest fields of `body` for `kind` (everything else OpenKAT's JSON carries is dropped).
fn definition(body: &Map<String, Value>, kind: PluginKind) -> Map<String, Value> {
    let (editable, stored): (&[&str], &[&str]) = match kind {
        PluginKind::Boefje => (BOEFJE_EDITABLE, BOEFJE_STORED),
        PluginKind::Normalizer => (NORMALIZER_EDITABLE, &["id"]),
    };
    body.iter().filter(|(k, _)| (editable.contains(&k.as_str()) || stored.contains(&k.as_str())) && k.as_str() != "boefje_schema").map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Parse and check a plugin definition (manifest fields plus `boefje_schema` when it is a boefje).
/// `checks` says which new input gets the strict checks (the schema definition, the cron schedule); stored plugins
/// are loaded as they were accepted, and an edit checks what it changes.
fn parse(kind: PluginKind, fields: &Map<String, Value>, schema: Option<&Value>, checks: Checks) -> ServiceResult<Parsed> {
    let value = Value::Object(fields.clone());
    let extras: PluginExtras = field_parse(&value)?;
    match kind {
        PluginKind::Boefje => {
            let manifest: BoefjeManifest = field_parse(&value)?;
            if let Some(cron) = manifest.cron.as_deref().filter(|_| checks.cron) {
                crate::cron::check(cron)?;
            }
            let schema = match schema {
                None | Some(Value::Null) => None,
                Some(object @ Value::Object(_)) => {
                    let schema = SettingsSchema::parse("boefje_schema", &object.to_string())?;
                    if checks.schema {
                        schema.check_definition().map_err(|e| ServiceError::invalid(e.to_string()).with_field("boefje_schema"))?;
                    }
                    Some(schema)
                }
                Some(_) => return Err(ServiceError::invalid("boefje_schema must be a JSON object (a JSON Schema) or null").with_field("boefje_schema")),
            };
            Ok(Parsed::Boefje(manifest, schema, extras))
        }
        PluginKind::Normalizer => Ok(Parsed::Normalizer(field_parse(&value)?, extras)),
    }
}

/// The manifest text stored for a plugin: its manifest fields and extras.
fn stored_text(manifest: Value, extras: &PluginExtras, kind: PluginKind) -> String {
    let mut fields = manifest.as_object().cloned().unwrap_or_default();
    if let Value::Object(extra) = serde_json::to_value(extras).unwrap_or_default() {
        fields.extend(extra);
    }
    if kind == PluginKind::Normalizer {
        fields.remove("run_on");
        fields.remove("deduplicate");
    }
    Value::Object(fields).to_string()
}

impl LocalKatalogus {
    pub(super) async fn load_stored_plugins(&self) -> ServiceResult<()> {
        let rows = sqlx::query("SELECT id, plugin_type, manifest, schema_json FROM plugins ORDER BY id").fetch_all(&self.pool).await.map_err(db)?;
        for row in rows {
            let (id, kind, manifest, schema): (String, String, String, Option<String>) = (row.get(0), row.get(1), row.get(2), row.get(3));
            let kind = if kind == "boefje" { PluginKind::Boefje } else { PluginKind::Normalizer };
            let loaded = serde_json::from_str::<Map<String, Value>>(&manifest)
                .map_err(|e| ServiceError::internal(format!("stored plugin {id}: {e}")))
                .and_then(|fields| parse(kind, &fields, schema.as_deref().map(serde_json::from_str::<Value>).transpose().ok().flatten().as_ref(), Checks { schema: false, cron: false }));
            let added = loaded.and_then(|parsed| self.remember(parsed));
            if let Err(e) = added {
                tracing::warn!(plugin = %id, "stored plugin skipped: {e}");
            }
        }
        Ok(())
    }

    fn remember(&self, parsed: Parsed) -> ServiceResult<()> {
        match parsed {
            Parsed::Boefje(m, s, x) => self.plugins_mut().add_boefje(m, s, x, true),
            Parsed::Normalizer(m, x) => self.plugins_mut().add_normalizer(m, x, true),
        }
    }

    /// Add a plugin from OpenKAT's plugin JSON (`"type": "boefje"` or `"normalizer"`); it is stored and editable. Returns its id.
    pub async fn add_plugin(&self, plugin: &Value) -> ServiceResult<String> {
        let Some(body) = plugin.as_object() else { return Err(ServiceError::invalid("the plugin must be a JSON object").with_field("body")) };
        if let Some(path) = kat_core::ids::find_nul(plugin) {
            return Err(ServiceError::invalid(format!("{path} must not contain a NUL character")).with_field(path));
        }
        let kind = match body.get("type").and_then(Value::as_str) {
            Some("boefje") => PluginKind::Boefje,
            Some("normalizer") => PluginKind::Normalizer,
            Some("bit") => return Err(ServiceError::new(ErrorKind::Conflict, "Creation of Bits is not supported").with_field("type")),
            _ => return Err(ServiceError::invalid("type must be boefje or normalizer").with_field("type")),
        };
        let fields = definition(body, kind);
        let parsed = parse(kind, &fields, body.get("boefje_schema"), Checks { schema: true, cron: true })?;
        let (id, manifest, schema) = match &parsed {
            Parsed::Boefje(m, s, x) => (m.id.clone(), stored_text(serde_json::to_value(m).unwrap_or_default(), x, kind), s.as_ref().map(|s| s.as_json().to_string())),
            Parsed::Normalizer(m, x) => (m.id.clone(), stored_text(serde_json::to_value(m).unwrap_or_default(), x, kind), None),
        };
        {
            let plugins = self.plugins();
            plugins.check_new_id(&id)?;
            plugins.check_name_free(kind, parsed.name(), None)?;
        }
        let done = sqlx::query("INSERT INTO plugins (id, plugin_type, manifest, schema_json) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING")
            .bind(&id)
            .bind(kind.as_str())
            .bind(manifest)
            .bind(schema)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(crate::repository::duplicate("id"));
        }
        self.remember(parsed)?;
        Ok(id)
    }

    /// Whether any organisation has enabled, disabled or configured the plugin (OpenKAT then holds a database copy of a static plugin).
    pub async fn has_configuration(&self, plugin_id: &str) -> ServiceResult<bool> {
        let row = sqlx::query("SELECT 1 FROM plugin_states WHERE plugin_id = $1 UNION ALL SELECT 1 FROM settings WHERE plugin_id = $2 LIMIT 1")
            .bind(plugin_id)
            .bind(plugin_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(row.is_some())
    }

    /// The plugin of `kind` with `id` and whether it is editable; OpenKAT's 404 otherwise.
    fn lookup(&self, kind: PluginKind, id: &str) -> ServiceResult<bool> {
        let plugins = self.plugins();
        if plugins.kind(id) != Some(kind) {
            return Err(plugin_not_found(id));
        }
        Ok(plugins.is_editable(id))
    }

    /// Change fields of a plugin added over the API (a `PATCH .../boefjes/{id}` or `.../normalizers/{id}`).
    pub async fn edit_plugin(&self, kind: PluginKind, id: &str, changes: &Map<String, Value>) -> ServiceResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        if let Some(path) = kat_core::ids::find_nul(&Value::Object(changes.clone())) {
            return Err(ServiceError::invalid(format!("{path} must not contain a NUL character")).with_field(path));
        }
        if !self.lookup(kind, id)? {
            if !self.has_configuration(id).await? {
                return Err(plugin_not_found(id));
            }
            return Err(match kind {
                PluginKind::Boefje => ServiceError::new(ErrorKind::Forbidden, "Updating a static plugin is not allowed").with_field("plugin_id"),
                PluginKind::Normalizer => ServiceError::new(ErrorKind::Conflict, format!("Plugin with id '{id}' is static, so updating it is not allowed")).with_field("plugin_id"),
            });
        }
        let allowed = if kind == PluginKind::Boefje { BOEFJE_EDITABLE } else { NORMALIZER_EDITABLE };
        let changes: Map<String, Value> = changes.iter().filter(|(k, _)| allowed.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        if changes.is_empty() {
            return Ok(());
        }
        let (mut fields, current_schema) = {
            let plugins = self.plugins();
            let extras = plugins.extras(id);
            match kind {
                PluginKind::Boefje => {
                    let (m, s) = plugins.boefje(id).ok_or_else(|| plugin_not_found(id))?;
                    (stored_text(serde_json::to_value(m).unwrap_or_default(), &extras, kind), s.as_ref().map(|s| s.as_json().clone()))
                }
                PluginKind::Normalizer => (stored_text(serde_json::to_value(plugins.normalizer(id).ok_or_else(|| plugin_not_found(id))?).unwrap_or_default(), &extras, kind), None),
            }
        };
        let mut object: Map<String, Value> = serde_json::from_str(&fields).map_err(|e| ServiceError::internal(format!("plugin {id}: {e}")))?;
        for (key, value) in changes.iter().filter(|(k, _)| k.as_str() != "boefje_schema") {
            object.insert(key.clone(), value.clone());
        }
        if object.get("name").is_some_and(Value::is_null) {
            object.remove("name");
        }
        let schema = match changes.get("boefje_schema") {
            Some(schema) => Some(schema.clone()),
            None => current_schema,
        };
        let parsed = parse(kind, &object, schema.as_ref(), Checks { schema: changes.contains_key("boefje_schema"), cron: changes.contains_key("cron") })?;
        self.plugins().check_name_free(kind, parsed.name(), Some(id))?;
        let schema_text = match &parsed {
            Parsed::Boefje(m, s, x) => {
                fields = stored_text(serde_json::to_value(m).unwrap_or_default(), x, kind);
                s.as_ref().map(|s| s.as_json().to_string())
            }
            Parsed::Normalizer(m, x) => {
                fields = stored_text(serde_json::to_value(m).unwrap_or_default(), x, kind);
                None
            }
        };
        sqlx::query("UPDATE plugins SET manifest = $1, schema_json = $2 WHERE id = $3").bind(fields).bind(schema_text).bind(id).execute(&self.pool).await.map_err(db)?;
        match parsed {
            Parsed::Boefje(m, s, x) => self.plugins_mut().replace_boefje(m, s, x),
            Parsed::Normalizer(m, x) => self.plugins_mut().replace_normalizer(m, x),
        }
    }

    /// Delete a plugin added over the API, with its settings and enablement in every organisation.
    pub async fn delete_plugin(&self, kind: PluginKind, id: &str) -> ServiceResult<()> {
        if !self.lookup(kind, id)? {
            return Err(ServiceError::new(ErrorKind::Forbidden, format!("plugin {id:?} is static (built in or from the plugin directory) and cannot be deleted")).with_field("plugin_id"));
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM settings WHERE plugin_id = $1").bind(id).execute(&mut *tx).await.map_err(db)?;
        sqlx::query("DELETE FROM plugin_states WHERE plugin_id = $1").bind(id).execute(&mut *tx).await.map_err(db)?;
        sqlx::query("DELETE FROM plugins WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.plugins_mut().remove(id)
    }
}
