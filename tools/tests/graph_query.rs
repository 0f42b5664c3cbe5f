//! `kat scan` then `kat query` as a user runs them, on the embedded graph and
//! on the Bolt server of `scripts/services.sh` (`KAT_GRAPH_URI`): the DNS
//! objects are nodes with their fields as properties and their references as
//! relations named after the field. The scan asks the test DNS server on
//! 127.0.0.1, whose zone points at loopback addresses only.

use std::path::Path;

fn kat(data: &Path, env: &[(&str, String)], args: &[&str]) -> (bool, String, String) {
    kat_tests::cli::run(env!("CARGO_BIN_EXE_kat"), data, env, args)
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

async fn scan_and_query(graph_uri: Option<&str>, org: &str) {
    let dns_port = kat_tests::dns_server::start_dns_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = vec![
        ("BOEFJE_REMOTE_NS", format!("127.0.0.1:{dns_port}")),
        ("BOEFJE_TIMEOUT_MS", "2000".to_string()),
        ("BOEFJE_PORTS", closed_port().to_string()),
        ("BOEFJE_RECORD_TYPES", "A,NS".to_string()),
    ];
    if let Some(uri) = graph_uri {
        env.push(("KAT_GRAPH_URI", uri.to_string()));
    }
    let data = dir.path().to_path_buf();
    let org = org.to_string();
    let (scan, query) = tokio::task::spawn_blocking(move || {
        let scan = kat(&data, &env, &["scan", "--org", &org, "example.test"]);
        let cypher = format!("MATCH (a:DNSARecord {{organisation: '{org}'}})-[:hostname]->(h:Hostname {{name: 'example.test'}}) RETURN count(a), h.name");
        let query = kat(&data, &env, &["query", &cypher]);
        (scan, query)
    })
    .await
    .expect("kat ran");
    assert!(scan.0, "{}\n{}", scan.1, scan.2);
    assert!(query.0, "{}", query.2);
    assert_eq!(query.1, "count(a)\th.name\n[2,\"example.test\"]\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn kat_query_answers_from_fields_and_named_relations_on_the_embedded_graph() {
    scan_and_query(None, "_dev").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kat_query_answers_the_same_on_a_bolt_graph() {
    let org = format!("cli-{}", std::process::id());
    scan_and_query(Some("bolt://127.0.0.1:7687"), &org).await;
}
