//! The boefje worker pool against the real in-process scheduler (SQLite in a
//! temporary directory), a real KATalogus and Bytes, and built-in test
//! boefjes that sleep: slow jobs do not hold up fast ones, leases are renewed
//! while a job runs, a stop lets the running job finish and pops nothing
//! more, and the plugin filter narrows what is popped.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Fixture;
use kat_boefje_runner::{BoefjeRunner, Pool, PoolConfig, PoolStats};
use kat_core::builtin::{Boefje, BoefjeRun, JobEnv, RawFile};
use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::services::scheduler::Scheduler;
use kat_core::task::TaskStatus;
use kat_core::Reference;
use kat_scheduler::local::boefje_push;
use kat_scheduler::{LocalScheduler, Settings, SystemClock};
use uuid::Uuid;

/// When each run ended: (boefje id, input, time), in the order they ended.
type Ends = Arc<Mutex<Vec<(String, String, Instant)>>>;

/// How many sleepers run now, and the most that ever ran at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// A built-in boefje that sleeps `delay`, then notes its end and returns one file.
struct Sleeper {
    id: &'static str,
    delay: Duration,
    ends: Ends,
    gauge: Arc<Gauge>,
}

impl Sleeper {
    fn manifest_of(id: &str) -> BoefjeManifest {
        let json = format!(r#"{{"id": "{id}", "consumes": ["Hostname"], "produces": ["boefje/{id}"], "scan_level": 1}}"#);
        BoefjeManifest::parse(&format!("{id}/boefje.json"), &json).expect("manifest")
    }
}

impl Boefje for Sleeper {
    fn manifest(&self) -> BoefjeManifest {
        Sleeper::manifest_of(self.id)
    }

    fn schema(&self) -> Option<SettingsSchema> {
        None
    }

    fn run<'a>(&'a self, input: &'a Reference, _env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move {
            let now = self.gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.gauge.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.gauge.now.fetch_sub(1, Ordering::SeqCst);
            self.ends.lock().expect("lock").push((self.id.to_string(), input.to_string(), Instant::now()));
            Ok(vec![RawFile { name: "out".into(), mime_types: vec![format!("boefje/{}", self.id)], content: input.to_string().into_bytes() }])
        })
    }
}

/// The real services of one test and a runner with its sleepers.
struct Setup {
    _fixture: Fixture,
    scheduler: Arc<LocalScheduler>,
    runner: Arc<BoefjeRunner>,
    ends: Ends,
    gauge: Arc<Gauge>,
}

impl Setup {
    /// Sleepers with these ids and delays, known to the KATalogus (organisation `o`) and the runner.
    async fn new(sleepers: &[(&'static str, Duration)]) -> Setup {
        let ends: Ends = Arc::default();
        let gauge: Arc<Gauge> = Arc::default();
        let boefjes: Vec<Box<dyn Boefje>> = sleepers.iter().map(|&(id, delay)| Box::new(Sleeper { id, delay, ends: ends.clone(), gauge: gauge.clone() }) as Box<dyn Boefje>).collect();
        let fixture = common::fixture_with(&[], boefjes.iter().map(|b| (b.manifest(), None)).collect()).await;
        let url = format!("sqlite://{}?mode=rwc", fixture.dir.path().join("scheduler.sqlite").display());
        let scheduler = LocalScheduler::open(&url, Settings::default(), Arc::new(SystemClock), fixture.katalogus.clone()).await.expect("scheduler opens");
        let runner = BoefjeRunner::new(boefjes, fixture.bytes.clone(), fixture.katalogus.clone(), BTreeMap::new());
        Setup { _fixture: fixture, scheduler: Arc::new(scheduler), runner: Arc::new(runner), ends, gauge }
    }

    /// Queue boefje `id` on host `n` (each host is its own task; the same boefje on the same host would deduplicate).
    async fn push(&self, id: &str, n: usize) -> Uuid {
        let input = Reference::parse(&format!("Hostname|internet|h{n}.example.nl")).expect("reference");
        let pushed = self.scheduler.push(boefje_push("o", id, &input)).await.expect("push");
        assert!(pushed.created);
        pushed.task.id
    }

    fn pool(&self, config: PoolConfig) -> Pool {
        Pool::new(self.runner.clone(), self.scheduler.clone(), config)
    }

    async fn status(&self, id: Uuid) -> TaskStatus {
        self.scheduler.task_row(id).await.expect("task").task.status
    }
}

fn config(size: usize) -> PoolConfig {
    PoolConfig { size, idle_wait: Duration::from_millis(50), ..PoolConfig::default() }
}

/// Drain, failing the test instead of hanging.
async fn drain(pool: Pool) -> PoolStats {
    tokio::time::timeout(Duration::from_secs(60), pool.drain()).await.expect("the pool drains").expect("the scheduler works")
}

#[tokio::test]
async fn a_slow_job_does_not_hold_up_the_fast_ones() {
    let setup = Setup::new(&[("slow", Duration::from_secs(5)), ("fast", Duration::from_millis(20))]).await;
    // Pushed first, so the first pop takes it.
    let slow = setup.push("slow", 0).await;
    let mut fast = Vec::new();
    for n in 1..=50 {
        fast.push(setup.push("fast", n).await);
    }

    let start = Instant::now();
    let stats = drain(setup.pool(config(8))).await;
    let took = start.elapsed();
    assert_eq!(stats, PoolStats { run: 51, failed: 0, errors: 0, pop_errors: 0 });

    let ends = setup.ends.lock().expect("lock").clone();
    assert_eq!(ends.len(), 51);
    let (last_id, _, slow_end) = ends.last().expect("runs").clone();
    assert_eq!(last_id, "slow", "every fast job ends before the slow one: {:?}", ends.iter().map(|e| &e.0).collect::<Vec<_>>());
    let fast_end = ends[..50].iter().map(|e| e.2).max().expect("fast runs");
    println!("50 fast jobs done after {:?}, the slow one after {:?}, drained after {took:?}", fast_end - start, slow_end - start);
    assert!(fast_end - start < Duration::from_secs(4), "the fast jobs waited for the slow one: {:?}", fast_end - start);

    // The scheduler agrees: all completed, every fast task finished before the slow one.
    let slow_row = setup.scheduler.task_row(slow).await.expect("task");
    assert_eq!(slow_row.task.status, TaskStatus::Completed);
    for id in fast {
        let row = setup.scheduler.task_row(id).await.expect("task");
        assert_eq!(row.task.status, TaskStatus::Completed);
        assert!(row.finished_at < slow_row.finished_at, "{row:?} finished after {slow_row:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_plugins_run_at_once_than_the_pool_size() {
    let setup = Setup::new(&[("short", Duration::from_millis(30))]).await;
    let mut ids = Vec::new();
    for n in 0..24 {
        ids.push(setup.push("short", n).await);
    }
    // A job gives its place back when its plugin ends, while it still stores the output: the place is
    // taken again at once, and never by more plugins than the pool's size.
    let stats = drain(setup.pool(config(3))).await;
    assert_eq!(stats, PoolStats { run: 24, failed: 0, errors: 0, pop_errors: 0 });
    assert_eq!(setup.gauge.most.load(Ordering::SeqCst), 3, "the most plugins that ran at once");
    for id in ids {
        assert_eq!(setup.status(id).await, TaskStatus::Completed);
    }
}

#[tokio::test]
async fn the_lease_is_renewed_while_a_job_runs_and_not_after() {
    let setup = Setup::new(&[("slow", Duration::from_millis(1500))]).await;
    let id = setup.push("slow", 0).await;
    let pool = setup.pool(PoolConfig { heartbeat_every: Duration::from_millis(200), ..config(1) });
    let draining = tokio::spawn(drain(pool));

    let mut leases = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = setup.scheduler.task_row(id).await.expect("task");
        match row.task.status {
            TaskStatus::Running => leases.extend(row.lease_until),
            TaskStatus::Queued | TaskStatus::Dispatched => {}
            _ => break,
        }
        assert!(Instant::now() < deadline, "the task never ended: {row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(draining.await.expect("joins").run, 1);
    assert_eq!(setup.status(id).await, TaskStatus::Completed);

    // Without heartbeats the lease of a running task would not move; every 200 ms for 1.5 s it moves about 7 times.
    let (first, last) = (*leases.first().expect("seen running"), *leases.last().expect("seen running"));
    println!("{} lease ends seen while running, {:?} apart", leases.len(), last - first);
    assert!(leases.len() >= 4, "the lease was not renewed while the job ran: {leases:?}");
    assert!(last - first >= time::Duration::milliseconds(600), "{leases:?}");

    // The job is gone, and so are its heartbeats.
    let after = setup.scheduler.task_row(id).await.expect("task");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = setup.scheduler.task_row(id).await.expect("task");
    assert_eq!((after.lease_until, after.task.modified_at), (later.lease_until, later.task.modified_at), "nothing touched the task after its job ended");
}

#[tokio::test]
async fn a_stop_lets_the_running_job_finish_and_pops_nothing_more() {
    let setup = Setup::new(&[("slow", Duration::from_millis(1500)), ("fast", Duration::ZERO)]).await;
    let slow = setup.push("slow", 0).await;
    let mut queued = Vec::new();
    for n in 1..=5 {
        queued.push(setup.push("fast", n).await);
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let pool = setup.pool(config(1));
    let running = tokio::spawn(async move {
        let stats = pool
            .run(async {
                let _ = stopped.await;
            })
            .await;
        (stats, Instant::now())
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    while setup.status(slow).await != TaskStatus::Running {
        assert!(Instant::now() < deadline, "the slow task never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).expect("the pool listens");
    let stop_at = Instant::now();
    let (stats, returned_at) = tokio::time::timeout(Duration::from_secs(30), running).await.expect("the pool stops").expect("joins");
    assert_eq!(stats.expect("the scheduler works"), PoolStats { run: 1, failed: 0, errors: 0, pop_errors: 0 });

    let ends = setup.ends.lock().expect("lock").clone();
    assert_eq!(ends.len(), 1, "only the slow job ran: {ends:?}");
    assert!(ends[0].2 > stop_at, "the slow job was still running at the stop");
    assert!(returned_at >= ends[0].2, "run returned before the running job ended");
    assert_eq!(setup.status(slow).await, TaskStatus::Completed);
    for id in queued {
        assert_eq!(setup.status(id).await, TaskStatus::Queued, "nothing is popped after the stop");
    }
}

#[tokio::test]
async fn the_plugin_filter_pops_only_those_boefjes() {
    let lookup = kat_core::config::from_pairs(&[("BOEFJES_POOL_FILTER_PLUGINS", " fast, ,")]);
    let filtered = PoolConfig::from_vars(&lookup).expect("valid");
    assert_eq!(filtered.filters, vec![kat_boefje_runner::pool::plugin_filter(&["fast".to_string()])]);
    assert_eq!(filtered.filters[0].value, serde_json::json!(["fast"]));

    let setup = Setup::new(&[("slow", Duration::ZERO), ("fast", Duration::ZERO)]).await;
    let mut slow = Vec::new();
    let mut fast = Vec::new();
    for n in 0..3 {
        slow.push(setup.push("slow", n).await);
    }
    for n in 3..8 {
        fast.push(setup.push("fast", n).await);
    }
    let stats = drain(setup.pool(PoolConfig { idle_wait: Duration::from_millis(50), ..filtered })).await;
    assert_eq!(stats.run, 5);
    for id in fast {
        assert_eq!(setup.status(id).await, TaskStatus::Completed);
    }
    for id in slow {
        assert_eq!(setup.status(id).await, TaskStatus::Queued);
    }
}

#[tokio::test]
async fn the_image_filter_pops_only_boefjes_of_those_images() {
    let lookup = kat_core::config::from_pairs(&[("BOEFJES_POOL_FILTER_IMAGES", "registry.local/b:1, ")]);
    let filtered = PoolConfig::from_vars(&lookup).expect("valid");
    assert_eq!(filtered.filters, vec![kat_boefje_runner::pool::image_filter(&["registry.local/b:1".to_string()])]);
    let setup = Setup::new(&[("slow", Duration::ZERO), ("fast", Duration::ZERO)]).await;
    // Tasks as the scheduler's subscriptions make them, with the boefje's image in the body.
    let push = |id: &'static str, image: &'static str, n: usize| {
        let data = serde_json::json!({"boefje": {"id": id, "version": null, "oci_image": image}, "input_ooi": format!("Hostname|internet|h{n}.example.nl"), "organization": "o"});
        let scheduler = setup.scheduler.clone();
        async move { scheduler.push(kat_core::services::scheduler::NewTask { task_type: kat_core::services::scheduler::TaskType::Boefje, organisation: "o".into(), priority: None, data }).await.expect("push").task.id }
    };
    let other = push("slow", "registry.local/a:1", 0).await;
    let wanted = push("fast", "registry.local/b:1", 1).await;
    let stats = drain(setup.pool(PoolConfig { idle_wait: Duration::from_millis(50), ..filtered })).await;
    assert_eq!(stats.run, 1);
    assert_eq!(setup.status(wanted).await, TaskStatus::Completed);
    assert_eq!(setup.status(other).await, TaskStatus::Queued);
}

#[test]
fn the_pool_size_is_checked() {
    let with = |pairs: &[(&str, &str)]| PoolConfig::from_vars(&kat_core::config::from_pairs(pairs));
    let default = with(&[]).expect("defaults");
    assert_eq!((default.size, default.filters.len()), (8, 0));
    assert_eq!(default.heartbeat_every, Duration::from_secs(20));
    assert_eq!(with(&[("BOEFJES_POOL_SIZE", "16")]).expect("valid").size, 16);
    assert_eq!(with(&[("BOEFJES_POOL_SIZE", "1024")]).expect("valid").size, 1024);
    for bad in ["0", "1025", "eight", "-1"] {
        let e = with(&[("BOEFJES_POOL_SIZE", bad)]).expect_err(bad);
        assert!(e.to_string().contains("BOEFJES_POOL_SIZE"), "{e}");
    }
    assert!(with(&[("BOEFJES_POOL_FILTER_PLUGINS", " , ")]).expect("valid").filters.is_empty());
}
