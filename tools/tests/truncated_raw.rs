//! A truncated raw file must never replace a complete observation: after a
//! scan found three open ports, `run-normalizer` on nmap XML cut at any tag
//! boundary fails with a clear error and the graph keeps all three ports.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use kat_core::services::bytes::Bytes;

fn kat(data: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kat")).args(args).env("KAT_DATA_DIR", data).envs(env.iter().copied()).output().expect("kat runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn ip_ports(data: &Path) -> usize {
    let (ok, stdout, stderr) = kat(data, &[], &["query", "MATCH (n:IPPort) RETURN count(n) AS n"]);
    assert!(ok, "{stderr}");
    stdout.lines().nth(1).and_then(|l| l.trim_matches(|c| c == '[' || c == ']').parse().ok()).expect("a count")
}

/// Store each cut of the scan's nmap raw file as the raw of a new run of the same boefje on the same object.
fn store_cuts(data: &Path) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let bytes = kat_bytes::LocalBytes::open(data).await.expect("open bytes");
        let raws = bytes.all_raw().await.expect("list");
        let nmap = raws.iter().find(|r| r.mime_types.iter().any(|m| m.value == "boefje/nmap")).expect("the scan stored nmap XML");
        let (_, content) = bytes.get_raw(nmap.id).await.expect("read");
        let boundaries: Vec<usize> = content.iter().enumerate().filter(|(_, b)| **b == b'>').map(|(i, _)| i + 1).filter(|i| *i < content.len() - 1).collect();
        assert!(boundaries.len() >= 10, "a real nmap document has many tags");
        let mut ids = Vec::new();
        for cut in boundaries {
            let mut meta = nmap.boefje_meta.clone();
            meta.id = uuid::Uuid::new_v4();
            bytes.save_boefje_meta(&meta).await.expect("meta");
            let raw = bytes.save_raw(meta.id, &["boefje/nmap".to_string()], &content[..cut]).await.expect("raw");
            ids.push(raw.id.to_string());
        }
        ids
    })
}

#[test]
fn a_truncated_nmap_raw_fails_and_leaves_the_graph_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let open: Vec<TcpListener> = (0..3).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    let ports = open.iter().map(|l| l.local_addr().expect("addr").port().to_string()).collect::<Vec<_>>().join(",");
    let (ok, _, stderr) = kat(dir.path(), &[("BOEFJE_PORTS", &ports), ("BOEFJE_TIMEOUT_MS", "500")], &["scan", "127.0.0.1"]);
    assert!(ok, "{stderr}");
    assert_eq!(ip_ports(dir.path()), 3);
    let cuts = store_cuts(dir.path());
    for raw_id in &cuts {
        let (ok, stdout, stderr) = kat(dir.path(), &[], &["run-normalizer", "kat_nmap_normalize", raw_id]);
        assert!(!ok, "a cut raw file was accepted: {stdout}");
        assert!(stderr.contains("nmap XML"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_eq!(ip_ports(dir.path()), 3, "no cut replaced the complete observation");
}
