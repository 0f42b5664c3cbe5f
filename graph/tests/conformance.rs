//! One conformance suite of the graph operations, run on both engines: the
//! embedded kglite file and the Bolt server at bolt://127.0.0.1:7687
//! (kglite-bolt-server behind the Bolt 4.4 adapter, started by
//! `bash scripts/services.sh`). Each test works in organisations of its own,
//! so the shared Bolt server needs no cleaning between tests.
//!
//! Expected clearance values are computed by hand from the rules in
//! `kat_graph::clearance` and these limits (kat_core::ooi::types):
//! DNSARecord.hostname issue 0 / inherit 2; DNSARecord.address issue 4 /
//! inherit 0; DNSNSRecord.name_server_hostname issue 1 / inherit 0;
//! Hostname.network and IPAddressV4.network issue 0.

use kat_core::{Ooi, Reference, ScanLevel};
use kat_graph::{Filter, Graph, GraphLocation};
use serde_json::json;

const BOLT_URI: &str = "bolt://127.0.0.1:7687";
const DNS: &str = "dns-records/kat_dns_normalize";

fn r(text: &str) -> Reference {
    Reference::parse(text).expect("valid reference")
}

fn hostname(name: &str) -> Ooi {
    Ooi::build("Hostname").field("network", "Network|internet").field("name", name).finish().expect("hostname")
}

fn ip(address: &str) -> Ooi {
    Ooi::build("IPAddressV4").field("network", "Network|internet").field("address", address).finish().expect("ip")
}

fn a_record(host: &Ooi, ip: &Ooi) -> Ooi {
    Ooi::build("DNSARecord")
        .reference("hostname", host.reference())
        .field("dns_record_type", "A")
        .field("value", ip.reference().human_readable())
        .field("ttl", 300)
        .reference("address", ip.reference())
        .finish()
        .expect("a record")
}

fn ns_record(host: &Ooi, ns: &Ooi) -> Ooi {
    Ooi::build("DNSNSRecord")
        .reference("hostname", host.reference())
        .field("dns_record_type", "NS")
        .field("value", format!("{}.", ns.reference().human_readable()))
        .reference("name_server_hostname", ns.reference())
        .finish()
        .expect("ns record")
}

/// An organisation name no other test (or earlier run on the same Bolt server) uses.
fn org(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{name}-{}-{nanos}", std::process::id())
}

async fn level(graph: &Graph, org: &str, reference: &str) -> Option<u8> {
    graph.get(org, &r(reference)).await.expect("read").map(|s| s.scan_level.get())
}

fn keys(objects: &[kat_graph::StoredObject]) -> Vec<String> {
    objects.iter().map(|s| s.ooi.reference().to_string()).collect()
}

/// The DNS normalizer's result on a host with these A records.
fn dns_result(host: &Ooi, ips: &[&Ooi]) -> Vec<Ooi> {
    let mut out = vec![host.clone()];
    for ip in ips {
        out.push(a_record(host, ip));
        out.push((*ip).clone());
    }
    out
}

async fn observation_replaces_its_result(graph: &Graph) {
    let org = org("replace");
    let host = hostname("example.test");
    let (ip1, ip2) = (ip("192.0.2.1"), ip("192.0.2.2"));
    graph.declare(&org, &host, ScanLevel::L2).await.expect("declare");
    let first = graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&ip1, &ip2])).await.expect("save");
    assert_eq!(first.new_or_raised.len(), 4, "two records and two addresses are new: {:?}", keys(&first.new_or_raised));
    let again = graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&ip1, &ip2])).await.expect("save again");
    assert!(again.new_or_raised.is_empty() && again.deleted.is_empty() && again.lowered.is_empty(), "{again:?}");
    assert_eq!(graph.objects(&org, None).await.expect("list").len(), 5);

    let fewer = graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&ip1])).await.expect("save fewer");
    let mut deleted: Vec<String> = fewer.deleted.iter().map(ToString::to_string).collect();
    deleted.sort();
    assert_eq!(deleted, ["DNSARecord|internet|example.test|192.0.2.2", "IPAddressV4|internet|192.0.2.2"]);
    assert_eq!(graph.objects(&org, None).await.expect("list").len(), 3);
    assert!(graph.get(&org, host.reference()).await.expect("read").is_some(), "the declaration still holds the hostname");
}

async fn an_object_another_origin_holds_stays(graph: &Graph) {
    let org = org("held");
    let host = hostname("example.test");
    let (ip1, ip2) = (ip("192.0.2.1"), ip("192.0.2.2"));
    graph.declare(&org, &ip2, ScanLevel::L1).await.expect("declare the second address too");
    graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&ip1, &ip2])).await.expect("save");
    let fewer = graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&ip1])).await.expect("save fewer");
    assert_eq!(fewer.deleted, [r("DNSARecord|internet|example.test|192.0.2.2")], "the address stays: its declaration holds it");
    assert!(graph.get(&org, ip2.reference()).await.expect("read").is_some());
}

async fn fields_are_properties_and_references_relations(graph: &Graph) {
    let org = org("fields");
    let host = hostname("example.nl");
    graph.declare(&org, &host, ScanLevel::L1).await.expect("declare");
    graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&ip("192.0.2.1"), &ip("192.0.2.2")])).await.expect("save");
    let count = format!("MATCH (a:DNSARecord {{organisation: '{org}'}})-[:hostname]->(h:Hostname {{name: 'example.nl'}}) RETURN count(a) AS n");
    let (_, rows) = graph.query(&count).await.expect("query");
    assert_eq!(rows, [[json!(2)]]);
    let walk = format!("MATCH (a:DNSARecord {{organisation: '{org}'}})-[:address]->(i:IPAddressV4) RETURN a.ttl AS ttl, i.address AS address ORDER BY address");
    let (columns, rows) = graph.query(&walk).await.expect("query");
    assert_eq!(columns, ["ttl", "address"]);
    assert_eq!(rows, [[json!(300), json!("192.0.2.1")], [json!(300), json!("192.0.2.2")]]);
    let stored = graph.get(&org, &r("DNSARecord|internet|example.nl|192.0.2.1")).await.expect("read").expect("stored");
    assert_eq!(stored.ooi, a_record(&host, &ip("192.0.2.1")), "every field reads back as saved");
    // A field named `id` (kglite's own node identity) is the property `kat_id`, and reads back as saved.
    let finding_type = Ooi::build("KATFindingType").field("id", "KAT-TEST").field("description", "a test").finish().expect("finding type");
    graph.declare(&org, &finding_type, ScanLevel::L0).await.expect("declare");
    assert_eq!(graph.get(&org, finding_type.reference()).await.expect("read").expect("stored").ooi, finding_type);
    let (_, rows) = graph.query(&format!("MATCH (t:KATFindingType {{organisation: '{org}'}}) RETURN t.kat_id AS id")).await.expect("query");
    assert_eq!(rows, [[json!("KAT-TEST")]]);
}

/// Relations are created anew on each save (not merged): saving again, or a result that holds an object
/// twice, still leaves one relation per reference and one result link per object.
async fn each_relation_once_whatever_the_saves(graph: &Graph) {
    let org = org("once");
    let host = hostname("example.nl");
    let address = ip("192.0.2.1");
    graph.declare(&org, &host, ScanLevel::L1).await.expect("declare");
    let mut result = dns_result(&host, &[&address]);
    result.extend(result.clone());
    for _ in 0..3 {
        graph.save_observation(&org, DNS, host.reference(), &result).await.expect("save");
    }
    let affirmed = a_record(&host, &address);
    graph.affirm(&org, "kat_affirm", host.reference(), &[affirmed.clone(), affirmed]).await.expect("affirm twice");
    let count = |pattern: &str| format!("MATCH {pattern} WHERE a.organisation = '{org}' RETURN count(*) AS n");
    for pattern in ["(a:DNSARecord)-[:hostname]->(:Hostname)", "(a:DNSARecord)-[:address]->(:IPAddressV4)", "(a:Origin)-[:RESULT]->(:DNSARecord)", "(a:Origin)-[:RESULT]->(:IPAddressV4)"] {
        let (_, rows) = graph.query(&count(pattern)).await.expect("query");
        assert_eq!(rows, [[json!(1)]], "{pattern}");
    }
    let (_, rows) = graph.query(&count("(a:Origin)-[:RESULT]->()")).await.expect("query");
    assert_eq!(rows, [[json!(4)]], "the declaration holds the hostname; the observation holds it, the record and the address");
}

/// The stored `dns_zone` of `mail.example.nl` and the zones its `dns_zone` relations lead to.
async fn zone_of(graph: &Graph, org: &str) -> (Option<serde_json::Value>, Vec<Vec<serde_json::Value>>) {
    let stored = graph.get(org, &r("Hostname|internet|mail.example.nl")).await.expect("read").expect("stored");
    let query = format!("MATCH (h:Hostname {{organisation: '{org}', name: 'mail.example.nl'}})-[:dns_zone]->(z:DNSZone) RETURN z.primary_key AS zone");
    let (_, rows) = graph.query(&query).await.expect("query");
    (stored.ooi.get("dns_zone").cloned(), rows)
}

/// As OpenKAT's `merge_ooi`: a save that leaves a field unset keeps the stored value (and its relation), one
/// that sets it replaces it, so several origins' versions of an object merge the same in any order.
async fn fields_merge_across_saves_as_openkat_does(graph: &Graph) {
    let org = org("merge");
    let host = hostname("example.nl");
    graph.declare(&org, &host, ScanLevel::L1).await.expect("declare");
    let with_zone = |zone: &str| Ooi::build("Hostname").field("network", "Network|internet").field("name", "mail.example.nl").reference("dns_zone", &r(&format!("DNSZone|internet|{zone}"))).finish().expect("hostname");
    let zone = |name: &str| Ooi::build("DNSZone").reference("hostname", &r(&format!("Hostname|internet|{name}"))).finish().expect("zone");
    graph.save_observation(&org, "a", host.reference(), &[zone("example.nl"), hostname("example.nl"), with_zone("example.nl")]).await.expect("save with the zone");
    graph.save_observation(&org, "b", host.reference(), &[hostname("mail.example.nl")]).await.expect("save without it");
    let (field, relation) = zone_of(graph, &org).await;
    assert_eq!(field, Some(json!("DNSZone|internet|example.nl")), "a save without the field keeps it");
    assert_eq!(relation, [[json!("DNSZone|internet|example.nl")]], "and its relation");
    graph.save_observation(&org, "c", host.reference(), &[zone("mail.example.nl"), hostname("mail.example.nl"), with_zone("mail.example.nl")]).await.expect("save another zone");
    let (field, relation) = zone_of(graph, &org).await;
    assert_eq!(field, Some(json!("DNSZone|internet|mail.example.nl")), "a save that sets the field replaces it");
    assert_eq!(relation, [[json!("DNSZone|internet|mail.example.nl")]], "one relation, to the new value");
}

async fn organisations_share_nothing(graph: &Graph) {
    let (one, two) = (org("one"), org("two"));
    let host = hostname("shared.test");
    graph.declare(&one, &host, ScanLevel::L3).await.expect("declare in one");
    graph.save_observation(&one, DNS, host.reference(), &dns_result(&host, &[&ip("192.0.2.7")])).await.expect("save in one");
    assert!(graph.get(&two, host.reference()).await.expect("read").is_none());
    assert!(graph.objects(&two, None).await.expect("list").is_empty());
    let report = graph.declare(&two, &host, ScanLevel::L1).await.expect("declare in two");
    assert_eq!(keys(&report.new_or_raised), ["Hostname|internet|shared.test"], "new in two although one has it");
    assert_eq!(level(graph, &one, "Hostname|internet|shared.test").await, Some(3));
    assert_eq!(level(graph, &two, "Hostname|internet|shared.test").await, Some(1));
    graph.save_observation(&two, DNS, host.reference(), &dns_result(&host, &[])).await.expect("save in two");
    assert_eq!(graph.objects(&one, None).await.expect("list").len(), 3, "two's observation left one's records alone");
    graph.delete(&two, host.reference()).await.expect("delete in two");
    assert_eq!(level(graph, &one, "Hostname|internet|shared.test").await, Some(3));
    assert_eq!(level(graph, &one, "IPAddressV4|internet|192.0.2.7").await, Some(2), "the A record's 2 (inherited) reaches its address");
}

async fn clearance_rises_and_falls(graph: &Graph) {
    let org = org("clearance");
    let host = hostname("example.test");
    let ns = hostname("ns1.example.test");
    let address = ip("192.0.2.1");
    graph.declare(&org, &host, ScanLevel::L4).await.expect("declare");
    let result = vec![host.clone(), a_record(&host, &address), address.clone(), ns_record(&host, &ns), ns.clone()];
    graph.save_observation(&org, DNS, host.reference(), &result).await.expect("save");
    let levels = |expected: [u8; 5]| {
        let org = org.clone();
        async move {
            let refs = ["Hostname|internet|example.test", "DNSARecord|internet|example.test|192.0.2.1", "IPAddressV4|internet|192.0.2.1", "DNSNSRecord|internet|example.test|ns1.example.test.", "Hostname|internet|ns1.example.test"];
            let mut got = [0; 5];
            for (i, reference) in refs.iter().enumerate() {
                got[i] = level(graph, &org, reference).await.expect("stored");
            }
            assert_eq!(got, expected, "levels of host, A record, address, NS record, name server");
        }
    };
    // Records inherit at most 2 from their hostname; the A record issues its 2 to the address; the NS
    // record issues at most 1 to the name server.
    levels([4, 2, 2, 2, 1]).await;
    let lowered = graph.set_clearance(&org, host.reference(), Some(ScanLevel::L1)).await.expect("lower");
    levels([1, 1, 1, 1, 1]).await;
    assert_eq!(keys(&lowered.lowered).len(), 4, "host, both records and the address fell: {:?}", keys(&lowered.lowered));
    graph.set_clearance(&org, address.reference(), Some(ScanLevel::L3)).await.expect("declare on the address");
    levels([1, 1, 3, 1, 1]).await;
    let removed = graph.set_clearance(&org, host.reference(), None).await.expect("remove");
    levels([0, 0, 3, 0, 0]).await;
    assert!(keys(&removed.lowered).contains(&"Hostname|internet|ns1.example.test".to_string()));
    let raised = graph.set_clearance(&org, host.reference(), Some(ScanLevel::L2)).await.expect("raise again");
    levels([2, 2, 3, 2, 1]).await;
    assert_eq!(keys(&raised.new_or_raised).len(), 4, "{:?}", keys(&raised.new_or_raised));
    // A declared clearance keeps nothing alive: origins do. The address goes with the A record.
    let report = graph.save_observation(&org, DNS, host.reference(), &[host.clone(), ns_record(&host, &ns), ns.clone()]).await.expect("save without the A record");
    assert_eq!(report.deleted.len(), 2, "{report:?}");
    assert_eq!(level(graph, &org, "IPAddressV4|internet|192.0.2.1").await, None);
}

async fn a_raised_level_reaches_objects_of_earlier_observations(graph: &Graph) {
    let org = org("reach");
    let host = hostname("example.test");
    let address = ip("192.0.2.1");
    graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&address])).await.expect("save unrequested");
    assert_eq!(level(graph, &org, "IPAddressV4|internet|192.0.2.1").await, Some(0));
    let report = graph.declare(&org, &host, ScanLevel::L3).await.expect("declare later");
    assert_eq!(level(graph, &org, "IPAddressV4|internet|192.0.2.1").await, Some(2), "through the stored A record");
    let mut raised = keys(&report.new_or_raised);
    raised.sort();
    assert_eq!(raised, ["DNSARecord|internet|example.test|192.0.2.1", "Hostname|internet|example.test", "IPAddressV4|internet|192.0.2.1"]);
}

async fn lists_pages_and_filters(graph: &Graph) {
    let org = org("list");
    let host = hostname("example.test");
    let ips: Vec<Ooi> = (1..=5).map(|i| ip(&format!("192.0.2.{i}"))).collect();
    graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &ips.iter().collect::<Vec<_>>())).await.expect("save");
    let page = graph.list(&org, "IPAddressV4", &[], 1, 2).await.expect("page");
    assert_eq!(page.count, 5);
    assert_eq!(keys(&page.objects), ["IPAddressV4|internet|192.0.2.2", "IPAddressV4|internet|192.0.2.3"]);
    let filtered = graph.list(&org, "DNSARecord", &[Filter { field: "value".into(), value: json!("192.0.2.4") }], 0, 10).await.expect("filter");
    assert_eq!((filtered.count, keys(&filtered.objects)), (1, vec!["DNSARecord|internet|example.test|192.0.2.4".to_string()]));
    let err = graph.list(&org, "IPAddressV4", &[Filter { field: "nope".into(), value: json!(1) }], 0, 10).await.expect_err("unknown field");
    assert!(err.to_string().contains("IPAddressV4 has no field \"nope\""), "{err}");
    assert!(graph.list(&org, "NoSuchType", &[], 0, 10).await.is_err());
}

async fn neighbours_origins_and_history(graph: &Graph) {
    let org = org("walk");
    let host = hostname("example.test");
    let ns = hostname("ns1.example.test");
    let address = ip("192.0.2.1");
    graph.declare(&org, &host, ScanLevel::L1).await.expect("declare");
    graph.save_observation(&org, DNS, host.reference(), &[host.clone(), a_record(&host, &address), address.clone(), ns_record(&host, &ns), ns.clone()]).await.expect("save");
    let one = graph.neighbours(&org, host.reference(), 1).await.expect("depth 1");
    assert_eq!(keys(&one), ["DNSARecord|internet|example.test|192.0.2.1", "DNSNSRecord|internet|example.test|ns1.example.test."]);
    let two = graph.neighbours(&org, host.reference(), 2).await.expect("depth 2");
    assert_eq!(keys(&two), ["DNSARecord|internet|example.test|192.0.2.1", "DNSNSRecord|internet|example.test|ns1.example.test.", "Hostname|internet|ns1.example.test", "IPAddressV4|internet|192.0.2.1"]);
    let origins = graph.origins(&org, host.reference()).await.expect("origins");
    let mut kinds: Vec<(&str, &str)> = origins.iter().map(|o| (o.kind.as_str(), o.method.as_str())).collect();
    kinds.sort();
    assert_eq!(kinds, [("declaration", "declaration"), ("observation", DNS)]);
    assert!(origins.iter().all(|o| o.source == "Hostname|internet|example.test" && o.observed_at.len() >= 20), "{origins:?}");
    let of_address = graph.origins(&org, address.reference()).await.expect("origins");
    assert_eq!(of_address.len(), 1);
    assert_eq!(of_address[0].method, DNS);
}

async fn delete_cascades(graph: &Graph) {
    let org = org("delete");
    let host = hostname("example.test");
    let other = hostname("other.test");
    let shared = ip("192.0.2.9");
    graph.declare(&org, &host, ScanLevel::L2).await.expect("declare");
    graph.declare(&org, &other, ScanLevel::L1).await.expect("declare other");
    graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&ip("192.0.2.1"), &shared])).await.expect("save");
    graph.save_observation(&org, DNS, other.reference(), &dns_result(&other, &[&shared])).await.expect("save other");
    let report = graph.delete(&org, host.reference()).await.expect("delete");
    let mut deleted: Vec<String> = report.deleted.iter().map(ToString::to_string).collect();
    deleted.sort();
    assert_eq!(deleted, ["DNSARecord|internet|example.test|192.0.2.1", "DNSARecord|internet|example.test|192.0.2.9", "Hostname|internet|example.test", "IPAddressV4|internet|192.0.2.1"]);
    assert_eq!(keys(&report.lowered), ["IPAddressV4|internet|192.0.2.9"], "the shared address now only has what other.test gives it");
    assert_eq!(level(graph, &org, "IPAddressV4|internet|192.0.2.9").await, Some(1));
    assert_eq!(graph.objects(&org, None).await.expect("list").len(), 3);
}

async fn affirmation_adds_fields_and_holds_nothing(graph: &Graph) {
    let org = org("affirm");
    let host = hostname("example.test");
    let address = ip("192.0.2.1");
    graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&address])).await.expect("save");
    let record = a_record(&host, &address);
    let mut fields = record.fields().to_map();
    fields.insert("ttl".into(), json!(60));
    let affirmed = Ooi::new("DNSARecord", fields).expect("affirmed record");
    let stranger = a_record(&host, &ip("192.0.2.99"));
    graph.affirm(&org, "ttl-checker", host.reference(), &[affirmed.clone(), stranger.clone()]).await.expect("affirm");
    assert_eq!(graph.get(&org, record.reference()).await.expect("read").expect("stored").ooi, affirmed);
    assert!(graph.get(&org, stranger.reference()).await.expect("read").is_none(), "an affirmation creates nothing");
    let report = graph.save_observation(&org, DNS, host.reference(), &[host.clone()]).await.expect("save without records");
    assert!(report.deleted.contains(record.reference()), "the affirmation does not keep the record alive");
}

async fn referencing_follows_relations_set_by_observations_and_affirmations(graph: &Graph) {
    let other = org("referencing-other");
    let org = org("referencing");
    let host = hostname("example.test");
    let (ip1, ip2) = (ip("192.0.2.1"), ip("192.0.2.2"));
    graph.save_observation(&org, DNS, host.reference(), &dns_result(&host, &[&ip1, &ip2])).await.expect("save");
    let records = graph.referencing(&org, "DNSARecord", "hostname", host.reference()).await.expect("referencing");
    assert_eq!(keys(&records), ["DNSARecord|internet|example.test|192.0.2.1", "DNSARecord|internet|example.test|192.0.2.2"]);
    let by_address = graph.referencing(&org, "DNSARecord", "address", ip2.reference()).await.expect("referencing");
    assert_eq!(keys(&by_address), ["DNSARecord|internet|example.test|192.0.2.2"]);
    assert!(graph.referencing(&org, "DNSNSRecord", "hostname", host.reference()).await.expect("referencing").is_empty());
    assert!(graph.referencing(&other, "DNSARecord", "hostname", host.reference()).await.expect("referencing").is_empty(), "another organisation sees none");
    let err = graph.referencing(&org, "DNSARecord", "nope", host.reference()).await.expect_err("unknown field");
    assert!(err.to_string().contains("has no field \"nope\""), "{err}");

    // A reference an affirmation sets is followed too: a website with the certificate it serves.
    let service = Ooi::build("IPService").field("ip_port", "IPPort|internet|192.0.2.1|tcp|443").field("service", "Service|https").finish().expect("service");
    let website = Ooi::build("Website").reference("ip_service", service.reference()).reference("hostname", host.reference()).finish().expect("website");
    let certificate = Ooi::build("X509Certificate").field("issuer", "CN=Test CA").field("serial_number", "7").field("valid_from", "2026-01-01T00:00:00Z").field("valid_until", "2027-01-01T00:00:00Z").finish().expect("certificate");
    graph.save_observation(&org, "rule/website-discovery", service.reference(), std::slice::from_ref(&website)).await.expect("website");
    graph.save_observation(&org, "ssl-certificates/kat_ssl_certificates_normalize", website.reference(), std::slice::from_ref(&certificate)).await.expect("certificate");
    let mut served = website.clone();
    served.set("certificate", certificate.reference().to_string().into()).expect("certificate field");
    graph.affirm(&org, "ssl-certificates/kat_ssl_certificates_normalize", website.reference(), &[served]).await.expect("affirm");
    assert_eq!(keys(&graph.referencing(&org, "Website", "certificate", certificate.reference()).await.expect("referencing")), [website.reference().to_string()]);
}

async fn bad_input_gets_clear_errors(graph: &Graph) {
    let err = graph.query("MATCH (n RETURN n").await.expect_err("syntax error");
    assert!(err.to_string().contains("graph query failed"), "{err}");
    let org = org("errors");
    let err = graph.set_clearance(&org, &r("Hostname|internet|absent.test"), Some(ScanLevel::L1)).await.expect_err("absent");
    assert!(err.to_string().contains("is not in the graph"), "{err}");
}

async fn embedded() -> (tempfile::TempDir, Graph) {
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = Graph::open(&dir.path().join("graph.kgl")).await.expect("open");
    (dir, graph)
}

async fn bolt() -> Graph {
    let location = GraphLocation::parse(Some(BOLT_URI), std::path::Path::new("unused"), None, None).expect("uri");
    match Graph::connect(&location).await {
        Ok(graph) => graph,
        Err(e) => panic!("no Bolt graph server at {BOLT_URI} ({e}); start it with `bash scripts/services.sh`"),
    }
}

macro_rules! on_both_engines {
    ($($suite:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $suite() {
                    let (_dir, graph) = super::embedded().await;
                    super::$suite(&graph).await;
                }
            )*
        }
        mod bolt {
            $(
                #[tokio::test]
                async fn $suite() {
                    let graph = super::bolt().await;
                    super::$suite(&graph).await;
                }
            )*
        }
    };
}

on_both_engines!(
    observation_replaces_its_result,
    an_object_another_origin_holds_stays,
    fields_are_properties_and_references_relations,
    fields_merge_across_saves_as_openkat_does,
    organisations_share_nothing,
    clearance_rises_and_falls,
    a_raised_level_reaches_objects_of_earlier_observations,
    lists_pages_and_filters,
    neighbours_origins_and_history,
    delete_cascades,
    affirmation_adds_fields_and_holds_nothing,
    referencing_follows_relations_set_by_observations_and_affirmations,
    bad_input_gets_clear_errors,
    each_relation_once_whatever_the_saves,
);
