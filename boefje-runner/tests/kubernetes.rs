//! The Kubernetes runner against a scripted API server on 127.0.0.1
//! (`common/fake_kubernetes.rs`; no real one can run here), with a real
//! Bytes store, KATalogus, scheduler and the runner's boefje API on real
//! sockets. The test plays the container: it reads the input URL from the
//! Secret the runner made, speaks the boefje API as OpenKAT's adapter does,
//! and ends the Job as the Job controller would. Covers the exact Secret,
//! Job and owner-reference bodies, that no setting value and no token is in
//! the Job, a Job that posts and succeeds, one that fails without posting
//! (its pod log becomes `error/boefje`), and a runner that restarts mid-run
//! and re-attaches to its Job.

#[path = "common/fake_kubernetes.rs"]
mod fake_kubernetes;
mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{fixture, Fixture, PluginSpec};
use fake_kubernetes::FakeKubernetes;
use kat_boefje_runner::runner::kubernetes::spec::Resources;
use kat_boefje_runner::{ApiConfig, BoefjeRunner, Kubernetes, KubernetesConfig, LocalLimits, Pool, PoolConfig};
use kat_core::services::bytes::Bytes;
use kat_core::services::scheduler::Scheduler;
use kat_core::task::TaskStatus;
use kat_core::Reference;
use kat_scheduler::local::boefje_push;
use kat_scheduler::{LocalScheduler, Settings, SystemClock};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

const IMAGE: &str = "ghcr.io/example/kat-test:1.2";
const API_KEY: &str = "hunter2-api-key-value";
const HOST_SECRET: &str = "host-secret-never-shared";

async fn plugins() -> Fixture {
    let schema = json!({"type": "object", "properties": {"TOP_PORTS": {"type": "integer"}, "API_KEY": {"type": "string", "writeOnly": true}}});
    let spec = PluginSpec::new("kat-test", "#!/bin/sh\nexit 0\n").schema(schema).extra(json!({"oci_image": IMAGE, "oci_arguments": ["--verbose"], "timeout": 120, "run": []}));
    let f = fixture(&[spec]).await;
    f.katalogus.put_settings("o", "kat-test", json!({"API_KEY": API_KEY}).as_object().expect("object")).await.expect("settings");
    f
}

fn config(runner_id: &str) -> KubernetesConfig {
    KubernetesConfig { namespace: Some("scans".into()), resources: Resources::preset("S").expect("preset"), ttl_seconds: 300, runner_id: runner_id.into() }
}

fn runner(f: &Fixture, fake: &FakeKubernetes, runner_id: &str, api: ApiConfig) -> BoefjeRunner {
    f.runner(&[("BOEFJE_TOP_PORTS", "100"), ("SECRET_TOKEN", HOST_SECRET)], LocalLimits::default()).with_boefje_api(api).with_kubernetes(Kubernetes::new(fake.client(), config(runner_id)))
}

fn any_port() -> ApiConfig {
    ApiConfig { bind: "127.0.0.1:0".parse().expect("address"), public_url: None }
}

async fn next_job(fake: &mut FakeKubernetes) -> String {
    tokio::time::timeout(Duration::from_secs(30), fake.created.recv()).await.expect("a Job is created").expect("the server runs")
}

/// As OpenKAT's adapter: GET the input URL (retrying while it is not served yet), return the input.
async fn get_input(http: &reqwest::Client, url: &str) -> Value {
    for _ in 0..100 {
        // A runner that restarts refuses connections until its boefje API is up again.
        if let Ok(answer) = http.get(url).send().await
            && answer.status() == 200
        {
            return answer.json().await.expect("input JSON");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the input URL was never served");
}

/// Play the container of Job `name`: read the input, post one COMPLETED file, and end the Job.
async fn complete(fake: &FakeKubernetes, name: &str) -> Value {
    let url = fake.secret_value(name, "KAT_INPUT_URL").expect("the Secret holds the input URL");
    let http = reqwest::Client::new();
    let input = get_input(&http, &url).await;
    let file = base64::engine::general_purpose::STANDARD.encode(b"open: 443\n");
    let body = json!({"status": "COMPLETED", "files": [{"name": "scan.txt", "content": file, "tags": ["boefje/kat-test-output"]}]});
    let posted = http.post(input["output_url"].as_str().expect("output URL")).json(&body).send().await.expect("POST output");
    assert_eq!(posted.status(), 200);
    fake.finish_job(name, true, &format!("INFO: scanned with {API_KEY}\n"));
    input
}

fn requests(fake: &FakeKubernetes, method: Method, path_end: &str) -> Vec<Value> {
    fake.requests().into_iter().filter(|r| r.method == method && r.path.ends_with(path_end)).map(|r| r.body.unwrap_or(Value::Null)).collect()
}

fn labels(task: Uuid) -> Value {
    json!({
        "app.kubernetes.io/managed-by": "kat-boefje-runner",
        "kat.openkat.nl/boefje-id": "kat-test",
        "kat.openkat.nl/organisation": "o",
        "kat.openkat.nl/runner": "runner-a",
        "kat.openkat.nl/task-id": task.to_string(),
    })
}

/// Start a run of the plugin by runner `runner-a`; the fake server, the fixture, the run and its Job's name.
async fn start_run() -> (FakeKubernetes, Fixture, tokio::task::JoinHandle<kat_boefje_runner::BoefjeOutcome>, String) {
    let mut fake = FakeKubernetes::start().await;
    let f = plugins().await;
    let runner = runner(&f, &fake, "runner-a", any_port());
    let task = Fixture::task("kat-test");
    let run = tokio::spawn(async move { common::execute(&runner, &task).await });
    let name = next_job(&mut fake).await;
    (fake, f, run, name)
}

#[tokio::test]
async fn a_job_that_posts_completes_its_task_and_holds_no_secret() {
    let (fake, f, run, name) = start_run().await;
    let input = complete(&fake, &name).await;
    let outcome = run.await.expect("the run ends");
    assert_eq!(outcome.error, None, "{outcome:?}");
    let task_id = outcome.boefje_meta_id;
    assert_eq!(name, format!("kat-boefje-{task_id}"));
    assert_eq!(input["task"]["id"], json!(task_id.to_string()));
    assert_eq!(input["task"]["data"]["environment"]["API_KEY"], API_KEY, "the plugin gets its settings through the boefje API");

    // The Secret: the input URL and the job environment, nothing of the host's own.
    let secrets = requests(&fake, Method::POST, "/namespaces/scans/secrets");
    assert_eq!(secrets.len(), 1);
    let url = secrets[0]["stringData"]["KAT_INPUT_URL"].as_str().expect("input URL").to_string();
    let token = url.rsplit('/').next().expect("token").to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.contains(&format!("/api/v0/tasks/{task_id}/")) && token.len() == 64, "{url}");
    let annotations = json!({"kat.openkat.nl/boefje-id": "kat-test", "kat.openkat.nl/organisation": "o"});
    let metadata = json!({"name": name, "namespace": "scans", "labels": labels(task_id), "annotations": annotations});
    assert_eq!(secrets[0], json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque", "stringData": {"KAT_INPUT_URL": url, "API_KEY": API_KEY, "TOP_PORTS": "100"}}));

    // The Job: names its Secret, holds none of it.
    let jobs = requests(&fake, Method::POST, "/namespaces/scans/jobs");
    assert_eq!(jobs.len(), 1);
    let expected_job = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
        "spec": {
            "activeDeadlineSeconds": 120, "backoffLimit": 0, "ttlSecondsAfterFinished": 300,
            "template": {
                "metadata": {"labels": labels(task_id)},
                "spec": {
                    "automountServiceAccountToken": false, "enableServiceLinks": false, "restartPolicy": "Never",
                    "containers": [{
                        "name": "boefje", "image": IMAGE, "args": ["--verbose", "$(KAT_INPUT_URL)"],
                        "env": [{"name": "KAT_INPUT_URL", "valueFrom": {"secretKeyRef": {"name": name, "key": "KAT_INPUT_URL", "optional": false}}}],
                        "envFrom": [{"secretRef": {"name": name, "optional": false}}],
                        "resources": {"limits": {"cpu": "250m", "memory": "256Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": false}
                    }]
                }
            }
        }
    });
    assert_eq!(jobs[0], expected_job);
    let job_text = jobs[0].to_string();
    for value in [API_KEY, token.as_str(), HOST_SECRET, "SECRET_TOKEN"] {
        assert!(!job_text.contains(value), "{value} is in the Job spec");
    }
    assert!(!secrets[0].to_string().contains(HOST_SECRET), "a host variable reached the Secret");

    // The Job owns its Secret; the runner deleted the Secret when the run ended.
    let owner = json!({"metadata": {"ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": format!("job-uid-{name}"), "blockOwnerDeletion": false, "controller": false}]}});
    assert_eq!(requests(&fake, Method::PATCH, &format!("/secrets/{name}")), vec![owner]);
    assert_eq!(requests(&fake, Method::DELETE, &format!("/secrets/{name}")).len(), 1);
    assert!(!fake.has_secret(&name));

    // The posted file, tagged as posted plus `boefje/<id>`; the pod log as the job log, the setting redacted.
    let (tags, content) = f.only_raw(&outcome).await;
    assert_eq!(content, "open: 443\n");
    assert!(tags.contains(&"boefje/kat-test-output".to_string()) && tags.contains(&"boefje/kat-test".to_string()), "{tags:?}");
    let (_, log) = f.raw(outcome.log_raw_id.expect("a job log")).await;
    assert!(log.contains("INFO: scanned with ***") && !log.contains(API_KEY), "{log}");
}

#[tokio::test]
async fn a_job_that_fails_without_posting_stores_its_pod_log_as_the_error() {
    let (fake, f, run, name) = start_run().await;
    fake.finish_job(&name, false, "Traceback (most recent call last):\nERROR: boom\n");
    let outcome = run.await.expect("the run ends");
    let error = outcome.error.clone().expect("the run failed");
    assert!(error.contains("without posting") && error.contains("BackoffLimitExceeded"), "{error}");
    let (tags, content) = f.only_raw(&outcome).await;
    assert!(tags.contains(&"error/boefje".to_string()), "{tags:?}");
    assert_eq!(content, "Traceback (most recent call last):\nERROR: boom\n");
    assert!(!fake.has_secret(&name));
}

/// A free port of 127.0.0.1 (bound and let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

#[tokio::test]
async fn a_restarted_runner_reattaches_to_its_running_job() {
    let mut fake = FakeKubernetes::start().await;
    let f = plugins().await;
    let url = format!("sqlite://{}?mode=rwc", f.dir.path().join("scheduler.sqlite").display());
    let scheduler = Arc::new(LocalScheduler::open(&url, Settings::default(), Arc::new(SystemClock), f.katalogus.clone()).await.expect("scheduler"));
    let input = Reference::parse(common::HOSTNAME).expect("reference");
    let task_id = scheduler.push(boefje_push("o", "kat-test", &input)).await.expect("push").task.id;
    let port = free_port();
    let api = ApiConfig { bind: format!("127.0.0.1:{port}").parse().expect("address"), public_url: None };
    let pool_config = PoolConfig { size: 2, heartbeat_every: Duration::from_millis(200), ..PoolConfig::default() };

    // The first life: it creates the Job, then dies before the container posts.
    let first = Pool::new(Arc::new(runner(&f, &fake, "runner-a", api.clone())), scheduler.clone(), pool_config.clone());
    let first = tokio::spawn(first.run(std::future::pending()));
    let name = next_job(&mut fake).await;
    let old_url = fake.secret_value(&name, "KAT_INPUT_URL").expect("input URL");
    first.abort();
    let _ = first.await;
    for _ in 0..100 {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(scheduler.get(task_id).await.expect("task").status, TaskStatus::Running);

    // The second life, same runner id and address: it takes the task back and waits on the same Job.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let second = Pool::new(Arc::new(runner(&f, &fake, "runner-a", api)), scheduler.clone(), pool_config);
    let second = tokio::spawn(second.run(async move {
        let _ = stopped.await;
    }));
    let input = complete(&fake, &name).await;
    assert_eq!(input["task"]["id"], json!(task_id.to_string()));
    for _ in 0..100 {
        if scheduler.get(task_id).await.expect("task").status.is_terminal() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(scheduler.get(task_id).await.expect("task").status, TaskStatus::Completed);
    let _ = stop.send(());
    let stats = second.await.expect("the pool ends").expect("the pool works");
    assert_eq!((stats.run, stats.failed, stats.errors), (1, 0, 0));
    assert_eq!(requests(&fake, Method::POST, "/namespaces/scans/jobs").len(), 1, "the Job was not made twice");
    assert!(!fake.has_secret(&name), "the Secret is deleted after the run");
    let selector = "app.kubernetes.io/managed-by=kat-boefje-runner,kat.openkat.nl/runner=runner-a";
    let listed = fake.requests().into_iter().any(|r| r.method == Method::GET && r.path == "/apis/batch/v1/namespaces/scans/jobs" && r.query.get("labelSelector").map(String::as_str) == Some(selector) && !r.query.contains_key("watch"));
    assert!(listed, "the restarted runner lists its own Jobs");
    assert!(old_url.ends_with(&format!("/api/v0/tasks/{task_id}/{}", old_url.rsplit('/').next().unwrap_or_default())));
    let raws = f.bytes.raw_of_run(task_id).await.expect("raw files");
    assert!(raws.iter().any(|r| r.mime_types.iter().any(|m| m.value == "boefje/kat-test-output")), "{raws:?}");
}
