//! The `scheduler` binary and `kat serve --scheduler` as an operator runs
//! them: configuration from the environment (a bad number exits 64 with one
//! line naming the variable), the database opened in the data directory, the
//! API behind its token, and `SchedulerClient` driving a task through it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kat_core::services::scheduler::{Scheduler, TaskPatch, TaskType};
use kat_core::task::TaskStatus;
use kat_scheduler::SchedulerClient;

/// Kills the child when dropped, so a failing test leaves no server behind.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_scheduler_binary_serves_with_env_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let child = Command::new(env!("CARGO_BIN_EXE_scheduler"))
        .env("KAT_DATA_DIR", dir.path())
        .env("SCHEDULER_BIND", format!("127.0.0.1:{port}"))
        .env("SCHEDULER_API_TOKEN", "op-token")
        .env("SCHEDULER_LEASE_SECONDS", "120")
        .env_remove("QUEUE_URI")
        .env_remove("KATALOGUS_API")
        .stderr(Stdio::null())
        .spawn()
        .expect("scheduler starts");
    let _running = Running(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await {
            assert_eq!(r.status().as_u16(), 200);
            break;
        }
        assert!(Instant::now() < deadline, "the scheduler did not answer /health within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dir.path().join("scheduler.sqlite").exists(), "the default database lives in the data directory");
    let second = Command::new(env!("CARGO_BIN_EXE_kat")).args(["explain", "_dev", "dns-records", "Hostname|internet|a.test"]).env("KAT_DATA_DIR", dir.path()).output().expect("kat runs");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success() && stderr.contains("another kat process is using"), "the service holds the data directory's kat.lock: {stderr}");
    assert_eq!(http.get(format!("{base}/schedulers")).send().await.expect("answer").status().as_u16(), 401);
    let client = SchedulerClient::new(&base, Some("op-token".into()));
    let pushed = client.push(kat_scheduler::local::boefje_push("org1", "dns-records", &kat_core::Reference::parse("Hostname|internet|a.test").expect("ref"))).await.expect("push");
    assert!(pushed.created);
    let popped = client.pop(TaskType::Boefje, &[], 5).await.expect("pop");
    assert_eq!(popped.iter().map(|t| t.id).collect::<Vec<_>>(), [pushed.task.id]);
    client.patch(pushed.task.id, TaskPatch::status(TaskStatus::Completed)).await.expect("complete");
    assert_eq!(client.open_count().await.expect("count").total(), 0);
    let wrong = SchedulerClient::new(&base, Some("wrong".into()));
    assert_eq!(wrong.get(pushed.task.id).await.expect_err("refused").kind, kat_core::ErrorKind::Unauthorized);
}

#[test]
fn a_bad_number_stops_the_service_with_exit_code_64() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (program, args) in [(env!("CARGO_BIN_EXE_scheduler"), vec![]), (env!("CARGO_BIN_EXE_kat"), vec!["serve", "--scheduler"])] {
        let out = Command::new(program).args(&args).env("KAT_DATA_DIR", dir.path()).env("SCHEDULER_MAX_ATTEMPTS", "0").output().expect("runs");
        assert_eq!(out.status.code(), Some(64), "{program} {args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("SCHEDULER_MAX_ATTEMPTS") && stderr.lines().count() == 1, "{stderr}");
        let out = Command::new(program).args(&args).env("KAT_DATA_DIR", dir.path()).env("QUEUE_URI", "http://guest:hunter2@127.0.0.1").output().expect("runs");
        assert_eq!(out.status.code(), Some(64));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"), "a URI is never echoed");
    }
}

#[test]
fn kat_explain_says_why_a_boefje_did_not_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_kat")).args(["explain", "_dev", "dns-records", "Hostname|internet|example.nl"]).env("KAT_DATA_DIR", dir.path()).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("would not run") && stdout.contains("not_enabled:") && stdout.contains("unknown_object:"), "{stdout}");
    let json = Command::new(env!("CARGO_BIN_EXE_kat")).args(["explain", "--json", "_dev", "nope", "Hostname|internet|example.nl"]).env("KAT_DATA_DIR", dir.path()).output().expect("runs");
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(value["reasons"][0]["code"], "unknown_boefje");
    let bad = Command::new(env!("CARGO_BIN_EXE_kat")).args(["explain", "_dev", "dns-records", "not a reference"]).env("KAT_DATA_DIR", dir.path()).output().expect("runs");
    assert!(!bad.status.success());
}
