//! `kat renormalize NORMALIZER_ID [--raw ID | --boefje BOEFJE_ID] [--dry-run]`:
//! run a normalizer again over stored raw files (after the normalizer
//! changed, say) and print, per origin, how the graph would change: objects
//! added, removed, and changed field by field. Without `--dry-run` the new
//! results are committed as the origins' observations (objects no origin
//! holds any more are deleted) and each run is recorded in Bytes.
//!
//! The raw files are those the normalizer reads (by mime type), of one
//! boefje with `--boefje`, or the one `--raw` names; of several runs of the
//! same boefje on the same object in one organisation only the newest is
//! used, since it is the one the graph holds.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use anyhow::{bail, Context};
use clap::Args;
use kat_core::meta::{PluginRef, RawDataMeta};
use kat_core::services::bytes::Bytes;
use kat_core::task::NormalizerTask;
use kat_core::Ooi;
use kat_graph::StoredObject;
use serde_json::Value;

use super::data_dir::{block_on, DataDirArg};
use crate::embedded::Embedded;

/// Arguments of `kat renormalize`.
#[derive(Debug, Args)]
pub struct RenormalizeArgs {
    /// The normalizer to run again, e.g. `kat_dns_normalize`.
    pub normalizer_id: String,
    /// Only this raw file (its id).
    #[arg(long, conflicts_with = "boefje")]
    pub raw: Option<String>,
    /// Only the raw files of this boefje, e.g. `dns-records`.
    #[arg(long)]
    pub boefje: Option<String>,
    /// Print the differences and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Data directory.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// How one origin's result would change.
#[derive(Debug, Default)]
struct Diff {
    added: Vec<String>,
    removed: Vec<String>,
    /// Object key, then (field, old value, new value) per changed field.
    changed: Vec<(String, Vec<(String, Value, Value)>)>,
}

/// Renormalize and print the differences per origin.
pub fn run(args: &RenormalizeArgs, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        let stores = Embedded::open(&args.data.data_dir).await?;
        let external = stores.runner_setup.external_normalizers.iter().find(|n| n.manifest.id == args.normalizer_id).map(|n| n.manifest.clone());
        let manifest = kat_plugins::normalizers::by_id(&args.normalizer_id).map(|n| n.manifest()).or(external).with_context(|| format!("unknown normalizer {:?}", args.normalizer_id))?;
        let raws = match &args.raw {
            Some(id) => {
                let id = uuid::Uuid::parse_str(id.trim()).with_context(|| format!("{id:?} is not a raw file id (a UUID)"))?;
                vec![stores.bytes.get_raw_meta(id).await?]
            }
            None => newest_per_origin(stores.bytes.all_raw().await?.into_iter().filter(|raw| {
                raw.mime_types.iter().any(|m| manifest.consumes.contains(&m.value)) && args.boefje.as_ref().is_none_or(|b| *b == raw.boefje_meta.boefje.id)
            })),
        };
        if raws.is_empty() {
            writeln!(out, "no stored raw file is read by {}{}", args.normalizer_id, args.boefje.as_ref().map(|b| format!(" from boefje {b}")).unwrap_or_default())?;
            return Ok(());
        }
        let graph = stores.graph().await?;
        let runner = stores.normalizer_runner();
        let (mut totals, mut failures) = ([0usize; 3], Vec::new());
        for raw in raws {
            let raw_id = raw.id;
            let task = NormalizerTask { id: uuid::Uuid::new_v4(), normalizer: PluginRef { id: args.normalizer_id.clone(), version: None }, raw_data: raw };
            let normalized = match runner.normalize(&task).await {
                Ok(normalized) => normalized,
                Err(e) => {
                    writeln!(out, "raw file {raw_id}: {e}")?;
                    failures.push(raw_id);
                    continue;
                }
            };
            let organisation = normalized.raw_meta.boefje_meta.organization.clone();
            let before = graph.observation_result(&organisation, &normalized.method, &normalized.input).await?;
            let diff = diff(&before, &normalized.observed());
            writeln!(out, "{} on {} (organisation {organisation}, raw file {raw_id}): {} added, {} removed, {} changed", normalized.method, normalized.input, diff.added.len(), diff.removed.len(), diff.changed.len())?;
            print_diff(&diff, out)?;
            totals[0] += diff.added.len();
            totals[1] += diff.removed.len();
            totals[2] += diff.changed.len();
            if !args.dry_run {
                runner.commit(&task, normalized, &graph).await?;
            }
        }
        let what = if args.dry_run { "dry run: nothing was changed" } else { "committed" };
        writeln!(out, "{} added, {} removed, {} changed in all; {what}", totals[0], totals[1], totals[2])?;
        if !failures.is_empty() {
            bail!("{} raw file(s) could not be normalized", failures.len());
        }
        Ok(())
    })
}

/// Of several raw files of the same boefje on the same object in one organisation, the newest (by the end of
/// its run); in the order of their runs.
fn newest_per_origin(raws: impl Iterator<Item = RawDataMeta>) -> Vec<RawDataMeta> {
    let mut newest: BTreeMap<(String, String, Option<String>), RawDataMeta> = BTreeMap::new();
    for raw in raws {
        let meta = &raw.boefje_meta;
        let key = (meta.organization.clone(), meta.boefje.id.clone(), meta.input_ooi.clone());
        let when = |r: &RawDataMeta| (r.boefje_meta.ended_at.or(r.boefje_meta.started_at), r.id);
        if newest.get(&key).is_none_or(|kept| when(kept) <= when(&raw)) {
            newest.insert(key, raw);
        }
    }
    let mut out: Vec<RawDataMeta> = newest.into_values().collect();
    out.sort_by_key(|r| (r.boefje_meta.ended_at.or(r.boefje_meta.started_at), r.id));
    out
}

/// What changes when the origin's result `before` becomes `after`.
fn diff(before: &[StoredObject], after: &[Ooi]) -> Diff {
    let old: BTreeMap<String, &Ooi> = before.iter().map(|s| (s.ooi.reference().to_string(), &s.ooi)).collect();
    let new: BTreeMap<String, &Ooi> = after.iter().map(|o| (o.reference().to_string(), o)).collect();
    let mut diff = Diff { added: new.keys().filter(|k| !old.contains_key(*k)).cloned().collect(), removed: old.keys().filter(|k| !new.contains_key(*k)).cloned().collect(), changed: Vec::new() };
    for (key, was) in &old {
        let Some(now) = new.get(key) else { continue };
        let names: BTreeSet<&str> = was.fields().keys().chain(now.fields().keys()).collect();
        let fields: Vec<(String, Value, Value)> = names
            .into_iter()
            .filter_map(|name| {
                let (a, b) = (was.get(name).cloned().unwrap_or(Value::Null), now.get(name).cloned().unwrap_or(Value::Null));
                (a != b).then(|| (name.to_string(), a, b))
            })
            .collect();
        if !fields.is_empty() {
            diff.changed.push((key.clone(), fields));
        }
    }
    diff
}

fn print_diff(diff: &Diff, out: &mut impl Write) -> std::io::Result<()> {
    for key in &diff.added {
        writeln!(out, "  + {key}")?;
    }
    for key in &diff.removed {
        writeln!(out, "  - {key}")?;
    }
    for (key, fields) in &diff.changed {
        writeln!(out, "  ~ {key}")?;
        for (field, old, new) in fields {
            writeln!(out, "      {field}: {old} -> {new}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kat_core::ScanLevel;

    fn host(name: &str, zone: Option<&str>) -> Ooi {
        let builder = Ooi::build("Hostname").field("network", "Network|internet").field("name", name);
        match zone {
            Some(z) => builder.field("dns_zone", z),
            None => builder,
        }
        .finish()
        .expect("hostname")
    }

    #[test]
    fn a_diff_names_added_removed_and_changed_fields() {
        let stored = |o: Ooi| StoredObject { ooi: o, scan_level: ScanLevel::L0, declared: None };
        let before = [stored(host("a.test", None)), stored(host("b.test", None))];
        let after = [host("a.test", Some("DNSZone|internet|a.test")), host("c.test", None)];
        let d = diff(&before, &after);
        assert_eq!(d.added, ["Hostname|internet|c.test"]);
        assert_eq!(d.removed, ["Hostname|internet|b.test"]);
        assert_eq!(d.changed, [("Hostname|internet|a.test".to_string(), vec![("dns_zone".to_string(), Value::Null, Value::from("DNSZone|internet|a.test"))])]);
        assert!(diff(&before[..1], &[host("a.test", None)]).changed.is_empty());
    }
}
