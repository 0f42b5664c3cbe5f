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
