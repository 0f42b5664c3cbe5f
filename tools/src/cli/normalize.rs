//! `kat normalize NORMALIZER_ID FILE --input-ooi REF`: run a built-in
//! normalizer on a file and print the objects as JSON lines.

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
    let raw = if args.file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context("reading standard input")?;
        buf
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let objects = normalizer
        .normalize(&input, &raw)
        .with_context(|| format!("{} could not normalize {}", args.normalizer_id, args.file.display()))?;
    for object in &objects {
        writeln!(out, "{}", serde_json::to_string(object)?)?;
    }
    Ok(())
}
