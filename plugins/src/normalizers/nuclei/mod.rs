//! `kat_nuclei_normalize`: Nuclei's JSON lines output (`nuclei -jsonl`, one
//! result per line, as Stalker's Nuclei job reads it) to findings.
//!
//! Each result names the template that matched (`template-id`), its
//! `info.name` and `info.severity`, where it matched (`matched-at`) and
//! what the template extracted (`extracted-results`). Each template that
//! matched gives one `KATFindingType` (id the template id, risk level from
//! the severity: `info` is a recommendation, `unknown` low; a CVE template,
//! `CVE-2021-41773`, gives a `CVEFindingType` instead) and one
//! `Finding` on the scanned object, the boefje's input; several matches of
//! one template are one finding, whose description lists every place it
//! matched and what was extracted there. Blank lines are skipped; a line
//! that is not a Nuclei result fails the whole file, naming the line.

use std::collections::BTreeMap;

use kat_core::plugin::NormalizerManifest;
use kat_core::{Ooi, Reference};
use serde::Deserialize;

use super::{NormalizeError, Normalizer};
use crate::rules::{finding_of, Risk};

/// The Nuclei normalizer.
#[derive(Debug, Default)]
pub struct NucleiNormalizer;

/// The fields of one Nuclei result that the normalizer reads (Nuclei writes many more).
#[derive(Debug, Deserialize)]
struct NucleiResult {
    #[serde(rename = "template-id")]
    template_id: String,
    #[serde(default)]
    info: Info,
    #[serde(rename = "matched-at", default)]
    matched_at: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(rename = "extracted-results", default)]
    extracted_results: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Info {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// A template that matched, with every place it matched.
struct Matched {
    name: String,
    description: Option<String>,
    risk: Risk,
    places: Vec<String>,
}

/// The risk level of a Nuclei severity (`info` is a recommendation, an unknown or missing one low).
pub fn risk_of(severity: Option<&str>) -> Risk {
    match severity.map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => Risk::Critical,
        Some("high") => Risk::High,
        Some("medium") => Risk::Medium,
        Some("info") => Risk::Recommendation,
        _ => Risk::Low,
    }
}

fn parse_line(line: &str, number: usize) -> Result<NucleiResult, NormalizeError> {
    let result: NucleiResult = serde_json::from_str(line).map_err(|e| NormalizeError::parse(format!("line {number}: not a Nuclei result: {e}")))?;
    let id = &result.template_id;
    if id.is_empty() || id.len() > 200 || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')) {
        return Err(NormalizeError::parse(format!("line {number}: template-id {id:?} is not a Nuclei template id")));
    }
    Ok(result)
}

impl Normalizer for NucleiNormalizer {
    fn manifest(&self) -> NormalizerManifest {
        super::manifest("kat_nuclei_normalize", include_str!("normalizer.json"))
    }

    fn normalize(&self, input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError> {
        let text = std::str::from_utf8(raw).map_err(|e| NormalizeError::parse(format!("not UTF-8: {e}")))?;
        let mut matched: BTreeMap<String, Matched> = BTreeMap::new();
        for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let result = parse_line(line, index + 1)?;
            let entry = matched.entry(result.template_id.clone()).or_insert_with(|| Matched {
                name: result.info.name.clone().unwrap_or_else(|| result.template_id.clone()),
                description: result.info.description.clone(),
                risk: risk_of(result.info.severity.as_deref()),
                places: Vec::new(),
            });
            let mut place = result.matched_at.or(result.host).unwrap_or_else(|| input.to_string());
            if !result.extracted_results.is_empty() {
                place = format!("{place} (extracted: {})", result.extracted_results.join(", "));
            }
            if !entry.places.contains(&place) {
                entry.places.push(place);
            }
        }
        let mut out = Vec::with_capacity(matched.len() * 2);
        for (id, m) in matched {
            let description = match &m.description {
                Some(text) => format!("{}: {}", m.name, text.trim()),
                None => m.name.clone(),
            };
            let [found, kind] = finding_of(input, &id, &description, m.risk, format!("Nuclei template matched at {}", m.places.join("; ")))?;
            out.push(kind);
            out.push(found);
        }
        Ok(out)
    }
}
