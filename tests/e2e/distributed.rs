//! The distributed pipeline end to end (issue 13): every service as its own
//! process on 127.0.0.1, as an operator starts them from the README: the
//! KATalogus on PostgreSQL, Bytes on PostgreSQL + S3 (moto) + RabbitMQ, two
//! scheduler replicas on one PostgreSQL database and RabbitMQ, two boefje
//! runners, two normalizer runners saving into the Bolt graph of
//! `scripts/services.sh`. `kat scan --api` declares the targets and waits;
//! an embedded `kat scan` of the same targets must give the same tree and
//! the same objects (fields and clearances).
//!
//! The scan goes only to servers this test starts: a DNS server for
//! `example.test` and its subdomains (every answer 40 ms late, so the scan
//! lasts a few seconds) and TCP listeners on 127.0.0.2 and 127.0.0.3.
//!
//! A second distributed scan (another organisation) SIGKILLs one boefje
//! runner, one normalizer runner and one scheduler replica mid-run and
//! starts them again: it still ends with the same objects, every task
//! completed, and every raw file both in S3 and in PostgreSQL.
//!
//! Built as a test of `kat-tools`, whose binaries it runs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kat_core::services::scheduler::{Scheduler, TaskQuery};
use kat_core::task::TaskStatus;
use kat_graph::{Graph, GraphLocation};
use kat_tests::services::{free_port, fresh_bucket, fresh_postgres, RunningService, Vhost, MOTO};

const BOLT: &str = "bolt://127.0.0.1:7687";
const SCHEDULER_TOKEN: &str = "e2e-scheduler-token";
const KATALOGUS_TOKEN: &str = "e2e-katalogus-token";
const BYTES_PASSWORD: &str = "e2e-bytes-password";

fn bin(name: &str) -> PathBuf {
    let path = match name {
        "katalogus" => env!("CARGO_BIN_EXE_katalogus"),
        "bytes-store" => env!("CARGO_BIN_EXE_bytes-store"),
        "scheduler" => env!("CARGO_BIN_EXE_scheduler"),
        "boefje-runner" => env!("CARGO_BIN_EXE_boefje-runner"),
        "normalizer-runner" => env!("CARGO_BIN_EXE_normalizer-runner"),
        _ => env!("CARGO_BIN_EXE_kat"),
    };
    PathBuf::from(path)
}

/// What the scan looks at, and the host defaults every boefje runner (and the embedded scan) gets.
struct Targets {
    targets: Vec<String>,
    boefje_env: Vec<(&'static str, String)>,
    _listeners: Vec<TcpListener>,
}

fn targets(dns_port: u16) -> Targets {
    let listeners: Vec<TcpListener> = ["127.0.0.2:0", "127.0.0.3:0"].iter().map(|a| TcpListener::bind(a).expect("bind a loopback port")).collect();
    let ports: Vec<String> = listeners.iter().map(|l| l.local_addr().expect("addr").port().to_string()).chain([free_port().to_string()]).collect();
    let boefje_env = vec![("BOEFJE_REMOTE_NS", format!("127.0.0.1:{dns_port}")), ("BOEFJE_PORTS", ports.join(",")), ("BOEFJE_TIMEOUT_MS", "3000".into())];
    let targets = std::iter::once("example.test".to_string()).chain((1..=10).map(|i| format!("h{i}.example.test"))).collect();
    Targets { targets, boefje_env, _listeners: listeners }
}

/// Every service of a distributed deployment, each its own process.
struct Cluster {
    env: Vec<(&'static str, String)>,
    katalogus: RunningService,
    bytes: RunningService,
    schedulers: Vec<RunningService>,
    boefje_runners: Vec<RunningService>,
    normalizer_runners: Vec<RunningService>,
    scheduler_db: String,
    bytes_db: String,
    bucket: String,
    _vhost: Vhost,
}

impl Cluster {
    async fn start(logs: &Path, boefje_env: &[(&'static str, String)]) -> Cluster {
        let (katalogus_db, bytes_db, scheduler_db) = (fresh_postgres("e2e_katalogus").await, fresh_postgres("e2e_bytes").await, fresh_postgres("e2e_scheduler").await);
        let bucket = fresh_bucket("kat-e2e").await;
        let vhost = Vhost::fresh("kat_e2e");
        let (private, public) = kat_core::crypto::generate_key_pair();
        let k_port = free_port();
        let katalogus = RunningService::start(
            &bin("katalogus"),
            &[
                ("KATALOGUS_DB_URI", katalogus_db),
                ("KATALOGUS_BIND", format!("127.0.0.1:{k_port}")),
                ("KATALOGUS_API_TOKEN", KATALOGUS_TOKEN.into()),
                ("BOEFJES_ENCRYPTION_MIDDLEWARE", "NACL_SEALBOX".into()),
                ("BOEFJES_KATALOGUS_PRIVATE_KEY", private),
                ("BOEFJES_KATALOGUS_PUBLIC_KEY", public),
            ],
            k_port,
            logs,
        );
        let b_port = free_port();
        let bytes = RunningService::start(
            &bin("bytes-store"),
            &[
                ("BYTES_DB_URI", bytes_db.clone()),
                ("BYTES_BIND", format!("127.0.0.1:{b_port}")),
                ("BYTES_USERNAME", "bytes".into()),
                ("BYTES_PASSWORD", BYTES_PASSWORD.into()),
                ("BYTES_DATA_DIR", logs.join("bytes-data").display().to_string()),
                ("BYTES_S3_BUCKET", bucket.clone()),
                ("AWS_ENDPOINT_URL", MOTO.into()),
                ("AWS_ACCESS_KEY_ID", "test".into()),
                ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ("AWS_REGION", "us-east-1".into()),
                ("QUEUE_URI", vhost.uri()),
            ],
            b_port,
            logs,
        );
        let schedulers: Vec<RunningService> = (0..2)
            .map(|i| {
                let port = free_port();
                let env = [
                    ("SCHEDULER_DB_URI", scheduler_db.clone()),
                    ("SCHEDULER_BIND", format!("127.0.0.1:{port}")),
                    ("SCHEDULER_API_TOKEN", SCHEDULER_TOKEN.into()),
                    ("SCHEDULER_LEASE_SECONDS", "3".into()),
                    ("SCHEDULER_SWEEP_SECONDS", "1".into()),
                    ("QUEUE_URI", vhost.uri()),
                    ("KATALOGUS_API", katalogus.base.clone()),
                    ("KATALOGUS_API_TOKEN", KATALOGUS_TOKEN.into()),
                    ("KAT_DATA_DIR", logs.join(format!("scheduler-{i}")).display().to_string()),
                ];
                RunningService::start(&bin("scheduler"), &env, port, logs)
            })
            .collect();
        // Each runner pops from its own scheduler replica: both replicas hand out work.
        let client_env = |i: usize| {
            vec![
                ("SCHEDULER_API", schedulers[i % 2].base.clone()),
                ("SCHEDULER_API_TOKEN", SCHEDULER_TOKEN.to_string()),
                ("BYTES_API", bytes.base.clone()),
                ("BYTES_USERNAME", "bytes".to_string()),
                ("BYTES_PASSWORD", BYTES_PASSWORD.to_string()),
                ("KATALOGUS_API", katalogus.base.clone()),
                ("KATALOGUS_API_TOKEN", KATALOGUS_TOKEN.to_string()),
            ]
        };
        let mut runner_health = Vec::new();
        let boefje_runners = (0..2)
            .map(|i| {
                let mut env = client_env(i);
                let health = free_port();
                runner_health.push(format!("http://127.0.0.1:{health}"));
                env.extend([("BOEFJES_POOL_SIZE", "2".to_string()), ("BOEFJES_RUNNER_ID", format!("runner-{i}")), ("BOEFJES_HEALTH_BIND", format!("127.0.0.1:{health}"))]);
                env.extend(boefje_env.iter().cloned());
                RunningService::spawn(&bin("boefje-runner"), &env, &i.to_string(), logs)
            })
            .collect();
        let normalizer_runners = (0..2)
            .map(|i| {
                let mut env = client_env(i);
                let health = free_port();
                runner_health.push(format!("http://127.0.0.1:{health}"));
                env.extend([("KAT_GRAPH_URI", BOLT.to_string()), ("NORMALIZERS_POOL_SIZE", "2".to_string()), ("KAT_DATA_DIR", logs.join(format!("normalizer-{i}")).display().to_string()), ("NORMALIZERS_HEALTH_BIND", format!("127.0.0.1:{health}"))]);
                RunningService::spawn(&bin("normalizer-runner"), &env, &i.to_string(), logs)
            })
            .collect();
        // `kat scan --api` talks to the second replica, which this test never kills.
        let mut env = client_env(1);
        env.push(("KAT_GRAPH_URI", BOLT.to_string()));
        // Every service, runners included, reports every dependency healthy.
        let services = [&katalogus.base, &bytes.base].into_iter().chain(schedulers.iter().map(|s| &s.base)).chain(&runner_health);
        for base in services {
            let body = healthy(base).await;
            assert!(body["results"].as_array().is_some_and(|r| !r.is_empty() && r.iter().all(|c| c["healthy"] == true)), "{base}: {body}");
        }
        Cluster { env, katalogus, bytes, schedulers, boefje_runners, normalizer_runners, scheduler_db, bytes_db, bucket, _vhost: vhost }
    }

    fn scheduler(&self) -> kat_scheduler::SchedulerClient {
        kat_scheduler::SchedulerClient::new(&self.schedulers[1].base, Some(SCHEDULER_TOKEN.into()))
    }

    /// Every service's output, for a failure message.
    fn logs(&self) -> String {
        let all = [&self.katalogus, &self.bytes].into_iter().chain(&self.schedulers).chain(&self.boefje_runners).chain(&self.normalizer_runners);
        all.map(|s| s.output()).collect::<Vec<_>>().join("\n----\n")
    }
}

/// `GET base/health` until it answers 200 (a runner may still be starting); its body.
async fn healthy(base: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = reqwest::get(format!("{base}/health")).await {
            if response.status().is_success() {
                return response.json().await.expect("a health body");
            }
        }
        assert!(Instant::now() < deadline, "{base}/health did not answer 200 within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kat_scan(env: &[(&str, String)], data_dir: &Path, org: &str, targets: &[String], api: bool) -> Output {
    let mut command = Command::new(bin("kat"));
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("KAT_DATA_DIR", data_dir).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command.args(["scan", "--org", org]).args(api.then_some("--api")).args(targets);
    command.output().expect("kat runs")
}

/// Every object of `org`: its JSON, clearance and declared clearance.
async fn object_set(graph: &Graph, org: &str) -> BTreeSet<String> {
    let objects = graph.objects(org, None).await.expect("objects read");
    objects.iter().map(|o| format!("{} level={} declared={:?}", serde_json::to_string(&o.ooi).expect("json"), o.scan_level.get(), o.declared.map(|d| d.get()))).collect()
}

/// Assert two object sets are equal, showing only what differs.
fn assert_same_objects(found: &BTreeSet<String>, expected: &BTreeSet<String>, what: &str) {
    let missing: Vec<&String> = expected.difference(found).collect();
    let extra: Vec<&String> = found.difference(expected).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{what}: {} objects missing {missing:#?}\n{} objects extra {extra:#?}", missing.len(), extra.len());
}

/// The tree and counts a scan printed, without the last line (how many tasks ran).
fn tree_of(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    text.lines().filter(|l| !l.ends_with("failed.")).collect::<Vec<_>>().join("\n")
}

async fn pg_rows(url: &str, sql: &str) -> Vec<(String, i64)> {
    use sqlx::Row;
    let pool = sqlx::AnyPool::connect(url).await.expect("database");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(&pool).await.expect("query");
    rows.iter().map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1))).collect()
}

/// The keys in the bucket (moto answers unsigned ListObjectsV2).
async fn bucket_keys(bucket: &str) -> BTreeSet<String> {
    let body = reqwest::get(format!("{MOTO}/{bucket}?list-type=2&max-keys=1000")).await.expect("moto lists").text().await.expect("body");
    assert!(!body.contains("<IsTruncated>true"), "more than 1000 raw files: list the next page too");
    body.split("<Key>").skip(1).filter_map(|k| k.split("</Key>").next()).map(String::from).collect()
}

/// Wait until the scheduler has finished `n` tasks of `org`.
async fn finished_tasks(scheduler: &kat_scheduler::SchedulerClient, org: &str, n: i64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let query = TaskQuery { organisation: Some(org.into()), status: Some(TaskStatus::Completed), limit: 1, ..TaskQuery::default() };
        if scheduler.list(&query).await.map(|p| p.count).unwrap_or(0) >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{n} tasks of {org} did not finish within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_distributed_pipeline_gives_the_embedded_objects_and_survives_killed_services() {
    let dns_port = kat_tests::dns_server::start_slow_dns_server(Duration::from_millis(40)).await;
    let scan = targets(dns_port);
    let dir = tempfile::tempdir().expect("temp dir");
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let orgs = [format!("e2e-a-{}", &suffix[..8]), format!("e2e-b-{}", &suffix[..8])];

    // The embedded scan of the same targets, in one process.
    let started = Instant::now();
    let embedded = tokio::task::block_in_place(|| kat_scan(&scan.boefje_env, &dir.path().join("embedded"), &orgs[0], &scan.targets, false));
    let embedded_time = started.elapsed();
    assert!(embedded.status.success(), "{}", String::from_utf8_lossy(&embedded.stderr));
    let embedded_graph = Graph::connect(&GraphLocation::parse(None, &dir.path().join("embedded/graph.kgl"), None, None).expect("path")).await.expect("embedded graph");
    let expected = object_set(&embedded_graph, &orgs[0]).await;
    drop(embedded_graph);
    assert!(expected.len() > 20, "the scan found objects: {expected:?}");

    let cluster = Cluster::start(dir.path(), &scan.boefje_env).await;
    let bolt = Graph::connect(&GraphLocation::parse(Some(BOLT), dir.path(), None, None).expect("uri")).await.unwrap_or_else(|e| panic!("the Bolt graph server is not reachable at {BOLT} ({e}); start it with `bash scripts/services.sh`"));

    // 1. A clean distributed scan: the same tree and the same objects.
    let started = Instant::now();
    let distributed = tokio::task::block_in_place(|| kat_scan(&cluster.env, &dir.path().join("client"), &orgs[0], &scan.targets, true));
    let distributed_time = started.elapsed();
    assert!(distributed.status.success(), "kat scan --api failed: {}\n{}", String::from_utf8_lossy(&distributed.stderr), cluster.logs());
    assert_eq!(tree_of(&distributed.stdout), tree_of(&embedded.stdout), "the same tree as the embedded scan");
    assert_same_objects(&object_set(&bolt, &orgs[0]).await, &expected, "the same objects, fields and clearances");
    eprintln!("wall time of the test scan: embedded {embedded_time:?}, distributed {distributed_time:?}");

    // 2. The same scan for another organisation, killing a boefje runner, a normalizer runner and a scheduler
    //    replica mid-run (SIGKILL: no goodbye) and starting them again.
    let mut cluster = cluster;
    let (env, client_dir, org, targets) = (cluster.env.clone(), dir.path().join("client"), orgs[1].clone(), scan.targets.clone());
    let scan_b = tokio::task::spawn_blocking(move || kat_scan(&env, &client_dir, &org, &targets, true));
    finished_tasks(&cluster.scheduler(), &orgs[1], 4, Duration::from_secs(60)).await;
    let open_at_kill = cluster.scheduler().open_count().await.expect("open count").total();
    assert!(open_at_kill > 0, "the kills come mid-run: tasks are still open");
    cluster.boefje_runners[0].kill();
    cluster.normalizer_runners[0].kill();
    cluster.schedulers[0].kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| {
        cluster.schedulers[0].restart();
        cluster.boefje_runners[0].restart();
        cluster.normalizer_runners[0].restart();
    });
    let killed = scan_b.await.expect("join");
    assert!(killed.status.success(), "kat scan --api with kills failed: {}\n{}", String::from_utf8_lossy(&killed.stderr), cluster.logs());
    assert_eq!(tree_of(&killed.stdout), tree_of(&embedded.stdout), "the same tree after the kills");
    assert_same_objects(&object_set(&bolt, &orgs[1]).await, &expected, "the same objects after the kills");

    // Every task of both scans reached a final state: completed, none failed or stranded.
    let statuses: BTreeMap<String, i64> = pg_rows(&cluster.scheduler_db, "SELECT status, count(*) FROM tasks GROUP BY status").await.into_iter().collect();
    assert_eq!(statuses.keys().collect::<Vec<_>>(), ["completed"], "every task completed: {statuses:?}");
    let retried = pg_rows(&cluster.scheduler_db, "SELECT 'retried', count(*) FROM tasks WHERE attempts > 0").await;
    eprintln!("{open_at_kill} tasks were open at the kills; {} were handed on after a lease ran out", retried[0].1);
    // Every raw file is in S3 under its organisation, with its metadata in PostgreSQL, and nothing else is.
    let metadata: BTreeSet<String> = pg_rows(&cluster.bytes_db, "SELECT b.organization || '/' || r.id, r.size FROM raw_data r JOIN boefje_meta b ON b.id = r.boefje_meta_id").await.into_iter().map(|(key, _)| key).collect();
    let boefje_tasks: usize = String::from_utf8_lossy(&embedded.stdout).lines().last().and_then(|l| l.split_whitespace().next()?.parse().ok()).expect("the scan's task count");
    assert!(metadata.len() >= 2 * boefje_tasks, "a raw file for every boefje task of both scans: {} for {boefje_tasks} tasks each", metadata.len());
    assert_eq!(bucket_keys(&cluster.bucket).await, metadata, "S3 holds exactly the raw files PostgreSQL knows");
}
