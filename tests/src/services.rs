//! Real services for tests: a fresh PostgreSQL database, S3 bucket or
//! RabbitMQ vhost per test, a free
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

/// The S3 server the tests use (moto, started by `scripts/services.sh`).
pub const MOTO: &str = "http://127.0.0.1:5000";

/// A fresh, empty bucket on moto named `<prefix>-<uuid>`; returns its name.
pub async fn fresh_bucket(prefix: &str) -> String {
    let bucket = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    let created = reqwest::Client::new()
        .put(format!("{MOTO}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the S3 server (moto) is not reachable at {MOTO} ({e}); start it with `bash scripts/services.sh`"));
    assert!(created.status().is_success(), "creating the bucket {bucket}: {}", created.status());
    bucket
}

/// A RabbitMQ virtual host of its own for one test (so its queues meet no other test's consumers), made with
/// `rabbitmqctl` and deleted on drop.
pub struct Vhost {
    /// The vhost's name.
    pub name: String,
}

impl Vhost {
    /// Make `<prefix>_<uuid>` with all rights for `guest`.
    pub fn fresh(prefix: &str) -> Vhost {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        for args in [vec!["add_vhost", name.as_str()], vec!["set_permissions", "-p", name.as_str(), "guest", ".*", ".*", ".*"]] {
            let out = Command::new("rabbitmqctl").args(&args).output().unwrap_or_else(|e| panic!("rabbitmqctl does not run ({e}); start RabbitMQ with `bash scripts/services.sh`"));
            assert!(out.status.success(), "rabbitmqctl {}: {}; is RabbitMQ running (`bash scripts/services.sh`)?", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
        Vhost { name }
    }

    /// `amqp://guest:guest@127.0.0.1:5672/<vhost>`.
    pub fn uri(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:5672/{}", self.name)
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl").args(["delete_vhost", &self.name]).output();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// A service binary running in the background; killed on drop.
pub struct RunningService {
    child: Child,
    /// `http://127.0.0.1:PORT` (empty for a worker that serves nothing).
    pub base: String,
    log: PathBuf,
    program: PathBuf,
    env: Vec<(String, String)>,
    port: Option<u16>,
}

impl RunningService {
    /// Start `program` with `env`, listening on `port` (the caller passes it in the service's BIND variable),
    /// and wait until it accepts connections; panics with the service's output when it does not within 30 s.
    pub fn start(program: &Path, env: &[(&str, String)], port: u16, log_dir: &Path) -> RunningService {
        let mut service = Self::launch(program, env, Some(port), &port.to_string(), log_dir);
        service.wait_listening();
        service
    }

    /// Start `program` with `env` without waiting for a port: a worker that serves nothing (a runner). `tag`
    /// tells its log file apart from its siblings'.
    pub fn spawn(program: &Path, env: &[(&str, String)], tag: &str, log_dir: &Path) -> RunningService {
        Self::launch(program, env, None, tag, log_dir)
    }

    fn launch(program: &Path, env: &[(&str, String)], port: Option<u16>, tag: &str, log_dir: &Path) -> RunningService {
        let name = program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let log = log_dir.join(format!("{name}-{tag}.log"));
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let child = Self::spawn_child(program, &env, &log);
        RunningService { child, base: port.map(|p| format!("http://127.0.0.1:{p}")).unwrap_or_default(), log, program: program.to_path_buf(), env, port }
    }

    fn spawn_child(program: &Path, env: &[(String, String)], log: &Path) -> Child {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
        Command::new(program)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()))
    }

    fn wait_listening(&mut self) {
        let Some(port) = self.port else { return };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} did not listen on {port} within 30 s; its output:\n{}", self.program.display(), self.output());
    }

    /// SIGKILL the process (nothing it can catch or clean up after) and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start the same program with the same environment again (after [`RunningService::kill`]); a service
    /// with a port is waited for. Its output goes on in the same log file.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn_child(&self.program, &self.env, &self.log);
        self.wait_listening();
    }

    /// Everything the service printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        self.kill();
    }
}
