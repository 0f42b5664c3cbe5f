//! `kat bench pipeline`: tasks end to end through the embedded pipeline
//! (`crate::pipeline::Pipeline`, the one `kat scan` runs): the SQLite
//! scheduler with leases, the boefje pool, Bytes with its outbox, the
//! normalizer pool and the embedded graph, in a temporary data directory.
//! The boefje is a built-in no-op that returns a generated 2 KiB
//! `boefje/dns-records` raw file for its hostname (no network); the real DNS
//! normalizer parses it. Every task is pushed first, then the pipeline runs
//! until idle. Figures: boefje tasks/s end to end, objects/s saved, and the
//! latency from push to the task's objects saved (its normalizer task done).
//! With `--distributed`, the same work through the services as separate
//! processes too (`super::distributed`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use kat_boefje_runner::BoefjeRunner;
use kat_core::builtin::{Boefje, BoefjeRun, JobEnv, RawFile};
use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::services::scheduler::Scheduler;
use kat_core::Reference;

use super::normalize::{dns_records_file, section};
use super::report::{millis, Figure, Progress};
use super::{BenchArgs, Percentiles};
use crate::embedded::{builtin_repository, Embedded};
use crate::pipeline::Pipeline;

const STAGE: &str = "pipeline";
/// The organisation the benchmark's tasks run for.
pub(super) const ORGANISATION: &str = "bench";
/// The no-op boefje's id.
pub(super) const BOEFJE_ID: &str = "bench-dns-records";

/// The no-op boefje's `boefje.json`.
pub(super) fn manifest_json() -> String {
    format!(r#"{{"id": "{BOEFJE_ID}", "consumes": ["Hostname"], "produces": ["boefje/dns-records"], "scan_level": 1}}"#)
}

/// A built-in boefje that answers at once with a dns-records raw file for its hostname.
pub(super) struct DnsNoop;

impl Boefje for DnsNoop {
    fn manifest(&self) -> BoefjeManifest {
        BoefjeManifest::parse("bench/boefje.json", &manifest_json()).unwrap_or_else(|e| unreachable!("the benchmark's manifest parses: {e}"))
    }

    fn schema(&self) -> Option<SettingsSchema> {
        None
    }

    fn run<'a>(&'a self, input: &'a Reference, _env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move { Ok(vec![RawFile { name: "dns-records".into(), mime_types: vec!["boefje/dns-records".into()], content: dns_records_raw(input.human_readable()) }]) })
    }
}

/// About 2 KiB of `boefje/dns-records` for `name`: A, AAAA, MX, NS and TXT answers.
pub fn dns_records_raw(name: &str) -> Vec<u8> {
    let mut text = String::new();
    let n = name.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let answers: [(&str, Vec<String>); 5] = [
        ("A", (0..14).map(|i| format!("{name}. 300 IN A 10.{}.{}.{i}", n % 256, (n / 256) % 256)).collect()),
        ("AAAA", (0..6).map(|i| format!("{name}. 300 IN AAAA 2001:db8:{:x}::{i:x}", n % 65536)).collect()),
        ("MX", (0..3).map(|i| format!("{name}. 300 IN MX {i} mx{i}.{name}.")).collect()),
        ("NS", (0..2).map(|i| format!("{name}. 300 IN NS ns{i}.{name}.")).collect()),
        ("TXT", (0..2).map(|i| format!("{name}. 300 IN TXT \"v=spf1 include:_spf{i}.{name} -all\"")).collect()),
    ];
    for (id, (rtype, lines)) in answers.iter().enumerate() {
        section(&mut text, id, name, rtype, lines);
    }
    dns_records_file(&text)
}

/// Run `--tasks` (500 with `--quick`) tasks through the pipeline and report its figures.
pub fn run(args: &BenchArgs, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    let tasks = if args.quick { args.tasks.min(500) } else { args.tasks.min(5_000) };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let mut figures = runtime.block_on(measure(tasks, progress))?;
    if args.distributed {
        let exe = std::env::current_exe().context("finding the kat executable")?;
        figures.extend(runtime.block_on(super::distributed::measure(&exe, tasks, &args.queue_uri, progress))?);
    }
    Ok(figures)
}

async fn measure(tasks: usize, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let mut repository = builtin_repository();
    repository.add_boefje(DnsNoop.manifest(), None, Default::default(), false)?;
    let stores = Embedded::open_with_plugins(dir.path(), kat_scheduler::Settings::default(), repository).await?;
    stores.katalogus.ensure_organisation(ORGANISATION, ORGANISATION).await?;
    let graph = Arc::new(stores.graph().await?);
    let boefjes = BoefjeRunner::new(vec![Box::new(DnsNoop)], stores.bytes.clone(), stores.katalogus.clone(), BTreeMap::new());
    let pipeline = Pipeline::with_boefje_runner(&stores, graph.clone(), boefjes, 8);
    let mut pushed: HashMap<String, Instant> = HashMap::with_capacity(tasks);
    let started = Instant::now();
    for i in 0..tasks {
        let input = Reference::parse(&format!("Hostname|internet|h{i}.bench.test"))?;
        stores.scheduler.push(kat_scheduler::local::boefje_push(ORGANISATION, BOEFJE_ID, &input)).await?;
        pushed.insert(input.to_string(), Instant::now());
    }
    let mut latencies = Vec::with_capacity(tasks);
    let summary = pipeline
        .run_until_idle(&mut |p| {
            if let (false, Some(input)) = (p.boefje, p.input_ooi.as_deref())
                && let Some(at) = pushed.get(input)
            {
                latencies.push(at.elapsed());
            }
            progress.step(STAGE, "tasks end to end", p.done.min(2 * tasks), 2 * tasks);
        })
        .await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(summary.failed.is_empty(), "{} tasks failed, the first: {:?}", summary.failed.len(), summary.failed.first().map(|f| &f.error));
    anyhow::ensure!(summary.boefje_tasks == tasks && summary.normalizer_tasks == tasks, "ran {} boefje and {} normalizer tasks of {tasks}", summary.boefje_tasks, summary.normalizer_tasks);
    let (_, rows) = graph.query(&format!("MATCH (n) WHERE n.organisation = '{ORGANISATION}' AND n.primary_key IS NOT NULL RETURN count(n)")).await?;
    let objects = rows.first().and_then(|r| r.first()).and_then(serde_json::Value::as_f64).context("counting the saved objects")?;
    let latencies = Percentiles::new(latencies);
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    Ok(vec![
        Figure::new(STAGE, format!("tasks/s end to end ({tasks} no-op boefje + DNS normalizer tasks)"), tasks as f64 / seconds, "tasks/s").target(2_000.0),
        Figure::new(STAGE, "objects/s saved", objects / seconds, "objects/s"),
        Figure::new(STAGE, "latency push to objects saved, p50", millis(latencies.at(0.5)), "ms").lower_is_better(),
        Figure::new(STAGE, "latency push to objects saved, p99", millis(latencies.at(0.99)), "ms").lower_is_better(),
        Figure::new(STAGE, "whole run", millis(elapsed), "ms").lower_is_better(),
    ])
}
