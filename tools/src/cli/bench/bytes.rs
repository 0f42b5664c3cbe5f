//! `kat bench bytes`: raw-file saves into Bytes on real code paths, in a
//! temporary directory with SQLite metadata: 10 KiB and 1 MiB files, with
//! and without NaCl encryption at rest, in process (`LocalBytes`, 8
//! concurrent savers) and over HTTP (Bytes' REST API on 127.0.0.1 through
//! `BytesClient`, 8 clients). Every save is durable when it returns. The
//! contents are generated from a fixed seed, different per save so nothing is
//! deduplicated.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use kat_bytes::api::auth::Auth;
use kat_bytes::api::{router, BytesState, DEFAULT_MAX_RAW_SIZE};
use kat_bytes::client::BytesClient;
use kat_bytes::LocalBytes;
use kat_core::crypto::{generate_key_pair, Middleware};
use kat_core::meta::{BoefjeMeta, PluginRef};
use kat_core::services::bytes::Bytes;
use uuid::Uuid;

use super::report::{Figure, Progress};
use super::BenchArgs;

const STAGE: &str = "bytes";
/// Concurrent savers.
const CLIENTS: usize = 8;

/// One configuration: file size, encryption, transport.
struct Case {
    size: usize,
    encrypted: bool,
    http: bool,
}

/// Measure every configuration.
pub fn run(args: &BenchArgs, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let mut cases = Vec::new();
    for http in [false, true] {
        for encrypted in [false, true] {
            for size in [10 << 10, 1 << 20] {
                cases.push(Case { size, encrypted, http });
            }
        }
    }
    let mut figures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let label = format!("{} {}, {}", if case.size < (1 << 20) { "10 KiB" } else { "1 MiB" }, if case.encrypted { "encrypted" } else { "plain" }, if case.http { "HTTP" } else { "in process" });
        progress.step(STAGE, &label, n, cases.len());
        let saves = if case.size < (1 << 20) { if args.quick { 1_000 } else { 5_000 } } else if args.quick { 50 } else { 200 };
        let elapsed = runtime.block_on(measure(case, saves)).with_context(|| format!("bytes, {label}"))?;
        let per_second = saves as f64 / elapsed.as_secs_f64();
        let mut saves_figure = Figure::new(STAGE, format!("saves/s, {label}, {CLIENTS} savers"), per_second, "saves/s");
        if case.size == 10 << 10 && case.encrypted && !case.http {
            saves_figure = saves_figure.target(5_000.0);
        }
        if case.size == 10 << 10 && case.http && !case.encrypted {
            saves_figure = saves_figure.target(2_000.0);
        }
        figures.push(saves_figure);
        figures.push(Figure::new(STAGE, format!("MiB/s, {label}"), per_second * case.size as f64 / f64::from(1 << 20), "MiB/s"));
    }
    Ok(figures)
}

/// Save `saves` files of the case's size with [`CLIENTS`] concurrent savers; the time it took.
async fn measure(case: &Case, saves: usize) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let crypto = if case.encrypted {
        let (private, public) = generate_key_pair();
        Middleware::nacl_box(&private, &public)?
    } else {
        Middleware::Identity
    };
    let local = Arc::new(LocalBytes::open_with(dir.path(), Arc::new(crypto)).await?);
    let bytes: Arc<dyn Bytes> = if case.http {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let auth = Arc::new(Auth::new("bench", "bench-password", Duration::from_secs(3600)));
        let state = BytesState { bytes: local.clone(), auth, max_raw_size: DEFAULT_MAX_RAW_SIZE };
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        Arc::new(BytesClient::new(&format!("http://{address}"), "bench", "bench-password"))
    } else {
        local.clone()
    };
    let now = time::OffsetDateTime::now_utc();
    let meta = BoefjeMeta {
        id: Uuid::new_v4(),
        started_at: Some(now),
        ended_at: Some(now),
        boefje: PluginRef { id: "bench".into(), version: None },
        input_ooi: Some("Hostname|internet|bench.test".into()),
        arguments: Default::default(),
        organization: "bench".into(),
        runnable_hash: None,
        environment: None,
    };
    bytes.save_boefje_meta(&meta).await?;
    let started = Instant::now();
    let mut savers = Vec::new();
    for client in 0..CLIENTS {
        let bytes = bytes.clone();
        let (size, count) = (case.size, saves / CLIENTS + usize::from(client < saves % CLIENTS));
        savers.push(tokio::spawn(async move {
            for i in 0..count {
                // Bytes keeps one raw file per run and set of mime types (as OpenKAT), so each save gets its own.
                let mime = ["text/plain".to_string(), format!("bench/{client}-{i}")];
                bytes.save_raw(meta.id, &mime, &contents(size, (client * 1_000_003 + i) as u64)).await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for saver in savers {
        saver.await.context("a saver panicked")??;
    }
    let elapsed = started.elapsed();
    let stored = local.raw_of_run(meta.id).await?.len();
    anyhow::ensure!(stored == saves, "{stored} of {saves} saves were stored");
    Ok(elapsed)
}

/// `size` bytes from seed `seed` (xorshift; the same every run, different per seed).
pub fn contents(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(size);
    out
}
