//! Opening a service's metadata database (`sqlite://...` or
//! `postgres://...`) through one `sqlx::AnyPool`, the way an operator
//! expects a service to start:
//!
//! - a SQLite file that is not a database fails at once with
//!   "file is not a database" (not after a 30 s pool timeout);
//! - a PostgreSQL server that refuses connections is waited for (a line a
//!   second says so) up to a deadline, then start-up fails with the reason;
//!   the service listens only once its database answers;
//! - requests wait at most `ACQUIRE_TIMEOUT` for a connection, so a
//!   database that goes down gives a prompt 503, not a 30 s hang;
//! - migrations for the backend run at open;
//! - a commit waits for its fsync unless the store says its state is
//!   rebuilt when lost (`Durability::Process`, the scheduler's queue);
//! - a store of secrets has SQLite overwrite deleted and replaced content
//!   (`secure_delete`), so a replaced secret does not linger in free pages.
//!
//! Writers of one SQLite file queue in memory ([`WriteGate`]) and commit in
//! groups ([`WriteQueue`]).
//!
//! Database error text never reaches a client: [`db_error`] logs it and
//! returns a generic message.

use std::time::Duration;

use kat_core::services::{ServiceError, ServiceResult};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Connection, Executor};

/// How long a request waits for a database connection before it gets 503.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// What to open.
#[derive(Debug, Clone, Copy)]
pub struct DbSpec {
    /// What the database holds, for messages (`bytes metadata`).
    pub what: &'static str,
    /// The variable that names it (`BYTES_DB_URI`).
    pub variable: &'static str,
    /// Migrations on SQLite.
    pub sqlite: &'static Migrator,
    /// Migrations on PostgreSQL.
    pub postgres: &'static Migrator,
    /// How long to wait for a PostgreSQL server that refuses connections.
    pub wait: Duration,
    /// What a commit promises.
    pub durability: Durability,
    /// Overwrite deleted and replaced content on SQLite (`secure_delete`), for stores of secrets: a replaced
    /// setting does not linger in free pages. It costs writes, so only the KATalogus asks for it.
    pub scrub_deleted: bool,
}

/// What a committed transaction survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// A crash of the process, the database server or the machine: every commit waits for its fsync
    /// (SQLite `synchronous = FULL`, PostgreSQL `synchronous_commit = on`). For evidence and settings.
    Full,
    /// A crash of the process; a power loss may undo the last commits (SQLite `synchronous = NORMAL` in
    /// WAL mode, PostgreSQL `synchronous_commit = off`), and the database stays consistent either way.
    /// For state that is rebuilt when lost: the scheduler's task states, whose leases re-run lost work.
    Process,
}

/// An open database.
#[derive(Debug, Clone)]
pub struct Db {
    /// The pool.
    pub pool: AnyPool,
    /// Whether it is PostgreSQL (some SQL differs).
    pub postgres: bool,
}

/// SQLite takes one writer at a time, and a writer that finds the lock taken sleeps in SQLite's busy
/// handler (1 to 100 ms steps). A service's writers pass this gate first, so within one process they queue
/// in memory and take the lock the moment it is free. It lets everyone through on PostgreSQL.
#[derive(Debug, Clone, Default)]
pub struct WriteGate(Option<std::sync::Arc<tokio::sync::Mutex<()>>>);

impl WriteGate {
    /// A gate for SQLite (`postgres` false), none for PostgreSQL.
    pub fn new(postgres: bool) -> WriteGate {
        WriteGate((!postgres).then(std::sync::Arc::default))
    }

    /// Wait for the gate; hold the guard until the write's transaction has ended.
    pub async fn enter(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.0 {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    /// Wait for the gate, unless the writer holding it commits our queued write first (its answer arrives on
    /// `answer`): a writer whose write a group commit already took returns at once instead of queueing for the
    /// gate only to find its answer there (a convoy of hand-offs, one cross-thread wake-up each).
    pub async fn enter_unless_answered<R>(&self, answer: &mut tokio::sync::oneshot::Receiver<R>) -> Turn<R> {
        tokio::select! {
            biased;
            done = answer => Turn::Answered(done.ok()),
            held = self.enter() => Turn::Gate(held),
        }
    }
}

/// What [`WriteGate::enter_unless_answered`] gave.
#[derive(Debug)]
pub enum Turn<R> {
    /// Another writer committed the write: its answer (`None` when that writer dropped it unanswered).
    Answered(Option<R>),
    /// The gate is ours (its guard; `None` on PostgreSQL): commit what is queued.
    Gate(Option<tokio::sync::OwnedMutexGuard<()>>),
}

/// Writes waiting for a group commit, each with where its result goes. A writer pushes its write and waits
/// for the [`WriteGate`]; the gate's holder takes what is queued, commits it as one transaction and answers
/// every writer (Bytes' metadata and the scheduler's lease writes both commit this way).
#[derive(Debug)]
pub struct WriteQueue<W, R>(std::sync::Mutex<Vec<(W, tokio::sync::oneshot::Sender<R>)>>);

impl<W, R> Default for WriteQueue<W, R> {
    fn default() -> Self {
        WriteQueue(std::sync::Mutex::default())
    }
}

impl<W, R> WriteQueue<W, R> {
    /// Queue `write`; the receiver gets its result from whoever commits it.
    pub fn push(&self, write: W) -> tokio::sync::oneshot::Receiver<R> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((write, sender));
        receiver
    }

    /// The oldest queued writes, at most `max`, to commit together.
    pub fn take(&self, max: usize) -> Vec<(W, tokio::sync::oneshot::Sender<R>)> {
        let mut queue = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = queue.len().min(max);
        queue.drain(..n).collect()
    }
}

const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// The file behind a `sqlite://` URL, unless it is in memory (`:memory:` or `mode=memory`).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory");
    (!in_memory).then(|| std::path::PathBuf::from(path))
}

/// The pragmas every connection to a SQLite store runs first: WAL, foreign keys, a busy timeout, and the
/// store's durability and scrubbing (`DbSpec::durability`, `DbSpec::scrub_deleted`). Also for connections
/// opened outside the pool (the scheduler's writer thread).
pub fn sqlite_pragmas(durability: Durability, scrub_deleted: bool) -> String {
    let synchronous = if durability == Durability::Process { "NORMAL" } else { "FULL" };
    let secure_delete = if scrub_deleted { "ON" } else { "OFF" };
    format!("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA secure_delete = {secure_delete};")
}

/// Fail at once when an existing SQLite file is not a database.
fn check_sqlite_file(url: &str, what: &str) -> ServiceResult<()> {
    let Some(path) = sqlite_file(url) else { return Ok(()) };
    let Ok(mut file) = std::fs::File::open(&path) else { return Ok(()) };
    let mut header = [0u8; 16];
    let read = std::io::Read::read(&mut file, &mut header).unwrap_or(0);
    if read == 0 || header[..read] == SQLITE_HEADER[..read] && read == 16 {
        return Ok(());
    }
    Err(ServiceError::unavailable(format!("cannot open the {what} database {}: file is not a database (restore it from a backup or move it away)", path.display())))
}

/// Whether a connection error means "the server is not (yet) there", worth waiting for.
fn worth_waiting(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_))
}

/// Open the database at `url`, waiting for a PostgreSQL server that is starting, and run the migrations.
pub async fn open(url: &str, spec: DbSpec) -> ServiceResult<Db> {
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !sqlite && !postgres {
        return Err(ServiceError::invalid(format!("{} must start with sqlite:// or postgres://", spec.variable)).with_field(spec.variable));
    }
    if sqlite {
        check_sqlite_file(url, spec.what)?;
    }
    let deadline = tokio::time::Instant::now() + spec.wait;
    loop {
        match sqlx::AnyConnection::connect(url).await {
            Ok(connection) => {
                let _ = connection.close().await;
                break;
            }
            Err(e) if worth_waiting(&e) && tokio::time::Instant::now() < deadline => {
                eprintln!("waiting for the {} database ({}): {e}; retrying in 1 s", spec.what, spec.variable);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(ServiceError::unavailable(format!("cannot open the {} database ({}): {e}", spec.what, spec.variable))),
        }
    }
    let (durability, scrub) = (spec.durability, spec.scrub_deleted);
    let pool = AnyPoolOptions::new()
        .max_connections(if sqlite { 4 } else { 16 })
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute(sqlx::AssertSqlSafe(sqlite_pragmas(durability, scrub))).await?;
                } else if durability == Durability::Process {
                    conn.execute("SET synchronous_commit = off").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| ServiceError::unavailable(format!("cannot open the {} database ({}): {e}", spec.what, spec.variable)))?;
    let migrator = if sqlite { spec.sqlite } else { spec.postgres };
    migrator.run(&pool).await.map_err(|e| ServiceError::unavailable(format!("migrating the {} database: {e}", spec.what)))?;
    Ok(Db { pool, postgres })
}

/// A request-time database failure as a client may see it: the details are logged, the answer is generic.
pub fn db_error(what: &'static str) -> impl Fn(sqlx::Error) -> ServiceError {
    move |e| {
        tracing::error!(database = what, error = %e, "database call failed");
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => ServiceError::unavailable(format!("the {what} database is unavailable; try again later")),
            _ => ServiceError::internal(format!("the {what} database failed the request (details are in the service log)")),
        }
    }
}

/// Whether the database answers a trivial query within `ACQUIRE_TIMEOUT` (for `/health`).
pub async fn ping(pool: &AnyPool) -> bool {
    matches!(tokio::time::timeout(ACQUIRE_TIMEOUT, sqlx::query("SELECT 1").execute(pool)).await, Ok(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    static MIGRATOR: Migrator = Migrator::DEFAULT;

    fn spec() -> DbSpec {
        DbSpec { what: "test", variable: "TEST_DB_URI", sqlite: &MIGRATOR, postgres: &MIGRATOR, wait: Duration::from_secs(2), durability: Durability::Full, scrub_deleted: false }
    }

    #[test]
    fn the_file_behind_a_sqlite_url() {
        assert_eq!(sqlite_file("sqlite:///data/s.sqlite?mode=rwc"), Some(std::path::PathBuf::from("/data/s.sqlite")));
        assert_eq!(sqlite_file("sqlite:rel.sqlite"), Some(std::path::PathBuf::from("rel.sqlite")));
        for in_memory in ["sqlite::memory:", "sqlite://:memory:", "sqlite://s.sqlite?mode=memory", "sqlite://s.sqlite?cache=shared&mode=memory", "sqlite://"] {
            assert_eq!(sqlite_file(in_memory), None, "{in_memory}");
        }
        assert_eq!(sqlite_file("postgres://localhost/x"), None);
    }

    #[test]
    fn pragmas_follow_durability_and_scrubbing() {
        let full = sqlite_pragmas(Durability::Full, true);
        assert!(full.contains("synchronous = FULL") && full.contains("secure_delete = ON") && full.contains("journal_mode = WAL"), "{full}");
        let relaxed = sqlite_pragmas(Durability::Process, false);
        assert!(relaxed.contains("synchronous = NORMAL") && relaxed.contains("secure_delete = OFF"), "{relaxed}");
    }

    #[tokio::test]
    async fn a_corrupt_sqlite_file_fails_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.sqlite");
        std::fs::write(&path, b"this is not a database at all, really not").expect("write");
        let started = std::time::Instant::now();
        let e = open(&format!("sqlite://{}?mode=rwc", path.display()), spec()).await.expect_err("corrupt");
        assert!(e.message.contains("file is not a database"), "{}", e.message);
        assert!(started.elapsed() < Duration::from_secs(2));
        let good = dir.path().join("y.sqlite");
        let db = open(&format!("sqlite://{}?mode=rwc", good.display()), spec()).await.expect("fresh file opens");
        assert!(ping(&db.pool).await);
        assert!(!db.postgres);
    }

    #[tokio::test]
    async fn durability_and_scrubbing_reach_every_sqlite_connection() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (durability, scrub, synchronous, secure_delete) in [(Durability::Full, true, 2, 1), (Durability::Process, false, 1, 0)] {
            let url = format!("sqlite://{}?mode=rwc", dir.path().join(format!("{synchronous}.sqlite")).display());
            let db = open(&url, DbSpec { durability, scrub_deleted: scrub, ..spec() }).await.expect("opens");
            for _ in 0..3 {
                let mut conn = db.pool.acquire().await.expect("a connection");
                let got: (i64, i64) = (
                    sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *conn).await.expect("synchronous"),
                    sqlx::query_scalar("PRAGMA secure_delete").fetch_one(&mut *conn).await.expect("secure_delete"),
                );
                assert_eq!(got, (synchronous, secure_delete), "{durability:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_refusing_server_is_waited_for_then_reported() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let e = open(&format!("postgres://postgres@127.0.0.1:{port}/test"), spec()).await.expect_err("nobody listens");
        assert!(e.message.contains("cannot open the test database (TEST_DB_URI)"), "{}", e.message);
        assert!(open("mysql://x", spec()).await.expect_err("scheme").message.contains("sqlite:// or postgres://"));
    }
}
