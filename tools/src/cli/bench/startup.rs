//! `kat bench startup`: how fast each `kat serve` service is up, and what it
//! costs idle. It starts this same `kat` executable as `kat serve
//! --katalogus`, `--bytes` and `--scheduler` (which reads the first as its
//! KATalogus), and as `kat serve` with every service in one process, on free
//! loopback ports with their data in a temporary directory, times exec
//! until `GET /health` answers 200 (for `kat serve`, the scheduler's, bound
//! last), then waits (10 s, 3 s with `--quick`) and reads each
//! process's resident memory (`VmRSS` in `/proc/PID/status`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::report::{millis, Figure, Progress};
use super::BenchArgs;

const STAGE: &str = "startup";
/// How long a service may take before the stage gives up on it.
const GIVE_UP: Duration = Duration::from_secs(30);

/// A started service, killed when dropped.
pub(super) struct Started {
    /// Its name, for messages.
    pub(super) name: &'static str,
    /// The process.
    pub(super) child: Child,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start each service of this executable, time it to healthy, then read its idle memory.
pub fn run(args: &BenchArgs, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    let exe = std::env::current_exe().context("finding the kat executable")?;
    let idle = if args.quick { Duration::from_secs(3) } else { Duration::from_secs(10) };
    measure(&exe, idle, progress)
}

/// Start each service of the `kat` executable `exe`, time it to healthy, then read its memory after `idle`.
pub fn measure(exe: &std::path::Path, idle: Duration, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    // Each service: its name, its `kat serve` flag and the variables that bind it; /health answers on the last.
    // Ports are picked just before each start, so that others (tests running beside this) have no time to take them.
    let services: [(&str, &str, &[&str]); 4] = [
        ("katalogus", "--katalogus", &["KATALOGUS_BIND"]),
        ("bytes", "--bytes", &["BYTES_BIND"]),
        ("scheduler", "--scheduler", &["SCHEDULER_BIND"]),
        ("all", "", &["BYTES_BIND", "KATALOGUS_BIND", "SCHEDULER_BIND"]),
    ];
    let mut katalogus_api = String::new();
    let mut figures = Vec::new();
    let mut started = Vec::new();
    for (n, (name, flag, vars)) in services.iter().enumerate() {
        let shown = if flag.is_empty() { "kat serve (every service)".to_string() } else { format!("kat serve {flag}") };
        progress.step(STAGE, &format!("starting {shown}"), n, services.len() + 1);
        let data = dir.path().join(name);
        let mut env = Vec::new();
        let mut port = 0;
        for var in *vars {
            port = free_port()?;
            env.push((*var, format!("127.0.0.1:{port}")));
        }
        if katalogus_api.is_empty() {
            katalogus_api = format!("http://127.0.0.1:{port}");
        }
        env.extend([("KATALOGUS_API", katalogus_api.clone()), ("QUEUE_URI", String::new())]);
        let flags: &[&str] = if flag.is_empty() { &[] } else { std::slice::from_ref(flag) };
        let begun = Instant::now();
        let mut service = spawn_service(exe, name, flags, &env, &data)?;
        wait_healthy(&mut service, port)?;
        figures.push(Figure::new(STAGE, format!("{shown}: exec to healthy"), millis(begun.elapsed()), "ms").lower_is_better().target(300.0));
        started.push((shown, service));
    }
    progress.step(STAGE, &format!("idle for {} s", idle.as_secs()), services.len(), services.len() + 1);
    std::thread::sleep(idle);
    for (shown, service) in &started {
        let rss = resident_mib(service.child.id()).with_context(|| format!("reading the memory of {shown}"))?;
        figures.push(Figure::new(STAGE, format!("{shown}: idle resident memory after {} s", idle.as_secs()), rss, "MiB").lower_is_better().target(64.0));
    }
    Ok(figures)
}

/// Start `exe serve FLAGS` as service `name` with its data (SQLite files, raw files) in `data`, the Bytes login
/// `bench` / `bench-password`, and `env` on top (an empty value unsets a variable); its output is dropped.
pub(super) fn spawn_service(exe: &std::path::Path, name: &'static str, flags: &[&str], env: &[(&str, String)], data: &std::path::Path) -> anyhow::Result<Started> {
    std::fs::create_dir_all(data)?;
    let child = Command::new(exe)
        .arg("serve")
        .args(flags)
        .env("KAT_DATA_DIR", data)
        .env("KATALOGUS_DB_URI", format!("sqlite://{}?mode=rwc", data.join("katalogus.sqlite").display()))
        .env("BYTES_DATA_DIR", data)
        .env("BYTES_USERNAME", "bench")
        .env("BYTES_PASSWORD", "bench-password")
        .env("SCHEDULER_DB_URI", format!("sqlite://{}?mode=rwc", data.join("scheduler.sqlite").display()))
        .env("RUST_LOG", "error")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {} serve {}", exe.display(), flags.join(" ")))?;
    Ok(Started { name, child })
}

/// A port nobody listens on now.
pub(super) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Poll `GET /health` (plain HTTP/1.1 on a socket, so the client's own start-up does not count) until 200.
pub(super) fn wait_healthy(service: &mut Started, port: u16) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let deadline = Instant::now() + GIVE_UP;
    while Instant::now() < deadline {
        if let Some(status) = service.child.try_wait()? {
            bail!("kat serve ({}) exited with {status} before it was healthy", service.name);
        }
        if let Ok(mut socket) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = socket.set_read_timeout(Some(Duration::from_secs(2)));
            let mut answer = Vec::new();
            if socket.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_ok() && socket.read_to_end(&mut answer).is_ok() && answer.starts_with(b"HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    bail!("kat serve ({}) did not answer GET /health within {GIVE_UP:?}", service.name)
}

/// The resident memory of process `pid` in MiB.
fn resident_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).context("no VmRSS line")?;
    Ok(kib / 1024.0)
}
