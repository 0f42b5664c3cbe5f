//! The built-in normalizers and the [`Normalizer`] trait they implement.
//!
//! A normalizer turns one raw file into objects; it does no I/O, so it can
//! run offline (`kat normalize`) as well as in the normalizer runner.

pub mod dns;

pub mod nmap;

use kat_core::plugin::NormalizerManifest;
use kat_core::{CoreError, Ooi, Reference};

/// Why a raw file could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// The raw file is not in the format the normalizer reads.
    #[error("cannot parse raw file: {0}")]
    Parse(String),
    /// The raw file parsed but describes an object the model refuses.
    #[error("invalid object in raw file: {0}")]
    Object(#[from] CoreError),
}

impl NormalizeError {
    pub(crate) fn parse(message: String) -> Self {
        NormalizeError::Parse(message)
    }
}

/// A parsing plugin: raw bytes plus the input object in, objects out.
pub trait Normalizer: Send + Sync {
    /// The plugin's `normalizer.json`.
    fn manifest(&self) -> NormalizerManifest;
    /// Parse `raw`, produced by a boefje run on `input`, into objects.
    fn normalize(&self, input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError>;
}

/// Parse an embedded manifest; the built-in manifests are checked by tests.
pub(crate) fn manifest(id: &str, text: &str) -> NormalizerManifest {
    NormalizerManifest::parse(id, text).unwrap_or_else(|_| NormalizerManifest { id: id.to_string(), name: None, description: None, consumes: Vec::new(), produces: Vec::new() })
}

/// Every built-in normalizer.
pub fn all() -> Vec<Box<dyn Normalizer>> {
    vec![Box::new(dns::DnsNormalizer), Box::new(nmap::NmapNormalizer)]
}

/// The built-in normalizer with this id.
pub fn by_id(id: &str) -> Option<Box<dyn Normalizer>> {
    all().into_iter().find(|n| n.manifest().id == id)
}
