//! The embedded graph on a real file: observations replace their origin's
//! result, stale objects go, nothing duplicates across runs or reopenings,
//! and clearance spreads along references within each field's limits.

use kat_core::{Ooi, Reference, ScanLevel};
use kat_graph::Graph;

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

fn level(graph: &Graph, reference: &str) -> Option<u8> {
    graph.get(&r(reference)).expect("read").map(|s| s.scan_level.get())
}

#[test]
fn observations_replace_their_result_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("graph.kgl");
    let host = hostname("example.test");
    let (ip1, ip2) = (ip("192.0.2.1"), ip("192.0.2.2"));
    let full = vec![host.clone(), a_record(&host, &ip1), ip1.clone(), a_record(&host, &ip2), ip2.clone()];
    {
        let graph = Graph::open(&path).expect("open");
        graph.declare(&host, ScanLevel::L2).expect("declare");
        let first = graph.save_observation("kat_dns_normalize", host.reference(), &full).expect("save");
        assert_eq!(first.new_or_raised.len(), 4, "the hostname existed; its record and address objects are new");
        let again = graph.save_observation("kat_dns_normalize", host.reference(), &full).expect("save again");
        assert!(again.new_or_raised.is_empty() && again.deleted.is_empty(), "{again:?}");
        assert_eq!(graph.objects(None).expect("list").len(), 5);
    }
    let graph = Graph::open(&path).expect("reopen sees the first run's data");
    assert_eq!(graph.objects(None).expect("list").len(), 5);
    let fewer = vec![host.clone(), a_record(&host, &ip1), ip1.clone()];
    let report = graph.save_observation("kat_dns_normalize", host.reference(), &fewer).expect("save fewer");
    let mut deleted: Vec<String> = report.deleted.iter().map(ToString::to_string).collect();
    deleted.sort();
    assert_eq!(deleted, ["DNSARecord|internet|example.test|192.0.2.2", "IPAddressV4|internet|192.0.2.2"]);
    assert_eq!(graph.objects(None).expect("list").len(), 3);
    assert!(graph.get(host.reference()).expect("read").is_some(), "the declared hostname stays: its declaration still holds it");
    let (_, rows) = graph.query("MATCH (n:IPAddressV4) RETURN n.primary_key AS pk").expect("query");
    assert_eq!(rows.len(), 1);
}

#[test]
fn clearance_spreads_within_field_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = Graph::open(&dir.path().join("graph.kgl")).expect("open");
    let host = hostname("example.test");
    let ns = hostname("ns1.example.test");
    let address = ip("192.0.2.1");
    graph.declare(&host, ScanLevel::L2).expect("declare");
    let result = vec![host.clone(), a_record(&host, &address), address.clone(), ns_record(&host, &ns), ns.clone()];
    let report = graph.save_observation("kat_dns_normalize", host.reference(), &result).expect("save");
    assert_eq!(level(&graph, "Hostname|internet|example.test"), Some(2));
    assert_eq!(level(&graph, "DNSARecord|internet|example.test|192.0.2.1"), Some(2), "a record inherits from its hostname");
    assert_eq!(level(&graph, "IPAddressV4|internet|192.0.2.1"), Some(2), "an A record issues its level to the address");
    assert_eq!(level(&graph, "Hostname|internet|ns1.example.test"), Some(1), "an NS record issues at most 1 to the name server");
    let raised: Vec<(String, u8)> = report.new_or_raised.iter().filter(|s| s.ooi.object_type() != "DNSARecord" && s.ooi.object_type() != "DNSNSRecord").map(|s| (s.ooi.reference().to_string(), s.scan_level.get())).collect();
    assert_eq!(raised, [("IPAddressV4|internet|192.0.2.1".to_string(), 2), ("Hostname|internet|ns1.example.test".to_string(), 1)]);
}

#[test]
fn queries_are_read_only_and_errors_are_clear() {
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = Graph::open(&dir.path().join("graph.kgl")).expect("open");
    let err = graph.query("CREATE (n:Hostname {primary_key: 'x'})").expect_err("mutation refused");
    assert!(err.to_string().contains("graph query failed"), "{err}");
    assert!(graph.query("MATCH (n RETURN n").is_err());
    assert!(graph.objects(None).expect("list").is_empty());
    let second = Graph::open(&dir.path().join("graph.kgl"));
    assert!(second.is_err(), "a second writer on the same file is refused");
}
