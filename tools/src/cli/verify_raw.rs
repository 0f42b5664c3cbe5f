//! `kat verify-raw RAW_ID | --all`: check stored raw files against their
//! `sha512:` hashes (decrypting them first when Bytes encrypts at rest) and
//! report every mismatch; the exit status is non-zero if any file fails.

use std::io::Write;

use anyhow::{bail, Context};
use clap::Args;

use super::data_dir::{block_on, DataDirArg};
use crate::embedded::bytes_crypto;

/// Arguments of `kat verify-raw`.
#[derive(Debug, Args)]
pub struct VerifyRawArgs {
    /// The raw file to check.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub raw_id: Option<String>,
    /// Check every stored raw file.
    #[arg(long)]
    pub all: bool,
    /// Data directory.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Verify and print `ok ID` or `FAILED ID: reason` per file.
pub fn run(args: &VerifyRawArgs, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        let bytes = kat_bytes::LocalBytes::open_with(&args.data.data_dir, bytes_crypto()?).await?;
        let ids = match &args.raw_id {
            Some(id) => vec![uuid::Uuid::parse_str(id.trim()).with_context(|| format!("{id:?} is not a raw file id (a UUID)"))?],
            None => bytes.all_raw().await?.into_iter().map(|m| m.id).collect(),
        };
        let mut failed = 0;
        for id in &ids {
            match bytes.verify(*id).await {
                Ok(()) => writeln!(out, "ok {id}")?,
                Err(e) => {
                    failed += 1;
                    writeln!(out, "FAILED {id}: {e}")?;
                }
            }
        }
        if failed > 0 {
            bail!("{failed} of {} raw file(s) failed verification", ids.len());
        }
        Ok(())
    })
}
