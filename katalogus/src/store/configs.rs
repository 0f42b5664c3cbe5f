//! OpenKAT's boefje configs and cloning.
//!
//! A boefje config is what one organisation chose for one boefje: whether it
//! is enabled and its settings. It exists once the organisation enabled,
//! disabled or configured the boefje (as OpenKAT's config row does).
//! `GET /v1/configs` lists them with OpenKAT's filters; with
//! `with_duplicates` (and both an organisation and a boefje) the one config
//! carries the configs of other organisations with the same boefje,
//! enablement and settings whose organisations allow deduplication.
//! OpenKAT numbers configs with a database sequence; ours carry a stable
//! number derived from the organisation and boefje ids.
//!
//! Cloning follows OpenKAT: in the target, boefjes end up enabled exactly
//! as in the source, normalizers disabled in the source are disabled, and
//! the source's non-empty settings replace the target's for those boefjes.
//! It runs in one transaction, so a clone that fails changes nothing, and
//! an organisation cannot be cloned onto itself.

use std::collections::BTreeMap;

use kat_core::services::{ServiceError, ServiceResult};
use serde_json::{Map, Value};
use sqlx::Row;

use super::{db, LocalKatalogus};
use crate::repository::PluginKind;

/// One organisation's configuration of one boefje (OpenKAT's `BoefjeConfig`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct BoefjeConfig {
    /// A stable number for this organisation and boefje.
    pub id: u64,
    /// The settings (decrypted: like the settings `GET`, this carries values).
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// Whether the organisation has the boefje enabled.
    pub enabled: bool,
    /// The boefje's id.
    pub boefje_id: String,
    /// The organisation's id.
    pub organisation_id: String,
    /// With `with_duplicates`: the equal configs of other organisations.
    #[schema(no_recursion)]
    pub duplicates: Vec<BoefjeConfig>,
}

/// The filters of `GET /v1/configs`.
#[derive(Debug, Clone, Default)]
pub struct ConfigFilter {
    /// Only this organisation's configs.
    pub organisation_id: Option<String>,
    /// Only this boefje's configs.
    pub boefje_id: Option<String>,
    /// Only enabled (or disabled) configs.
    pub enabled: Option<bool>,
    /// With both ids: fill `duplicates`.
    pub with_duplicates: bool,
    /// Skip this many.
    pub offset: usize,
    /// Return at most this many.
    pub limit: Option<usize>,
}

/// A stable id for a config: FNV-1a of the two ids, kept within 53 bits so JSON readers get it exactly.
fn config_id(organisation: &str, boefje: &str) -> u64 {
    let hash = organisation.bytes().chain([0u8]).chain(boefje.bytes()).fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash & ((1 << 53) - 1)).max(1)
}

impl LocalKatalogus {
    /// Every boefje config, by organisation then boefje id.
    async fn all_configs(&self) -> ServiceResult<Vec<BoefjeConfig>> {
        let mut configs: BTreeMap<(String, String), (bool, Map<String, Value>)> = BTreeMap::new();
        let boefje = |id: &str| self.plugins().kind(id) == Some(PluginKind::Boefje);
        for row in sqlx::query("SELECT organisation, plugin_id, enabled FROM plugin_states").fetch_all(&self.pool).await.map_err(db)? {
            let (org, plugin): (String, String) = (row.get(0), row.get(1));
            if boefje(&plugin) {
                configs.entry((org, plugin)).or_default().0 = row.get::<i64, _>(2) != 0;
            }
        }
        for row in sqlx::query("SELECT organisation, plugin_id, body FROM settings").fetch_all(&self.pool).await.map_err(db)? {
            let (org, plugin, blob): (String, String, String) = (row.get(0), row.get(1), row.get(2));
            if boefje(&plugin) {
                let settings = self.open_settings(&org, &plugin, &blob)?;
                configs.entry((org, plugin)).or_default().1 = settings;
            }
        }
        Ok(configs
            .into_iter()
            .map(|((organisation_id, boefje_id), (enabled, settings))| BoefjeConfig { id: config_id(&organisation_id, &boefje_id), settings, enabled, boefje_id, organisation_id, duplicates: Vec::new() })
            .collect())
    }

    /// OpenKAT's `GET /v1/configs`.
    pub async fn configs(&self, filter: &ConfigFilter) -> ServiceResult<Vec<BoefjeConfig>> {
        let all = self.all_configs().await?;
        let matching: Vec<BoefjeConfig> = all
            .iter()
            .filter(|c| filter.organisation_id.as_ref().is_none_or(|o| *o == c.organisation_id))
            .filter(|c| filter.boefje_id.as_ref().is_none_or(|b| *b == c.boefje_id))
            .filter(|c| filter.enabled.is_none_or(|e| e == c.enabled))
            .skip(filter.offset)
            .take(filter.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        if !(filter.with_duplicates && filter.organisation_id.is_some() && filter.boefje_id.is_some()) {
            return Ok(matching);
        }
        let Some(mut config) = matching.into_iter().next() else { return Ok(Vec::new()) };
        let deduplicating: Vec<String> = self.organisations().await?.into_iter().filter(|o| o.deduplicate).map(|o| o.id).collect();
        if self.extras(&config.boefje_id).deduplicate {
            config.duplicates = all
                .into_iter()
                .filter(|c| c.boefje_id == config.boefje_id && c.organisation_id != config.organisation_id && c.enabled == config.enabled && c.settings == config.settings)
                .filter(|c| deduplicating.contains(&c.organisation_id))
                .collect();
        }
        Ok(vec![config])
    }

    /// Copy `from`'s configuration onto `to` (see the module documentation), in one transaction.
    pub async fn clone_settings(&self, from: &str, to: &str) -> ServiceResult<()> {
        self.organisation(from).await?;
        self.organisation(to).await?;
        if from == to {
            return Err(ServiceError::invalid("an organisation cannot be cloned onto itself: choose another target organisation").with_field("to_org"));
        }
        let kind = |id: &str| self.plugins().kind(id);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let states = |org: &str| sqlx::query("SELECT plugin_id, enabled FROM plugin_states WHERE organisation = $1").bind(org.to_string());
        let target: Vec<(String, bool)> = states(to).fetch_all(&mut *tx).await.map_err(db)?.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) != 0)).collect();
        let source: Vec<(String, bool)> = states(from).fetch_all(&mut *tx).await.map_err(db)?.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1) != 0)).collect();
        let mut writes: Vec<(String, bool)> = Vec::new();
        writes.extend(target.iter().filter(|(id, on)| *on && kind(id) == Some(PluginKind::Boefje)).map(|(id, _)| (id.clone(), false)));
        writes.extend(source.iter().filter(|(id, on)| *on && kind(id) == Some(PluginKind::Boefje)).map(|(id, _)| (id.clone(), true)));
        writes.extend(source.iter().filter(|(id, on)| !*on && kind(id) == Some(PluginKind::Normalizer)).map(|(id, _)| (id.clone(), false)));
        for (plugin_id, enabled) in writes {
            sqlx::query("INSERT INTO plugin_states (organisation, plugin_id, enabled) VALUES ($1, $2, $3) ON CONFLICT (organisation, plugin_id) DO UPDATE SET enabled = excluded.enabled")
                .bind(to)
                .bind(plugin_id)
                .bind(i64::from(enabled))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let settings = sqlx::query("SELECT plugin_id, body FROM settings WHERE organisation = $1").bind(from).fetch_all(&mut *tx).await.map_err(db)?;
        for row in settings {
            let (plugin_id, blob): (String, String) = (row.get(0), row.get(1));
            // Decrypting checks the blob before it is copied; an unreadable one aborts the whole clone.
            if self.open_settings(from, &plugin_id, &blob)?.is_empty() {
                continue;
            }
            sqlx::query("INSERT INTO settings (organisation, plugin_id, body) VALUES ($1, $2, $3) ON CONFLICT (organisation, plugin_id) DO UPDATE SET body = excluded.body")
                .bind(to)
                .bind(plugin_id)
                .bind(blob)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}
