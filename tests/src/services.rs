//! Real services for tests: a fresh PostgreSQL database per test, a free
//! port on 127.0.0.1, and a service binary run as an operator runs it
//! (environment configuration, its output kept in a file, killed when the
//! test ends). A service that is not running makes the test fail with the
//! command that starts it, never a silent skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The PostgreSQL server the tests use (trust auth).
pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh, empty PostgreSQL database named `<prefix>_<uuid>`; returns its URL.
pub async fn fresh_postgres(prefix: &str) -> String {
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(PG_ADMIN).await.unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {PG_ADMIN} ({e}); start it with `bash scripts/services.sh`"));
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    admin.close().await;
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// A service binary running in the background; killed on drop.
pub struct RunningService {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
}

impl RunningService {
    /// Start `program` with `env`, listening on `port` (the caller passes it in the service's BIND variable),
    /// and wait until `GET /health` answers; panics with the service's output when it does not within 30 s.
    pub fn start(program: &Path, env: &[(&str, String)], port: u16, log_dir: &Path) -> RunningService {
        let name = program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let log = log_dir.join(format!("{name}-{port}.log"));
        let out = std::fs::File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(program)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let service = RunningService { child, base: format!("http://127.0.0.1:{port}"), log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return service;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{name} did not listen on {port} within 30 s; its output:\n{}", service.output());
    }

    /// Everything the service printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
