//! The real DNS normalizer into the graph, on both engines (embedded and the
//! Bolt server of `scripts/services.sh`): OpenKAT's raw file for example.nl
//! with its two A records, then the same raw with one; the second A record
//! goes, and its address with it unless another origin holds the address.

use kat_core::{Ooi, Reference, ScanLevel};
use kat_graph::{Graph, GraphLocation};
use serde_json::{json, Value};

const METHOD: &str = "dns-records/kat_dns_normalize";
const GONE_RECORD: &str = "DNSARecord|internet|example.nl|94.198.159.36";
const GONE_ADDRESS: &str = "IPAddressV4|internet|94.198.159.36";

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/openkat/dns-result-example.nl.json")).expect("fixture: shared/ beside the repository")
}

/// The fixture without the answer line of the second A record.
fn one_a_record() -> Vec<u8> {
    let mut raw: Value = serde_json::from_slice(&fixture()).expect("fixture is JSON");
    let text = raw["dns_records"].as_str().expect("dns_records text").replace("example.nl. 14364 IN A 94.198.159.36\n", "");
    raw["dns_records"] = json!(text);
    serde_json::to_vec(&raw).expect("JSON")
}

fn normalize(raw: &[u8]) -> (Reference, Vec<Ooi>) {
    let input = Reference::parse("Hostname|internet|example.nl").expect("valid");
    let objects = kat_plugins::normalizers::by_id("kat_dns_normalize").expect("built-in").normalize(&input, raw).expect("normalizes");
    (input, objects)
}

fn org(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{name}-{}-{nanos}", std::process::id())
}

async fn a_records(graph: &Graph, org: &str) -> Value {
    let query = format!("MATCH (a:DNSARecord {{organisation: '{org}'}})-[:hostname]->(h:Hostname {{name: 'example.nl'}}) RETURN count(a) AS n");
    graph.query(&query).await.expect("query").1[0][0].clone()
}

async fn replacement(graph: &Graph, address_held_elsewhere: bool) {
    let org = org("dns");
    let (input, two) = normalize(&fixture());
    graph.declare(&org, &Ooi::build("Hostname").field("network", "Network|internet").field("name", "example.nl").finish().expect("hostname"), ScanLevel::L2).await.expect("declare");
    if address_held_elsewhere {
        let address = Ooi::build("IPAddressV4").field("network", "Network|internet").field("address", "94.198.159.36").finish().expect("ip");
        graph.declare(&org, &address, ScanLevel::L1).await.expect("declare the address");
    }
    graph.save_observation(&org, METHOD, &input, &two).await.expect("save two");
    assert_eq!(a_records(graph, &org).await, json!(2));
    assert!(graph.get(&org, &Reference::parse(GONE_RECORD).expect("valid")).await.expect("read").is_some());

    let (_, one) = normalize(&one_a_record());
    assert_eq!(two.len() - one.len(), 2, "the raw without one A record gives its record and address less");
    let report = graph.save_observation(&org, METHOD, &input, &one).await.expect("save one");
    assert_eq!(a_records(graph, &org).await, json!(1));
    let mut deleted: Vec<String> = report.deleted.iter().map(ToString::to_string).collect();
    deleted.sort();
    let address = graph.get(&org, &Reference::parse(GONE_ADDRESS).expect("valid")).await.expect("read");
    if address_held_elsewhere {
        assert_eq!(deleted, [GONE_RECORD]);
        assert!(address.is_some(), "its declaration holds the address");
    } else {
        assert_eq!(deleted, [GONE_RECORD, GONE_ADDRESS]);
        assert!(address.is_none());
    }
    assert_eq!(graph.objects(&org, None).await.expect("objects").len(), one.len() + usize::from(address_held_elsewhere));
}

async fn bolt() -> Graph {
    let location = GraphLocation::parse(Some("bolt://127.0.0.1:7687"), std::path::Path::new("unused"), None, None).expect("uri");
    Graph::connect(&location).await.unwrap_or_else(|e| panic!("no Bolt graph server at bolt://127.0.0.1:7687 ({e}); start it with `bash scripts/services.sh`"))
}

#[tokio::test]
async fn embedded_replacement_drops_the_record_and_its_address() {
    let dir = tempfile::tempdir().expect("temp dir");
    replacement(&Graph::open(&dir.path().join("graph.kgl")).await.expect("open"), false).await;
}

#[tokio::test]
async fn embedded_replacement_keeps_an_address_another_origin_holds() {
    let dir = tempfile::tempdir().expect("temp dir");
    replacement(&Graph::open(&dir.path().join("graph.kgl")).await.expect("open"), true).await;
}

#[tokio::test]
async fn bolt_replacement_drops_the_record_and_its_address() {
    replacement(&bolt().await, false).await;
}

#[tokio::test]
async fn bolt_replacement_keeps_an_address_another_origin_holds() {
    replacement(&bolt().await, true).await;
}
