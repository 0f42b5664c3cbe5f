//! The built-in boefjes; they implement `kat_core::builtin::Boefje`.
//!
//! A boefje takes one input object and its job environment (the settings,
//! already checked against its `schema.json`) and returns raw files, each
//! tagged with mime types. The boefje runner stores them in Bytes.

pub mod dns_records;
pub mod dns_zone;
pub mod port_scan;
pub mod security_txt;
pub mod ssl_certificates;
pub mod tls;
pub mod web;
pub mod webpage_analysis;

use kat_core::plugin::BoefjeManifest;

pub use kat_core::builtin::{Boefje, BoefjeError, BoefjeRun, JobEnv, RawFile};

/// Every built-in boefje.
pub fn all() -> Vec<Box<dyn Boefje>> {
    vec![
        Box::new(dns_records::DnsRecords),
        Box::new(port_scan::PortScan),
        Box::new(webpage_analysis::WebpageAnalysis),
        Box::new(security_txt::SecurityTxtDownloader),
        Box::new(ssl_certificates::SslCertificates),
        Box::new(dns_zone::DnsZone),
    ]
}

/// The built-in boefje with this id.
pub fn by_id(id: &str) -> Option<Box<dyn Boefje>> {
    all().into_iter().find(|b| b.manifest().id == id)
}

/// A setting from the job environment parsed as a number, or its default.
pub(crate) fn number_setting<T: std::str::FromStr>(env: &JobEnv, key: &str, default: T) -> Result<T, BoefjeError> {
    match env.get(key) {
        None => Ok(default),
        Some(v) => v.expose().trim().parse().map_err(|_| BoefjeError::Setting { key: key.to_string(), reason: "must be a whole number".to_string() }),
    }
}

/// Parse an embedded manifest; the built-in manifests are checked by tests.
pub(crate) fn manifest(name: &str, text: &str) -> BoefjeManifest {
    BoefjeManifest::parse(name, text).unwrap_or_else(|_| BoefjeManifest {
        id: name.split('/').next().unwrap_or(name).to_string(),
        name: None,
        description: None,
        consumes: Vec::new(),
        produces: Vec::new(),
        scan_level: kat_core::ScanLevel::L4,
        oci_image: None,
        oci_arguments: Vec::new(),
        cron: None,
        interval: None,
        conditions: Vec::new(),
        run_on: Vec::new(),
        run: Vec::new(),
        protocol: Default::default(),
        timeout: None,
    })
}
