//! `kat bench`'s stages run their real code paths to the end. Figures from a debug build say nothing (the
//! command refuses one), so these call each stage's function directly with small counts and check what it
//! measured and reported, not how fast: a stage fails when a task is lost, a read misses or a service does not
//! start.

use kat_tools::cli::bench::report::{Figure, Progress};
use kat_tools::cli::bench::{bytes, distributed, graph, normalize, pipeline, runner, startup, BenchArgs};

fn args(tasks: usize) -> BenchArgs {
    BenchArgs { stages: Vec::new(), quick: true, json: None, clients: 2, seconds: 1, tasks, observations: 2, graph_uri: None, db_uri: None, distributed: false, queue_uri: String::new() }
}

fn figure<'a>(figures: &'a [Figure], part: &str) -> &'a Figure {
    figures.iter().find(|f| f.figure.contains(part)).unwrap_or_else(|| panic!("no figure with {part:?} in {figures:#?}"))
}

#[test]
fn pipeline_runs_every_task_end_to_end_and_counts_the_objects() {
    let figures = pipeline::run(&args(30), &Progress::stderr()).expect("the pipeline stage ran");
    let tasks = figure(&figures, "tasks/s end to end");
    assert!(tasks.value > 0.0 && tasks.target == Some(2_000.0), "{tasks:?}");
    let objects = figure(&figures, "objects/s saved").value;
    // Each generated raw file gives its hostname, 14 A + 6 AAAA records with their addresses, 3 MX, 2 NS and 2
    // TXT records and the 5 hostnames they name: 53 objects per task.
    assert!(objects >= 53.0 * tasks.value * 0.99, "objects/s {objects} for {} tasks/s", tasks.value);
    let (p50, p99) = (figure(&figures, "p50").value, figure(&figures, "p99").value);
    assert!(p50 > 0.0 && p99 >= p50, "latencies p50 {p50} p99 {p99}");
}

#[test]
fn the_pipeline_raw_file_is_about_two_kibibytes_and_the_dns_normalizer_reads_it() {
    let raw = pipeline::dns_records_raw("h1.bench.test");
    assert!((1800..2600).contains(&raw.len()), "{} bytes", raw.len());
    let normalizer = kat_plugins::normalizers::by_id("kat_dns_normalize").expect("built in");
    let input = kat_core::Reference::parse("Hostname|internet|h1.bench.test").expect("reference");
    let objects = normalizer.normalize(&input, &raw).expect("normalized");
    assert!(objects.iter().filter(|o| o.object_type() == "DNSARecord").count() == 14, "{objects:#?}");
    assert_eq!(objects.len(), 53, "{objects:#?}");
}

#[test]
fn bytes_measures_every_size_encryption_and_transport_with_the_targets_on_two() {
    let figures = bytes::run(&args(10), &Progress::stderr()).expect("the bytes stage ran");
    assert_eq!(figures.len(), 16, "saves/s and MiB/s for 2 sizes x 2 encryptions x 2 transports");
    assert_eq!(figure(&figures, "saves/s, 10 KiB encrypted, in process").target, Some(5_000.0));
    assert_eq!(figure(&figures, "saves/s, 10 KiB plain, HTTP").target, Some(2_000.0));
    assert!(figures.iter().all(|f| f.value > 0.0), "{figures:#?}");
}

#[test]
fn bytes_contents_are_the_same_every_run_and_differ_per_seed() {
    assert_eq!(bytes::contents(10_240, 7), bytes::contents(10_240, 7));
    assert_ne!(bytes::contents(64, 7), bytes::contents(64, 8));
    assert_eq!(bytes::contents(1_000_001, 1).len(), 1_000_001);
}

#[test]
fn startup_times_each_service_to_healthy_and_reads_its_memory() {
    let figures = startup::measure(std::path::Path::new(env!("CARGO_BIN_EXE_kat")), std::time::Duration::from_millis(200), &Progress::stderr()).expect("the services started");
    for service in ["kat serve --katalogus", "kat serve --bytes", "kat serve --scheduler", "kat serve (every service)"] {
        let healthy = figure(&figures, &format!("{service}: exec to healthy"));
        assert!(healthy.value > 0.0 && !healthy.higher_is_better && healthy.target == Some(300.0), "{healthy:?}");
        let memory = figure(&figures, &format!("{service}: idle resident memory"));
        assert!(memory.value > 1.0 && memory.value < 4096.0, "a resident size in MiB: {memory:?}");
    }
}

#[test]
fn runner_graph_and_normalize_report_their_targets() {
    let progress = Progress::stderr();
    let runner = runner::run(&args(20), &progress).expect("the runner stage ran");
    assert_eq!(figure(&runner, "built-in no-op tasks/s").target, Some(5_000.0));
    assert_eq!(figure(&runner, "local-executable jobs/s").target, Some(300.0));
    let mut graph_args = args(50);
    graph_args.graph_uri = Some("bolt://127.0.0.1:7687".into());
    let graph = graph::run(&graph_args, &progress).expect("the graph stage ran on both engines (the Bolt server: bash scripts/services.sh)");
    assert_eq!(figure(&graph, "embedded: new objects saved/s").target, Some(50_000.0));
    assert!(figure(&graph, "bolt: reads by primary key/s").value > 0.0);
    let normalize = normalize::run(&args(1), &progress).expect("the normalize stage ran");
    let dns = figure(&normalize, "kat_dns_normalize: raw normalized");
    assert!(dns.figure.contains("MiB input") && dns.target.is_some_and(|t| (95.0..96.0).contains(&t)), "100 MB/s in MiB/s: {dns:?}");
    assert!(figure(&normalize, "kat_nmap_normalize: objects/s").value > 0.0);
}

#[test]
fn scheduler_reports_each_transport_and_worker_count_with_the_targets_on_eight_workers() {
    let figures = kat_tools::cli::bench::scheduler::run(&args(40), &Progress::stderr()).expect("the scheduler stage ran");
    assert_eq!(figures.len(), 12, "push/s, pop+complete/s and p99 for 2 transports x 2 worker counts: {figures:#?}");
    assert_eq!(figure(&figures, "pop+complete/s, sqlite, in process, 8 workers").target, Some(10_000.0));
    assert_eq!(figure(&figures, "pop+complete/s, sqlite, HTTP, 8 workers").target, Some(3_000.0));
    assert_eq!(figure(&figures, "pop+complete/s, sqlite, HTTP, 1 worker").target, None);
}

#[test]
fn the_distributed_pipeline_runs_every_task_through_the_services_as_processes() {
    let vhost = kat_tests::services::Vhost::fresh("kat_bench");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let figures = runtime.block_on(distributed::measure(std::path::Path::new(env!("CARGO_BIN_EXE_kat")), 30, &vhost.uri(), &Progress::stderr())).expect("the distributed run");
    let rate = figure(&figures, "distributed: tasks/s end to end");
    assert!(rate.value > 0.0 && rate.higher_is_better, "{rate:?}");
    // 53 objects per task, as in the embedded run.
    let objects = figure(&figures, "distributed: objects/s saved");
    assert!(objects.value >= 53.0 * rate.value * 0.99, "every task's objects were saved: {objects:?} {rate:?}");
    let p99 = figure(&figures, "distributed: latency push to objects saved, p99");
    assert!(p99.value > 0.0 && !p99.higher_is_better, "{p99:?}");
    let refused = runtime.block_on(distributed::measure(std::path::Path::new(env!("CARGO_BIN_EXE_kat")), 1, "amqp://guest:guest@127.0.0.1:9/%2f", &Progress::stderr())).expect_err("no broker");
    assert!(refused.to_string().contains("needs a RabbitMQ broker: nothing answers at 127.0.0.1:9"), "{refused}");
}
