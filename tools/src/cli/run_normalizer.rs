//! `run_normalizer NORMALIZER_ID RAW_ID` (also `kat run-normalizer`): run a
//! normalizer on a stored raw file, save the objects in the graph as an
//! observation, and print them as JSON lines.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use kat_core::meta::PluginRef;
use kat_core::services::bytes::Bytes;
use kat_core::task::NormalizerTask;

use super::data_dir::{block_on, DataDirArg};
use crate::embedded::Embedded;

/// Arguments of `run_normalizer`.
#[derive(Debug, Args)]
pub struct RunNormalizerArgs {
    /// The normalizer, e.g. `kat_dns_normalize`.
    pub normalizer_id: String,
    /// The raw file's id.
    pub raw_id: String,
    /// Data directory.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Normalize, save, print one object a line.
pub fn run(args: &RunNormalizerArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let id = uuid::Uuid::parse_str(args.raw_id.trim()).with_context(|| format!("{:?} is not a raw file id (a UUID)", args.raw_id))?;
    block_on(async {
        let stores = Embedded::open(&args.data.data_dir).await?;
        let raw_data = stores.bytes.get_raw_meta(id).await?;
        let graph = stores.graph().await?;
        let task = NormalizerTask { id: uuid::Uuid::new_v4(), normalizer: PluginRef { id: args.normalizer_id.clone(), version: None }, raw_data };
        let outcome = stores.normalizer_runner().execute(&task, &graph).await?;
        for object in &outcome.objects {
            writeln!(out, "{}", serde_json::to_string(object)?)?;
        }
        Ok(())
    })
}
