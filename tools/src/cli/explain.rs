//! `kat explain ORG BOEFJE_ID INPUT_OOI`: why a boefje did or did not run on
//! an object, from the embedded scheduler of the data directory: one line per
//! reason (`code: sentence`), or the whole answer as JSON with `--json`.

use std::io::Write;

use clap::Args;

use super::data_dir::{block_on, DataDirArg};
use crate::embedded::Embedded;

/// Arguments of `kat explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The organisation.
    pub organisation: String,
    /// The boefje, e.g. `dns-records`.
    pub boefje_id: String,
    /// The object, e.g. `Hostname|internet|example.nl`.
    pub input_ooi: String,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// Data directory.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Explain and print to `out`.
pub fn run(args: &ExplainArgs, out: &mut impl Write) -> anyhow::Result<()> {
    kat_core::Reference::parse(&args.input_ooi).map_err(|e| anyhow::anyhow!("input object {:?}: {e}", args.input_ooi))?;
    let explanation = block_on(async {
        let stores = Embedded::open(&args.data.data_dir).await?;
        Ok(stores.scheduler.explain(&args.organisation, &args.boefje_id, &args.input_ooi).await?)
    })?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&explanation)?)?;
        return Ok(());
    }
    let verdict = if explanation.would_run { "would run" } else { "would not run" };
    writeln!(out, "{} on {} for {}: {verdict}", args.boefje_id, args.input_ooi, args.organisation)?;
    for reason in &explanation.reasons {
        writeln!(out, "  {}: {}", reason.code, reason.message)?;
    }
    Ok(())
}
