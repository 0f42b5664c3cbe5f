//! The built-in normalizers; they implement `kat_core::builtin::Normalizer`.
//!
//! A normalizer turns one raw file into objects; it does no I/O, so it can
//! run offline (`kat normalize`) as well as in the normalizer runner.

pub mod dns;
pub mod http_headers;
pub mod masscan;
pub mod nmap;
pub mod nuclei;
pub mod security_txt;
pub mod ssl_certificates;
pub mod testssl;

use kat_core::plugin::NormalizerManifest;

pub use kat_core::builtin::{NormalizeError, Normalizer};

/// Parse an embedded manifest; the built-in manifests are checked by tests.
pub(crate) fn manifest(id: &str, text: &str) -> NormalizerManifest {
    NormalizerManifest::parse(id, text).unwrap_or_else(|_| NormalizerManifest { id: id.to_string(), name: None, description: None, consumes: Vec::new(), produces: Vec::new(), run: Vec::new(), timeout: None })
}

/// Every built-in normalizer.
pub fn all() -> Vec<Box<dyn Normalizer>> {
    vec![
        Box::new(dns::DnsNormalizer),
        Box::new(dns::zone::DnsZoneNormalizer),
        Box::new(nmap::NmapNormalizer),
        Box::new(masscan::MasscanNormalizer),
        Box::new(nuclei::NucleiNormalizer),
        Box::new(http_headers::HttpHeadersNormalizer),
        Box::new(security_txt::SecurityTxtNormalizer),
        Box::new(ssl_certificates::SslCertificatesNormalizer),
        Box::new(testssl::TestsslCiphersNormalizer),
    ]
}

/// The built-in normalizer with this id.
pub fn by_id(id: &str) -> Option<Box<dyn Normalizer>> {
    all().into_iter().find(|n| n.manifest().id == id)
}
