//! The statements of the hot writes (pop, patch, heartbeat, lease sweep,
//! event log) written once and run on either kind of connection:
//!
//! - an sqlx `AnyConnection` (PostgreSQL, and SQLite outside the writer),
//!   one round trip to the driver per statement;
//! - [`SqliteConn`], a plain `rusqlite` connection owned by the SQLite
//!   writer thread ([`super::writer`]), where a statement is a function call
//!   instead of a hand-off to sqlx's SQLite worker thread. That hand-off
//!   (thread wake-ups, not SQLite) is what bounded the queue's throughput.
//!
//! The SQL text is the same for both: `$1`, `$2` ... placeholders, which
//! SQLite reads as named parameters and PostgreSQL as positional ones.
//! Rows come back as [`Columns`], so one function reads a task row from
//! either.

use kat_core::services::{ServiceError, ServiceResult};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyConnection, Row};

use super::db_error;
use crate::filters::Bind;

/// Bind one value to an sqlx query.
pub fn bind_one<'q>(query: sqlx::query::Query<'q, Any, AnyArguments>, value: &Bind) -> sqlx::query::Query<'q, Any, AnyArguments> {
    match value {
        Bind::Text(t) => query.bind(t.clone()),
        Bind::Int(i) => query.bind(*i),
        Bind::Float(f) => query.bind(*f),
        Bind::OptInt(i) => query.bind(*i),
        Bind::OptText(t) => query.bind(t.clone()),
    }
}

/// The columns of one result row, read by position.
pub trait Columns {
    /// Text or NULL; an error when the column holds something else.
    fn opt_text(&self, i: usize) -> ServiceResult<Option<String>>;
    /// A whole number or NULL; an error when the column holds something else.
    fn opt_int(&self, i: usize) -> ServiceResult<Option<i64>>;
    /// Text that must be there.
    fn text(&self, i: usize) -> ServiceResult<String> {
        self.opt_text(i)?.ok_or_else(|| corrupt("column"))
    }
    /// A whole number that must be there.
    fn int(&self, i: usize) -> ServiceResult<i64> {
        self.opt_int(i)?.ok_or_else(|| corrupt("number"))
    }
}

/// A stored row that does not have the shape the scheduler wrote.
pub fn corrupt(what: &str) -> ServiceError {
    ServiceError::internal(format!("a stored task has a corrupt {what}"))
}

impl Columns for AnyRow {
    fn opt_text(&self, i: usize) -> ServiceResult<Option<String>> {
        self.try_get(i).map_err(|_| corrupt("column"))
    }
    fn opt_int(&self, i: usize) -> ServiceResult<Option<i64>> {
        self.try_get(i).map_err(|_| corrupt("number"))
    }
}

impl Columns for Vec<rusqlite::types::Value> {
    fn opt_text(&self, i: usize) -> ServiceResult<Option<String>> {
        match self.get(i) {
            Some(rusqlite::types::Value::Null) => Ok(None),
            Some(rusqlite::types::Value::Text(t)) => Ok(Some(t.clone())),
            _ => Err(corrupt("column")),
        }
    }
    fn opt_int(&self, i: usize) -> ServiceResult<Option<i64>> {
        match self.get(i) {
            Some(rusqlite::types::Value::Null) => Ok(None),
            Some(rusqlite::types::Value::Integer(n)) => Ok(Some(*n)),
            _ => Err(corrupt("number")),
        }
    }
}

/// A connection the hot writes run on (inside a transaction the caller began).
#[allow(async_fn_in_trait, reason = "used only with concrete connection types, whose futures' Send-ness the compiler sees")]
pub trait Exec {
    /// A result row.
    type Row: Columns;
    /// Run `sql` with `binds` as `$1`, `$2` ... and return its rows (none for a statement without RETURNING).
    async fn rows(&mut self, sql: &str, binds: &[Bind]) -> ServiceResult<Vec<Self::Row>>;
}

impl Exec for AnyConnection {
    type Row = AnyRow;
    async fn rows(&mut self, sql: &str, binds: &[Bind]) -> ServiceResult<Vec<AnyRow>> {
        let query = binds.iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql.to_string())), bind_one);
        query.fetch_all(self).await.map_err(db_error)
    }
}

/// A `rusqlite` connection (the SQLite writer thread's), with its statements cached.
pub struct SqliteConn<'a>(pub &'a rusqlite::Connection);

impl Exec for SqliteConn<'_> {
    type Row = Vec<rusqlite::types::Value>;
    async fn rows(&mut self, sql: &str, binds: &[Bind]) -> ServiceResult<Vec<Self::Row>> {
        run_sqlite(self.0, sql, binds).map_err(sqlite_error)
    }
}

fn run_sqlite(conn: &rusqlite::Connection, sql: &str, binds: &[Bind]) -> rusqlite::Result<Vec<Vec<rusqlite::types::Value>>> {
    let values: Vec<&dyn rusqlite::ToSql> = binds.iter().map(Bind::as_sql).collect();
    let mut statement = kat_server::sqlite::prepare_numbered(conn, sql, &values)?;
    let columns = statement.column_count();
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push((0..columns).map(|i| row.get::<_, rusqlite::types::Value>(i)).collect::<rusqlite::Result<_>>()?);
    }
    Ok(out)
}

/// A failure of the writer thread's SQLite connection as a client may see it (details only in the log).
pub fn sqlite_error(e: rusqlite::Error) -> ServiceError {
    kat_server::sqlite::sqlite_error("scheduler")(e)
}
