//! The `dns-zone` boefje and `kat_dns_zone_normalize` against the test DNS
//! server (`example.test` has an SOA record; names under it have none;
//! `test.` and every other name are NXDOMAIN), through `kat run-boefje` and
//! `kat run-normalizer` as a user runs them.

use std::path::Path;

fn kat(data: &Path, env: &[(&str, String)], args: &[&str]) -> (bool, String, String) {
    kat_tests::cli::run(env!("CARGO_BIN_EXE_kat"), data, env, args)
}

/// Run `dns-zone` on `input` and its normalizer on the raw file: (raw text, objects as JSON lines).
fn zone_of(data: &Path, env: &[(&str, String)], input: &str) -> (String, String) {
    let (ok, stdout, stderr) = kat(data, env, &["run-boefje", "_dev", "dns-zone", input]);
    assert!(ok, "{stdout}\n{stderr}");
    let raw_id = stdout.lines().next().unwrap_or_default().trim().to_string();
    let (_, raw, _) = kat(data, &[], &["show-raw", &raw_id]);
    let (ok, objects, stderr) = kat(data, &[], &["run-normalizer", "kat_dns_zone_normalize", &raw_id]);
    assert!(ok, "{stderr}");
    (raw, objects)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostname_gets_the_zone_above_it_and_a_zone_its_parent() {
    let dns_port = kat_tests::dns_server::start_slow_dns_server(std::time::Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_path_buf();
    let env = vec![("BOEFJE_REMOTE_NS", format!("127.0.0.1:{dns_port}"))];
    tokio::task::spawn_blocking(move || {
        let (raw, objects) = zone_of(&data, &env, "Hostname|internet|www.example.test");
        assert!(raw.starts_with(&format!("RESOLVER: 127.0.0.1:{dns_port}\n")) && raw.contains(";QUESTION\nexample.test. IN SOA\n;ANSWER\nexample.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 600 86400 300\n"), "{raw}");
        let objects: Vec<serde_json::Value> = objects.lines().map(|l| serde_json::from_str(l).expect("one object a line")).collect();
        let mut keys: Vec<&str> = objects.iter().filter_map(|o| o["primary_key"].as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["DNSSOARecord|internet|example.test|internet|ns1.example.test", "DNSZone|internet|example.test", "Hostname|internet|example.test", "Hostname|internet|ns1.example.test", "Hostname|internet|www.example.test"]
        );
        let www = objects.iter().find(|o| o["primary_key"] == "Hostname|internet|www.example.test").expect("the scanned hostname, given back");
        assert_eq!(www["dns_zone"], "DNSZone|internet|example.test", "the hostname learns its zone");

        // A zone's own dns-zone looks for its parent: `test.` does not exist here, so nothing is found.
        let (raw, objects) = zone_of(&data, &env, "DNSZone|internet|example.test");
        assert!(raw.contains(";QUESTION\ntest. IN SOA\n;ANSWER\n;AUTHORITY"), "{raw}");
        assert_eq!(objects.trim(), "", "no objects");

        // A name in no zone at all: every name up to the top-level domain is NXDOMAIN.
        let (_, objects) = zone_of(&data, &env, "Hostname|internet|a.b.nowhere.test");
        assert_eq!(objects.trim(), "", "no objects");
    })
    .await
    .expect("test body");
}
