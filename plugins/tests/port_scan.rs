//! `port-scan` against real TCP listeners on 127.0.0.1, read back through
//! `kat_nmap_normalize`: exactly the listening ports come out as IPPorts.

use std::collections::BTreeMap;

use kat_core::env_rules::build_job_env;
use kat_core::Reference;
use kat_plugins::boefjes::{by_id as boefje, BoefjeError};
use kat_plugins::normalizers::by_id as normalizer;
use tokio::net::TcpListener;

async fn listeners(n: usize) -> (Vec<TcpListener>, Vec<u16>) {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..n {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        ports.push(l.local_addr().expect("addr").port());
        held.push(l);
    }
    (held, ports)
}

#[tokio::test]
async fn finds_exactly_the_open_ports() {
    let (_held, open) = listeners(3).await;
    // A port that was free a moment ago and is closed now.
    let closed = {
        let (l, p) = listeners(1).await;
        drop(l);
        p[0]
    };
    let spec: Vec<String> = open.iter().chain([&closed]).map(u16::to_string).collect();
    let scan = boefje("port-scan").expect("built-in");
    let host: BTreeMap<String, String> = [("BOEFJE_PORTS", spec.join(",")), ("BOEFJE_TIMEOUT_MS", "2000".into()), ("SECRET_TOKEN", "never-passed".into())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let env = build_job_env(scan.schema().as_ref(), &host, &BTreeMap::new()).expect("valid env");
    assert!(!env.contains_key("SECRET_TOKEN") && !env.contains_key("TOKEN"), "a host variable without the prefix never reaches a boefje");
    assert_eq!(env.keys().collect::<Vec<_>>(), ["PORTS", "TIMEOUT_MS"]);

    let input = Reference::parse("IPAddressV4|internet|127.0.0.1").expect("valid");
    let raw = scan.run(&input, &env).await.expect("scan runs");
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].mime_types, ["boefje/nmap"]);

    let objects = normalizer("kat_nmap_normalize").expect("built-in").normalize(&input, &raw[0].content).expect("our XML is nmap XML");
    let mut found: Vec<String> = objects.iter().filter(|o| o.object_type() == "IPPort").map(|o| o.reference().to_string()).collect();
    found.sort();
    let mut expected: Vec<String> = open.iter().map(|p| format!("IPPort|internet|127.0.0.1|tcp|{p}")).collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn bad_settings_and_inputs_are_refused() {
    let scan = boefje("port-scan").expect("built-in");
    let input = Reference::parse("IPAddressV4|internet|127.0.0.1").expect("valid");
    let env = build_job_env(scan.schema().as_ref(), &BTreeMap::from([("BOEFJE_PORTS".to_string(), "99999".to_string())]), &BTreeMap::new()).expect("a string is a string");
    match scan.run(&input, &env).await {
        Err(BoefjeError::Setting { key, .. }) => assert_eq!(key, "PORTS"),
        other => panic!("expected a PORTS error, got {other:?}"),
    }
    let host = Reference::parse("Hostname|internet|example.nl").expect("valid");
    assert!(matches!(scan.run(&host, &env).await, Err(BoefjeError::WrongInput(_))));
    let err = build_job_env(scan.schema().as_ref(), &BTreeMap::from([("BOEFJE_TIMEOUT_MS".to_string(), "soon".to_string())]), &BTreeMap::new()).expect_err("not an integer");
    assert!(err.to_string().contains("TIMEOUT_MS"), "{err}");
}
