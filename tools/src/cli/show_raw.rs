//! `show_raw [--json] [--meta] RAW_ID` (also `kat show-raw`): print a stored
//! raw file's contents (checked against its hash), pretty-printed when
//! `--json`, or its metadata with `--meta`. A data directory that is not
//! writable is opened read-only (nothing in it is written).

use std::io::Write;

use anyhow::Context;
use clap::Args;
use kat_core::services::bytes::Bytes;

use super::data_dir::{block_on, DataDirArg};

/// Arguments of `show_raw`.
#[derive(Debug, Args)]
pub struct ShowRawArgs {
    /// The raw file's id (as `run_boefje` printed it).
    pub raw_id: String,
    /// Parse the contents as JSON and pretty-print them.
    #[arg(long, conflicts_with = "meta")]
    pub json: bool,
    /// Print the raw file's metadata (`RawDataMeta` JSON) instead of its contents.
    #[arg(long)]
    pub meta: bool,
    /// Data directory.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Print the raw file or its metadata.
pub fn run(args: &ShowRawArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let id = uuid::Uuid::parse_str(args.raw_id.trim()).with_context(|| format!("{:?} is not a raw file id (a UUID)", args.raw_id))?;
    block_on(async {
        let bytes = super::verify_raw::open_for_reading(&args.data.data_dir).await?;
        if args.meta {
            let meta = bytes.get_raw_meta(id).await?;
            writeln!(out, "{}", serde_json::to_string_pretty(&meta)?)?;
            return Ok(());
        }
        let (meta, content) = bytes.get_raw(id).await?;
        if args.json {
            let types: Vec<&str> = meta.mime_types.iter().map(|m| m.value.as_str()).collect();
            let value: serde_json::Value = serde_json::from_slice(&content).with_context(|| format!("raw file {id} is not JSON (its mime types: {})", types.join(", ")))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        } else {
            out.write_all(&content)?;
        }
        Ok(())
    })
}
