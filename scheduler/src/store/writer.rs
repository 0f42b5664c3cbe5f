//! Group commit for the SQLite lease writes, run on the caller's thread.
//!
//! Pops and patches are a few small statements each. Run through sqlx, each
//! statement is a hand-off to the driver's worker thread and back; handed to
//! a writer thread of our own, each write still cost two thread wake-ups.
//! On two cores those wake-ups, not SQLite, bounded the queue. Here a plain
//! `rusqlite` connection to the same file sits behind a mutex: a writer
//! queues its [`LeaseWrite`] and waits for the process's write lock (the one
//! [`Store::begin`] takes); the task that holds the lock takes every write
//! queued so far, runs them one after the other inside one `BEGIN
//! IMMEDIATE` transaction on its own thread (a statement is a function
//! call; nothing in the batch awaits, so a cancelled caller cannot cut it
//! short), commits once, and answers each writer. A writer whose write
//! another committed returns with that answer without taking the lock.
//!
//! A write that fails (a 409, a database error) must not leave half its
//! statements in a shared transaction: when any write of a batch fails, or
//! the commit fails, the batch is rolled back and each write runs again
//! alone, in a transaction of its own that commits only if it succeeded.
//!
//! PostgreSQL needs none of this: there each write runs in its own
//! transaction on the pool (its writers do not share one lock, and replicas
//! in other processes write too).
//!
//! [`Store::begin`]: super::Store::begin

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use kat_core::services::{ServiceError, ServiceResult};
use kat_server::db::{Turn, WriteGate, WriteQueue};
use tokio::sync::oneshot;

use super::exec::{sqlite_error, SqliteConn};
use crate::leases::{LeaseDone, LeaseWrite, WriteContext};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 256;

/// A queued lease write with its context, and where its result goes.
type Job = ((LeaseWrite, WriteContext), oneshot::Sender<ServiceResult<LeaseDone>>);

/// The group-committing writer of one SQLite store.
#[derive(Clone)]
pub struct Writer {
    conn: Arc<Mutex<rusqlite::Connection>>,
    queue: Arc<WriteQueue<(LeaseWrite, WriteContext), ServiceResult<LeaseDone>>>,
    lock: WriteGate,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

fn stopped() -> ServiceError {
    ServiceError::unavailable("the scheduler's database writer dropped a write")
}

impl Writer {
    /// Open the database file at `path` (already migrated); `lock` is the process's write lock, held for each
    /// transaction.
    pub fn start(path: &Path, lock: WriteGate) -> ServiceResult<Writer> {
        let conn = rusqlite::Connection::open(path).map_err(sqlite_error)?;
        // The pool's settings for this store (WAL, no fsync per commit).
        conn.execute_batch(&kat_server::db::sqlite_pragmas(super::DURABILITY, false)).map_err(sqlite_error)?;
        conn.set_prepared_statement_cache_capacity(64);
        // SQLite is built with STAT4, which marks a cached statement stale whenever a newly bound value might
        // change its plan, so each pop and patch was compiled again (a sixth of the writer's time). The query
        // planner stability guarantee keeps each statement's first plan (our plans are index lookups).
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(sqlite_error)?;
        // Checkpoint (copy the log into the database file, with an fsync) every 8,000 pages instead of 1,000:
        // the hot index pages, written again by nearly every commit, are copied once per checkpoint.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 8000;").map_err(sqlite_error)?;
        Ok(Writer { conn: Arc::new(Mutex::new(conn)), queue: Arc::default(), lock })
    }

    /// Queue `write` and wait until its transaction committed (or it failed).
    pub async fn write(&self, write: LeaseWrite, context: WriteContext) -> ServiceResult<LeaseDone> {
        let mut answer = self.queue.push((write, context));
        let _held = match self.lock.enter_unless_answered(&mut answer).await {
            Turn::Answered(done) => return done.unwrap_or_else(|| Err(stopped())),
            Turn::Gate(held) => held,
        };
        if let Ok(done) = answer.try_recv() {
            return done;
        }
        loop {
            let batch = self.queue.take(MAX_BATCH);
            if batch.is_empty() {
                break;
            }
            write_batch(&self.conn.lock().unwrap_or_else(PoisonError::into_inner), batch);
            if let Ok(done) = answer.try_recv() {
                return done;
            }
        }
        answer.await.map_err(|_| stopped())?
    }
}

/// Write `batch` in one transaction and answer each job (each alone when the batch fails as a whole).
fn write_batch(conn: &rusqlite::Connection, batch: Vec<Job>) {
    if batch.len() > 1 {
        match together(conn, &batch) {
            Ok(results) => {
                for ((_, reply), result) in batch.into_iter().zip(results) {
                    // The caller may have gone away (its request was cancelled); the write stands either way.
                    let _ = reply.send(Ok(result));
                }
                return;
            }
            Err(e) => tracing::debug!("a batch of {} writes failed as a whole ({e}); each runs alone", batch.len()),
        }
    }
    for (write, reply) in batch {
        let _ = reply.send(alone(conn, &write));
    }
}

fn apply(conn: &rusqlite::Connection, (write, context): &(LeaseWrite, WriteContext)) -> ServiceResult<LeaseDone> {
    // Every statement of a write is a synchronous call on this thread, so its future is ready at each await.
    futures::executor::block_on(write.apply(&mut SqliteConn(conn), *context))
}

/// All of `batch` in one transaction, committed only if every write succeeded.
fn together(conn: &rusqlite::Connection, batch: &[Job]) -> ServiceResult<Vec<LeaseDone>> {
    let tx = Tx::begin(conn)?;
    let results = batch.iter().map(|(write, _)| apply(conn, write)).collect::<ServiceResult<Vec<_>>>()?;
    tx.commit()?;
    Ok(results)
}

/// One write in a transaction of its own: committed if it succeeded, rolled back (on drop) if not.
fn alone(conn: &rusqlite::Connection, write: &(LeaseWrite, WriteContext)) -> ServiceResult<LeaseDone> {
    let tx = Tx::begin(conn)?;
    let done = apply(conn, write)?;
    tx.commit()?;
    Ok(done)
}

/// A `BEGIN IMMEDIATE` transaction whose `BEGIN`, `COMMIT` and `ROLLBACK` are cached statements (rusqlite's
/// own transaction parses them again each time); rolled back when dropped uncommitted.
struct Tx<'a> {
    conn: &'a rusqlite::Connection,
    open: bool,
}

impl<'a> Tx<'a> {
    fn begin(conn: &'a rusqlite::Connection) -> ServiceResult<Tx<'a>> {
        conn.prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([])).map_err(sqlite_error)?;
        Ok(Tx { conn, open: true })
    }

    fn commit(mut self) -> ServiceResult<()> {
        self.conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).map_err(sqlite_error)?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open
            && !self.conn.is_autocommit()
            && let Err(e) = self.conn.prepare_cached("ROLLBACK").and_then(|mut s| s.execute([]))
        {
            tracing::error!(database = "scheduler", error = %e, "rolling back a failed write failed");
        }
    }
}
