//! The `boefje-runner` binary as an operator runs it: the real `katalogus`,
//! `bytes-store` and `scheduler` binaries on 127.0.0.1 (SQLite in a temporary
//! directory), one plugin folder shared by the KATalogus and the runner, a
//! task pushed over the scheduler's REST API, run by the runner, its output in
//! Bytes; SIGTERM while a job runs lets the job finish and exits 0, and
//! nothing more is popped; SIGKILL mid-job leaves no plugin process alive and
//! the task's lease hands it on; a missing endpoint exits 64 naming it.
//! The `normalizer-runner` binary beside it normalizes that output with an
//! external normalizer into the Bolt graph of `scripts/services.sh`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kat_core::services::bytes::Bytes;
use kat_core::services::scheduler::Scheduler;
use kat_core::task::TaskStatus;
use kat_scheduler::SchedulerClient;
use kat_tests::services::{free_port, RunningService};

/// A plugin folder `id` whose program prints `output` after `sleep` seconds.
fn plugin(root: &Path, id: &str, sleep: &str, output: &str) {
    plugin_script(root, id, &format!("#!/bin/sh\nsleep {sleep}\necho \"INFO: done\" >&2\nprintf '%s' '{output}'\n"));
}

/// A plugin folder `id` whose program is `script`; returns the folder.
fn plugin_script(root: &Path, id: &str, script: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let folder = root.join(id);
    std::fs::create_dir_all(&folder).expect("plugin folder");
    let manifest = serde_json::json!({"id": id, "consumes": ["Hostname"], "produces": ["text/plain"], "scan_level": 1, "run": ["./main"]});
    std::fs::write(folder.join("boefje.json"), manifest.to_string()).expect("boefje.json");
    let main = folder.join("main");
    std::fs::write(&main, script).expect("main");
    std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    folder
}

struct Cluster {
    _katalogus: RunningService,
    _bytes: RunningService,
    _scheduler: RunningService,
    scheduler: SchedulerClient,
    bytes: kat_bytes::client::BytesClient,
    runner_env: Vec<(&'static str, String)>,
}

async fn cluster(dir: &Path, plugins: &Path) -> Cluster {
    cluster_with(dir, plugins, &[]).await
}

/// A cluster whose scheduler also reads `scheduler_env`.
async fn cluster_with(dir: &Path, plugins: &Path, scheduler_env: &[(&'static str, &str)]) -> Cluster {
    let bin = |name: &str| std::path::PathBuf::from(match name {
        "katalogus" => env!("CARGO_BIN_EXE_katalogus"),
        "bytes-store" => env!("CARGO_BIN_EXE_bytes-store"),
        _ => env!("CARGO_BIN_EXE_scheduler"),
    });
    let plugin_dir = plugins.display().to_string();
    let (kp, bp, sp) = (free_port(), free_port(), free_port());
    let katalogus = RunningService::start(
        &bin("katalogus"),
        &[("KATALOGUS_DB_URI", format!("sqlite://{}?mode=rwc", dir.join("katalogus.sqlite").display())), ("KATALOGUS_BIND", format!("127.0.0.1:{kp}")), ("KATALOGUS_PLUGIN_DIR", plugin_dir.clone())],
        kp,
        dir,
    );
    let bytes = RunningService::start(
        &bin("bytes-store"),
        &[("BYTES_DATA_DIR", dir.join("bytes").display().to_string()), ("BYTES_USERNAME", "runner".into()), ("BYTES_PASSWORD", "pw-4711".into()), ("BYTES_BIND", format!("127.0.0.1:{bp}"))],
        bp,
        dir,
    );
    let scheduler = RunningService::start(
        &bin("scheduler"),
        &[("KAT_DATA_DIR", dir.join("scheduler").display().to_string()), ("SCHEDULER_BIND", format!("127.0.0.1:{sp}")), ("KATALOGUS_API", katalogus.base.clone())]
            .into_iter()
            .chain(scheduler_env.iter().map(|(k, v)| (*k, v.to_string())))
            .collect::<Vec<_>>(),
        sp,
        dir,
    );
    let created = reqwest::Client::new().post(format!("{}/v1/organisations/", katalogus.base)).json(&serde_json::json!({"id": "org1", "name": "Org 1"})).send().await.expect("katalogus answers");
    assert!(created.status().is_success(), "{}", created.status());
    let runner_env = vec![
        ("SCHEDULER_API", scheduler.base.clone()),
        ("BYTES_API", bytes.base.clone()),
        ("BYTES_USERNAME", "runner".into()),
        ("BYTES_PASSWORD", "pw-4711".into()),
        ("KATALOGUS_API", katalogus.base.clone()),
        ("KATALOGUS_PLUGIN_DIR", plugin_dir),
        ("BOEFJES_POOL_SIZE", "2".into()),
    ];
    Cluster {
        scheduler: SchedulerClient::new(&scheduler.base, None),
        bytes: kat_bytes::client::BytesClient::new(&bytes.base, "runner", "pw-4711"),
        _katalogus: katalogus,
        _bytes: bytes,
        _scheduler: scheduler,
        runner_env,
    }
}

async fn wait_for(scheduler: &SchedulerClient, id: uuid::Uuid, status: TaskStatus, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let task = scheduler.get(id).await.expect("get task");
        if task.status == status {
            return;
        }
        assert!(Instant::now() < deadline, "task {id} is {:?}, not {status:?}, after {within:?}", task.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn push(id: &str, host: &str) -> kat_core::services::scheduler::NewTask {
    kat_scheduler::local::boefje_push("org1", id, &kat_core::Reference::parse(&format!("Hostname|internet|{host}")).expect("reference"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_runs_pushed_tasks_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    plugin(&plugins, "quick-echo", "0", "quick output");
    plugin(&plugins, "slow-echo", "2", "slow output");
    let c = cluster(dir.path(), &plugins).await;

    let quick = c.scheduler.push(push("quick-echo", "a.test")).await.expect("push").task;
    let runner = Command::new(env!("CARGO_BIN_EXE_boefje-runner"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(c.runner_env.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(Stdio::piped())
        .spawn()
        .expect("boefje-runner starts");
    wait_for(&c.scheduler, quick.id, TaskStatus::Completed, Duration::from_secs(30)).await;
    let raws = c.bytes.raw_of_run(quick.id).await.expect("raw files of the run");
    let mut outputs = Vec::new();
    for raw in &raws {
        let (meta, content) = c.bytes.get_raw(raw.id).await.expect("raw");
        outputs.push((meta.mime_types.iter().map(|m| m.value.clone()).collect::<Vec<_>>(), String::from_utf8_lossy(&content).into_owned()));
    }
    assert!(outputs.iter().any(|(mimes, text)| text == "quick output" && mimes.contains(&"boefje/quick-echo".to_string())), "{outputs:?}");
    assert!(outputs.iter().any(|(mimes, text)| text.contains("done") && mimes == &["boefje/log".to_string()]), "the job log is stored: {outputs:?}");

    // SIGTERM while the slow job runs: it finishes, the runner exits 0, and a task pushed after the signal stays queued.
    let slow = c.scheduler.push(push("slow-echo", "b.test")).await.expect("push").task;
    wait_for(&c.scheduler, slow.id, TaskStatus::Running, Duration::from_secs(30)).await;
    let killed = Command::new("kill").args(["-TERM", &runner.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = c.scheduler.push(push("quick-echo", "c.test")).await.expect("push").task;
    let out = tokio::task::spawn_blocking(move || runner.wait_with_output()).await.expect("join").expect("runner output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(stderr.contains("stopping") && stderr.contains("stopped after 2 job(s)"), "{stderr}");
    assert_eq!(c.scheduler.get(slow.id).await.expect("get").status, TaskStatus::Completed, "the running job finished before the exit");
    assert_eq!(c.scheduler.get(later.id).await.expect("get").status, TaskStatus::Queued, "nothing is popped after SIGTERM");
}

/// Whether process `pid` still runs (a zombie left for an init that does not reap counts as gone).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_outright_leaves_no_process_behind_and_no_task_stranded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    // The program starts a child of its own, notes both process ids, and sleeps.
    let folder = plugin_script(&plugins, "sleeper", "#!/bin/sh\nsleep 300 &\necho \"$$ $!\" > pids.tmp && mv pids.tmp pids\nsleep 300\n");
    let c = cluster_with(dir.path(), &plugins, &[("SCHEDULER_LEASE_SECONDS", "2"), ("SCHEDULER_SWEEP_SECONDS", "1")]).await;
    let task = c.scheduler.push(push("sleeper", "a.test")).await.expect("push").task;
    let mut runner = Command::new(env!("CARGO_BIN_EXE_boefje-runner"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(c.runner_env.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(Stdio::null())
        .spawn()
        .expect("boefje-runner starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let pids = loop {
        if let Ok(text) = std::fs::read_to_string(folder.join("pids")) {
            break text.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        }
        assert!(Instant::now() < deadline, "the plugin never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.iter().all(|pid| alive(pid)), "the plugin and its child run");
    runner.kill().expect("SIGKILL the runner");
    runner.wait().expect("reap the runner");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|pid| alive(pid)) {
        assert!(Instant::now() < deadline, "processes of the killed runner's job outlived it: {pids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its lease runs out and the scheduler hands the task on (queued again for another runner).
    wait_for(&c.scheduler, task.id, TaskStatus::Queued, Duration::from_secs(30)).await;
}

#[test]
fn a_missing_endpoint_or_a_bad_variable_stops_the_runner_with_exit_64_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_boefje-runner"))
        .env_clear()
        .env("SCHEDULER_API", "http://127.0.0.1:9")
        .env("BYTES_API", "http://127.0.0.1:9")
        .env("BYTES_USERNAME", "u")
        .env("BYTES_PASSWORD", "p")
        .output()
        .expect("boefje-runner runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("KATALOGUS_API is not set"), "{stderr}");
    let bad_bind = Command::new(env!("CARGO_BIN_EXE_boefje-runner"))
        .env_clear()
        .envs([("SCHEDULER_API", "http://127.0.0.1:9"), ("BYTES_API", "http://127.0.0.1:9"), ("BYTES_USERNAME", "u"), ("BYTES_PASSWORD", "p"), ("KATALOGUS_API", "http://127.0.0.1:9"), ("BOEFJES_API_BIND", "not-an-address")])
        .output()
        .expect("boefje-runner runs");
    let stderr = String::from_utf8_lossy(&bad_bind.stderr);
    assert_eq!(bad_bind.status.code(), Some(64), "a bad BOEFJES_API_BIND stops it at start: {stderr}");
    assert!(stderr.contains("BOEFJES_API_BIND"), "{stderr}");
    let dir = tempfile::tempdir().expect("temp dir");
    let kat = Command::new(env!("CARGO_BIN_EXE_kat")).args(["run-boefje", "_dev", "dns-records", "Hostname|internet|a.test"]).env("KAT_DATA_DIR", dir.path()).env("BOEFJES_API_BIND", "not-an-address").output().expect("kat runs");
    let stderr = String::from_utf8_lossy(&kat.stderr);
    assert_eq!(kat.status.code(), Some(64), "kat checks it at start too: {stderr}");
    let no_api = Command::new(env!("CARGO_BIN_EXE_boefje-runner"))
        .env_clear()
        .envs([("SCHEDULER_API", "http://127.0.0.1:9"), ("BYTES_API", "http://127.0.0.1:9"), ("BYTES_USERNAME", "u"), ("BYTES_PASSWORD", "p"), ("KATALOGUS_API", "http://127.0.0.1:9"), ("BOEFJES_RUNTIME", "kubernetes")])
        .output()
        .expect("boefje-runner runs");
    let stderr = String::from_utf8_lossy(&no_api.stderr);
    assert_eq!(no_api.status.code(), Some(64), "Kubernetes without BOEFJES_API stops it at start: {stderr}");
    assert!(stderr.contains("BOEFJES_API is not set"), "{stderr}");
    let help = Command::new(env!("CARGO_BIN_EXE_boefje-runner")).arg("--help").output().expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(["SCHEDULER_API", "BYTES_API", "KATALOGUS_API", "BOEFJES_POOL_SIZE", "SIGTERM"].iter().all(|v| help.contains(v)), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_normalizer_runner_normalizes_raw_files_from_bytes_into_the_bolt_graph() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    plugin(&plugins, "name-echo", "0", "named.test");
    let normalizer = plugins.join("name-normalizer");
    std::fs::create_dir_all(&normalizer).expect("folder");
    std::fs::write(normalizer.join("normalizer.json"), r#"{"id": "name-normalizer", "consumes": ["boefje/name-echo"], "run": ["./normalize.py"]}"#).expect("manifest");
    let script = "#!/usr/bin/env python3\nimport json, sys\nfor name in sys.stdin.read().split():\n    print(json.dumps({'object_type': 'Hostname', 'network': 'Network|internet', 'name': name}))\n";
    std::fs::write(normalizer.join("normalize.py"), script).expect("script");
    std::fs::set_permissions(normalizer.join("normalize.py"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let c = cluster(dir.path(), &plugins).await;
    let boefje = c.scheduler.push(push("name-echo", "a.test")).await.expect("push").task;
    let env = |program: &str| {
        let mut command = Command::new(program);
        command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).envs(c.runner_env.iter().map(|(k, v)| (*k, v.as_str()))).env("KAT_GRAPH_URI", "bolt://127.0.0.1:7687").stderr(Stdio::piped());
        command
    };
    let mut runner = env(env!("CARGO_BIN_EXE_boefje-runner")).spawn().expect("boefje-runner starts");
    wait_for(&c.scheduler, boefje.id, TaskStatus::Completed, Duration::from_secs(30)).await;
    let _ = runner.kill();
    let raw = c.bytes.raw_of_run(boefje.id).await.expect("raw files").into_iter().find(|r| r.mime_types.iter().any(|m| m.value == "boefje/name-echo")).expect("the boefje's output");
    let data = serde_json::json!({"normalizer": {"id": "name-normalizer", "version": null}, "raw_data": raw});
    let task = c.scheduler.push(kat_core::services::scheduler::NewTask { task_type: kat_core::services::scheduler::TaskType::Normalizer, organisation: "org1".into(), priority: None, data }).await.expect("push").task;
    let graph = kat_graph::Graph::connect(&kat_graph::GraphLocation::parse(Some("bolt://127.0.0.1:7687"), dir.path(), None, None).expect("uri")).await.expect("the Bolt graph of scripts/services.sh");
    // The Bolt server outlives test runs: start from an organisation without the object.
    graph.delete("org1", &kat_core::Reference::parse("Hostname|internet|named.test").expect("reference")).await.expect("delete");
    let normalizers = env(env!("CARGO_BIN_EXE_normalizer-runner")).spawn().expect("normalizer-runner starts");
    wait_for(&c.scheduler, task.id, TaskStatus::Completed, Duration::from_secs(30)).await;
    let saved = graph.get("org1", &kat_core::Reference::parse("Hostname|internet|named.test").expect("reference")).await.expect("read");
    assert!(saved.is_some(), "the external normalizer's object is in the graph");
    assert!(graph.origins("org1", &kat_core::Reference::parse("Hostname|internet|named.test").expect("reference")).await.expect("origins").iter().any(|o| o.method == "name-echo/name-normalizer"));
    let killed = Command::new("kill").args(["-TERM", &normalizers.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || normalizers.wait_with_output()).await.expect("join").expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("stopped after 1 task(s)"), "{stderr}");
}

#[test]
fn the_normalizer_runner_needs_the_scheduler_and_bytes() {
    let out = Command::new(env!("CARGO_BIN_EXE_normalizer-runner")).env_clear().env("SCHEDULER_API", "http://127.0.0.1:9").output().expect("normalizer-runner runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("BYTES_API is not set: the normalizer runner needs it"), "{stderr}");
    let help = Command::new(env!("CARGO_BIN_EXE_normalizer-runner")).arg("--help").output().expect("runs");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success() && text.contains("KAT_GRAPH_URI") && text.contains("NORMALIZERS_POOL_SIZE"), "{text}");
}
