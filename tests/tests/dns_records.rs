//! `dns-records` against a real DNS server on 127.0.0.1 (a small UDP
//! responder built on hickory-proto that serves a test zone), read back
//! through `kat_dns_normalize`.

use std::collections::BTreeMap;
use kat_core::env_rules::build_job_env;
use kat_core::Reference;
use kat_tests::dns_server::start_dns_server;
use kat_plugins::boefjes::{by_id as boefje, BoefjeError};
use kat_plugins::normalizers::by_id as normalizer;
use tokio::net::UdpSocket;

fn env_for(port: u16, extra: &[(&str, &str)]) -> kat_plugins::boefjes::JobEnv {
    let scan = boefje("dns-records").expect("built-in");
    let mut host: BTreeMap<String, String> = BTreeMap::from([("BOEFJE_REMOTE_NS".to_string(), format!("127.0.0.1:{port}")), ("BOEFJE_TIMEOUT_MS".to_string(), "2000".to_string())]);
    host.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    build_job_env(scan.schema().as_ref(), &host, &BTreeMap::new()).expect("valid env")
}

#[tokio::test]
async fn looks_up_a_real_server_and_normalizes() {
    let port = start_dns_server().await;
    let input = Reference::parse("Hostname|internet|example.test").expect("valid");
    let raw = boefje("dns-records").expect("built-in").run(&input, &env_for(port, &[])).await.expect("lookup works");
    assert_eq!(raw[0].mime_types, ["boefje/dns-records"]);
    let json: serde_json::Value = serde_json::from_slice(&raw[0].content).expect("raw is JSON");
    assert!(json["dns_records"].as_str().is_some_and(|t| t.contains(&format!("RESOLVER: 127.0.0.1:{port}"))));

    let objects = normalizer("kat_dns_normalize").expect("built-in").normalize(&input, &raw[0].content).expect("normalizes");
    let keys: Vec<String> = objects.iter().map(|o| o.reference().to_string()).collect();
    for expected in [
        "DNSZone|internet|example.test",
        "Hostname|internet|example.test",
        "Hostname|internet|mail.example.test",
        "Hostname|internet|ns1.example.test",
        "IPAddressV4|internet|127.0.0.2",
        "IPAddressV4|internet|127.0.0.3",
        "IPAddressV6|internet|::1",
        "DNSMXRecord|internet|example.test|10 mail.example.test.",
        "DNSNSRecord|internet|example.test|ns1.example.test.",
        "DNSTXTRecord|internet|example.test|d2b1e35921ca5499e137cdbf735817cf89874cd3",
        "DNSSOARecord|internet|example.test|internet|ns1.example.test",
    ] {
        assert!(keys.iter().any(|k| k == expected), "{expected} missing from {keys:#?}");
    }
}

#[tokio::test]
async fn unknown_names_timeouts_and_bad_settings_are_clear() {
    let port = start_dns_server().await;
    let scan = boefje("dns-records").expect("built-in");
    let missing = Reference::parse("Hostname|internet|missing.test").expect("valid");
    let raw = scan.run(&missing, &env_for(port, &[("BOEFJE_RECORD_TYPES", "A,MX")])).await.expect("NXDOMAIN is an answer");
    let objects = normalizer("kat_dns_normalize").expect("built-in").normalize(&missing, &raw[0].content).expect("normalizes");
    assert!(objects.iter().any(|o| o.reference().as_str() == "NXDOMAIN|internet|missing.test"), "{objects:?}");

    // A UDP port where nothing answers: the run fails with a timeout, naming the server.
    let silent = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let input = Reference::parse("Hostname|internet|example.test").expect("valid");
    let env = env_for(silent_port, &[("BOEFJE_TIMEOUT_MS", "200"), ("BOEFJE_RECORD_TYPES", "A")]);
    match scan.run(&input, &env).await {
        Err(BoefjeError::Scan(message)) => assert!(message.contains(&format!("127.0.0.1:{silent_port}")), "{message}"),
        other => panic!("expected a scan error, got {other:?}"),
    }
    for (key, value) in [("BOEFJE_RECORD_TYPES", "A,BOGUS"), ("BOEFJE_REMOTE_NS", "dns.example")] {
        match scan.run(&input, &env_for(port, &[(key, value)])).await {
            Err(BoefjeError::Setting { key: k, .. }) => assert_eq!(format!("BOEFJE_{k}"), key),
            other => panic!("{key}={value}: expected a setting error, got {other:?}"),
        }
    }
}
