//! `kat_ssl_certificates_normalize` (OpenKAT's normalizer id): the PEM
//! `CERTIFICATE` blocks of a `boefje/ssl-certificates` raw file, leaf first,
//! to objects on the boefje's input `Website`.
//!
//! Each certificate becomes an `X509Certificate` keyed by issuer and serial
//! number (the serial in decimal, the names as `CN=..., O=...`, validity in
//! RFC 3339), with its public key's algorithm and size; a certificate whose
//! issuer is the subject of the next one in the chain is `signed_by` it. The
//! leaf's DNS subject alternative names become `Hostname`s with a
//! `SubjectAlternativeNameHostname` each (a name holding `|` cannot be part
//! of a key and is left out), and the website is given back with its
//! `certificate` set (the normalizer runner adds that field to the stored
//! website). Text around the blocks (openssl's output) is ignored; an empty
//! file gives nothing; a block that is not a certificate fails the file,
//! naming the block.

use kat_core::plugin::NormalizerManifest;
use kat_core::{Ooi, Reference};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::public_key::PublicKey;

use super::{NormalizeError, Normalizer};
use crate::keys::key_path;

/// The certificate chain normalizer.
#[derive(Debug, Default)]
pub struct SslCertificatesNormalizer;

impl Normalizer for SslCertificatesNormalizer {
    fn manifest(&self) -> NormalizerManifest {
        super::manifest("kat_ssl_certificates_normalize", include_str!("normalizer.json"))
    }

    fn normalize(&self, input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError> {
        if input.object_type() != "Website" {
            return Err(NormalizeError::parse(format!("kat_ssl_certificates_normalize reads the certificates of a Website, not of {input}")));
        }
        let network = key_path(input, &["hostname", "network"]).unwrap_or_else(|| "Network|internet".into());
        let mut ders = Vec::new();
        for (index, block) in Pem::iter_from_buffer(raw).enumerate() {
            let block = block.map_err(|e| NormalizeError::parse(format!("PEM block {}: {e}", index + 1)))?;
            if block.label == "CERTIFICATE" {
                ders.push(block.contents);
            }
        }
        let mut parsed = Vec::with_capacity(ders.len());
        for (index, der) in ders.iter().enumerate() {
            let (_, certificate) = x509_parser::parse_x509_certificate(der).map_err(|e| NormalizeError::parse(format!("certificate {} of the chain: {e}", index + 1)))?;
            parsed.push(certificate);
        }
        let mut certificates: Vec<Ooi> = parsed.iter().map(certificate).collect::<Result<_, _>>()?;
        // Chain them: each is signed by the next when that one's subject is its issuer.
        for i in 0..parsed.len().saturating_sub(1) {
            if parsed[i].issuer() == parsed[i + 1].subject() && parsed[i].issuer() != parsed[i].subject() {
                let signer = certificates[i + 1].reference().to_string();
                certificates[i].set("signed_by", signer.into())?;
            }
        }
        let mut out = Vec::new();
        if let (Some(leaf), Some(leaf_object)) = (parsed.first(), certificates.first()) {
            for name in dns_names(leaf) {
                let hostname = Ooi::build("Hostname").field("network", network.as_str()).field("name", name).finish()?;
                out.push(Ooi::build("SubjectAlternativeNameHostname").reference("certificate", leaf_object.reference()).reference("hostname", hostname.reference()).finish()?);
                out.push(hostname);
            }
            let mut website = Ooi::from_reference(input)?;
            website.set("certificate", leaf_object.reference().to_string().into())?;
            out.push(website);
        }
        certificates.append(&mut out);
        Ok(certificates)
    }
}

/// The `X509Certificate` of a parsed certificate.
fn certificate(cert: &X509Certificate<'_>) -> Result<Ooi, NormalizeError> {
    let time = |t: x509_parser::time::ASN1Time| t.to_datetime().format(&time::format_description::well_known::Rfc3339).map_err(|e| NormalizeError::parse(format!("a validity date cannot be written: {e}")));
    let validity = cert.validity();
    let mut builder = Ooi::build("X509Certificate")
        .field("subject", cert.subject().to_string())
        .field("issuer", cert.issuer().to_string())
        .field("valid_from", time(validity.not_before)?)
        .field("valid_until", time(validity.not_after)?)
        .field("serial_number", cert.tbs_certificate.serial.to_string());
    let key = cert.public_key();
    let algorithm = match key.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA".to_string(),
        "1.2.840.10045.2.1" => "EC".to_string(),
        "1.3.101.112" => "Ed25519".to_string(),
        "1.3.101.113" => "Ed448".to_string(),
        other => other.to_string(),
    };
    builder = builder.field("pk_algorithm", algorithm);
    match key.parsed() {
        Ok(PublicKey::RSA(rsa)) => builder = builder.field("pk_size", rsa.key_size() as i64).field("pk_number", hex(rsa.modulus)),
        Ok(PublicKey::EC(point)) => builder = builder.field("pk_size", point.key_size() as i64),
        _ => {}
    }
    Ok(builder.finish()?)
}

/// The DNS names among a certificate's subject alternative names, lower case, without a final dot; names that
/// cannot be part of a key left out.
pub fn dns_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(name) => Some(name.trim_end_matches('.').to_ascii_lowercase()),
                _ => None,
            })
            .filter(|n| !n.is_empty() && !n.contains('|'))
            .collect(),
        _ => Vec::new(),
    };
    names.sort();
    names.dedup();
    names
}

fn hex(bytes: &[u8]) -> String {
    let bytes = match bytes {
        [0, rest @ ..] => rest,
        all => all,
    };
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
