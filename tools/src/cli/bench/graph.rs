//! `kat bench graph`: the object graph on real code paths. Saves
//! observations of 1,000 objects each (one hostname, 333 A records with
//! their 333 addresses, and 333 more hostnames it names; generated, the same
//! every run) into a fresh organisation, first as new objects and then again
//! unchanged, and reads objects back one primary key at a time. On the
//! embedded engine (a temporary file) always, and on the Bolt server
//! `--graph-uri` names when given.

use std::time::{Duration, Instant};

use anyhow::Context;
use kat_core::{Ooi, Reference, ScanLevel};
use kat_graph::{Graph, GraphLocation};

use super::report::{millis, Figure, Progress};
use super::BenchArgs;

const STAGE: &str = "graph";

/// Objects in one observation.
pub const OBSERVATION_SIZE: usize = 1_000;
const METHOD: &str = "bench/kat_dns_normalize";

/// Run the measurements on each engine.
pub fn run(args: &BenchArgs, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let observations = args.observations.max(1);
    let dir = tempfile::tempdir().context("temporary directory")?;
    let mut engines = vec![("embedded", GraphLocation::Embedded(dir.path().join("graph.kgl")))];
    if let Some(uri) = &args.graph_uri {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        engines.push(("bolt", GraphLocation::parse(Some(uri), dir.path(), var("NEO4J_USER"), var("NEO4J_PASSWORD"))?));
    }
    let mut figures = Vec::new();
    let count = engines.len();
    for (n, (name, location)) in engines.into_iter().enumerate() {
        progress.step(STAGE, &format!("{name}: {observations} observations of {OBSERVATION_SIZE}"), n, count);
        let measured = runtime.block_on(measure(&location, observations, args.tasks))?;
        let mut saved = Figure::new(STAGE, format!("{name}: new objects saved/s, observations of {OBSERVATION_SIZE}"), measured.new_per_second, "objects/s");
        if name == "embedded" {
            saved = saved.target(50_000.0);
        }
        figures.push(saved);
        figures.push(Figure::new(STAGE, format!("{name}: one observation of {OBSERVATION_SIZE} new objects"), millis(measured.new_per_observation), "ms").lower_is_better());
        figures.push(Figure::new(STAGE, format!("{name}: unchanged objects saved again/s"), measured.again_per_second, "objects/s"));
        figures.push(Figure::new(STAGE, format!("{name}: reads by primary key/s"), measured.reads_per_second, "reads/s"));
    }
    Ok(figures)
}

struct Figures {
    new_per_second: f64,
    new_per_observation: Duration,
    again_per_second: f64,
    reads_per_second: f64,
}

async fn measure(location: &GraphLocation, observations: usize, reads: usize) -> anyhow::Result<Figures> {
    let graph = Graph::connect(location).await.with_context(|| format!("opening the graph {location}"))?;
    let org = format!("bench-{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default());
    let batches: Vec<(Reference, Vec<Ooi>)> = (0..observations).map(observation).collect::<anyhow::Result<_>>()?;
    for (source, objects) in &batches {
        graph.declare(&org, &objects[0], ScanLevel::L1).await.with_context(|| format!("declaring {source}"))?;
    }
    let started = Instant::now();
    for (source, objects) in &batches {
        graph.save_observation(&org, METHOD, source, objects).await?;
    }
    let new_elapsed = started.elapsed();
    let started = Instant::now();
    for (source, objects) in &batches {
        graph.save_observation(&org, METHOD, source, objects).await?;
    }
    let again_elapsed = started.elapsed();
    let keys: Vec<&Reference> = batches.iter().flat_map(|(_, objects)| objects.iter().map(Ooi::reference)).collect();
    let started = Instant::now();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..reads.max(1) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let key = keys[(state % keys.len() as u64) as usize];
        graph.get(&org, key).await?.with_context(|| format!("{key} was saved but is not found"))?;
    }
    let reads_elapsed = started.elapsed();
    let total = (observations * OBSERVATION_SIZE) as f64;
    Ok(Figures {
        new_per_second: total / new_elapsed.as_secs_f64(),
        new_per_observation: new_elapsed / observations as u32,
        again_per_second: total / again_elapsed.as_secs_f64(),
        reads_per_second: reads.max(1) as f64 / reads_elapsed.as_secs_f64(),
    })
}

/// Observation `n`: hostname `hN.bench.test`, 333 A records to `10.N.x.y`, the addresses, and 333 hostnames
/// `wI.hN.bench.test`.
fn observation(n: usize) -> anyhow::Result<(Reference, Vec<Ooi>)> {
    let host = Ooi::build("Hostname").field("network", "Network|internet").field("name", format!("h{n}.bench.test")).finish()?;
    let mut objects = vec![host.clone()];
    let third = (OBSERVATION_SIZE - 1) / 3;
    for i in 0..third {
        let address = format!("10.{}.{}.{}", n % 256, i / 256, i % 256);
        let ip = Ooi::build("IPAddressV4").field("network", "Network|internet").field("address", address.as_str()).finish()?;
        let record = Ooi::build("DNSARecord").reference("hostname", host.reference()).field("dns_record_type", "A").field("value", address.as_str()).field("ttl", 300).reference("address", ip.reference()).finish()?;
        let name = Ooi::build("Hostname").field("network", "Network|internet").field("name", format!("w{i}.h{n}.bench.test")).finish()?;
        objects.extend([record, ip, name]);
    }
    Ok((host.reference().clone(), objects))
}
