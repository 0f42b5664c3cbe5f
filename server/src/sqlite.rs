//! SQLite connections of our own beside a store's sqlx pool, for the hot
//! paths where sqlx's hand-off to its SQLite worker thread (two thread
//! wake-ups per statement) costs more than the statement.
//!
//! - [`sqlite_error`]: a `rusqlite` failure as a client may see it (the
//!   details only in the log), as [`crate::db::db_error`] does for sqlx.
//! - [`prepare_numbered`]: a cached statement with its values bound to
//!   `$1`, `$2` ... (the placeholders our SQL shares with PostgreSQL), for
//!   the writers that run the same statements on sqlx and on rusqlite.
//! - [`Reader`]: one connection for small reads run on the caller's thread
//!   (a lookup by key takes microseconds; WAL readers never wait for the
//!   writer). It opens the file after the pool ran the migrations, refuses
//!   writes (`query_only`), caches its statements, and closes with the store.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use kat_core::services::{ServiceError, ServiceResult};

/// A failure of a `rusqlite` connection to the `what` database, as a client may see it: logged in full,
/// answered as "unavailable" (busy, locked, cannot open) or a generic internal error.
pub fn sqlite_error(what: &'static str) -> impl Fn(rusqlite::Error) -> ServiceError {
    move |e| {
        tracing::error!(database = what, error = %e, "database call failed");
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked | rusqlite::ErrorCode::CannotOpen) => {
                ServiceError::unavailable(format!("the {what} database is unavailable; try again later"))
            }
            _ => ServiceError::internal(format!("the {what} database failed the request (details are in the service log)")),
        }
    }
}

/// `sql` prepared (from the connection's cache) with `args[i]` bound to `$(i + 1)`; a `$n` the statement does not
/// use is skipped. SQLite reads `$1` as a named parameter, so binding by position would misplace a value whose
/// placeholder comes later in the text than another's, or appears twice.
pub fn prepare_numbered<'c>(conn: &'c rusqlite::Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut statement = conn.prepare_cached(sql)?;
    for (i, arg) in args.iter().enumerate() {
        if let Some(index) = statement.parameter_index(&format!("${}", i + 1))? {
            statement.raw_bind_parameter(index, arg)?;
        }
    }
    Ok(statement)
}

/// A read-only connection to a SQLite file, shared by clones, used on the caller's thread.
#[derive(Clone)]
pub struct Reader {
    conn: Arc<Mutex<Option<rusqlite::Connection>>>,
    what: &'static str,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("what", &self.what).finish_non_exhaustive()
    }
}

impl Reader {
    /// Open the `what` database's file at `path` (already created and migrated by its pool).
    pub fn open(path: &Path, what: &'static str) -> ServiceResult<Reader> {
        let conn = rusqlite::Connection::open(path).map_err(sqlite_error(what))?;
        conn.execute_batch("PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;").map_err(sqlite_error(what))?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(Reader { conn: Arc::new(Mutex::new(Some(conn))), what })
    }

    /// The first column of the one row `sql` returns for `params` as text (`None` without a row, or when the
    /// column is NULL).
    pub fn optional_text(&self, sql: &str, params: &[&str]) -> ServiceResult<Option<String>> {
        let guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let conn = guard.as_ref().ok_or_else(|| ServiceError::unavailable(format!("the {} database is closed", self.what)))?;
        let read = || -> rusqlite::Result<Option<String>> {
            let mut statement = conn.prepare_cached(sql)?;
            let mut rows = statement.query(rusqlite::params_from_iter(params))?;
            match rows.next()? {
                Some(row) => row.get(0),
                None => Ok(None),
            }
        };
        read().map_err(sqlite_error(self.what))
    }

    /// Close the connection; later reads fail as "unavailable".
    pub fn close(&self) {
        drop(self.conn.lock().unwrap_or_else(PoisonError::into_inner).take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_refuses_writes_and_closes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db.sqlite");
        let setup = rusqlite::Connection::open(&path).expect("open");
        setup.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT); INSERT INTO t VALUES ('a', 'one'), ('n', NULL);").expect("setup");
        let reader = Reader::open(&path, "test").expect("reader");
        let sql = "SELECT v FROM t WHERE k = ?1";
        assert_eq!(reader.optional_text(sql, &["a"]).expect("read"), Some("one".to_string()));
        assert_eq!(reader.optional_text(sql, &["n"]).expect("read"), None, "NULL");
        assert_eq!(reader.optional_text(sql, &["z"]).expect("read"), None, "no row");
        setup.execute("UPDATE t SET v = 'two' WHERE k = 'a'", []).expect("a write by the store");
        assert_eq!(reader.optional_text(sql, &["a"]).expect("read"), Some("two".to_string()), "sees the store's commits");
        let e = reader.optional_text("DELETE FROM t RETURNING v", &[]).expect_err("query_only");
        assert!(e.message.contains("test database failed") && !e.message.contains("readonly"), "generic: {}", e.message);
        reader.close();
        assert!(reader.optional_text(sql, &["a"]).expect_err("closed").message.contains("closed"));
    }

    #[test]
    fn numbered_values_go_to_their_placeholders_wherever_they_stand() {
        let conn = rusqlite::Connection::open_in_memory().expect("memory database");
        let mut statement = prepare_numbered(&conn, "SELECT $2 || '-' || $1 || '-' || $2", &[&"a", &"b", &"unused"]).expect("prepare");
        let text: String = statement.raw_query().next().expect("step").expect("a row").get(0).expect("text");
        assert_eq!(text, "b-a-b");
    }
}
