//! Criterion benchmarks of the inner loops every task goes through: parsing an
//! object reference, parsing dnspython's answer text and normalizing a whole
//! `boefje/dns-records` raw file, normalizing nmap XML, building a job's
//! environment from host variables and settings, and hashing a raw file as
//! Bytes does. Inputs are generated (the same every run) by the generators
//! `kat bench normalize` uses. Run with `cargo bench -p kat-tools --bench hot_loops`.

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kat_core::Reference;
use kat_tools::cli::bench::normalize::{dns_raw, nmap_raw};

fn references(c: &mut Criterion) {
    let inputs = ["Hostname|internet|www.example.nl", "IPPort|internet|192.0.2.1|tcp|443", "DNSARecord|internet|example.nl|192.0.2.1", "Finding|Hostname|internet|example.nl|KATFindingType|KAT-NO-DMARC"];
    let mut group = c.benchmark_group("reference");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("parse", |b| b.iter(|| inputs.iter().map(|i| Reference::parse(black_box(i)).is_ok()).filter(|ok| *ok).count()));
    group.finish();
}

fn dns(c: &mut Criterion) {
    let raw = dns_raw();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap_or_default();
    let text = json["dns_records"].as_str().unwrap_or_default().to_string();
    let normalizer = kat_plugins::normalizers::by_id("kat_dns_normalize");
    let input = Reference::parse("Hostname|internet|bench.test");
    let mut group = c.benchmark_group("dns");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("parse answer text", |b| b.iter(|| kat_plugins::normalizers::dns::answers::parse_responses(black_box(&text)).map(|r| r.len())));
    group.throughput(Throughput::Bytes(raw.len() as u64));
    if let (Some(normalizer), Ok(input)) = (normalizer, input) {
        group.bench_function("normalize raw file", |b| b.iter(|| normalizer.normalize(&input, black_box(&raw)).map(|o| o.len()).ok()));
    }
    group.finish();
}

fn nmap(c: &mut Criterion) {
    let raw = nmap_raw();
    let mut group = c.benchmark_group("nmap");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(raw.len() as u64));
    if let (Some(normalizer), Ok(input)) = (kat_plugins::normalizers::by_id("kat_nmap_normalize"), Reference::parse("IPAddressV4|internet|127.0.0.1")) {
        group.bench_function("normalize raw file", |b| b.iter(|| normalizer.normalize(&input, black_box(&raw)).map(|o| o.len()).ok()));
    }
    group.finish();
}

fn job_env(c: &mut Criterion) {
    let boefjes = kat_plugins::boefjes::all();
    let schema = boefjes.iter().find_map(|b| b.schema());
    let host_env: BTreeMap<String, String> = [("BOEFJE_TOP_PORTS", "100"), ("BOEFJE_PORTS", "22,80,443"), ("PATH", "/usr/bin"), ("SECRET_TOKEN", "x")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let settings = BTreeMap::new();
    c.bench_function("job environment", |b| b.iter(|| kat_core::env_rules::build_job_env(schema.as_ref(), black_box(&host_env), &settings).map(|e| e.len()).ok()));
}

fn hashing(c: &mut Criterion) {
    let content = kat_tools::cli::bench::bytes::contents(10 << 10, 1);
    let mut group = c.benchmark_group("hashing");
    group.throughput(Throughput::Bytes(content.len() as u64));
    group.bench_function("secure hash of 10 KiB", |b| b.iter(|| kat_bytes::hashing::secure_hash(black_box(&content), "1700000000.0")));
    group.finish();
}

criterion_group!(hot_loops, references, dns, nmap, job_env, hashing);
criterion_main!(hot_loops);
