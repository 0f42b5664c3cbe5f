//! `kat bench normalize`: the built-in DNS and nmap normalizers on generated
//! raw files of more than 1 MiB in OpenKAT's formats (`boefje/dns-records`
//! JSON with A, AAAA, MX, NS and TXT answers; nmap XML with hosts and open
//! ports), the same every run. Each runs repeatedly for at least two seconds;
//! the figure is raw megabytes (MiB) normalized per second, with the objects
//! per second beside it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use kat_core::Reference;

use super::report::{Figure, Progress};
use super::BenchArgs;

const STAGE: &str = "normalize";

/// The least a generated raw file holds.
const MIN_RAW: usize = 1 << 20;
/// How long each normalizer runs.
const RUN_FOR: Duration = Duration::from_secs(2);

/// Run each normalizer for a while on its generated raw file.
pub fn run(args: &BenchArgs, progress: &Progress) -> anyhow::Result<Vec<Figure>> {
    let run_for = if args.quick { RUN_FOR / 4 } else { RUN_FOR };
    let cases = [
        ("kat_dns_normalize", "Hostname|internet|bench.test", dns_raw()),
        ("kat_nmap_normalize", "IPAddressV4|internet|127.0.0.1", nmap_raw()),
    ];
    let mut figures = Vec::new();
    for (n, (id, input, raw)) in cases.into_iter().enumerate() {
        progress.step(STAGE, id, n, 2);
        let normalizer = kat_plugins::normalizers::by_id(id).with_context(|| format!("no built-in normalizer {id}"))?;
        let input = Reference::parse(input)?;
        let objects = normalizer.normalize(&input, &raw).with_context(|| format!("{id} refused the generated raw file"))?.len();
        let started = Instant::now();
        let mut runs = 0u32;
        while started.elapsed() < run_for {
            std::hint::black_box(normalizer.normalize(&input, std::hint::black_box(&raw)).ok());
            runs += 1;
        }
        let seconds = started.elapsed().as_secs_f64();
        let mib = raw.len() as f64 / f64::from(1 << 20);
        // The target is in MB/s (10^6 bytes); the figure is in MiB/s, so the target is converted.
        let mut throughput = Figure::new(STAGE, format!("{id}: raw normalized, {mib:.2} MiB input"), mib * f64::from(runs) / seconds, "MiB/s");
        if id == "kat_dns_normalize" {
            throughput = throughput.target(100.0 * 1e6 / f64::from(1 << 20));
        }
        figures.push(throughput);
        figures.push(Figure::new(STAGE, format!("{id}: objects/s ({objects} per run)"), objects as f64 * f64::from(runs) / seconds, "objects/s"));
    }
    Ok(figures)
}

/// One answer section of the dns-records text for the question `name IN rtype`, as OpenKAT's boefje writes it.
pub fn section(out: &mut String, id: usize, name: &str, rtype: &str, answers: &[String]) {
    let _ = write!(out, "RESOLVER: 127.0.0.1\nid {id}\nopcode QUERY\nrcode NOERROR\nflags QR RD RA\n;QUESTION\n{name}. IN {rtype}\n;ANSWER\n");
    for answer in answers {
        out.push_str(answer);
        out.push('\n');
    }
    out.push_str(";AUTHORITY\n;ADDITIONAL\n\n");
}

/// A `boefje/dns-records` raw file of at least [`MIN_RAW`] bytes.
pub fn dns_raw() -> Vec<u8> {
    let mut text = String::new();
    let mut n = 0usize;
    while text.len() < MIN_RAW {
        let a: Vec<String> = (0..50).map(|i| format!("bench.test. 300 IN A 10.{}.{}.{}", n % 256, (n / 256) % 256, i)).collect();
        let aaaa: Vec<String> = (0..20).map(|i| format!("bench.test. 300 IN AAAA 2001:db8:{n:x}::{i:x}")).collect();
        let mx: Vec<String> = (0..10).map(|i| format!("bench.test. 300 IN MX {i} mx{i}.n{n}.bench.test.")).collect();
        let ns: Vec<String> = (0..4).map(|i| format!("bench.test. 300 IN NS ns{i}.n{n}.bench.test.")).collect();
        let txt: Vec<String> = (0..4).map(|i| format!("bench.test. 300 IN TXT \"v=spf1 include:n{n}-{i}.bench.test -all\"")).collect();
        for (rtype, answers) in [("A", a), ("AAAA", aaaa), ("MX", mx), ("NS", ns), ("TXT", txt)] {
            section(&mut text, n, "bench.test", rtype, &answers);
        }
        n += 1;
    }
    dns_records_file(&text)
}

/// A `boefje/dns-records` raw file holding the answer text `text` (no DMARC or DKIM answers).
pub fn dns_records_file(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"dns_records": text, "dmarc_response": null, "dkim_response": null})).unwrap_or_default()
}

/// An nmap XML raw file of at least [`MIN_RAW`] bytes: hosts with five open ports each.
pub fn nmap_raw() -> Vec<u8> {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<nmaprun scanner=\"nmap\" args=\"nmap -oX - bench\" version=\"7.94\" xmloutputversion=\"1.05\">\n");
    let mut n = 0usize;
    while xml.len() < MIN_RAW {
        let _ = write!(xml, "<host><status state=\"up\" reason=\"user-set\"/><address addr=\"10.{}.{}.{}\" addrtype=\"ipv4\"/><hostnames></hostnames><ports>", n / 65536 % 256, n / 256 % 256, n % 256);
        for (port, service) in [(22, "ssh"), (53, "domain"), (80, "http"), (443, "https"), (3306, "mysql")] {
            let _ = write!(xml, "<port protocol=\"tcp\" portid=\"{port}\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"52\"/><service name=\"{service}\" product=\"bench\" method=\"probed\" conf=\"10\"><cpe>cpe:/a:bench:{service}</cpe></service></port>");
        }
        xml.push_str("</ports></host>\n");
        n += 1;
    }
    xml.push_str("<runstats><finished time=\"0\" exit=\"success\"/></runstats></nmaprun>\n");
    xml.into_bytes()
}
