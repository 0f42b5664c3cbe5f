//! Local executable boefjes, run for real: plugin folders with shell scripts,
//! loaded by the KATalogus's plugin loader, run by `BoefjeRunner` against a
//! real Bytes store and KATalogus (SQLite) in a temporary directory (fixtures
//! in `common`). Covers the exact job environment, settings and schema checks
//! before start, timeouts that kill the whole process group, exit statuses,
//! the output limit, the memory cap and the job log.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{fixture, PluginSpec, HOSTNAME};
use kat_boefje_runner::runner::local::JOB_PATH;
use kat_boefje_runner::{LocalLimits, LogLevel};
use serde_json::{json, Value};

/// `KEY=value` lines of `env` output.
fn env_map(text: &str) -> BTreeMap<String, String> {
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Whether process `pid` is gone (a zombie waiting for a parent that does not reap counts as gone).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

async fn wait_gone(pids: &[String]) {
    let start = Instant::now();
    while !pids.iter().all(|p| gone(p)) && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alive: Vec<&String> = pids.iter().filter(|p| !gone(p)).collect();
    assert!(alive.is_empty(), "processes the plugin started are still running: {alive:?}");
}

fn pids(folder: &Path) -> Vec<String> {
    let pids: Vec<String> = std::fs::read_to_string(folder.join("pids")).expect("the plugin wrote its pids").split_whitespace().map(String::from).collect();
    assert!(pids.len() >= 2, "{pids:?}");
    pids
}

const PRINT_ENV: &str = "#!/bin/sh\nexec env\n";

#[tokio::test]
async fn the_job_environment_is_exact_and_host_variables_stay_out() {
    let schema = json!({"type": "object", "properties": {"TOP_PORTS": {"type": "integer"}}});
    let f = fixture(&[PluginSpec::new("env-printer", PRINT_ENV).schema(schema)]).await;
    let host = [("SECRET_TOKEN", "hunter2-host-secret"), ("BOEFJE_TOP_PORTS", "100"), ("BOEFJE_OTHER", "x"), ("PATH", "/evil/bin"), ("LD_PRELOAD", "/evil.so")];
    let outcome = f.run("env-printer", &host, LocalLimits::default()).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    let (tags, text) = f.only_raw(&outcome).await;
    assert_eq!(tags.iter().map(String::as_str).collect::<BTreeSet<_>>(), BTreeSet::from(["boefje/test-output", "boefje/env-printer"]));
    assert!(!text.contains("hunter2"), "a host variable reached the plugin: {text}");
    let env = env_map(&text);
    // The shell adds PWD itself; everything else is exactly what the runner gave.
    assert_eq!(env.keys().map(String::as_str).collect::<Vec<_>>(), ["BOEFJE_META", "PATH", "PWD", "TOP_PORTS"], "{text}");
    assert_eq!(env["TOP_PORTS"], "100", "BOEFJE_TOP_PORTS arrives as TOP_PORTS");
    assert_eq!(env["PATH"], JOB_PATH);
    assert_eq!(Path::new(&env["PWD"]), std::fs::canonicalize(f.folder("env-printer")).expect("folder"), "the plugin runs in its folder");
    let meta: Value = serde_json::from_str(&env["BOEFJE_META"]).expect("BOEFJE_META is JSON");
    assert_eq!(meta["id"], json!(outcome.boefje_meta_id));
    assert_eq!(meta["input_ooi"], HOSTNAME);
    assert_eq!(meta["arguments"]["input"]["name"], "example.nl");
    assert_eq!(meta["arguments"]["input"]["network"], json!({"name": "internet"}));
    assert_eq!(meta["environment"], json!({"TOP_PORTS": "100"}));

    // The organisation's KATalogus setting overrides the host default.
    f.katalogus.put_settings("o", "env-printer", json!({"TOP_PORTS": 250}).as_object().expect("object")).await.expect("settings");
    let outcome = f.run("env-printer", &host, LocalLimits::default()).await;
    assert_eq!(env_map(&f.only_raw(&outcome).await.1)["TOP_PORTS"], "250");
}

#[tokio::test]
async fn settings_that_break_the_schema_fail_the_task_before_the_plugin_starts() {
    let schema = json!({"type": "object", "properties": {"TOP_PORTS": {"type": "integer", "maximum": 65535}}});
    let f = fixture(&[PluginSpec::new("strict", "#!/bin/sh\ntouch started\necho ran\n").schema(schema)]).await;
    for (value, rule) in [("99999", "maximum"), ("lots", "integer")] {
        let outcome = f.run("strict", &[("BOEFJE_TOP_PORTS", value)], LocalLimits::default()).await;
        let error = outcome.error.clone().expect("the task fails");
        assert!(error.contains("TOP_PORTS") && error.contains(rule), "{value}: {error}");
        assert!(!error.contains(value), "the value never appears in the error: {error}");
        assert!(!f.folder("strict").join("started").exists(), "the plugin must not start");
        let (tags, text) = f.only_raw(&outcome).await;
        assert!(tags.contains(&"error/boefje".to_string()), "{tags:?}");
        assert_eq!(text, error, "the error file says why");
        assert_eq!(outcome.log_raw_id, None);
    }
}

#[tokio::test]
async fn a_plugin_past_its_timeout_is_killed_with_its_children() {
    let script = "#!/bin/sh\necho partial output\nsleep 300 &\necho $! > pids\nsh -c 'sleep 300' &\necho $! >> pids\necho $$ >> pids\nsleep 300\necho never\n";
    let f = fixture(&[PluginSpec::new("sleeper", script).extra(json!({"timeout": 1}))]).await;
    let started = Instant::now();
    let outcome = f.run("sleeper", &[], LocalLimits::default()).await;
    assert!(started.elapsed() < Duration::from_secs(10), "the manifest's timeout of 1 s overrides the default: {:?}", started.elapsed());
    let error = outcome.error.clone().expect("the task fails");
    assert!(error.contains("timed out after 1 s"), "{error}");
    let (tags, text) = f.only_raw(&outcome).await;
    assert_eq!(text, "partial output\n", "the partial output is kept");
    assert!(tags.contains(&"error/boefje".to_string()) && !tags.contains(&"boefje/test-output".to_string()), "{tags:?}");
    wait_gone(&pids(&f.folder("sleeper"))).await;
    let (log_tags, log) = f.raw(outcome.log_raw_id.expect("the runner notes why in the job log")).await;
    assert_eq!(log_tags, ["boefje/log"]);
    assert!(log.contains("ERROR: kat-boefje-runner: timed out after 1 s"), "{log}");

    // BOEFJES_JOB_TIMEOUT applies when the manifest has no timeout.
    let f = fixture(&[PluginSpec::new("sleeper2", script)]).await;
    let limits = LocalLimits { job_timeout: Duration::from_secs(1), ..LocalLimits::default() };
    let outcome = f.run("sleeper2", &[], limits).await;
    assert!(outcome.error.as_deref().is_some_and(|e| e.contains("timed out after 1 s")), "{outcome:?}");
    wait_gone(&pids(&f.folder("sleeper2"))).await;
}

#[tokio::test]
async fn processes_a_finished_plugin_left_behind_are_killed() {
    let script = "#!/bin/sh\nsleep 300 &\necho $! > pids\necho $$ >> pids\necho done\n";
    let f = fixture(&[PluginSpec::new("leaver", script)]).await;
    let started = Instant::now();
    let outcome = f.run("leaver", &[], LocalLimits::default()).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "a child holding the output open does not hold up the run");
    assert_eq!(f.only_raw(&outcome).await.1, "done\n");
    wait_gone(&pids(&f.folder("leaver"))).await;
}

#[tokio::test]
async fn a_non_zero_exit_stores_the_output_as_error_boefje() {
    let script = "#!/bin/sh\necho 'half a result'\necho 'ERROR: cannot reach the host' >&2\nexit 3\n";
    let f = fixture(&[PluginSpec::new("failer", script)]).await;
    let outcome = f.run("failer", &[], LocalLimits::default()).await;
    assert_eq!(outcome.error.as_deref(), Some("exited with status 3"));
    let (tags, text) = f.only_raw(&outcome).await;
    assert_eq!(tags.iter().map(String::as_str).collect::<BTreeSet<_>>(), BTreeSet::from(["error/boefje", "boefje/failer"]));
    assert_eq!(text, "half a result\n");
    let (_, log) = f.raw(outcome.log_raw_id.expect("a log")).await;
    assert_eq!(log, "ERROR: cannot reach the host\nERROR: kat-boefje-runner: exited with status 3\n");
}

#[tokio::test]
async fn output_above_the_limit_is_cut_and_fails_the_task() {
    // `yes` never ends by itself: the runner must stop it at the limit, not at the timeout.
    let f = fixture(&[PluginSpec::new("flood", "#!/bin/sh\nexec yes\n")]).await;
    let started = Instant::now();
    let outcome = f.run("flood", &[], LocalLimits { max_output: 1000, ..LocalLimits::default() }).await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let error = outcome.error.clone().expect("the task fails");
    assert!(error.contains("BOEFJES_MAX_OUTPUT") && error.contains("1000 bytes"), "{error}");
    let (tags, text) = f.only_raw(&outcome).await;
    assert!(tags.contains(&"error/boefje".to_string()), "{tags:?}");
    assert_eq!(text.len(), 1000, "cut at the limit");
    assert!(text.starts_with("y\ny\n"));
}

#[tokio::test]
async fn stderr_is_the_job_log_with_levels_and_without_secret_values() {
    let script = "#!/bin/sh\necho 'DEBUG: starting' >&2\necho 'INFO: scanning' >&2\necho 'WARNING: slow host' >&2\necho \"ERROR: token $TOKEN refused\" >&2\necho 'a plain line' >&2\necho ok\n";
    let schema = json!({"type": "object", "properties": {"TOKEN": {"type": "string", "writeOnly": true}}});
    let f = fixture(&[PluginSpec::new("talker", script).schema(schema)]).await;
    f.katalogus.put_settings("o", "talker", json!({"TOKEN": "tok-abc123-secret"}).as_object().expect("object")).await.expect("settings");
    let outcome = f.run("talker", &[], LocalLimits::default()).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    let levels: Vec<(LogLevel, &str)> = outcome.log.iter().map(|l| (l.level, l.text.as_str())).collect();
    assert_eq!(levels, [(LogLevel::Debug, "starting"), (LogLevel::Info, "scanning"), (LogLevel::Warning, "slow host"), (LogLevel::Error, "token *** refused"), (LogLevel::Info, "a plain line")]);
    let (tags, log) = f.raw(outcome.log_raw_id.expect("a log")).await;
    assert_eq!(tags, ["boefje/log"], "the log is not tagged boefje/<id>, so the boefje's normalizers never read it");
    assert_eq!(log, "DEBUG: starting\nINFO: scanning\nWARNING: slow host\nERROR: token *** refused\na plain line\n");
    assert_eq!(f.only_raw(&outcome).await.1, "ok\n");
}

#[tokio::test]
async fn the_memory_limit_caps_the_address_space() {
    let f = fixture(&[PluginSpec::new("limits", "#!/bin/sh\nulimit -v\n")]).await;
    let capped = f.run("limits", &[], LocalLimits { memory_limit: Some(256 << 20), ..LocalLimits::default() }).await;
    assert_eq!(capped.error, None, "{capped:?}");
    assert_eq!(f.only_raw(&capped).await.1, "262144\n", "256 MiB in KiB");
    let free = f.run("limits", &[], LocalLimits::default()).await;
    assert_ne!(f.only_raw(&free).await.1, "262144\n", "no cap without BOEFJES_MEMORY_LIMIT");
}

#[tokio::test]
async fn a_plugin_that_cannot_start_fails_with_a_message() {
    let f = fixture(&[
        PluginSpec::new("missing", "#!/bin/sh\n").extra(json!({"run": ["./not-there"]})),
        PluginSpec::new("reserved", PRINT_ENV).schema(json!({"properties": {"BOEFJE_META": {"type": "string"}}})),
    ])
    .await;
    let missing = f.run("missing", &[], LocalLimits::default()).await;
    assert!(missing.error.as_deref().is_some_and(|e| e.contains("cannot start \"./not-there\"")), "{missing:?}");
    let reserved = f.run("reserved", &[("BOEFJE_BOEFJE_META", "{}")], LocalLimits::default()).await;
    assert!(reserved.error.as_deref().is_some_and(|e| e.contains("BOEFJE_META") && e.contains("reserved")), "{reserved:?}");
    for outcome in [missing, reserved] {
        assert!(f.only_raw(&outcome).await.0.contains(&"error/boefje".to_string()));
    }
}
