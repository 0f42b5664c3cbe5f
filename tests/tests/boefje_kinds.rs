//! Boefjes of both kinds the runner knows, across the real services: a
//! built-in boefje's stored boefje meta carries the input object in OpenKAT's
//! shape (`arguments.input.name`, `.network`), and a local executable loaded
//! from a plugin folder runs as a scheduler task, which fails with its exit
//! status while `show_raw` prints its job log.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kat_boefje_runner::{BoefjeRunner, LocalLimits, LocalPlugin};
use kat_bytes::LocalBytes;
use kat_core::builtin::{Boefje, BoefjeRun, JobEnv, RawFile};
use kat_core::meta::PluginRef;
use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::services::bytes::Bytes;
use kat_core::services::scheduler::{Scheduler, TaskType};
use kat_core::task::{BoefjeTask, TaskStatus};
use kat_core::Reference;
use kat_katalogus::LocalKatalogus;
use serde_json::json;

/// A built-in boefje that only says which object it ran on.
struct Reporter;

impl Boefje for Reporter {
    fn manifest(&self) -> BoefjeManifest {
        BoefjeManifest::parse("reporter/boefje.json", r#"{"id": "reporter", "consumes": ["Hostname", "IPPort"], "produces": ["boefje/reporter"], "scan_level": 1}"#).expect("manifest")
    }

    fn schema(&self) -> Option<SettingsSchema> {
        None
    }

    fn run<'a>(&'a self, input: &'a Reference, _env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move { Ok(vec![RawFile { name: "out".into(), mime_types: vec!["boefje/reporter".into()], content: input.to_string().into_bytes() }]) })
    }
}

#[tokio::test]
async fn a_built_in_boefje_gets_the_input_object_in_openkats_shape() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repository = kat_katalogus::PluginRepository::new(vec![(Reporter.manifest(), None)], vec![]);
    let katalogus = LocalKatalogus::open(&dir.path().join("katalogus.sqlite"), repository).await.expect("katalogus");
    katalogus.ensure_organisation("o", "O").await.expect("organisation");
    let bytes = Arc::new(LocalBytes::open(dir.path()).await.expect("bytes"));
    let runner = BoefjeRunner::new(vec![Box::new(Reporter)], bytes.clone(), Arc::new(katalogus), BTreeMap::new());
    let run = |input: &str| BoefjeTask { id: uuid::Uuid::new_v4(), boefje: PluginRef { id: "reporter".into(), version: None }, input_ooi: input.into(), organization: "o".into() };

    let task = run("Hostname|internet|example.nl");
    assert_eq!(runner.execute(&task).await.expect("runs").error, None);
    let input = bytes.get_boefje_meta(task.id).await.expect("meta").arguments["input"].clone();
    assert_eq!(input["object_type"], "Hostname");
    assert_eq!(input["primary_key"], "Hostname|internet|example.nl");
    assert_eq!(input["name"], "example.nl", "OpenKAT boefjes read arguments['input']['name']");
    assert_eq!(input["network"], json!({"name": "internet"}), "a reference field is tokenized, as OpenKAT serialises it");
    assert_eq!(input["scan_profile"], "None");

    let task = run("IPPort|internet|192.0.2.7|tcp|443");
    assert_eq!(runner.execute(&task).await.expect("runs").error, None);
    let input = bytes.get_boefje_meta(task.id).await.expect("meta").arguments["input"].clone();
    assert_eq!(input["address"], json!({"network": {"name": "internet"}, "address": "192.0.2.7"}));
    assert_eq!((input["protocol"].clone(), input["port"].clone()), (json!("tcp"), json!(443)));
}

/// Write a plugin folder `plugins/failer` whose program writes output and a log, then exits 3.
fn write_failer(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let folder = root.join("failer");
    std::fs::create_dir_all(&folder).expect("folder");
    let manifest = json!({"id": "failer", "consumes": ["Hostname"], "produces": ["boefje/failer-output"], "scan_level": 1, "run": ["./main", "--verbose"]});
    std::fs::write(folder.join("boefje.json"), manifest.to_string()).expect("boefje.json");
    let script = "#!/bin/sh\necho \"argument $1\"\necho \"INFO: looking at $(echo \"$BOEFJE_META\" | grep -o '\"primary_key\":\"[^\"]*\"')\" >&2\necho 'WARNING: giving up' >&2\nexit 3\n";
    std::fs::write(folder.join("main"), script).expect("main");
    std::fs::set_permissions(folder.join("main"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[tokio::test]
async fn a_failing_local_plugin_fails_its_task_and_show_raw_prints_its_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = dir.path().join("plugins");
    write_failer(&plugins);
    let mut repository = kat_tools::embedded::builtin_repository();
    assert_eq!(repository.load_dir(&plugins), Vec::<String>::new());
    let local: Vec<LocalPlugin> = repository
        .boefjes()
        .iter()
        .filter_map(|(m, s)| repository.folder(&m.id).map(|folder| LocalPlugin { manifest: m.clone(), schema: s.clone(), folder: folder.to_path_buf() }))
        .collect();
    assert_eq!(local.len(), 1, "only the folder plugin is a local executable");
    let katalogus = Arc::new(LocalKatalogus::open(&dir.path().join("katalogus.sqlite"), repository).await.expect("katalogus"));
    katalogus.ensure_organisation("o", "O").await.expect("organisation");
    let bytes = Arc::new(LocalBytes::open(dir.path()).await.expect("bytes"));
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("scheduler.sqlite").display());
    let scheduler = kat_scheduler::LocalScheduler::open(&url, kat_scheduler::Settings::default(), Arc::new(kat_scheduler::SystemClock), katalogus.clone()).await.expect("scheduler");
    let input = Reference::parse("Hostname|internet|example.nl").expect("reference");
    scheduler.push(kat_scheduler::local::boefje_push("o", "failer", &input)).await.expect("push");
    let task = scheduler.pop(TaskType::Boefje, &[], 1).await.expect("pop").pop().expect("a task");

    let host = BTreeMap::from([("SECRET_TOKEN".to_string(), "host-secret".to_string())]);
    let runner = BoefjeRunner::new(kat_plugins::boefjes::all(), bytes.clone(), katalogus.clone(), host).with_local_plugins(local, LocalLimits::default());
    let outcome = runner.run_task(&scheduler, &task).await.expect("the stores work");
    assert_eq!(outcome.error.as_deref(), Some("exited with status 3"));
    assert_eq!(scheduler.get(task.id).await.expect("task").status, TaskStatus::Failed);
    let (meta, output) = bytes.get_raw(outcome.raw_ids[0]).await.expect("output");
    let tags: Vec<&str> = meta.mime_types.iter().map(|m| m.value.as_str()).collect();
    assert!(tags.contains(&"error/boefje") && !tags.contains(&"boefje/failer-output"), "{tags:?}");
    assert_eq!(String::from_utf8_lossy(&output), "argument --verbose\n");

    let log_id = outcome.log_raw_id.expect("a job log").to_string();
    let args = kat_tools::cli::show_raw::ShowRawArgs { raw_id: log_id, json: false, meta: false, data: kat_tools::cli::data_dir::DataDirArg { data_dir: dir.path().to_path_buf() } };
    let shown = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        kat_tools::cli::show_raw::run(&args, &mut out).map(|()| out)
    })
    .await
    .expect("joins")
    .expect("show_raw prints the log");
    assert_eq!(String::from_utf8_lossy(&shown), "INFO: looking at \"primary_key\":\"Hostname|internet|example.nl\"\nWARNING: giving up\nERROR: kat-boefje-runner: exited with status 3\n");
}
