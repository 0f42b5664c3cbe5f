//! Several connections write one Bolt graph at once (two normalizer runners
//! and `kat scan --api` in a deployment): every save lands, whether the
//! server queues writers (kglite-bolt-server's default, the one here) or
//! refuses a transaction that lost a race with a transient error, which the
//! engine runs again (`engine::bolt::ATTEMPTS`). Needs the Bolt server of
//! `bash scripts/services.sh` on 127.0.0.1:7687.

use kat_core::{Ooi, Reference};
use kat_graph::{Graph, GraphLocation};

async fn connect() -> Graph {
    let location = GraphLocation::parse(Some("bolt://127.0.0.1:7687"), std::path::Path::new("unused"), None, None).expect("uri");
    Graph::connect(&location).await.unwrap_or_else(|e| panic!("no Bolt graph server at bolt://127.0.0.1:7687 ({e}); start it with `bash scripts/services.sh`"))
}

fn hostname(name: &str) -> Ooi {
    Ooi::build("Hostname").field("network", "Network|internet").field("name", name).finish().expect("hostname")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_one_bolt_server_all_land() {
    let org = format!("writers-{}", uuid::Uuid::new_v4().simple());
    let graphs = [connect().await, connect().await, connect().await, connect().await];
    let target = hostname("example.test");
    graphs[0].declare(&org, &target, kat_core::ScanLevel::L1).await.expect("declare");
    let saves = graphs.iter().enumerate().flat_map(|(g, graph)| {
        let (org, target) = (org.clone(), target.reference().clone());
        (0..10).map(move |i| {
            let (org, target) = (org.clone(), target.clone());
            async move {
                // Every save touches the shared Network and target objects, and adds its own hostname.
                let result = vec![hostname("example.test"), hostname(&format!("h{g}-{i}.example.test"))];
                graph.save_observation(&org, &format!("writer-{g}-{i}"), &target, &result).await
            }
        })
    });
    let outcomes = futures::future::join_all(saves).await;
    let failed: Vec<String> = outcomes.iter().filter_map(|o| o.as_ref().err().map(ToString::to_string)).collect();
    assert!(failed.is_empty(), "{} of 40 concurrent saves failed: {failed:?}", failed.len());
    for g in 0..4 {
        for i in 0..10 {
            let reference = Reference::parse(&format!("Hostname|internet|h{g}-{i}.example.test")).expect("reference");
            assert!(graphs[0].get(&org, &reference).await.expect("read").is_some(), "{reference} landed");
        }
    }
}
