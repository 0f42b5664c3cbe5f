//! What only the embedded engine has: a real file that survives reopening
//! with nothing duplicated, one writer per file, and queries that may not
//! write. The operations themselves are in `conformance.rs`, on both engines.

use kat_core::{Ooi, ScanLevel};
use kat_graph::Graph;

const ORG: &str = "acme";

fn hostname(name: &str) -> Ooi {
    Ooi::build("Hostname").field("network", "Network|internet").field("name", name).finish().expect("hostname")
}

#[tokio::test]
async fn the_graph_survives_reopening_without_duplicates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("graph.kgl");
    let host = hostname("example.test");
    {
        let graph = Graph::open(&path).await.expect("open");
        graph.declare(ORG, &host, ScanLevel::L2).await.expect("declare");
        graph.save_observation(ORG, "dns", host.reference(), &[host.clone(), hostname("www.example.test")]).await.expect("save");
    }
    let graph = Graph::open(&path).await.expect("reopen sees the first run's data");
    assert_eq!(graph.objects(ORG, None).await.expect("list").len(), 2);
    graph.save_observation(ORG, "dns", host.reference(), &[host.clone(), hostname("www.example.test")]).await.expect("save again");
    let (_, rows) = graph.query("MATCH (n:Hostname) RETURN n.primary_key AS pk").await.expect("query");
    assert_eq!(rows.len(), 2, "saving again merges, never duplicates");
    let (_, rows) = graph.query("MATCH (o:Origin) RETURN o.primary_key AS pk").await.expect("query");
    assert_eq!(rows.len(), 2, "one declaration and one observation");
}

#[tokio::test]
async fn queries_are_read_only_and_one_writer_holds_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = Graph::open(&dir.path().join("graph.kgl")).await.expect("open");
    let err = graph.query("CREATE (n:Hostname {primary_key: 'x'})").await.expect_err("mutation refused");
    assert!(err.to_string().contains("graph query failed"), "{err}");
    assert!(graph.objects(ORG, None).await.expect("list").is_empty());
    let second = Graph::open(&dir.path().join("graph.kgl")).await;
    assert!(second.is_err(), "a second writer on the same file is refused");
}
