//! Printing the object tree: each target, under it the objects observed on
//! it (by normalizer), under those the objects observed on them, and so on;
//! an object already printed is shown once more as `(see above)`. After the
//! tree, the number of objects per type in the organisation's graph, then
//! the findings grouped by risk, worst first.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use kat_core::Reference;
use kat_plugins::rules::Risk;
use kat_graph::Graph;

/// Print the tree under `roots`, then the counts per type.
pub async fn print(graph: &Graph, organisation: &str, roots: &[Reference], out: &mut impl Write) -> anyhow::Result<()> {
    let mut children: BTreeMap<Reference, BTreeSet<Reference>> = BTreeMap::new();
    for link in graph.observations(organisation).await? {
        if link.source != link.result {
            children.entry(link.source).or_default().insert(link.result);
        }
    }
    let objects = graph.objects(organisation, None).await?;
    let levels: BTreeMap<&Reference, u8> = objects.iter().map(|o| (o.ooi.reference(), o.scan_level.get())).collect();
    let mut seen = BTreeSet::new();
    writeln!(out, "Object tree:")?;
    for root in roots {
        walk(root, 0, &children, &levels, &mut seen, out)?;
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &objects {
        *counts.entry(o.ooi.object_type()).or_default() += 1;
    }
    writeln!(out, "\nObjects per type ({} in all):", objects.len())?;
    for (object_type, count) in counts {
        writeln!(out, "  {object_type:<20} {count}")?;
    }
    print_findings(&objects, out)
}

/// The findings among `objects`, grouped by the risk their finding type gives (unknown risks last).
fn print_findings(objects: &[kat_core::services::graph::StoredObject], out: &mut impl Write) -> anyhow::Result<()> {
    let text = |ooi: &kat_core::Ooi, field: &str| ooi.fields().get(field).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    let risks: BTreeMap<&str, String> = objects.iter().filter(|o| matches!(o.ooi.object_type(), "KATFindingType" | "CVEFindingType")).map(|o| (o.ooi.reference().as_str(), text(&o.ooi, "risk_severity"))).collect();
    let mut groups: BTreeMap<(usize, String), Vec<String>> = BTreeMap::new();
    for finding in objects.iter().filter(|o| o.ooi.object_type() == "Finding") {
        let kind = text(&finding.ooi, "finding_type");
        let risk = risks.get(kind.as_str()).cloned().unwrap_or_else(|| "unknown".to_string());
        let rank = Risk::parse(&risk).map_or(Risk::ALL.len(), |r| r as usize);
        let id = kind.split_once('|').map_or(kind.as_str(), |(_, id)| id).to_string();
        groups.entry((rank, risk)).or_default().push(format!("{id:<30} {}", text(&finding.ooi, "ooi")));
    }
    let total: usize = groups.values().map(Vec::len).sum();
    writeln!(out, "\nFindings ({total}):")?;
    for ((_, risk), mut lines) in groups {
        lines.sort();
        writeln!(out, "  {risk} ({}):", lines.len())?;
        for line in lines {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

fn walk(node: &Reference, depth: usize, children: &BTreeMap<Reference, BTreeSet<Reference>>, levels: &BTreeMap<&Reference, u8>, seen: &mut BTreeSet<Reference>, out: &mut impl Write) -> anyhow::Result<()> {
    let indent = "  ".repeat(depth + 1);
    let level = levels.get(node).map_or_else(|| "gone".to_string(), |l| format!("L{l}"));
    if !seen.insert(node.clone()) {
        writeln!(out, "{indent}{node} [{level}] (see above)")?;
        return Ok(());
    }
    writeln!(out, "{indent}{node} [{level}]")?;
    for child in children.get(node).into_iter().flatten() {
        walk(child, depth + 1, children, levels, seen, out)?;
    }
    Ok(())
}
