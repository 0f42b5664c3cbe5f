//! `kat bench pipeline --distributed`: the pipeline stage's work through the
//! services as separate processes. This `kat` executable is started as
//! `kat serve --katalogus`, `--bytes` and `--scheduler` (SQLite in a
//! temporary directory; Bytes relays `raw_file_received` to the broker of
//! `--queue-uri`, where the scheduler consumes it); the boefje and
//! normalizer worker pools run in this process over the services' HTTP
//! clients, as the `boefje-runner` and `normalizer-runner` binaries run them,
//! with the same no-op boefje (known to the KATalogus process as a plugin
//! folder) and the real DNS normalizer saving into an embedded graph. The
//! figures are the embedded stage's: tasks/s end to end, objects/s, latency
//! from push to objects saved.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kat_boefje_runner::{BoefjeRunner, Pool, PoolConfig};
use kat_core::services::scheduler::Scheduler;
use kat_core::Reference;

use super::pipeline::{manifest_json, DnsNoop, BOEFJE_ID, ORGANISATION};
use super::report::{millis, Figure, Progress};
use super::startup::{free_port, spawn_service, wait_healthy};
use super::Percentiles;
use crate::normalizer_pool::NormalizerWorker;

const STAGE: &str = "pipeline";
/// How long the run may go without a finished task before it gives up.
const STALL: Duration = Duration::from_secs(60);

/// Run `tasks` tasks through the services started from `exe`, events through the broker at `queue_uri`.
pub async fn measure(exe: &std::path::Path, tasks: usize, queue_uri: &str, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    broker_answers(queue_uri)?;
    let dir = tempfile::tempdir().context("temporary directory")?;
    let plugins = dir.path().join("plugins").join(BOEFJE_ID);
    std::fs::create_dir_all(&plugins)?;
    std::fs::write(plugins.join("boefje.json"), manifest_json())?;
    let ports = [free_port()?, free_port()?, free_port()?];
    let [katalogus_url, bytes_url, scheduler_url] = ports.map(|p| format!("http://127.0.0.1:{p}"));
    let services: [(&'static str, &str, &str, u16); 3] = [("katalogus", "--katalogus", "KATALOGUS_BIND", ports[0]), ("bytes", "--bytes", "BYTES_BIND", ports[1]), ("scheduler", "--scheduler", "SCHEDULER_BIND", ports[2])];
    let mut started = Vec::new();
    for (n, (name, flag, bind, port)) in services.into_iter().enumerate() {
        progress.step(STAGE, &format!("distributed: starting kat serve {flag}"), n, services.len());
        let env = [
            (bind, format!("127.0.0.1:{port}")),
            ("KATALOGUS_PLUGIN_DIR", dir.path().join("plugins").display().to_string()),
            ("KATALOGUS_API", katalogus_url.clone()),
            ("QUEUE_URI", queue_uri.to_string()),
        ];
        let mut service = spawn_service(exe, name, &[flag], &env, &dir.path().join(name))?;
        wait_healthy(&mut service, port)?;
        started.push(service);
    }

    let katalogus = Arc::new(kat_katalogus::KatalogusClient::new(&katalogus_url, None));
    katalogus.ensure_organisation(ORGANISATION, ORGANISATION).await?;
    let bytes = Arc::new(kat_bytes::client::BytesClient::new(&bytes_url, "bench", "bench-password"));
    let scheduler: Arc<dyn Scheduler> = Arc::new(kat_scheduler::SchedulerClient::new(&scheduler_url, None));
    let graph = Arc::new(kat_graph::Graph::open(&dir.path().join("graph.kgl")).await?);
    let boefjes = Arc::new(BoefjeRunner::new(vec![Box::new(DnsNoop)], bytes.clone(), katalogus, BTreeMap::new()));
    let normalizers = Arc::new(NormalizerWorker::new(kat_normalizer_runner::NormalizerRunner::new(kat_plugins::normalizers::all(), bytes).with_rules(kat_plugins::rules::all()), graph.clone()));

    // Finished tasks come back as (is a normalizer task, its input object).
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(bool, Option<String>)>();
    let config = PoolConfig { size: 8, idle_wait: Duration::from_millis(50), ..PoolConfig::default() };
    let boefje_done = done_tx.clone();
    let boefje_pool = Pool::new(boefjes, scheduler.clone(), config.clone()).on_done(move |_, _| {
        let _ = boefje_done.send((false, None));
    });
    let normalizer_pool = Pool::new(normalizers, scheduler.clone(), config).on_done(move |task, _| {
        let input = serde_json::from_value::<kat_core::task::NormalizerTask>(task.data.clone()).ok().and_then(|n| n.raw_data.boefje_meta.input_ooi);
        let _ = done_tx.send((true, input));
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let boefje_run = tokio::spawn(boefje_pool.run(until(stopped.clone())));
    let normalizer_run = tokio::spawn(normalizer_pool.run(until(stopped)));

    let mut pushed: HashMap<String, Instant> = HashMap::with_capacity(tasks);
    let begun = Instant::now();
    for i in 0..tasks {
        let input = Reference::parse(&format!("Hostname|internet|h{i}.bench.test"))?;
        scheduler.push(kat_scheduler::local::boefje_push(ORGANISATION, BOEFJE_ID, &input)).await?;
        pushed.insert(input.to_string(), Instant::now());
    }
    let (mut boefje_tasks, mut normalizer_tasks, mut latencies) = (0, 0, Vec::with_capacity(tasks));
    while normalizer_tasks < tasks {
        let Ok(Some((normalizer, input))) = tokio::time::timeout(STALL, done_rx.recv()).await else {
            let _ = stop.send(true);
            bail!("no task finished for {STALL:?} ({boefje_tasks} boefje and {normalizer_tasks} normalizer tasks of {tasks} done): is another scheduler consuming raw_file_received on {}? Give the benchmark a vhost of its own with --queue-uri", redact(queue_uri));
        };
        if normalizer {
            normalizer_tasks += 1;
            if let Some(at) = input.and_then(|i| pushed.get(&i)) {
                latencies.push(at.elapsed());
            }
        } else {
            boefje_tasks += 1;
        }
        progress.step(STAGE, "distributed: tasks end to end", boefje_tasks + normalizer_tasks, 2 * tasks);
    }
    let elapsed = begun.elapsed();
    let _ = stop.send(true);
    let _ = (boefje_run.await, normalizer_run.await);
    drop(started);
    let (_, rows) = graph.query(&format!("MATCH (n) WHERE n.organisation = '{ORGANISATION}' AND n.primary_key IS NOT NULL RETURN count(n)")).await?;
    let objects = rows.first().and_then(|r| r.first()).and_then(serde_json::Value::as_f64).context("counting the saved objects")?;
    let latencies = Percentiles::new(latencies);
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    Ok(vec![
        Figure::new(STAGE, format!("distributed: tasks/s end to end ({tasks} tasks, services as processes)"), tasks as f64 / seconds, "tasks/s"),
        Figure::new(STAGE, "distributed: objects/s saved", objects / seconds, "objects/s"),
        Figure::new(STAGE, "distributed: latency push to objects saved, p50", millis(latencies.at(0.5)), "ms").lower_is_better(),
        Figure::new(STAGE, "distributed: latency push to objects saved, p99", millis(latencies.at(0.99)), "ms").lower_is_better(),
    ])
}

/// Fail at once, naming the address, when nothing listens where the broker should be.
fn broker_answers(queue_uri: &str) -> anyhow::Result<()> {
    let rest = queue_uri.split_once("://").map_or(queue_uri, |(_, r)| r);
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h).split('/').next().unwrap_or_default();
    let address = if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:5672") };
    match std::net::TcpStream::connect(&address) {
        Ok(_) => Ok(()),
        Err(e) => bail!("--distributed needs a RabbitMQ broker: nothing answers at {address} ({e}); start one (bash scripts/services.sh) or name it with --queue-uri"),
    }
}

/// The URI without its password, for messages.
fn redact(uri: &str) -> String {
    match (uri.split_once("://"), uri.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
        _ => uri.to_string(),
    }
}
