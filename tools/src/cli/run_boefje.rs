//! `run_boefje ORGANISATION BOEFJE_ID INPUT_OOI` (also `kat run-boefje`):
//! run one boefje now, store its raw files in Bytes, print their ids. The
//! normalizers run on them at the next `kat scan` (their events wait in the
//! outbox) or with `run_normalizer`.

use std::io::Write;

use anyhow::bail;
use clap::Args;
use kat_core::meta::PluginRef;
use kat_core::task::BoefjeTask;
use kat_core::Reference;

use super::data_dir::{block_on, host_env, DataDirArg};
use crate::embedded::Embedded;

/// Arguments of `run_boefje`.
#[derive(Debug, Args)]
pub struct RunBoefjeArgs {
    /// The organisation the run belongs to, e.g. `_dev`.
    pub organisation: String,
    /// The boefje, e.g. `dns-records`, `port-scan`, or a plugin folder's boefje (`KATALOGUS_PLUGIN_DIR`).
    pub boefje_id: String,
    /// The object to scan, e.g. `Hostname|internet|example.nl`.
    pub input_ooi: String,
    /// Data directory.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Run the boefje and print one raw id a line.
pub fn run(args: &RunBoefjeArgs, out: &mut impl Write) -> anyhow::Result<()> {
    Reference::parse(&args.input_ooi)?;
    block_on(async {
        let stores = Embedded::open(&args.data.data_dir).await?;
        let known = stores.runner_setup.boefje_ids();
        if !known.contains(&args.boefje_id) {
            bail!("unknown boefje {:?}; known: {}", args.boefje_id, known.join(", "));
        }
        stores.katalogus.ensure_organisation(&args.organisation, &args.organisation).await?;
        let task = BoefjeTask { id: uuid::Uuid::new_v4(), boefje: PluginRef { id: args.boefje_id.clone(), version: None }, input_ooi: args.input_ooi.clone(), organization: args.organisation.clone() };
        let outcome = stores.boefje_runner(host_env()).execute(&task).await?;
        for id in &outcome.raw_ids {
            writeln!(out, "{id}")?;
        }
        match outcome.error {
            Some(error) => bail!("boefje {} failed on {} (stored as raw file {}): {error}", args.boefje_id, args.input_ooi, outcome.raw_ids.first().map(ToString::to_string).unwrap_or_default()),
            None => Ok(()),
        }
    })
}
