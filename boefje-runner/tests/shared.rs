//! Cross-organisation deduplication through the pool, on the real
//! in-process scheduler, KATalogus and Bytes: the same boefje on the same
//! object for several organisations runs once for those that allow sharing
//! and have the same settings; an organisation that opted out, or whose
//! settings differ, gets its own run; every task completes, and every
//! organisation's boefje meta and raw files are its own.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kat_boefje_runner::{BoefjeRunner, Pool, PoolConfig};
use kat_core::builtin::{Boefje, BoefjeRun, JobEnv, RawFile};
use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::services::bytes::Bytes;
use kat_core::services::scheduler::Scheduler;
use kat_core::task::TaskStatus;
use kat_core::Reference;
use kat_katalogus::store::organisations::Organisation;
use kat_scheduler::local::boefje_push;
use kat_scheduler::{LocalScheduler, Settings, SystemClock};
use serde_json::json;

/// A built-in boefje that counts its runs and writes its `MODE` setting and input.
struct Counter(Arc<AtomicUsize>);

impl Boefje for Counter {
    fn manifest(&self) -> BoefjeManifest {
        BoefjeManifest::parse("counter/boefje.json", r#"{"id": "counter", "consumes": ["Hostname"], "produces": ["boefje/counter"], "scan_level": 1}"#).expect("manifest")
    }

    fn schema(&self) -> Option<SettingsSchema> {
        Some(SettingsSchema::parse("counter/schema.json", r#"{"type": "object", "properties": {"MODE": {"type": "string"}}}"#).expect("schema"))
    }

    fn run<'a>(&'a self, input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mode = env.get("MODE").map(|m| m.expose().clone()).unwrap_or_default();
            Ok(vec![RawFile { name: "out".into(), mime_types: vec!["boefje/counter".into()], content: format!("{input} {mode}").into_bytes() }])
        })
    }
}

#[tokio::test]
async fn organisations_with_equal_settings_share_one_run_and_keep_their_own_data() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Counter(runs.clone());
    let f = common::fixture_with(&[], vec![(counter.manifest(), counter.schema())]).await;
    for org in ["p", "q", "r"] {
        f.katalogus.ensure_organisation(org, org).await.expect("organisation");
    }
    // q opts out of sharing; r has other settings.
    f.katalogus.upsert_organisation(&Organisation { deduplicate: false, ..Organisation::new("q", "q") }).await.expect("opt out");
    f.katalogus.put_settings("r", "counter", json!({"MODE": "deep"}).as_object().expect("object")).await.expect("settings");
    let url = format!("sqlite://{}?mode=rwc", f.dir.path().join("scheduler.sqlite").display());
    let scheduler = Arc::new(LocalScheduler::open(&url, Settings::default(), Arc::new(SystemClock), f.katalogus.clone()).await.expect("scheduler"));
    let input = Reference::parse(common::HOSTNAME).expect("reference");
    let mut tasks = BTreeMap::new();
    for org in ["o", "p", "q", "r"] {
        tasks.insert(org, scheduler.push(boefje_push(org, "counter", &input)).await.expect("push").task.id);
    }
    // Another object is never shared with these.
    let other = scheduler.push(boefje_push("p", "counter", &Reference::parse("Hostname|internet|other.example.nl").expect("reference"))).await.expect("push").task.id;

    let runner = BoefjeRunner::new(vec![Box::new(counter)], f.bytes.clone(), f.katalogus.clone(), BTreeMap::new());
    // A pool of one: it pops o's task first and claims the others' duplicates.
    let pool = Pool::new(Arc::new(runner), scheduler.clone(), PoolConfig { size: 1, idle_wait: Duration::from_millis(20), ..PoolConfig::default() });
    let stats = tokio::time::timeout(Duration::from_secs(60), pool.drain()).await.expect("the pool drains").expect("the pool works");
    assert_eq!((stats.run, stats.failed, stats.errors), (5, 0, 0), "{stats:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 4, "o and p share one run; q (opted out), r (other settings) and the other object run alone");

    for (org, id) in tasks.iter().map(|(o, i)| (*o, *i)).chain([("p", other)]) {
        assert_eq!(scheduler.get(id).await.expect("task").status, TaskStatus::Completed, "{org}");
        let meta = f.bytes.get_boefje_meta(id).await.expect("each task has its own boefje meta");
        assert_eq!((meta.id, meta.organization.as_str()), (id, org));
        let raws = f.bytes.raw_of_run(id).await.expect("raw files");
        assert_eq!(raws.len(), 1, "{org}: {raws:?}");
        let (_, content) = f.bytes.get_raw(raws[0].id).await.expect("raw");
        let expected_mode = if org == "r" { "deep" } else { "" };
        let expected_host = if id == other { "Hostname|internet|other.example.nl" } else { common::HOSTNAME };
        assert_eq!(String::from_utf8_lossy(&content), format!("{expected_host} {expected_mode}"), "{org}");
    }
}

/// The KATalogus of a test, counting how often it is asked whether tasks may be shared.
struct Counting {
    inner: Arc<kat_katalogus::LocalKatalogus>,
    asked: AtomicUsize,
}

#[async_trait::async_trait]
impl kat_core::services::katalogus::Katalogus for Counting {
    async fn boefjes(&self, organisation: &str) -> kat_core::services::ServiceResult<Vec<kat_core::services::katalogus::BoefjePlugin>> {
        self.inner.boefjes(organisation).await
    }

    async fn normalizers(&self, organisation: &str) -> kat_core::services::ServiceResult<Vec<kat_core::services::katalogus::NormalizerPlugin>> {
        self.inner.normalizers(organisation).await
    }

    async fn settings(&self, organisation: &str, plugin_id: &str) -> kat_core::services::ServiceResult<serde_json::Map<String, serde_json::Value>> {
        self.inner.settings(organisation, plugin_id).await
    }

    async fn shares_tasks(&self, organisation: &str, boefje_id: &str) -> kat_core::services::ServiceResult<bool> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.inner.shares_tasks(organisation, boefje_id).await
    }
}

#[tokio::test]
async fn the_sharing_flags_are_asked_once_per_organisation_and_boefje() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = Counter(runs.clone());
    let f = common::fixture_with(&[], vec![(counter.manifest(), counter.schema())]).await;
    f.katalogus.ensure_organisation("p", "p").await.expect("organisation");
    let katalogus = Arc::new(Counting { inner: f.katalogus.clone(), asked: AtomicUsize::new(0) });
    let url = format!("sqlite://{}?mode=rwc", f.dir.path().join("scheduler.sqlite").display());
    let scheduler = Arc::new(LocalScheduler::open(&url, Settings::default(), Arc::new(SystemClock), f.katalogus.clone()).await.expect("scheduler"));
    for n in 0..10 {
        let input = Reference::parse(&format!("Hostname|internet|h{n}.example.nl")).expect("reference");
        for org in ["o", "p"] {
            scheduler.push(boefje_push(org, "counter", &input)).await.expect("push");
        }
    }
    let runner = BoefjeRunner::new(vec![Box::new(counter)], f.bytes.clone(), katalogus.clone(), BTreeMap::new());
    let pool = Pool::new(Arc::new(runner), scheduler.clone(), PoolConfig { size: 1, idle_wait: Duration::from_millis(20), ..PoolConfig::default() });
    let stats = tokio::time::timeout(Duration::from_secs(60), pool.drain()).await.expect("the pool drains").expect("the pool works");
    assert_eq!((stats.run, stats.failed, stats.errors), (20, 0, 0), "{stats:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 10, "each object ran once for both organisations");
    assert_eq!(katalogus.asked.load(Ordering::SeqCst), 2, "asked once for o and once for p, then remembered");
}
