//! `kat renormalize` on a real data directory: a scan against the test DNS
//! server stores raw files; with the graph then removed, a dry run lists the
//! objects the DNS normalizer would add and changes nothing, and a real run
//! commits them.

use std::path::Path;

fn kat(data: &Path, env: &[(&str, String)], args: &[&str]) -> (bool, String, String) {
    kat_tests::cli::run(env!("CARGO_BIN_EXE_kat"), data, env, args)
}

fn a_records(data: &Path) -> String {
    let (ok, stdout, stderr) = kat(data, &[], &["query", "MATCH (a:DNSARecord) RETURN count(a) AS n"]);
    assert!(ok, "{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn renormalize_shows_the_diff_on_a_dry_run_and_commits_without_one() {
    let dns_port = kat_tests::dns_server::start_dns_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_path_buf();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let env = vec![("BOEFJE_REMOTE_NS", format!("127.0.0.1:{dns_port}")), ("BOEFJE_RECORD_TYPES", "A,NS".to_string()), ("BOEFJE_PORTS", closed.to_string())];
    tokio::task::spawn_blocking(move || {
        let (ok, stdout, stderr) = kat(&data, &env, &["scan", "example.test"]);
        assert!(ok, "{stdout}\n{stderr}");
        assert_eq!(a_records(&data), "n\n[2]\n");
        for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
            if entry.file_name().to_string_lossy().starts_with("graph.kgl") {
                std::fs::remove_file(entry.path()).expect("remove the graph");
            }
        }
        assert_eq!(a_records(&data), "n\n[0]\n");

        let (ok, stdout, stderr) = kat(&data, &[], &["renormalize", "kat_dns_normalize", "--boefje", "dns-records", "--dry-run"]);
        assert!(ok, "{stderr}");
        assert!(stdout.contains("dns-records/kat_dns_normalize on Hostname|internet|example.test (organisation _dev, raw file "), "{stdout}");
        assert!(stdout.contains("  + DNSARecord|internet|example.test|127.0.0.2\n") && stdout.contains("  + IPAddressV4|internet|127.0.0.3\n"), "{stdout}");
        assert!(stdout.trim_end().ends_with("dry run: nothing was changed"), "{stdout}");
        assert_eq!(a_records(&data), "n\n[0]\n", "a dry run changes nothing");

        let (ok, stdout, stderr) = kat(&data, &[], &["renormalize", "kat_dns_normalize"]);
        assert!(ok, "{stderr}");
        assert!(stdout.trim_end().ends_with("committed"), "{stdout}");
        assert_eq!(a_records(&data), "n\n[2]\n");
        let (ok, stdout, _) = kat(&data, &[], &["renormalize", "kat_dns_normalize", "--dry-run"]);
        assert!(ok && stdout.contains("0 added, 0 removed, 0 changed in all"), "after committing, nothing differs: {stdout}");

        let (ok, _, stderr) = kat(&data, &[], &["renormalize", "no_such_normalizer"]);
        assert!(!ok && stderr.contains("unknown normalizer \"no_such_normalizer\""), "{stderr}");
    })
    .await
    .expect("the test ran");
}
