//! The whole embedded pipeline against a real DNS server on 127.0.0.1:
//! `dns-records` runs on a declared hostname, its raw file is stored and
//! normalized, the objects land in the graph, and follow-up boefjes are
//! scheduled (and run) for the new hostnames and IP addresses.

use std::collections::BTreeMap;

use kat_core::services::bytes::Bytes;
use kat_core::services::scheduler::{Scheduler, TaskQuery};
use kat_core::task::{BoefjeTask, TaskStatus};
use kat_tests::dns_server::start_dns_server;
use kat_tools::embedded::Embedded;
use kat_tools::pipeline::{Pipeline, TARGET_CLEARANCE};
use kat_tools::targets::parse_target;
use serde_json::json;

const ORG: &str = "e2e";

fn settings(pairs: &[(&str, &str)]) -> serde_json::Map<String, serde_json::Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
}

#[tokio::test]
async fn dns_records_runs_end_to_end_and_schedules_follow_ups() {
    let port = start_dns_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = Embedded::open(dir.path()).await.expect("stores open");
    stores.katalogus.ensure_organisation(ORG, "End to end").await.expect("org");
    for boefje in ["dns-records", "port-scan"] {
        stores.katalogus.set_enabled(ORG, boefje, true).await.expect("enable");
    }
    stores.katalogus.put_settings(ORG, "dns-records", &settings(&[("REMOTE_NS", &format!("127.0.0.1:{port}")), ("TIMEOUT_MS", "2000")])).await.expect("dns settings");
    // Follow-up port scans go to TEST-NET addresses: keep them to one port and short.
    stores.katalogus.put_settings(ORG, "port-scan", &settings(&[("PORTS", "9"), ("TIMEOUT_MS", "200")])).await.expect("scan settings");
    let graph = std::sync::Arc::new(stores.graph().await.expect("graph opens"));
    let pipeline = Pipeline::new(&stores, graph.clone(), BTreeMap::new(), 4);
    pipeline.declare(ORG, &parse_target("example.test").expect("target"), TARGET_CLEARANCE).await.expect("declared");
    let mut reports = 0;
    let summary = pipeline.run_until_idle(&mut |_| reports += 1).await.expect("pipeline runs");
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(reports, summary.boefje_tasks + summary.normalizer_tasks, "one progress report per task");

    // Raw stored, with its boefje meta and OpenKAT's mime type.
    let raws = stores.bytes.all_raw().await.expect("raw list");
    let first = raws.iter().find(|r| r.boefje_meta.input_ooi.as_deref() == Some("Hostname|internet|example.test")).expect("raw of the target");
    assert!(first.mime_types.iter().any(|m| m.value == "boefje/dns-records"), "{:?}", first.mime_types);
    assert_eq!(first.boefje_meta.environment.as_ref().and_then(|e| e.get("REMOTE_NS")), Some(&format!("127.0.0.1:{port}")));
    let (_, content) = stores.bytes.get_raw(first.id).await.expect("raw reads back");
    assert!(String::from_utf8_lossy(&content).contains("example.test"));

    // Objects in the graph, with clearance spread from the declared hostname.
    for (reference, level) in [
        ("Hostname|internet|example.test", 2),
        ("DNSZone|internet|example.test", 1),
        ("IPAddressV4|internet|127.0.0.2", 2),
        ("IPAddressV4|internet|127.0.0.3", 2),
        ("IPAddressV6|internet|::1", 2),
        ("Hostname|internet|ns1.example.test", 1),
        ("Hostname|internet|mail.example.test", 1),
        ("DNSMXRecord|internet|example.test|10 mail.example.test.", 2),
    ] {
        let r = kat_core::Reference::parse(reference).expect("valid");
        let stored = graph.get(ORG, &r).await.expect("graph read").unwrap_or_else(|| panic!("{reference} is not in the graph"));
        assert!(stored.scan_level.get() >= level, "{reference} has {:?}", stored.scan_level);
    }

    // Follow-ups: dns-records on the new hostnames, port-scan on the new addresses.
    let tasks = stores.scheduler.list(&TaskQuery { limit: 500, ..TaskQuery::default() }).await.expect("task list").results;
    let boefje_runs: Vec<(String, String, TaskStatus)> = tasks
        .iter()
        .filter(|t| t.task_type == "boefje")
        .filter_map(|t| serde_json::from_value::<BoefjeTask>(t.data.clone()).ok().map(|b| (b.boefje.id, b.input_ooi, t.status)))
        .collect();
    for (boefje, input) in [
        ("dns-records", "Hostname|internet|example.test"),
        ("dns-records", "Hostname|internet|ns1.example.test"),
        ("dns-records", "Hostname|internet|mail.example.test"),
        ("port-scan", "IPAddressV4|internet|127.0.0.2"),
        ("port-scan", "IPAddressV4|internet|127.0.0.3"),
        ("port-scan", "IPAddressV6|internet|::1"),
    ] {
        let runs: Vec<_> = boefje_runs.iter().filter(|(b, i, _)| b == boefje && i == input).collect();
        assert_eq!(runs.len(), 1, "{boefje} on {input}: {boefje_runs:#?}");
        assert_eq!(runs[0].2, TaskStatus::Completed, "{boefje} on {input}");
    }
    // The NS hostname is unknown to the server: its run gives an NXDOMAIN object.
    assert!(graph.get(ORG, &kat_core::Reference::parse("NXDOMAIN|internet|ns1.example.test").expect("valid")).await.expect("read").is_some());
    // Every stored raw file has been normalized: no event is left in the outbox.
    assert!(stores.bytes.pending_events(10).await.expect("outbox").is_empty());

    // show_raw --json on the stored dns-records raw prints valid, pretty JSON.
    drop(pipeline);
    let mut out = Vec::new();
    let args = kat_tools::cli::show_raw::ShowRawArgs { raw_id: first.id.to_string(), json: true, meta: false, data: kat_tools::cli::data_dir::DataDirArg { data_dir: dir.path().to_path_buf() } };
    tokio::task::spawn_blocking(move || kat_tools::cli::show_raw::run(&args, &mut out).map(|()| out)).await.expect("joins").map(|out| {
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("\n  \"dns_records\""), "pretty-printed: {text}");
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert!(value["dns_records"].as_str().is_some_and(|t| t.contains("example.test")));
    }).expect("show_raw works");
}

#[tokio::test]
async fn a_second_run_re_scans_without_duplicating() {
    let port = start_dns_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let stores = Embedded::open(dir.path()).await.expect("stores open");
    stores.katalogus.ensure_organisation(ORG, "End to end").await.expect("org");
    stores.katalogus.put_settings(ORG, "dns-records", &settings(&[("REMOTE_NS", &format!("127.0.0.1:{port}")), ("RECORD_TYPES", "A,NS")])).await.expect("settings");
    stores.katalogus.set_enabled(ORG, "dns-records", true).await.expect("enable");
    stores.katalogus.set_enabled(ORG, "port-scan", false).await.expect("disable");
    let graph = std::sync::Arc::new(stores.graph().await.expect("graph opens"));
    let pipeline = Pipeline::new(&stores, graph.clone(), BTreeMap::new(), 2);
    let target = parse_target("example.test").expect("target");
    let mut counts = Vec::new();
    for _ in 0..2 {
        pipeline.declare(ORG, &target, TARGET_CLEARANCE).await.expect("declared");
        let summary = pipeline.run_until_idle(&mut |_| {}).await.expect("runs");
        assert!(summary.failed.is_empty(), "{:?}", summary.failed);
        assert!(summary.boefje_tasks >= 1, "the target is scanned again");
        counts.push(graph.objects(ORG, None).await.expect("objects").len());
    }
    assert_eq!(counts[0], counts[1], "no duplicates after the second run");
    assert!(graph.objects(ORG, Some("IPPort")).await.expect("objects").is_empty(), "port-scan is disabled");
    let tasks = stores.scheduler.list(&TaskQuery { limit: 500, ..TaskQuery::default() }).await.expect("tasks").results;
    assert!(tasks.iter().all(|t| !t.data.to_string().contains("port-scan")), "no task for a disabled boefje");
}
