//! Secret settings (schema `"format": "password"` or `"writeOnly": true`)
//! reach the boefje but never the boefje meta, the raw files or the Bytes
//! database.

use std::collections::BTreeMap;
use std::sync::Arc;

use kat_boefje_runner::BoefjeRunner;
use kat_bytes::LocalBytes;
use kat_core::builtin::{Boefje, BoefjeRun, JobEnv, RawFile};
use kat_core::meta::PluginRef;
use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::services::bytes::Bytes;
use kat_core::task::BoefjeTask;
use kat_core::Reference;
use kat_katalogus::{LocalKatalogus, PluginRepository};
use serde_json::json;

/// A boefje that reports which settings it received (names only, and the one non-secret value).
struct Echo;

impl Boefje for Echo {
    fn manifest(&self) -> BoefjeManifest {
        BoefjeManifest::parse("echo/boefje.json", r#"{"id": "echo", "consumes": ["Hostname"], "produces": ["boefje/echo"], "scan_level": 1}"#).expect("manifest")
    }

    fn schema(&self) -> Option<SettingsSchema> {
        let schema = r#"{"type": "object", "properties": {"API_KEY": {"type": "string", "format": "password"}, "TOKEN": {"type": "string", "writeOnly": true}, "MODE": {"type": "string"}}}"#;
        Some(SettingsSchema::parse("echo/schema.json", schema).expect("schema"))
    }

    fn run<'a>(&'a self, _input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move {
            let names: Vec<&str> = env.keys().map(String::as_str).collect();
            let secret_arrived = env.get("API_KEY").is_some_and(|v| v.expose() == "sk-very-secret") && env.get("TOKEN").is_some_and(|v| v.expose() == "tok-very-secret");
            let text = format!("settings {names:?}; secrets arrived: {secret_arrived}; mode {}", env.get("MODE").map(|v| v.expose().as_str()).unwrap_or("-"));
            Ok(vec![RawFile { name: "out".into(), mime_types: vec!["boefje/echo".into()], content: text.into_bytes() }])
        })
    }
}

#[tokio::test]
async fn secret_settings_reach_the_boefje_but_no_stored_metadata() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repository = PluginRepository::new(vec![(Echo.manifest(), Echo.schema())], vec![]);
    let katalogus = LocalKatalogus::open(&dir.path().join("katalogus.sqlite"), repository).await.expect("katalogus");
    katalogus.ensure_organisation("o", "O").await.expect("org");
    let settings = json!({"API_KEY": "sk-very-secret", "TOKEN": "tok-very-secret", "MODE": "fast"});
    katalogus.put_settings("o", "echo", settings.as_object().expect("object")).await.expect("settings");
    let bytes_dir = dir.path().join("bytes");
    let bytes = Arc::new(LocalBytes::open(&bytes_dir).await.expect("bytes"));
    let runner = BoefjeRunner::new(vec![Box::new(Echo)], bytes.clone(), Arc::new(katalogus), BTreeMap::new());
    let task = BoefjeTask { id: uuid::Uuid::new_v4(), boefje: PluginRef { id: "echo".into(), version: None }, input_ooi: "Hostname|internet|example.nl".into(), organization: "o".into() };
    let outcome = runner.execute(&task).await.expect("runs");
    assert_eq!(outcome.error, None);

    let (meta, content) = bytes.get_raw(outcome.raw_ids[0]).await.expect("raw");
    let tags: Vec<&str> = meta.mime_types.iter().map(|m| m.value.as_str()).collect();
    assert_eq!(tags, ["boefje/echo"], "the boefje's own tag and OpenKAT's boefje/<id> are one set");
    assert_eq!(String::from_utf8_lossy(&content), r#"settings ["API_KEY", "MODE", "TOKEN"]; secrets arrived: true; mode fast"#);
    let environment = meta.boefje_meta.environment.expect("environment kept");
    assert_eq!(environment, BTreeMap::from([("MODE".to_string(), "fast".to_string())]), "only the non-secret setting is kept");
    let stored_meta = bytes.get_boefje_meta(task.id).await.expect("boefje meta");
    assert!(!serde_json::to_string(&stored_meta).expect("json").contains("very-secret"));
    for entry in kat_tests::files::all_files(&bytes_dir) {
        let data = std::fs::read(&entry).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&data).contains("very-secret"), "{} holds a secret value", entry.display());
    }
}

#[tokio::test]
async fn a_task_run_again_after_an_interrupted_attempt_keeps_its_first_meta() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repository = PluginRepository::new(vec![(Echo.manifest(), Echo.schema())], vec![]);
    let katalogus = LocalKatalogus::open(&dir.path().join("katalogus.sqlite"), repository).await.expect("katalogus");
    for org in ["o", "other"] {
        katalogus.ensure_organisation(org, org).await.expect("org");
    }
    let bytes = Arc::new(LocalBytes::open(&dir.path().join("bytes")).await.expect("bytes"));
    let runner = BoefjeRunner::new(vec![Box::new(Echo)], bytes.clone(), Arc::new(katalogus), BTreeMap::new());
    let task = BoefjeTask { id: uuid::Uuid::new_v4(), boefje: PluginRef { id: "echo".into(), version: None }, input_ooi: "Hostname|internet|example.nl".into(), organization: "o".into() };
    let first = runner.execute(&task).await.expect("first attempt");
    let first_meta = bytes.get_boefje_meta(task.id).await.expect("meta");
    let again = runner.execute(&task).await.expect("a second attempt of the same task (its lease ran out) is not refused");
    assert_eq!((again.boefje_meta_id, again.error.clone()), (first.boefje_meta_id, None));
    assert_eq!(bytes.get_boefje_meta(task.id).await.expect("meta"), first_meta, "the first meta of the run is kept");
    let hijack = BoefjeTask { organization: "other".into(), ..task.clone() };
    let err = runner.execute(&hijack).await.expect_err("another run under the same id");
    assert_eq!(err.kind, kat_core::ErrorKind::Conflict, "{err}");
    assert_eq!(bytes.get_boefje_meta(task.id).await.expect("meta").organization, "o", "the run keeps its organisation");
}

#[tokio::test]
async fn a_normalizer_task_run_again_keeps_its_first_meta_and_saves_the_same_objects() {
    use kat_core::task::NormalizerTask;
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = Arc::new(LocalBytes::open(&dir.path().join("bytes")).await.expect("bytes"));
    let run = kat_core::meta::BoefjeMeta {
        id: uuid::Uuid::new_v4(),
        started_at: Some(time::OffsetDateTime::now_utc()),
        ended_at: Some(time::OffsetDateTime::now_utc()),
        boefje: PluginRef { id: "dns-records".into(), version: None },
        input_ooi: Some("Hostname|internet|example.nl".into()),
        arguments: BTreeMap::new(),
        organization: "o".into(),
        runnable_hash: None,
        environment: None,
    };
    bytes.save_boefje_meta(&run).await.expect("meta");
    let fixture = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/openkat/dns-result-example.nl.json")).expect("fixture: shared/ beside the repository");
    let raw = bytes.save_raw(run.id, &["boefje/dns-records".to_string()], &fixture).await.expect("raw");
    let graph = kat_graph::Graph::open(&dir.path().join("graph.kgl")).await.expect("graph");
    let runner = kat_normalizer_runner::NormalizerRunner::new(kat_plugins::normalizers::all(), bytes.clone());
    let task = NormalizerTask { id: uuid::Uuid::new_v4(), normalizer: PluginRef { id: "kat_dns_normalize".into(), version: None }, raw_data: raw };
    let first = runner.execute(&task, &graph).await.expect("first attempt");
    let again = runner.execute(&task, &graph).await.expect("a second attempt of the same task is not refused");
    assert_eq!((first.objects.len(), again.objects.len()), (24, 24));
    assert!(again.report.deleted.is_empty(), "the same observation again deletes nothing");
}
