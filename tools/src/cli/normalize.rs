//! `kat normalize NORMALIZER_ID FILE --input-ooi REF`: run a built-in
//! normalizer on a file and print the objects as JSON lines. Input is read
//! up to `BYTES_MAX_RAW_SIZE` (default 64 MiB, the largest raw file Bytes
//! accepts), so `/dev/zero` gets an error, not all the memory.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::Args;

use kat_core::Reference;
use kat_plugins::normalizers;

/// Arguments of `kat normalize`.
#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// The normalizer, e.g. `kat_dns_normalize` or `kat_nmap_normalize`.
    pub normalizer_id: String,
    /// The raw file to read (`-` for standard input).
    pub file: PathBuf,
    /// The object the boefje ran on, e.g. `Hostname|internet|example.nl`.
    #[arg(long = "input-ooi", value_name = "REFERENCE")]
    pub input_ooi: String,
}

/// Normalize the file and write one JSON object a line to `out`.
pub fn run(args: &NormalizeArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let input = Reference::parse(&args.input_ooi).context("--input-ooi")?;
    let normalizer = normalizers::by_id(&args.normalizer_id).ok_or_else(|| {
        let known: Vec<String> = normalizers::all().iter().map(|n| n.manifest().id).collect();
        anyhow!("unknown normalizer {:?}; known: {}", args.normalizer_id, known.join(", "))
    })?;
    let limit = max_raw_size()?;
    let raw = if args.file.as_os_str() == "-" {
        read_capped(std::io::stdin().lock(), limit, "standard input")?
    } else {
        let file = std::fs::File::open(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
        read_capped(file, limit, &args.file.display().to_string())?
    };
    let objects = normalizer
        .normalize(&input, &raw)
        .with_context(|| format!("{} could not normalize {}", args.normalizer_id, args.file.display()))?;
    for object in &objects {
        writeln!(out, "{}", serde_json::to_string(object)?)?;
    }
    Ok(())
}

/// The largest raw file read: `BYTES_MAX_RAW_SIZE`, as Bytes accepts it.
pub fn max_raw_size() -> anyhow::Result<u64> {
    Ok(kat_core::config::number(&|name: &str| std::env::var(name).ok(), "BYTES_MAX_RAW_SIZE", DEFAULT_MAX_RAW_SIZE, 1, 1 << 40)?)
}

/// 64 MiB, the default of `BYTES_MAX_RAW_SIZE`.
pub const DEFAULT_MAX_RAW_SIZE: u64 = 64 * 1024 * 1024;

/// Read all of `input`, refusing more than `limit` bytes.
pub fn read_capped(input: impl std::io::Read, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut input.take(limit.saturating_add(1)), &mut buf).with_context(|| format!("reading {what}"))?;
    if buf.len() as u64 > limit {
        anyhow::bail!("{what} is larger than {limit} bytes (BYTES_MAX_RAW_SIZE); raise BYTES_MAX_RAW_SIZE to read it");
    }
    Ok(buf)
}
