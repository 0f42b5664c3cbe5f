//! The SQLite writer thread: group commit for the lease writes.
//!
//! Pops and patches are a few small statements each. Run through sqlx, each
//! statement is a hand-off to the driver's worker thread and back, and each
//! write its own transaction; the thread wake-ups, not SQLite, bounded the
//! queue at a few hundred tasks a second. Here one OS thread owns a plain
//! `rusqlite` connection to the same file, takes every [`LeaseWrite`]
//! queued while the previous transaction ran, runs them one after the other
//! inside one `BEGIN IMMEDIATE` transaction (a statement is a function call
//! on this thread), commits once, and only then answers each caller.
//!
//! The thread holds the process's write lock (the one [`Store::begin`]
//! takes) for each transaction, so this process's other writers queue in
//! memory and never in SQLite's sleeping busy handler.
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
use std::sync::mpsc;

use kat_core::services::{ServiceError, ServiceResult};
use kat_server::db::WriteGate;
use tokio::sync::oneshot;

use super::exec::{sqlite_error, SqliteConn};
use crate::leases::{LeaseDone, LeaseWrite, WriteContext};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 256;

struct Job {
    write: LeaseWrite,
    context: WriteContext,
    reply: oneshot::Sender<ServiceResult<LeaseDone>>,
}

/// The writer thread of one SQLite store; it ends when the last clone is dropped.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

fn stopped() -> ServiceError {
    ServiceError::unavailable("the scheduler's database writer has stopped")
}

impl Writer {
    /// Open the database file at `path` (already migrated) and start the thread; `lock` is the process's write
    /// lock, held for each transaction.
    pub fn start(path: &Path, lock: WriteGate) -> ServiceResult<Writer> {
        let conn = rusqlite::Connection::open(path).map_err(sqlite_error)?;
        // The pool's settings for this store (WAL, no fsync per commit).
        conn.execute_batch(&kat_server::db::sqlite_pragmas(super::DURABILITY, false)).map_err(sqlite_error)?;
        conn.set_prepared_statement_cache_capacity(64);
        let (queue, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name("kat-scheduler-writer".into())
            .spawn(move || write_loop(&conn, &lock, &jobs))
            .map_err(|e| ServiceError::internal(format!("cannot start the scheduler's database writer: {e}")))?;
        Ok(Writer { queue })
    }

    /// Queue `write` and wait until its transaction committed (or it failed).
    pub async fn write(&self, write: LeaseWrite, context: WriteContext) -> ServiceResult<LeaseDone> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Job { write, context, reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Take what is queued, write it in one transaction, answer; until every sender is gone.
fn write_loop(conn: &rusqlite::Connection, lock: &WriteGate, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let _held = lock.enter_blocking();
        if batch.len() > 1 {
            match together(conn, &batch) {
                Ok(results) => {
                    for (job, result) in batch.into_iter().zip(results) {
                        // The caller may have gone away (its request was cancelled); the write stands either way.
                        let _ = job.reply.send(Ok(result));
                    }
                    continue;
                }
                Err(e) => tracing::debug!("a batch of {} writes failed as a whole ({e}); each runs alone", batch.len()),
            }
        }
        for job in batch {
            let result = alone(conn, &job);
            let _ = job.reply.send(result);
        }
    }
}

fn apply(conn: &rusqlite::Connection, job: &Job) -> ServiceResult<LeaseDone> {
    // Every statement of a write is a synchronous call on this thread, so its future is ready at each await.
    futures::executor::block_on(job.write.apply(&mut SqliteConn(conn), job.context))
}

/// All of `batch` in one transaction, committed only if every write succeeded.
fn together(conn: &rusqlite::Connection, batch: &[Job]) -> ServiceResult<Vec<LeaseDone>> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate).map_err(sqlite_error)?;
    let results = batch.iter().map(|job| apply(&tx, job)).collect::<ServiceResult<Vec<_>>>()?;
    tx.commit().map_err(sqlite_error)?;
    Ok(results)
}

/// One write in a transaction of its own: committed if it succeeded, rolled back (on drop) if not.
fn alone(conn: &rusqlite::Connection, job: &Job) -> ServiceResult<LeaseDone> {
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate).map_err(sqlite_error)?;
    let done = apply(&tx, job)?;
    tx.commit().map_err(sqlite_error)?;
    Ok(done)
}
