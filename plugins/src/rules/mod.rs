//! The built-in rules (OpenKAT's "bits"): conclusions drawn from saved
//! objects, above all findings. Each implements `kat_core::builtin::Rule`;
//! the normalizer runner evaluates them after every saved observation.
//!
//! - [`finding_types`]: the catalogue of finding types (OpenKAT's
//!   `KATFindingType` ids) with a description and a risk level each.
//! - [`ports`]: `port-classification-ip`, open ports by what they expose.
//! - [`websites`]: `website-discovery`, a web service and the hostnames
//!   pointing at its address make websites.
//! - [`headers`]: `missing-headers`, security headers a page lacks.
//! - [`security_txt`]: `missing-security-txt`, websites without one.
//! - [`certificates`]: `expiring-certificate` and `ssl-certificate-hostname`.
//! - [`ciphers`]: `cipher-classification`, weak TLS cipher suites.
//! - [`mail`]: `missing-spf` and `missing-dmarc`, on the domains scanned.

pub mod certificates;
pub mod ciphers;
pub mod finding_types;
pub mod headers;
pub mod mail;
pub mod ports;
pub mod security_txt;
pub mod websites;

use kat_core::{CoreError, Ooi, Reference};

pub use kat_core::builtin::Rule;
pub use finding_types::{FindingType, Risk};

/// Every built-in rule.
pub fn all() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(ports::PortClassification),
        Box::new(websites::WebsiteDiscovery),
        Box::new(headers::MissingHeaders),
        Box::new(security_txt::MissingSecurityTxt),
        Box::new(certificates::ExpiringCertificate),
        Box::new(certificates::CertificateHostname),
        Box::new(mail::MISSING_SPF),
        Box::new(mail::MISSING_DMARC),
        Box::new(ciphers::CipherClassification),
    ]
}

/// A finding of `finding_type` on `object`, with the finding type object it references (both are saved: the
/// type carries the description and risk level that reports show).
pub fn finding(object: &Reference, finding_type: &FindingType, description: String) -> Result<[Ooi; 2], CoreError> {
    finding_of(object, finding_type.id, finding_type.description, finding_type.risk, description)
}

/// [`finding`] for a finding type outside the catalogue (a Nuclei template, say): its id, what it means and its
/// risk level. A CVE id (`CVE-2021-44228`, any case) makes a `CVEFindingType` with the id in upper case.
pub fn finding_of(object: &Reference, type_id: &str, type_description: &str, risk: Risk, description: String) -> Result<[Ooi; 2], CoreError> {
    let (object_type, type_id) = if kat_core::ooi::openkat::is_cve(type_id) { ("CVEFindingType", type_id.to_ascii_uppercase()) } else { ("KATFindingType", type_id.to_string()) };
    let kind = Ooi::build(object_type).field("id", type_id).field("description", type_description).field("risk_severity", risk.as_str()).finish()?;
    let found = Ooi::build("Finding").reference("ooi", object).reference("finding_type", kind.reference()).field("description", description).finish()?;
    Ok([found, kind])
}
