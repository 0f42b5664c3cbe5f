//! Shared fixtures of the boefje runner's integration tests: plugin folders
//! written into a temporary directory, loaded by the KATalogus's plugin
//! loader, with a real Bytes store and KATalogus (SQLite) beside them.

#![allow(dead_code, reason = "each test file uses part of the helpers")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kat_boefje_runner::{BoefjeOutcome, BoefjeRunner, LocalLimits, LocalPlugin};
use kat_bytes::LocalBytes;
use kat_core::meta::PluginRef;
use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::services::bytes::Bytes;
use kat_core::task::BoefjeTask;
use kat_katalogus::{LocalKatalogus, PluginRepository};
use serde_json::{json, Value};

pub const HOSTNAME: &str = "Hostname|internet|example.nl";

/// A plugin folder: its id, extra `boefje.json` fields, `schema.json` and the script `main`.
pub struct PluginSpec<'a> {
    pub id: &'a str,
    pub extra: Value,
    pub schema: Option<Value>,
    pub script: &'a str,
}

impl<'a> PluginSpec<'a> {
    pub fn new(id: &'a str, script: &'a str) -> Self {
        PluginSpec { id, extra: json!({}), schema: None, script }
    }

    pub fn schema(mut self, schema: Value) -> Self {
        self.schema = Some(schema);
        self
    }

    pub fn extra(mut self, extra: Value) -> Self {
        self.extra = extra;
        self
    }
}

/// Real stores and the plugins of one test.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub bytes: Arc<LocalBytes>,
    pub katalogus: Arc<LocalKatalogus>,
    pub local: Vec<LocalPlugin>,
}

pub fn write_plugin(root: &Path, spec: &PluginSpec) {
    use std::os::unix::fs::PermissionsExt;
    let folder = root.join(spec.id);
    std::fs::create_dir_all(&folder).expect("plugin folder");
    let mut manifest = json!({"id": spec.id, "consumes": ["Hostname"], "produces": ["boefje/test-output"], "scan_level": 1, "run": ["./main"]});
    if let (Some(m), Some(extra)) = (manifest.as_object_mut(), spec.extra.as_object()) {
        m.extend(extra.clone());
    }
    std::fs::write(folder.join("boefje.json"), manifest.to_string()).expect("boefje.json");
    if let Some(schema) = &spec.schema {
        std::fs::write(folder.join("schema.json"), schema.to_string()).expect("schema.json");
    }
    let main = folder.join("main");
    std::fs::write(&main, spec.script).expect("main");
    std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

pub async fn fixture(specs: &[PluginSpec<'_>]) -> Fixture {
    fixture_with(specs, Vec::new()).await
}

/// A fixture whose KATalogus also knows these built-in boefjes (the runner gets them separately).
pub async fn fixture_with(specs: &[PluginSpec<'_>], builtins: Vec<(BoefjeManifest, Option<SettingsSchema>)>) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("plugins");
    std::fs::create_dir_all(&root).expect("plugin directory");
    for spec in specs {
        write_plugin(&root, spec);
    }
    let mut repository = PluginRepository::new(builtins, Vec::new());
    let problems = repository.load_dir(&root);
    assert!(problems.is_empty(), "{problems:#?}");
    // Built-ins have no folder; every loaded plugin has one.
    let local = repository
        .boefjes()
        .iter()
        .filter_map(|(manifest, schema)| Some(LocalPlugin { manifest: manifest.clone(), schema: schema.clone(), folder: repository.folder(&manifest.id)?.to_path_buf() }))
        .collect();
    let katalogus = LocalKatalogus::open(&dir.path().join("katalogus.sqlite"), repository).await.expect("katalogus");
    katalogus.ensure_organisation("o", "O").await.expect("organisation");
    let bytes = Arc::new(LocalBytes::open(&dir.path().join("bytes")).await.expect("bytes"));
    Fixture { dir, bytes, katalogus: Arc::new(katalogus), local }
}

impl Fixture {
    pub fn folder(&self, id: &str) -> PathBuf {
        self.dir.path().join("plugins").join(id)
    }

    /// A runner with the fixture's plugins, `host` as its environment and `limits`.
    pub fn runner(&self, host: &[(&str, &str)], limits: LocalLimits) -> BoefjeRunner {
        let host_env: BTreeMap<String, String> = host.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        BoefjeRunner::new(Vec::new(), self.bytes.clone(), self.katalogus.clone(), host_env).with_local_plugins(self.local.clone(), limits)
    }

    /// A task body: run boefje `id` on [`HOSTNAME`] for organisation `o`.
    pub fn task(id: &str) -> BoefjeTask {
        BoefjeTask { id: uuid::Uuid::new_v4(), boefje: PluginRef { id: id.into(), version: None }, input_ooi: HOSTNAME.into(), organization: "o".into() }
    }

    pub async fn run(&self, id: &str, host: &[(&str, &str)], limits: LocalLimits) -> BoefjeOutcome {
        execute(&self.runner(host, limits), &Fixture::task(id)).await
    }

    /// A raw file's tags and contents.
    pub async fn raw(&self, id: uuid::Uuid) -> (Vec<String>, String) {
        let (meta, content) = self.bytes.get_raw(id).await.expect("raw file");
        (meta.mime_types.into_iter().map(|m| m.value).collect(), String::from_utf8_lossy(&content).into_owned())
    }

    pub async fn only_raw(&self, outcome: &BoefjeOutcome) -> (Vec<String>, String) {
        assert_eq!(outcome.raw_ids.len(), 1, "{outcome:?}");
        self.raw(outcome.raw_ids[0]).await
    }
}

/// Run `task`; no run in these tests takes long, so a hang is a failure, not a stuck test.
pub async fn execute(runner: &BoefjeRunner, task: &BoefjeTask) -> BoefjeOutcome {
    tokio::time::timeout(Duration::from_secs(60), runner.execute(task)).await.expect("the run ends").expect("the stores work")
}
