//! The built-in rules (OpenKAT's "bits"): conclusions drawn from saved
//! objects, above all findings. Each implements `kat_core::builtin::Rule`;
//! the normalizer runner evaluates them after every saved observation.
//!
//! - [`finding_types`]: the catalogue of finding types (OpenKAT's
//!   `KATFindingType` ids) with a description and a risk level each.
//! - [`ports`]: `port-classification-ip`, open ports by what they expose.

pub mod finding_types;
pub mod ports;

use kat_core::{CoreError, Ooi, Reference};

pub use kat_core::builtin::Rule;
pub use finding_types::{FindingType, Risk};

/// Every built-in rule.
pub fn all() -> Vec<Box<dyn Rule>> {
    vec![Box::new(ports::PortClassification)]
}

/// A finding of `finding_type` on `object`, with the finding type object it references (both are saved: the
/// type carries the description and risk level that reports show).
pub fn finding(object: &Reference, finding_type: &FindingType, description: String) -> Result<[Ooi; 2], CoreError> {
    finding_of(object, finding_type.id, finding_type.description, finding_type.risk, description)
}

/// [`finding`] for a finding type outside the catalogue (a Nuclei template, say): its id, what it means and its
/// risk level.
pub fn finding_of(object: &Reference, type_id: &str, type_description: &str, risk: Risk, description: String) -> Result<[Ooi; 2], CoreError> {
    let kind = Ooi::build("KATFindingType").field("id", type_id).field("description", type_description).field("risk_severity", risk.as_str()).finish()?;
    let found = Ooi::build("Finding").reference("ooi", object).reference("finding_type", kind.reference()).field("description", description).finish()?;
    Ok([found, kind])
}
