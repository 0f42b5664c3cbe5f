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
    let soa = find(&objects, "DNSSOARecord|internet|example.nl|SOA|ns1.examplenl.nl. hostmaster.sidn.nl. 2021111101 14400 7200 1209600 86400");
    for (field, value) in [("serial", 2021111101), ("refresh", 14400), ("retry", 7200), ("expire", 1209600), ("minimum", 86400), ("ttl", 14340)] {
        assert_eq!(soa.get(field).and_then(|v| v.as_i64()), Some(value), "SOA {field}");
    }
    assert_eq!(soa.get("soa_hostname").and_then(|v| v.as_str()), Some("Hostname|internet|ns1.examplenl.nl"));
    let mx = find(&objects, "DNSMXRecord|internet|example.nl|MX|10 mail.example.nl.");
    assert_eq!(mx.get("preference").and_then(|v| v.as_i64()), Some(10));
    assert_eq!(mx.get("mail_hostname").and_then(|v| v.as_str()), Some("Hostname|internet|mail.example.nl"));
    let a = find(&objects, "DNSARecord|internet|example.nl|A|94.198.159.35");
    assert_eq!(a.get("address").and_then(|v| v.as_str()), Some("IPAddressV4|internet|94.198.159.35"));
    assert_eq!(a.get("ttl").and_then(|v| v.as_i64()), Some(14364));
    find(&objects, "DNSTXTRecord|internet|example.nl|TXT|v=spf1 redirect=spf-a.example.nl");
    find(&objects, "DNSNSRecord|internet|example.nl|NS|ns3.examplenl.org.");
    find(&objects, "IPAddressV6|internet|2a00:d78:0:712:94:198:159:36");
    let zone = find(&objects, "DNSZone|internet|example.nl");
    assert_eq!(zone.get("hostname").and_then(|v| v.as_str()), Some("Hostname|internet|example.nl"));
    let input = find(&objects, "Hostname|internet|example.nl");
    assert_eq!(input.get("dns_zone").and_then(|v| v.as_str()), Some("DNSZone|internet|example.nl"));
}

#[test]
fn dns_www_example_nl_gives_the_cname_chain_and_zone() {
    let objects = normalize("kat_dns_normalize", "dns-result-www.example.nl.json", "Hostname|internet|www.example.nl");
    let cname = find(&objects, "DNSCNAMERecord|internet|www.example.nl|CNAME|webredir.examplenl.nl.");
    assert_eq!(cname.get("target_hostname").and_then(|v| v.as_str()), Some("Hostname|internet|webredir.examplenl.nl"));
    find(&objects, "DNSARecord|internet|webredir.examplenl.nl|A|94.198.159.35");
    find(&objects, "IPAddressV4|internet|94.198.159.35");
    find(&objects, "DNSZone|internet|example.nl");
    find(&objects, "DNSSOARecord|internet|example.nl|SOA|ns1.examplenl.nl. hostmaster.sidn.nl. 2021111101 14400 7200 1209600 86400");
    let www = find(&objects, "Hostname|internet|www.example.nl");
    assert_eq!(www.get("dns_zone").and_then(|v| v.as_str()), Some("DNSZone|internet|example.nl"));
    let expected: BTreeMap<&str, usize> =
        [("Hostname", 4), ("DNSZone", 1), ("DNSSOARecord", 1), ("DNSCNAMERecord", 1), ("DNSARecord", 1), ("IPAddressV4", 1)].into_iter().collect();
    assert_eq!(counts(&objects), expected);
}

#[test]
fn dns_mx_example_nl_gives_the_null_mx() {
    let objects = normalize("kat_dns_normalize", "dns-result-mx-example.nl.json", "Hostname|internet|example.nl");
    let mx = find(&objects, "DNSMXRecord|internet|redir.example.nl|MX|0 .");
    assert_eq!(mx.get("preference").and_then(|v| v.as_i64()), Some(0));
    assert_eq!(mx.get("mail_hostname"), None, "a null MX points nowhere");
    find(&objects, "DNSCNAMERecord|internet|english.example.nl|CNAME|redir.example.nl.");
    assert_eq!(counts(&objects).get("DNSMXRecord"), Some(&1));
    assert_eq!(counts(&objects).get("DNSZone"), None);
}

#[test]
fn dns_example_com_cnames_are_deduplicated() {
    let objects = normalize("kat_dns_normalize", "dns-result-example.com-cnames.json", "Hostname|internet|example.com");
    let c = counts(&objects);
    assert_eq!(c.get("DNSCNAMERecord"), Some(&1), "{c:?}");
    assert_eq!(c.get("DNSNSRecord"), Some(&2));
    find(&objects, "DNSCNAMERecord|internet|www.example.com|CNAME|example.com.");
    find(&objects, "DNSMXRecord|internet|example.com|MX|0 example.com.");
    find(&objects, "DNSTXTRecord|internet|example.com|TXT|v=spf1 -all");
    find(&objects, "DNSZone|internet|example.com");
    let www = find(&objects, "Hostname|internet|www.example.com");
    assert_eq!(www.get("dns_zone").and_then(|v| v.as_str()), Some("DNSZone|internet|example.com"));
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
