//! Data-driven tests: OpenKAT's raw fixtures in `../shared/fixtures/openkat`
//! through our normalizers, compared with what OpenKAT's own normalizers give
//! (listed in that folder's README).

use std::collections::BTreeMap;
use std::path::PathBuf;

use kat_core::{Ooi, Reference};
use kat_plugins::normalizers::{by_id, NormalizeError};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openkat").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {} is missing ({e}): the shared/ folder must sit beside the repository, as in CI", path.display()))
}

fn normalize(normalizer: &str, file: &str, input: &str) -> Vec<Ooi> {
    let input = Reference::parse(input).expect("valid input reference");
    let normalizer = by_id(normalizer).expect("built-in normalizer");
    normalizer.normalize(&input, &fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn counts(objects: &[Ooi]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for o in objects {
        *counts.entry(o.object_type()).or_default() += 1;
    }
    counts
}

fn find<'a>(objects: &'a [Ooi], primary_key: &str) -> &'a Ooi {
    objects.iter().find(|o| o.reference().as_str() == primary_key).unwrap_or_else(|| panic!("{primary_key} not among {:?}", objects.iter().map(|o| o.reference().as_str()).collect::<Vec<_>>()))
}

#[test]
fn dns_example_nl_gives_openkats_24_objects() {
    let objects = normalize("kat_dns_normalize", "dns-result-example.nl.json", "Hostname|internet|example.nl");
    assert_eq!(objects.len(), 24);
    let expected: BTreeMap<&str, usize> = [
        ("Hostname", 7),
        ("DNSZone", 1),
        ("IPAddressV4", 2),
        ("IPAddressV6", 2),
        ("DNSARecord", 2),
        ("DNSAAAARecord", 2),
        ("DNSTXTRecord", 1),
        ("DNSMXRecord", 2),
        ("DNSNSRecord", 4),
        ("DNSSOARecord", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts(&objects), expected);
    let hostnames: Vec<&str> = objects.iter().filter(|o| o.object_type() == "Hostname").map(|o| o.reference().human_readable()).collect();
    for name in ["example.nl", "mail.example.nl", "mail2.example.nl", "ns0.examplenl.com", "ns1.examplenl.nl", "ns2.examplenl.eu", "ns3.examplenl.org"] {
        assert!(hostnames.contains(&name), "{name} missing from {hostnames:?}");
    }
    let soa = find(&objects, "DNSSOARecord|internet|example.nl|internet|ns1.examplenl.nl");
    for (field, value) in [("serial", 2021111101), ("refresh", 14400), ("retry", 7200), ("expire", 1209600), ("minimum", 86400), ("ttl", 14340)] {
        assert_eq!(soa.get(field).and_then(|v| v.as_i64()), Some(value), "SOA {field}");
    }
    assert_eq!(soa.get("soa_hostname").and_then(|v| v.as_str()), Some("Hostname|internet|ns1.examplenl.nl"));
    let mx = find(&objects, "DNSMXRecord|internet|example.nl|10 mail.example.nl.");
    assert_eq!(mx.get("preference").and_then(|v| v.as_i64()), Some(10));
    assert_eq!(mx.get("mail_hostname").and_then(|v| v.as_str()), Some("Hostname|internet|mail.example.nl"));
    let a = find(&objects, "DNSARecord|internet|example.nl|94.198.159.35");
    assert_eq!(a.get("address").and_then(|v| v.as_str()), Some("IPAddressV4|internet|94.198.159.35"));
    assert_eq!(a.get("ttl").and_then(|v| v.as_i64()), Some(14364));
    find(&objects, "DNSTXTRecord|internet|example.nl|2fdd81c7d128c5d3915c74be49f247b93f4ac48d");
    find(&objects, "DNSNSRecord|internet|example.nl|ns3.examplenl.org.");
    find(&objects, "IPAddressV6|internet|2a00:d78:0:712:94:198:159:36");
    let zone = find(&objects, "DNSZone|internet|example.nl");
    assert_eq!(zone.get("hostname").and_then(|v| v.as_str()), Some("Hostname|internet|example.nl"));
    let input = find(&objects, "Hostname|internet|example.nl");
    assert_eq!(input.get("dns_zone").and_then(|v| v.as_str()), Some("DNSZone|internet|example.nl"));
}

#[test]
fn dns_www_example_nl_gives_the_cname_chain_and_zone() {
    let objects = normalize("kat_dns_normalize", "dns-result-www.example.nl.json", "Hostname|internet|www.example.nl");
    let cname = find(&objects, "DNSCNAMERecord|internet|www.example.nl|webredir.examplenl.nl.");
    assert_eq!(cname.get("target_hostname").and_then(|v| v.as_str()), Some("Hostname|internet|webredir.examplenl.nl"));
    find(&objects, "DNSARecord|internet|webredir.examplenl.nl|94.198.159.35");
    find(&objects, "IPAddressV4|internet|94.198.159.35");
    find(&objects, "DNSZone|internet|example.nl");
    find(&objects, "DNSSOARecord|internet|example.nl|internet|ns1.examplenl.nl");
    let www = find(&objects, "Hostname|internet|www.example.nl");
    assert_eq!(www.get("dns_zone").and_then(|v| v.as_str()), Some("DNSZone|internet|example.nl"));
    let expected: BTreeMap<&str, usize> =
        [("Hostname", 4), ("DNSZone", 1), ("DNSSOARecord", 1), ("DNSCNAMERecord", 1), ("DNSARecord", 1), ("IPAddressV4", 1)].into_iter().collect();
    assert_eq!(counts(&objects), expected);
}

#[test]
fn dns_mx_example_nl_gives_the_null_mx() {
    let objects = normalize("kat_dns_normalize", "dns-result-mx-example.nl.json", "Hostname|internet|example.nl");
    let mx = find(&objects, "DNSMXRecord|internet|redir.example.nl|0 .");
    assert_eq!(mx.get("preference").and_then(|v| v.as_i64()), Some(0));
    assert_eq!(mx.get("mail_hostname"), None, "a null MX points nowhere");
    find(&objects, "DNSCNAMERecord|internet|english.example.nl|redir.example.nl.");
    assert_eq!(counts(&objects).get("DNSMXRecord"), Some(&1));
    assert_eq!(counts(&objects).get("DNSZone"), None);
}

#[test]
fn dns_example_com_cnames_are_deduplicated() {
    let objects = normalize("kat_dns_normalize", "dns-result-example.com-cnames.json", "Hostname|internet|example.com");
    let c = counts(&objects);
    assert_eq!(c.get("DNSCNAMERecord"), Some(&1), "{c:?}");
    assert_eq!(c.get("DNSNSRecord"), Some(&2));
    find(&objects, "DNSCNAMERecord|internet|www.example.com|example.com.");
    find(&objects, "DNSMXRecord|internet|example.com|0 example.com.");
    find(&objects, "DNSTXTRecord|internet|example.com|d2b1e35921ca5499e137cdbf735817cf89874cd3");
    find(&objects, "DNSZone|internet|example.com");
    let www = find(&objects, "Hostname|internet|www.example.com");
    assert_eq!(www.get("dns_zone").and_then(|v| v.as_str()), Some("DNSZone|internet|example.com"));
}

/// The primary keys OpenKAT's own normalizer gives for a fixture (`keys/<fixture>.keys`, sorted).
fn openkat_keys(fixture_name: &str) -> Vec<String> {
    let text = String::from_utf8(fixture(&format!("keys/{fixture_name}.keys"))).expect("utf-8 keys");
    text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

#[test]
fn every_fixture_gives_exactly_openkats_primary_keys() {
    let cases = [
        ("kat_dns_normalize", "dns-result-example.nl", "json", "Hostname|internet|example.nl"),
        ("kat_dns_normalize", "dns-result-www.example.nl", "json", "Hostname|internet|www.example.nl"),
        ("kat_dns_normalize", "dns-result-mx-example.nl", "json", "Hostname|internet|example.nl"),
        ("kat_dns_normalize", "dns-result-example.com-cnames", "json", "Hostname|internet|example.com"),
        ("kat_nmap_normalize", "nmap_mispoes", "xml", "IPAddressV4|internet|134.209.85.72"),
    ];
    for (normalizer, name, extension, input) in cases {
        let mut ours: Vec<String> = normalize(normalizer, &format!("{name}.{extension}"), input).iter().map(|o| o.reference().as_str().to_string()).collect();
        ours.sort();
        let before = ours.len();
        ours.dedup();
        assert_eq!(before, ours.len(), "{name}: an object appears twice");
        let expected = openkat_keys(name);
        let missing: Vec<&String> = expected.iter().filter(|k| !ours.contains(k)).collect();
        let extra: Vec<&String> = ours.iter().filter(|k| !expected.contains(k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{name}: missing {missing:#?}, not in OpenKAT's set {extra:#?}");
    }
}

#[test]
fn nmap_mispoes_gives_15_objects_in_openkats_order() {
    let objects = normalize("kat_nmap_normalize", "nmap_mispoes.xml", "IPAddressV4|internet|134.209.85.72");
    let keys: Vec<&str> = objects.iter().map(|o| o.reference().as_str()).collect();
    let mut expected = Vec::new();
    for (port, service) in [(22, "ssh"), (53, "domain"), (80, "http"), (443, "https"), (3306, "mysql")] {
        expected.push(format!("IPPort|internet|134.209.85.72|tcp|{port}"));
        expected.push(format!("Service|{service}"));
        expected.push(format!("IPService|internet|134.209.85.72|tcp|{port}|{service}"));
    }
    assert_eq!(keys, expected);
    assert_eq!(objects[0].get("state").and_then(|v| v.as_str()), Some("open"));
}

#[test]
fn unparseable_raw_files_give_clear_errors() {
    let input = Reference::parse("Hostname|internet|example.nl").expect("valid");
    let dns = by_id("kat_dns_normalize").expect("dns");
    let nmap = by_id("kat_nmap_normalize").expect("nmap");
    for raw in [&b"not json"[..], b"{}", b"{\"dns_records\": 5}", b"{\"dns_records\": \";ANSWER\\nx. notanumber IN A 1.2.3.4\"}"] {
        let err = dns.normalize(&input, raw).expect_err("must fail");
        assert!(matches!(err, NormalizeError::Parse(_)), "{err}");
    }
    for raw in [&b"<nmaprun><host><address addr=\"1.1.1.1\" addrtype=\"ipv4\"/><ports><port protocol=\"tcp\" portid=\"99999\">"[..], b"plain text", b"<a><b></a>"] {
        assert!(nmap.normalize(&input, raw).is_err());
    }
    let err = dns.normalize(&input, b"{\"dns_records\": \";ANSWER\\nx.nl. 5 IN A not-an-ip\"}").expect_err("bad address");
    assert!(err.to_string().contains("not-an-ip"), "{err}");
}

#[test]
fn a_raw_file_cut_short_is_refused_never_half_read() {
    let nmap = by_id("kat_nmap_normalize").expect("nmap");
    let dns = by_id("kat_dns_normalize").expect("dns");
    let ip = Reference::parse("IPAddressV4|internet|134.209.85.72").expect("valid");
    let xml = fixture("nmap_mispoes.xml");
    let mut cuts = 0;
    for (i, _) in xml.iter().enumerate().filter(|(_, b)| **b == b'>') {
        let end = i + 1;
        if xml[end..].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        cuts += 1;
        let err = nmap.normalize(&ip, &xml[..end]).expect_err("a cut document");
        assert!(err.to_string().contains("nmap XML"), "cut at {end}: {err}");
    }
    assert!(cuts > 20, "{cuts} cuts");
    let unclosed = format!("<nmaprun>{}", "<host>".repeat(10_000));
    assert!(nmap.normalize(&ip, unclosed.as_bytes()).expect_err("unclosed").to_string().contains("no closing </nmaprun>"));
    let no_runstats = b"<nmaprun><host><address addr=\"1.1.1.1\" addrtype=\"ipv4\"/></host></nmaprun>";
    assert!(nmap.normalize(&ip, no_runstats).expect_err("no runstats").to_string().contains("no <runstats>"));
    let host = Reference::parse("Hostname|internet|example.nl").expect("valid");
    let json = fixture("dns-result-example.nl.json");
    for end in (1..json.len() - 1).step_by(97) {
        assert!(dns.normalize(&host, &json[..end]).is_err(), "DNS JSON cut at {end} was accepted");
    }
}

#[test]
fn a_dmarc_answer_becomes_the_dmarc_record_of_the_hostname() {
    let mut raw: serde_json::Value = serde_json::from_slice(&fixture("dns-result-example.nl.json")).expect("JSON");
    raw["dmarc_response"] = "RESOLVER: 1.1.1.1\nid 1\nopcode QUERY\nrcode NOERROR\nflags QR RD RA\n;QUESTION\n_dmarc.example.nl. IN TXT\n;ANSWER\n_dmarc.example.nl. 300 IN TXT \"v=DMARC1; p=none\"\n;AUTHORITY\n;ADDITIONAL\n".into();
    let input = Reference::parse("Hostname|internet|example.nl").expect("reference");
    let objects = by_id("kat_dns_normalize").expect("built in").normalize(&input, raw.to_string().as_bytes()).expect("normalizes");
    let dmarc = find(&objects, "DMARCTXTRecord|v=DMARC1; p=none|internet|example.nl");
    assert_eq!(dmarc.get("ttl").and_then(|v| v.as_i64()), Some(300));
    assert!(!objects.iter().any(|o| o.reference().as_str().contains("_dmarc")), "no object for the _dmarc name itself, as OpenKAT");
}
