//! The boefje API (OpenKAT's container protocol), run for real: a Python
//! plugin that speaks it as OpenKAT's `oci_adapter` does (GET the input URL
//! with no header, read `task.data`, POST base64 files to `output_url`),
//! started by `BoefjeRunner` with its input URL as last argument, against a
//! real Bytes store and KATalogus (fixtures in `common`) and the runner's
//! server on a real socket on 127.0.0.1. Covers the exact input shape, the
//! stored files and tags, the token (403 wrong, 404 unknown, refused after
//! the run), malformed posts (422), a posted FAILED, a plugin that never
//! posts, and one that crashes after posting.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{execute, fixture, Fixture, PluginSpec};
use kat_boefje_runner::{ApiConfig, BoefjeOutcome, LocalLimits};
use kat_core::services::bytes::Bytes;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The plugin: `main MODE INPUT_URL`. MODE `wait` writes its input URL to `url` and waits for a file `go`
/// before it posts (so the test can probe the API meanwhile); `fail` posts FAILED; `silent` never posts;
/// `crash` exits 3 after posting. Standard output and error both go to the job log.
const PLUGIN: &str = r#"#!/usr/bin/env python3
import base64, json, os, sys, time, urllib.error, urllib.request


def request(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def b64(data):
    return base64.b64encode(data).decode()


mode, input_url = sys.argv[1], sys.argv[-1]
status, boefje_input = request(input_url)
print(f"INFO: GET answered {status}", flush=True)
if status != 200:
    sys.exit(f"ERROR: no input: {boefje_input}")
task = boefje_input["task"]
meta = task["data"]
if mode == "wait":
    with open("url", "w") as f:
        f.write(input_url)
    deadline = time.time() + 30
    while not os.path.exists("go") and time.time() < deadline:
        time.sleep(0.05)
if mode == "silent":
    print("WARNING: leaving without a word", file=sys.stderr)
    sys.exit(0)
if mode == "fail":
    out = {"status": "FAILED", "files": [{"name": "error", "content": b64(b"Traceback: it broke"), "tags": ["error/boefje"]}]}
else:
    seen = {
        "keys": sorted(boefje_input),
        "output_url_is_input_url": boefje_input["output_url"] == input_url,
        "task_keys": sorted(task),
        "task_id": task["id"],
        "status": task["status"],
        "priority": task["priority"],
        "type": task["type"],
        "input": meta["arguments"]["input"],
        "environment": meta["environment"],
    }
    out = {"status": "COMPLETED", "files": [
        {"name": "seen.json", "content": b64(json.dumps(seen).encode()), "tags": ["boefje/api-seen"]},
        {"name": "plain.txt", "content": b64(b"no tags\n"), "tags": []},
    ]}
status, answer = request(boefje_input["output_url"], out)
print(f"INFO: POST answered {status} {json.dumps(answer)}", flush=True)
again, _ = request(input_url)
print(f"INFO: after posting, GET answered {again}", file=sys.stderr)
print(f"the input URL was {input_url}", flush=True)
if mode == "crash":
    sys.exit(3)
"#;

fn api_plugin<'a>(id: &'a str, mode: &str) -> PluginSpec<'a> {
    PluginSpec::new(id, PLUGIN).extra(json!({"protocol": "boefje-api", "run": ["./main", mode]}))
}

async fn run(f: &Fixture, id: &str) -> BoefjeOutcome {
    execute(&f.runner(&[], LocalLimits::default()).with_boefje_api(ApiConfig::default()), &Fixture::task(id)).await
}

fn tags(tags: &[String]) -> BTreeSet<&str> {
    tags.iter().map(String::as_str).collect()
}

/// A request to the boefje API: its status and JSON body.
async fn call(client: &reqwest::Client, url: &str, body: Option<&str>) -> (StatusCode, Value) {
    let request = match body {
        None => client.get(url),
        Some(body) => client.post(url).body(body.to_string()),
    };
    let response = request.send().await.expect("the boefje API answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

async fn wait_for(path: &Path) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(text) = std::fs::read_to_string(path).map(|t| t.trim().to_string())
            && !text.is_empty()
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the plugin never wrote {}", path.display());
}

#[tokio::test]
async fn a_plugin_gets_its_task_and_posts_files_through_a_per_task_url() {
    let schema = json!({"type": "object", "properties": {"TOKEN": {"type": "string", "writeOnly": true}, "REGION": {"type": "string"}}});
    let f = fixture(&[api_plugin("api-wait", "wait").schema(schema)]).await;
    f.katalogus.put_settings("o", "api-wait", json!({"TOKEN": "tok-abc123-secret", "REGION": "eu"}).as_object().expect("object")).await.expect("settings");
    let runner = f.runner(&[], LocalLimits::default()).with_boefje_api(ApiConfig::default());
    let task = Fixture::task("api-wait");
    let client = reqwest::Client::new();
    let folder = f.folder("api-wait");

    // While the plugin waits, probe the API as others would.
    let probe = async {
        let url = wait_for(&folder.join("url")).await;
        let (base, token) = url.rsplit_once('/').expect("a token at the end");
        assert!(base.starts_with("http://127.0.0.1:") && base.ends_with(&format!("/api/v0/tasks/{}", task.id)), "{url}");
        assert_eq!(token.len(), 64, "32 random bytes in hex");
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));

        let (status, input) = call(&client, &url, None).await;
        assert_eq!(status, StatusCode::OK);
        let keys: Vec<&String> = input.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["output_url", "task"], "exactly the two keys of OpenKAT's BoefjeInput");
        assert_eq!(input["output_url"], url.as_str(), "OpenKAT's output URL is the input URL");
        assert_eq!(input["task"]["id"], json!(task.id));
        assert_eq!(input["task"]["data"]["environment"], json!({"REGION": "eu", "TOKEN": "tok-abc123-secret"}), "the plugin gets its settings");

        let wrong = format!("{base}/{}", "0".repeat(64));
        for body in [None, Some(r#"{"status": "COMPLETED"}"#)] {
            let (status, answer) = call(&client, &wrong, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
            assert!(answer["detail"].is_string(), "{answer}");
            let unknown = url.replace(&task.id.to_string(), &uuid::Uuid::new_v4().to_string());
            let (status, answer) = call(&client, &unknown, body).await;
            assert_eq!((status, &answer["detail"]), (StatusCode::NOT_FOUND, &json!("Task not found")));
            let (status, _) = call(&client, &format!("{base}/short"), body).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }

        for (body, field) in [
            ("not json", "body"),
            (r#"{"status": "DONE", "files": []}"#, "status"),
            (r#"{"status": "COMPLETED", "files": "x"}"#, "files"),
            (r#"{"status": "COMPLETED", "files": [{"name": "x", "content": "%%%", "tags": []}]}"#, "files[0].content"),
            (r#"{"status": "COMPLETED", "files": [{"content": "aGk="}]}"#, "files[0].name"),
            (r#"{"status": "COMPLETED", "files": [{"name": "x", "content": "aGk=", "tags": [1]}]}"#, "files[0].tags"),
        ] {
            let (status, answer) = call(&client, &url, Some(body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
            assert_eq!(answer["field"], field, "{body}: {answer}");
        }
        // A malformed post does not use up the task: the plugin's own post below still counts.
        std::fs::write(folder.join("go"), "").expect("go");
        url
    };
    let (outcome, url) = tokio::join!(execute(&runner, &task), probe);
    assert_eq!(outcome.error, None, "{outcome:?}");
    assert_eq!(outcome.raw_ids.len(), 2, "{outcome:?}");

    // Each file with its own tags plus boefje/<id>; no `produces` (as OpenKAT).
    let (seen_tags, seen) = f.raw(outcome.raw_ids[0]).await;
    assert_eq!(tags(&seen_tags), BTreeSet::from(["boefje/api-seen", "boefje/api-wait"]));
    let seen: Value = serde_json::from_str(&seen).expect("JSON");
    assert_eq!(seen["keys"], json!(["output_url", "task"]));
    assert_eq!(seen["output_url_is_input_url"], true);
    assert_eq!(
        seen["task_keys"],
        json!(["created_at", "data", "hash", "id", "modified_at", "organisation", "priority", "schedule_id", "scheduler_id", "status", "type"]),
        "mula's task"
    );
    assert_eq!((&seen["task_id"], &seen["status"], &seen["priority"], &seen["type"]), (&json!(task.id), &json!("running"), &json!(0), &json!("boefje")));
    assert_eq!(seen["input"]["name"], "example.nl");
    let (plain_tags, plain) = f.raw(outcome.raw_ids[1]).await;
    assert_eq!((plain_tags, plain.as_str()), (vec!["boefje/api-wait".to_string()], "no tags\n"));

    // Stdout and stderr are the job log; the token and the secret are in neither the log nor the meta.
    let token = url.rsplit_once('/').expect("token").1;
    let (_, log) = f.raw(outcome.log_raw_id.expect("a job log")).await;
    assert!(log.contains("INFO: GET answered 200\n") && log.contains("INFO: POST answered 200 {}\n"), "{log}");
    assert!(log.contains("INFO: after posting, GET answered 403"), "the token stops working once the output is posted: {log}");
    assert!(log.contains("the input URL was http://127.0.0.1:") && log.contains("/***\n"), "{log}");
    assert!(!log.contains(token) && !log.contains("tok-abc123-secret"), "{log}");
    let meta = f.bytes.get_boefje_meta(task.id).await.expect("meta");
    assert_eq!(meta.environment, Some([("REGION".to_string(), "eu".to_string())].into()), "the stored meta leaves the secret out");
    assert!(!serde_json::to_string(&meta).expect("JSON").contains(token));

    // After the run the URL is unknown.
    for body in [None, Some(r#"{"status": "COMPLETED"}"#)] {
        assert_eq!(call(&client, &url, body).await.0, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_posted_failed_fails_the_task_with_error_boefje() {
    let f = fixture(&[api_plugin("api-fail", "fail")]).await;
    let outcome = run(&f, "api-fail").await;
    assert_eq!(outcome.error.as_deref(), Some("the plugin posted FAILED"));
    let (raw_tags, text) = f.only_raw(&outcome).await;
    assert_eq!(tags(&raw_tags), BTreeSet::from(["error/boefje", "boefje/api-fail"]));
    assert_eq!(text, "Traceback: it broke");
    let (_, log) = f.raw(outcome.log_raw_id.expect("a job log")).await;
    assert!(log.contains("ERROR: kat-boefje-runner: the plugin posted FAILED\n"), "{log}");
}

#[tokio::test]
async fn a_plugin_that_ends_without_posting_fails_the_task() {
    let f = fixture(&[api_plugin("api-silent", "silent")]).await;
    let outcome = run(&f, "api-silent").await;
    assert_eq!(outcome.error.as_deref(), Some("the plugin ended without posting its output"));
    let (raw_tags, text) = f.only_raw(&outcome).await;
    assert_eq!(tags(&raw_tags), BTreeSet::from(["error/boefje", "boefje/api-silent"]));
    assert_eq!(text, "the plugin ended without posting its output");
    let (_, log) = f.raw(outcome.log_raw_id.expect("the partial log is kept")).await;
    assert!(log.contains("INFO: GET answered 200\n") && log.contains("WARNING: leaving without a word\n"), "{log}");
    assert!(log.ends_with("ERROR: kat-boefje-runner: the plugin ended without posting its output\n"), "{log}");
}

#[tokio::test]
async fn a_crash_after_a_completed_post_keeps_the_output() {
    let f = fixture(&[api_plugin("api-crash", "crash")]).await;
    let outcome = run(&f, "api-crash").await;
    assert_eq!(outcome.error, None, "the posted COMPLETED ends the task, as in OpenKAT: {outcome:?}");
    assert_eq!(outcome.raw_ids.len(), 2, "{outcome:?}");
    let (_, log) = f.raw(outcome.log_raw_id.expect("a job log")).await;
    assert!(log.contains("WARNING: kat-boefje-runner: the plugin posted COMPLETED, then exited with status 3"), "{log}");
}

#[tokio::test]
async fn a_bind_address_in_use_fails_the_task_with_a_message() {
    let f = fixture(&[api_plugin("api-bind", "complete")]).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let config = ApiConfig { bind: taken.local_addr().expect("address"), public_url: None };
    let outcome = execute(&f.runner(&[], LocalLimits::default()).with_boefje_api(config), &Fixture::task("api-bind")).await;
    let error = outcome.error.clone().expect("the task fails");
    assert!(error.starts_with("cannot start the boefje API on 127.0.0.1:"), "{error}");
    assert!(f.only_raw(&outcome).await.0.contains(&"error/boefje".to_string()));
    drop(taken);
}
