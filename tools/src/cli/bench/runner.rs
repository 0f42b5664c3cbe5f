//! `kat bench runner`: the boefje worker pool on real code paths, in
//! process: a `kat_boefje_runner::Pool` of 8 over the in-process scheduler,
//! Bytes and KATalogus on temporary SQLite files. Two runs:
//!
//! - built-in no-op boefje tasks (the runner's own cost per task: pop,
//!   `running`, settings, boefje meta, one raw file, `completed`);
//! - local-executable jobs: a plugin folder whose program is a shell script
//!   that exits at once (the cost of starting and reaping a process group
//!   with its limits, on top of the above).
//!
//! Each pushes its tasks first, then drains the queue with the pool; the
//! figure is tasks per second.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use kat_boefje_runner::{BoefjeRunner, LocalLimits, LocalPlugin, Pool, PoolConfig};
use kat_bytes::LocalBytes;
use kat_core::builtin::{Boefje, BoefjeRun, JobEnv, RawFile};
use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::services::scheduler::Scheduler;
use kat_core::Reference;
use kat_katalogus::{LocalKatalogus, PluginRepository};
use kat_scheduler::{LocalScheduler, Settings, SystemClock};

use super::report::{Figure, Progress};
use super::BenchArgs;

const STAGE: &str = "runner";

/// The most local-executable jobs one run starts.
const MAX_LOCAL_JOBS: usize = 2_000;

/// A built-in boefje that does nothing but return one small raw file.
struct Noop;

impl Boefje for Noop {
    fn manifest(&self) -> BoefjeManifest {
        manifest(r#"{"id": "bench-noop", "consumes": ["Hostname"], "produces": ["text/plain"], "scan_level": 1}"#)
    }

    fn schema(&self) -> Option<SettingsSchema> {
        None
    }

    fn run<'a>(&'a self, _input: &'a Reference, _env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async { Ok(vec![RawFile { name: "out".into(), mime_types: vec!["text/plain".into()], content: b"ok".to_vec() }]) })
    }
}

fn manifest(json: &str) -> BoefjeManifest {
    BoefjeManifest::parse("bench/boefje.json", json).unwrap_or_else(|e| unreachable!("the benchmark's manifest parses: {e}"))
}

/// Run both measurements.
pub fn run(args: &BenchArgs, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    progress.step(STAGE, &format!("{} built-in no-op tasks", args.tasks), 0, 2);
    let builtin = runtime.block_on(measure(args.tasks, false))?;
    let jobs = args.tasks.min(if args.quick { MAX_LOCAL_JOBS / 4 } else { MAX_LOCAL_JOBS });
    progress.step(STAGE, &format!("{jobs} local-executable jobs"), 1, 2);
    let local = runtime.block_on(measure(jobs, true))?;
    Ok(vec![
        Figure::new(STAGE, "built-in no-op tasks/s, one pool of 8 in process", builtin, "tasks/s").target(5_000.0),
        Figure::new(STAGE, "local-executable jobs/s, one pool of 8", local, "jobs/s").target(300.0),
    ])
}

/// Push `tasks` tasks of the no-op built-in (or the local script) and drain them with a pool; tasks/s.
async fn measure(tasks: usize, local: bool) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let (boefje_id, local_plugins, repository) = if local { local_plugin(dir.path())? } else { ("bench-noop".to_string(), Vec::new(), PluginRepository::new(vec![(Noop.manifest(), None)], Vec::new())) };
    let katalogus = Arc::new(LocalKatalogus::open(&dir.path().join("katalogus.sqlite"), repository).await?);
    katalogus.ensure_organisation("bench", "bench").await?;
    // Bytes as configured (`BYTES_INLINE_MAX`: the no-op's 2-byte raw file is kept in its metadata row by default).
    let inline_max = kat_bytes::config::inline_max(&|name| std::env::var(name).ok())?;
    let bytes = Arc::new(LocalBytes::open(&dir.path().join("bytes")).await?.with_inline_max(inline_max));
    let scheduler_url = format!("sqlite://{}?mode=rwc", dir.path().join("scheduler.sqlite").display());
    let scheduler = Arc::new(LocalScheduler::open(&scheduler_url, Settings::default(), Arc::new(SystemClock), katalogus.clone()).await?);
    for i in 0..tasks {
        let input = Reference::parse(&format!("Hostname|internet|h{i}.bench.test"))?;
        scheduler.push(kat_scheduler::local::boefje_push("bench", &boefje_id, &input)).await?;
    }
    let builtins: Vec<Box<dyn Boefje>> = vec![Box::new(Noop)];
    let runner = BoefjeRunner::new(builtins, bytes, katalogus, Default::default()).with_local_plugins(local_plugins, LocalLimits::default());
    let started = Instant::now();
    let stats = Pool::new(Arc::new(runner), scheduler.clone(), PoolConfig::default()).drain().await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(stats.run as usize == tasks && stats.failed == 0 && stats.errors == 0, "the pool ran {} of {tasks} tasks ({} failed, {} errors)", stats.run, stats.failed, stats.errors);
    anyhow::ensure!(scheduler.open_count().await?.total() == 0, "tasks are still open after the drain");
    Ok(tasks as f64 / elapsed.as_secs_f64().max(f64::EPSILON))
}

/// A plugin folder whose program exits at once, loaded as the KATalogus and the runner load plugin folders.
fn local_plugin(dir: &std::path::Path) -> anyhow::Result<(String, Vec<LocalPlugin>, PluginRepository)> {
    use std::os::unix::fs::PermissionsExt;
    let folder = dir.join("plugins").join("bench-true");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("boefje.json"), r#"{"id": "bench-true", "consumes": ["Hostname"], "produces": ["text/plain"], "scan_level": 1, "run": ["./main"]}"#)?;
    std::fs::write(folder.join("main"), "#!/bin/sh\nexit 0\n")?;
    std::fs::set_permissions(folder.join("main"), std::fs::Permissions::from_mode(0o755))?;
    let mut repository = PluginRepository::default();
    let problems = repository.load_dir(&dir.join("plugins"));
    anyhow::ensure!(problems.is_empty(), "the benchmark's plugin folder: {problems:?}");
    let plugins = crate::embedded::local_plugins(&repository);
    Ok(("bench-true".into(), plugins, repository))
}
