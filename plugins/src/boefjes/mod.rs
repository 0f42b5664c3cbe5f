//! The built-in boefjes and the [`Boefje`] trait they implement.
//!
//! A boefje takes one input object and its job environment (the settings,
//! already checked against its `schema.json`) and returns raw files, each
//! tagged with mime types. The boefje runner stores them in Bytes.

pub mod dns_records;
pub mod port_scan;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::secret::Secret;
use kat_core::Reference;

/// One raw output file of a boefje run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFile {
    /// A name for the file within the run, e.g. `nmap.xml`.
    pub name: String,
    /// Its mime types, e.g. `boefje/nmap`.
    pub mime_types: Vec<String>,
    /// The bytes themselves.
    pub content: Vec<u8>,
}

/// Why a boefje run failed; the runner stores the message as an `error/boefje` raw file.
#[derive(Debug, thiserror::Error)]
pub enum BoefjeError {
    /// The input object is not one this boefje consumes.
    #[error("boefje cannot run on {0}")]
    WrongInput(String),
    /// A setting has a value the boefje cannot use.
    #[error("setting {key} is invalid: {reason}")]
    Setting {
        /// The setting's name (never its value).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The scan itself failed (network down, timeout of the whole run, ...).
    #[error("scan failed: {0}")]
    Scan(String),
}

/// The job environment a boefje receives: setting name to value.
pub type JobEnv = BTreeMap<String, Secret<String>>;

/// The future a boefje run returns.
pub type BoefjeRun<'a> = Pin<Box<dyn Future<Output = Result<Vec<RawFile>, BoefjeError>> + Send + 'a>>;

/// A scanning plugin written in Rust, run in process.
pub trait Boefje: Send + Sync {
    /// The plugin's `boefje.json`.
    fn manifest(&self) -> BoefjeManifest;
    /// The plugin's `schema.json`, if it takes settings.
    fn schema(&self) -> Option<SettingsSchema>;
    /// Scan `input` with the settings in `env`.
    fn run<'a>(&'a self, input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a>;
}

/// Every built-in boefje.
pub fn all() -> Vec<Box<dyn Boefje>> {
    vec![Box::new(dns_records::DnsRecords), Box::new(port_scan::PortScan)]
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
    })
}
