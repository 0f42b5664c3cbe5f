//! Group commit: the writes that arrive together share one transaction.
//!
//! A pop or a patch is a few statements; on SQLite the transaction around
//! them (and waiting for the single writer lock) costs more than the
//! statements. [`Writer`] is one task per SQLite store that takes every
//! write queued while the previous transaction ran, runs them one after the
//! other inside one `BEGIN IMMEDIATE` transaction, commits once, and only
//! then answers each caller. In-process writers never wait in SQLite's busy
//! handler, because writes that take the lock ([`Store::begin`] too) first
//! take the process's write lock.
//!
//! A write that fails (a 409, a database error) must not leave half its
//! statements in a shared transaction: when any write of a batch fails, or
//! the commit fails, the batch is rolled back and each write runs again
//! alone, in a transaction of its own that commits only if it succeeded.
//! Writes are therefore closures that can run more than once, each time
//! from the state the database is in.
//!
//! PostgreSQL needs none of this (its writers do not share one lock, and
//! replicas in other processes write too): there every write runs in its own
//! transaction at once.
//!
//! [`Store::begin`]: super::Store::begin

use std::sync::Arc;

use futures::future::BoxFuture;
use kat_core::services::{ServiceError, ServiceResult};
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::db_error;

/// The most writes one transaction takes.
const MAX_BATCH: usize = 256;

/// A write: statements run on the connection of a writing transaction. It may run more than once.
pub type WriteFn<T> = Box<dyn for<'c> FnMut(&'c mut AnyConnection) -> BoxFuture<'c, ServiceResult<T>> + Send>;

/// One queued write with the caller waiting for its answer.
trait Queued: Send {
    /// Run the statements; whether they succeeded.
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection) -> BoxFuture<'c, bool>;
    /// Answer the caller: the write's result once it committed, else `failed`.
    fn answer(self: Box<Self>, failed: Option<ServiceError>);
}

struct Pending<T> {
    write: WriteFn<T>,
    result: Option<ServiceResult<T>>,
    reply: oneshot::Sender<ServiceResult<T>>,
}

impl<T: Send + 'static> Queued for Pending<T> {
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let result = (self.write)(conn).await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn answer(self: Box<Self>, failed: Option<ServiceError>) {
        let result = match (failed, self.result) {
            (Some(error), _) => Err(error),
            (None, Some(result)) => result,
            (None, None) => Err(ServiceError::internal("a write was answered before it ran")),
        };
        // The caller may have gone away (its request was cancelled); the write stands either way.
        let _ = self.reply.send(result);
    }
}

/// The group-commit queue of one SQLite store.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Box<dyn Queued>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Start the writer task on `pool`; `lock` is the process's write lock (held for each transaction).
    pub fn start(pool: AnyPool, lock: Arc<Mutex<()>>) -> Writer {
        let (queue, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(pool, lock, receiver));
        Writer { queue }
    }

    /// Queue `write` and wait until its transaction committed (or it failed).
    pub async fn write<T: Send + 'static>(&self, write: WriteFn<T>) -> ServiceResult<T> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(Pending { write, result: None, reply }))
            .map_err(|_| ServiceError::unavailable("the scheduler's database writer has stopped"))?;
        answer.await.map_err(|_| ServiceError::unavailable("the scheduler's database writer has stopped"))?
    }
}

/// Take what is queued, write it in one transaction, answer; until every sender is gone.
async fn write_loop(pool: AnyPool, lock: Arc<Mutex<()>>, mut receiver: mpsc::UnboundedReceiver<Box<dyn Queued>>) {
    let mut batch: Vec<Box<dyn Queued>> = Vec::new();
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let _held = lock.lock().await;
        match pool.acquire().await {
            Ok(mut conn) => write_batch(&mut conn, std::mem::take(&mut batch)).await,
            Err(e) => {
                let error = db_error(e);
                for queued in batch.drain(..) {
                    queued.answer(Some(error.clone()));
                }
            }
        }
    }
}

/// Run `batch` in one transaction; if any write or the commit fails, run each alone.
async fn write_batch(conn: &mut AnyConnection, mut batch: Vec<Box<dyn Queued>>) {
    if batch.len() > 1 {
        match together(conn, &mut batch).await {
            Ok(()) => {
                for queued in batch {
                    queued.answer(None);
                }
                return;
            }
            Err(e) => tracing::debug!("a batch of {} writes failed as a whole ({e}); each runs alone", batch.len()),
        }
    }
    for mut queued in batch {
        let failed = alone(conn, queued.as_mut()).await.err();
        queued.answer(failed);
    }
}

/// All of `batch` in one transaction, committed only if every write succeeded.
async fn together(conn: &mut AnyConnection, batch: &mut [Box<dyn Queued>]) -> Result<(), ServiceError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
    for queued in batch.iter_mut() {
        if !queued.run(&mut tx).await {
            tx.rollback().await.map_err(db_error)?;
            return Err(ServiceError::invalid("a write of the batch failed"));
        }
    }
    tx.commit().await.map_err(db_error)
}

/// One write in a transaction of its own: committed if it succeeded, rolled back if not. `Err` only when the
/// transaction itself failed (the write's own result stays with it).
async fn alone(conn: &mut AnyConnection, queued: &mut dyn Queued) -> Result<(), ServiceError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
    if queued.run(&mut tx).await {
        tx.commit().await.map_err(db_error)
    } else {
        tx.rollback().await.map_err(db_error)
    }
}
