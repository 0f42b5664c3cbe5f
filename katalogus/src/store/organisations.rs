//! Organisations: OpenKAT's `{"id", "name", "deduplicate"}` (deduplicate
//! defaults to true). Ids follow `kat_core::ids` (1 to 32 letters, digits,
//! `-` or `_`); names may not hold a NUL character. An unknown organisation
//! is answered with OpenKAT's "Unknown organisation".

use kat_core::ids::{check_organisation_id, check_text, is_organisation_id};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ErrorKind;
use sqlx::Row;

use super::{db, LocalKatalogus};

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Organisation {
    /// Short code, e.g. `_dev`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether boefje tasks of this organisation may be shared with organisations that have equal settings (OpenKAT's default: true).
    #[serde(default = "crate::repository::yes_by_default")]
    pub deduplicate: bool,
}

impl Organisation {
    /// An organisation with OpenKAT's default `deduplicate` (true).
    pub fn new(id: &str, name: &str) -> Self {
        Organisation { id: id.to_string(), name: name.to_string(), deduplicate: true }
    }

    fn check(&self) -> ServiceResult<()> {
        check_organisation_id(&self.id, "id")?;
        check_text(&self.name, "name")
    }
}

/// OpenKAT's 404 for an organisation that does not exist.
pub fn unknown_organisation(id: &str) -> ServiceError {
    let shown: String = id.chars().take(40).map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
    ServiceError::not_found(format!("Unknown organisation: organisation with id '{shown}' not found")).with_field("organisation_id")
}

fn from_row(row: &sqlx::any::AnyRow) -> Organisation {
    Organisation { id: row.get(0), name: row.get(1), deduplicate: row.get::<i64, _>(2) != 0 }
}

impl LocalKatalogus {
    /// Every organisation, by id.
    pub async fn organisations(&self) -> ServiceResult<Vec<Organisation>> {
        let rows = sqlx::query("SELECT id, name, deduplicate FROM organisations ORDER BY id").fetch_all(&self.pool).await.map_err(db)?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// One organisation; "Unknown organisation" (404) when it does not exist.
    pub async fn organisation(&self, id: &str) -> ServiceResult<Organisation> {
        if !is_organisation_id(id) {
            return Err(unknown_organisation(id));
        }
        let row = sqlx::query("SELECT id, name, deduplicate FROM organisations WHERE id = $1").bind(id).fetch_optional(&self.pool).await.map_err(db)?;
        row.as_ref().map(from_row).ok_or_else(|| unknown_organisation(id))
    }

    /// Create an organisation; an id that exists is a conflict.
    pub async fn create_organisation(&self, org: &Organisation) -> ServiceResult<()> {
        if self.write_organisation(org, "DO NOTHING").await? == 0 {
            return Err(ServiceError::new(ErrorKind::Conflict, format!("organisation {:?} already exists", org.id)).with_field("id"));
        }
        Ok(())
    }

    /// Create the organisation, or update its name and `deduplicate` when it exists (`PUT /v1/organisations`).
    pub async fn upsert_organisation(&self, org: &Organisation) -> ServiceResult<()> {
        self.write_organisation(org, "DO UPDATE SET name = excluded.name, deduplicate = excluded.deduplicate").await.map(|_| ())
    }

    /// Insert `org` after checking it, doing `on_conflict` when its id exists; returns the rows written.
    async fn write_organisation(&self, org: &Organisation, on_conflict: &'static str) -> ServiceResult<u64> {
        org.check()?;
        let sql = format!("INSERT INTO organisations (id, name, deduplicate) VALUES ($1, $2, $3) ON CONFLICT (id) {on_conflict}");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&org.id).bind(&org.name).bind(i64::from(org.deduplicate)).execute(&self.pool).await.map_err(db)?;
        Ok(done.rows_affected())
    }

    /// Create the organisation if it does not exist yet (an existing one is left as it is).
    pub async fn ensure_organisation(&self, id: &str, name: &str) -> ServiceResult<()> {
        match self.create_organisation(&Organisation::new(id, name)).await {
            Err(e) if e.kind == ErrorKind::Conflict => Ok(()),
            other => other,
        }
    }

    /// Delete an organisation with its enablement and settings.
    pub async fn delete_organisation(&self, id: &str) -> ServiceResult<()> {
        self.organisation(id).await?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM settings WHERE organisation = $1").bind(id).execute(&mut *tx).await.map_err(db)?;
        sqlx::query("DELETE FROM plugin_states WHERE organisation = $1").bind(id).execute(&mut *tx).await.map_err(db)?;
        let done = sqlx::query("DELETE FROM organisations WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(unknown_organisation(id));
        }
        tx.commit().await.map_err(db)
    }
}
