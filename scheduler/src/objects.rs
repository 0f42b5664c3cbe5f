//! The object index: every object a normalizer runner reported, per
//! organisation, with its type, clearance, fields and whether it was
//! deleted. It lets the scheduler queue boefjes for objects, evaluate
//! boefje conditions on fields, schedule a newly enabled boefje for the
//! objects that exist, stop the schedules of deleted objects and explain
//! its choices, without depending on the graph.

use kat_core::services::scheduler::ObjectState;
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ScanLevel;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::store::{db_error, Store};

/// How a save changed an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Not indexed before (or deleted before): OpenKAT's `create`.
    Created,
    /// Its clearance or fields changed: OpenKAT's `update`.
    Updated,
    /// Reported again as it was.
    Unchanged,
}

/// An indexed object.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedObject {
    /// Its reference.
    pub reference: String,
    /// Its type.
    pub object_type: String,
    /// Its clearance.
    pub scan_level: ScanLevel,
    /// Its fields.
    pub fields: Map<String, Value>,
    /// Whether a normalizer deleted it.
    pub deleted: bool,
}

fn indexed(row: &AnyRow) -> ServiceResult<IndexedObject> {
    let corrupt = || ServiceError::internal("an indexed object is corrupt");
    let level: i64 = row.try_get(2).map_err(db_error)?;
    let fields: String = row.try_get(3).map_err(db_error)?;
    let deleted: i64 = row.try_get(4).map_err(db_error)?;
    Ok(IndexedObject {
        reference: row.try_get(0).map_err(db_error)?,
        object_type: row.try_get(1).map_err(db_error)?,
        scan_level: u8::try_from(level).ok().and_then(|l| ScanLevel::try_from(l).ok()).ok_or_else(corrupt)?,
        fields: serde_json::from_str(&fields).map_err(|_| corrupt())?,
        deleted: deleted != 0,
    })
}

const COLUMNS: &str = "reference, object_type, scan_level, fields, deleted";

/// Index `object` for `organisation` at `now` inside the caller's transaction, and say what changed.
pub async fn save(store: &Store, conn: &mut AnyConnection, organisation: &str, object: &ObjectState, now: i64) -> ServiceResult<Change> {
    let sql = format!("SELECT {COLUMNS} FROM objects WHERE organisation = $1 AND reference = $2{}", store.dialect.lock_row);
    let old = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(organisation).bind(object.reference.as_str()).fetch_optional(&mut *conn).await.map_err(db_error)?;
    let old = old.as_ref().map(indexed).transpose()?;
    let change = match &old {
        None => Change::Created,
        Some(o) if o.deleted => Change::Created,
        Some(o) if o.scan_level != object.scan_level || o.fields != object.fields => Change::Updated,
        Some(_) => Change::Unchanged,
    };
    if change != Change::Unchanged {
        sqlx::query(
            "INSERT INTO objects (organisation, reference, object_type, scan_level, fields, deleted, modified_at) VALUES ($1, $2, $3, $4, $5, 0, $6) \
             ON CONFLICT (organisation, reference) DO UPDATE SET object_type = excluded.object_type, scan_level = excluded.scan_level, fields = excluded.fields, deleted = 0, modified_at = excluded.modified_at",
        )
        .bind(organisation)
        .bind(object.reference.as_str())
        .bind(object.reference.object_type())
        .bind(i64::from(object.scan_level.get()))
        .bind(Value::Object(object.fields.clone()).to_string())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(change)
}

/// Mark `reference` deleted for `organisation`; whether it was indexed and alive.
pub async fn delete(conn: &mut AnyConnection, organisation: &str, reference: &str, now: i64) -> ServiceResult<bool> {
    let done = sqlx::query("UPDATE objects SET deleted = 1, modified_at = $1 WHERE organisation = $2 AND reference = $3 AND deleted = 0")
        .bind(now)
        .bind(organisation)
        .bind(reference)
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected() > 0)
}

impl Store {
    /// One indexed object (deleted ones too).
    pub async fn object(&self, organisation: &str, reference: &str) -> ServiceResult<Option<IndexedObject>> {
        let sql = format!("SELECT {COLUMNS} FROM objects WHERE organisation = $1 AND reference = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(organisation).bind(reference).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.as_ref().map(indexed).transpose()
    }

    /// The live objects of `organisation` whose type is one of `types`.
    pub async fn objects_of_types(&self, organisation: &str, types: &[String]) -> ServiceResult<Vec<IndexedObject>> {
        let mut out = Vec::new();
        for object_type in types {
            let sql = format!("SELECT {COLUMNS} FROM objects WHERE organisation = $1 AND object_type = $2 AND deleted = 0 ORDER BY reference");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(organisation).bind(object_type).fetch_all(&self.pool).await.map_err(db_error)?;
            for row in &rows {
                out.push(indexed(row)?);
            }
        }
        Ok(out)
    }

    /// Every organisation the scheduler has seen objects, raw files or tasks of.
    pub async fn organisations(&self) -> ServiceResult<Vec<String>> {
        let rows = sqlx::query("SELECT organisation FROM objects UNION SELECT organisation FROM raw_files UNION SELECT organisation FROM tasks ORDER BY 1")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(|r| r.try_get(0).map_err(db_error)).collect()
    }
}
