//! `kat scan [--org ORG] [--profile NAME] TARGET...`: enable the
//! organisation's boefjes that it has made no choice about (boefjes are off
//! by default, as in OpenKAT, and the scan says which it enabled), or apply a
//! scan profile (`crate::profiles`), declare the targets with clearance 2,
//! run the pipeline until no task is left (with a progress bar on a
//! terminal), print the object tree and the count per type, and exit
//! non-zero naming every failed task. With `--api` the running services do
//! the work (`crate::remote`) and this process declares and watches.

use std::io::Write;

use anyhow::bail;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::data_dir::{block_on, host_env, DataDirArg};
use crate::embedded::Embedded;
use crate::pipeline::{Pipeline, TARGET_CLEARANCE};
use crate::targets::parse_target;
use crate::tree;

/// Arguments of `kat scan`.
#[derive(Debug, Args)]
#[command(after_help = crate::remote::HELP)]
pub struct ScanArgs {
    /// Hostnames, IP addresses or references (`Hostname|internet|example.nl`) to scan.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// The organisation the scan runs for.
    #[arg(long, env = "KAT_ORGANISATION", default_value = "_dev")]
    pub org: String,
    /// Apply a scan profile first: enable exactly its boefjes for the organisation and set its settings (the
    /// change lasts, as any KATalogus change). Shipped: quick (DNS and the top 100 ports), web (DNS, ports 80
    /// and 443, then each website's headers, security.txt and certificate), full (everything, every port). Add
    /// your own as profiles/NAME.json in KATALOGUS_PLUGIN_DIR; see the README's "Scan profiles".
    #[arg(long, value_name = "NAME", conflicts_with = "api")]
    pub profile: Option<String>,
    /// How many boefjes run at once.
    #[arg(long, env = "KAT_WORKERS", default_value_t = 8)]
    pub workers: usize,
    /// Do not re-run a boefje on an object it finished on less than this many seconds ago (default: re-scan
    /// everything an earlier scan found, once).
    #[arg(long, value_name = "SECONDS")]
    pub grace: Option<u64>,
    /// Scan with the running services (scheduler, Bytes, KATalogus, runners, a Bolt graph) instead of in
    /// this process: see the environment below and the README's "Running distributed". The scheduler
    /// service's SCHEDULER_GRACE_PERIOD then applies instead of --grace.
    #[arg(long, conflicts_with = "grace")]
    pub api: bool,
    /// With --api: how long no task may be open and no event pending before the scan counts as done (it covers
    /// events on their way through the broker).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, requires = "api")]
    pub settle: f64,
    /// Data directory.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Run the scan and print the tree to `out`.
pub fn run(args: &ScanArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let mut declared = Vec::new();
    for target in &args.targets {
        declared.push(parse_target(target).map_err(|e| anyhow::anyhow!("target {target:?}: {e}"))?);
    }
    if args.api {
        return block_on(scan_with_services(args, &declared, out));
    }
    block_on(async {
        let stores = Embedded::open_with(&args.data.data_dir, scan_rules(args.grace)).await?;
        match &args.profile {
            Some(name) => apply_profile(&stores, &args.org, name).await?,
            None => enable_boefjes(&stores, &args.org).await?,
        }
        let graph = std::sync::Arc::new(stores.graph().await?);
        let pipeline = Pipeline::new(&stores, graph.clone(), host_env(), args.workers);
        for objects in &declared {
            pipeline.declare(&args.org, objects, TARGET_CLEARANCE).await?;
        }
        let bar = progress_bar("{spinner} [{elapsed_precise}] {pos} tasks done, {len} left  {wide_msg}");
        let summary = pipeline
            .run_until_idle(&mut |p| {
                bar.set_position(p.done as u64);
                bar.set_length(u64::try_from(p.open).unwrap_or(0));
                bar.set_message(p.label);
            })
            .await?;
        bar.finish_and_clear();
        report(&graph, &args.org, declared.as_slice(), &summary, out).await
    })
}

/// `kat scan --api`: declare the targets through the running services, wait until the pipeline is quiet, and
/// report as the embedded scan does.
async fn scan_with_services(args: &ScanArgs, declared: &[Vec<kat_core::Ooi>], out: &mut impl Write) -> anyhow::Result<()> {
    let remote = crate::remote::Remote::from_env().await?;
    let started = time::OffsetDateTime::now_utc();
    let enabled = remote.prepare(&args.org).await?;
    if !enabled.is_empty() {
        eprintln!("kat scan: created organisation {} and enabled the boefjes {} for it (boefjes are off until enabled, as in OpenKAT)", args.org, enabled.join(", "));
    }
    for objects in declared {
        crate::pipeline::declare_objects(&remote.katalogus, &remote.scheduler, &remote.graph, &args.org, objects, TARGET_CLEARANCE).await?;
    }
    let bar = progress_bar("{spinner} [{elapsed_precise}] {len} tasks or events open  {wide_msg}");
    let settle = std::time::Duration::try_from_secs_f64(args.settle).map_err(|_| anyhow::anyhow!("--settle {}: give a number of seconds of 0 or more", args.settle))?;
    remote.wait_until_quiet(settle, &mut |open| bar.set_length(u64::try_from(open).unwrap_or(0))).await?;
    bar.finish_and_clear();
    let summary = remote.summary_since(&args.org, started).await?;
    report(&remote.graph, &args.org, declared, &summary, out).await
}

/// A progress bar on standard error with `template`.
fn progress_bar(template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()));
    bar
}

/// Print the tree under the declared targets and the task counts; an error naming every failed task.
async fn report(graph: &kat_graph::Graph, org: &str, declared: &[Vec<kat_core::Ooi>], summary: &crate::pipeline::RunSummary, out: &mut impl Write) -> anyhow::Result<()> {
    let roots: Vec<_> = declared.iter().filter_map(|o| o.last().map(|o| o.reference().clone())).collect();
    tree::print(graph, org, &roots, out).await?;
    writeln!(out, "\n{} boefje tasks and {} normalizer tasks ran; {} failed.", summary.boefje_tasks, summary.normalizer_tasks, summary.failed.len())?;
    if !summary.failed.is_empty() {
        let names: Vec<String> = summary.failed.iter().map(|f| format!("  task {} ({}): {}", f.task_id, f.label, f.error)).collect();
        bail!("{} task(s) failed:\n{}", summary.failed.len(), names.join("\n"));
    }
    Ok(())
}

/// The scheduler's rules for a scan: with `--grace N`, work finished less than N seconds ago is not re-run;
/// without it, grace 0 from the scan's start (everything earlier scans found runs again, once).
fn scan_rules(grace: Option<u64>) -> kat_scheduler::Settings {
    let now = kat_scheduler::Clock::now(&kat_scheduler::SystemClock);
    let grace = std::time::Duration::from_secs(grace.unwrap_or(0));
    kat_scheduler::Settings { grace, rerun_epoch: Some(now - grace), ..kat_scheduler::Settings::default() }
}

/// Apply the profile called `name` to the organisation and say what it enabled and disabled.
async fn apply_profile(stores: &Embedded, org: &str, name: &str) -> anyhow::Result<()> {
    let plugin_dir = std::env::var_os(kat_katalogus::config::ENV_PLUGIN_DIR).filter(|d| !d.is_empty()).map(std::path::PathBuf::from);
    let profile = crate::profiles::find(name, plugin_dir.as_deref())?;
    stores.katalogus.ensure_organisation(org, org).await?;
    let applied = crate::profiles::apply(&stores.katalogus, org, &profile).await?;
    let list = |ids: &[String]| if ids.is_empty() { "none".to_string() } else { ids.join(", ") };
    eprintln!("kat scan: profile {name}: enabled {}; disabled {} (for organisation {org})", list(&applied.enabled), list(&applied.disabled));
    Ok(())
}

/// Boefjes are off by default (as in OpenKAT): enable, for the organisation, every boefje it has made no choice
/// about, and say so; a boefje the organisation disabled stays disabled.
async fn enable_boefjes(stores: &Embedded, org: &str) -> anyhow::Result<()> {
    use kat_core::services::katalogus::Katalogus;
    stores.katalogus.ensure_organisation(org, org).await?;
    let chosen = stores.katalogus.plugin_states(org).await?;
    let mut enabled = Vec::new();
    for boefje in stores.katalogus.boefjes(org).await? {
        let id = boefje.manifest.id;
        if !chosen.iter().any(|(plugin, _)| *plugin == id) {
            stores.katalogus.set_enabled(org, &id, true).await?;
            enabled.push(id);
        }
    }
    if !enabled.is_empty() {
        eprintln!("kat scan: enabled the boefjes {} for organisation {org} (boefjes are off until enabled, as in OpenKAT)", enabled.join(", "));
    }
    Ok(())
}
