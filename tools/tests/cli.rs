//! The `kat` binary as a user runs it: `kat normalize` on OpenKAT's fixtures
//! and on bad input.

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openkat")
}

fn kat(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kat")).args(args).output().expect("kat runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn normalize_prints_one_json_object_a_line() {
    let file = fixtures().join("dns-result-example.nl.json");
    let (ok, stdout, stderr) = kat(&["normalize", "kat_dns_normalize", file.to_str().unwrap_or_default(), "--input-ooi", "Hostname|internet|example.nl"]);
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    assert_eq!(lines.len(), 24);
    for line in &lines {
        assert!(line["object_type"].is_string() && line["primary_key"].is_string(), "{line}");
    }
    assert!(lines.iter().any(|l| l["primary_key"] == "DNSZone|internet|example.nl"));
}

#[test]
fn bad_input_gives_a_clear_message_and_non_zero_exit() {
    let file = fixtures().join("dns-result-example.nl.json");
    let file = file.to_str().unwrap_or_default();
    let cases: [(&[&str], &str); 4] = [
        (&["normalize", "kat_dns_normalize", file, "--input-ooi", "Hostname|internet"], "malformed reference"),
        (&["normalize", "nope", file, "--input-ooi", "Hostname|internet|example.nl"], "unknown normalizer \"nope\"; known: kat_dns_normalize"),
        (&["normalize", "kat_dns_normalize", "/no/such/file", "--input-ooi", "Hostname|internet|example.nl"], "reading /no/such/file"),
        (&["normalize", "kat_nmap_normalize", file, "--input-ooi", "IPAddressV4|internet|1.2.3.4"], "cannot parse raw file"),
    ];
    for (args, needle) in cases {
        let (ok, _, stderr) = kat(args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn normalize_reads_at_most_bytes_max_raw_size() {
    let out = Command::new(env!("CARGO_BIN_EXE_kat"))
        .args(["normalize", "kat_dns_normalize", "/dev/zero", "--input-ooi", "Hostname|internet|example.nl"])
        .env("BYTES_MAX_RAW_SIZE", "1048576")
        .output()
        .expect("kat runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("/dev/zero is larger than 1048576 bytes (BYTES_MAX_RAW_SIZE)"), "{stderr}");
    let (ok, _, stderr) = kat(&["normalize", "kat_dns_normalize", "/dev/zero", "--input-ooi", "Hostname|internet|example.nl"]);
    assert!(!ok && stderr.contains("larger than 67108864 bytes"), "the default cap is 64 MiB: {stderr}");
}

#[test]
fn query_runs_on_the_data_directory_and_refuses_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().unwrap_or_default();
    let (ok, stdout, stderr) = kat(&["query", "--data-dir", data, "MATCH (n) RETURN count(n) AS objects"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "objects\n[0]\n");
    let (ok, _, stderr) = kat(&["query", "--data-dir", data, "CREATE (n:Hostname {primary_key: 'x'})"]);
    assert!(!ok && stderr.contains("graph query failed"), "{stderr}");
}

#[test]
fn keygen_prints_a_usable_pair_in_openkats_variables() {
    let (ok, stdout, stderr) = kat(&["keygen"]);
    assert!(ok, "{stderr}");
    let vars: std::collections::HashMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(vars.get("BOEFJES_ENCRYPTION_MIDDLEWARE"), Some(&"NACL_SEALBOX"));
    let lookup = |name: &str| vars.get(name).map(|v| v.to_string());
    let middleware = kat_core::crypto::Middleware::from_env(lookup).expect("the printed pair configures encryption");
    let blob = middleware.encrypt("x").expect("encrypts");
    assert_eq!(middleware.decrypt(&blob).expect("decrypts"), "x");
    let (_, again, _) = kat(&["keygen"]);
    assert_ne!(stdout, again, "every pair is new");
}

#[test]
fn a_second_kat_on_the_same_data_directory_stops_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().unwrap_or_default();
    let held = kat_tools::embedded::DataDirLock::take(dir.path()).expect("the first user");
    for args in [vec!["scan", "--data-dir", data, "127.0.0.1"], vec!["run-boefje", "--data-dir", data, "_dev", "port-scan", "IPAddressV4|internet|127.0.0.1"]] {
        let (ok, _, stderr) = kat(&args);
        assert!(!ok && stderr.contains(&format!("another kat process is using {data}")), "{args:?}: {stderr}");
    }
    assert!(!dir.path().join("scheduler.sqlite").exists(), "nothing was opened or migrated while the lock was held");
    drop(held);
}

#[test]
fn a_target_that_looks_like_an_ip_address_is_refused_before_any_lookup() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_str().unwrap_or_default();
    let (ok, _, stderr) = kat(&["scan", "--data-dir", data, "999.1.1.1"]);
    assert!(!ok && stderr.contains("looks like an IPv4 address but is not one"), "{stderr}");
    assert!(!dir.path().join("bytes.sqlite").exists(), "refused before anything ran");
}

#[test]
fn bench_refuses_a_debug_build_saying_why() {
    let (ok, _, stderr) = kat(&["bench", "--quick", "normalize"]);
    assert!(!ok, "a debug build's figures say nothing, so it refuses: {stderr}");
    assert!(stderr.contains("release build"), "{stderr}");
}
