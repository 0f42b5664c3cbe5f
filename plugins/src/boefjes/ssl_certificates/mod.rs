//! `ssl-certificates` (OpenKAT's boefje id): the certificate chain an HTTPS
//! website presents. The handshake goes to the website's address and port
//! with its hostname as SNI and accepts any certificate ([`super::tls`]):
//! the point is to see expired and misnamed ones.
//!
//! Raw file `boefje/ssl-certificates`: the chain as the server sent it, leaf
//! first, as PEM `CERTIFICATE` blocks (what `openssl s_client -showcerts`
//! prints among other text, which is what OpenKAT's boefje keeps; the
//! normalizer reads the blocks from either). A plain HTTP website gives an
//! empty file. Setting: `TIMEOUT` (seconds, default 30).

use std::net::SocketAddr;
use std::time::Duration;

use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::Reference;

use super::web::Site;
use super::{number_setting, Boefje, BoefjeRun, JobEnv, RawFile};

/// The certificate chain boefje.
#[derive(Debug, Default)]
pub struct SslCertificates;

impl Boefje for SslCertificates {
    fn manifest(&self) -> BoefjeManifest {
        super::manifest("ssl-certificates/boefje.json", include_str!("boefje.json"))
    }

    fn schema(&self) -> Option<SettingsSchema> {
        SettingsSchema::parse("ssl-certificates/schema.json", include_str!("schema.json")).ok()
    }

    fn run<'a>(&'a self, input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move {
            let site = Site::of_website(input)?;
            let mut pem = String::new();
            if site.scheme == "https" {
                let timeout = Duration::from_secs(number_setting(env, "TIMEOUT", 30u64)?.clamp(1, 3600));
                for der in super::tls::fetch_chain(SocketAddr::new(site.address, site.port), &site.hostname, timeout).await? {
                    pem.push_str(&pem_block(&der));
                }
            }
            Ok(vec![RawFile { name: "certificates.pem".into(), mime_types: vec!["boefje/ssl-certificates".into()], content: pem.into_bytes() }])
        })
    }
}

/// A DER certificate as a PEM block (base64 in lines of 64).
pub fn pem_block(der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_base64_in_lines_of_64() {
        assert_eq!(pem_block(b"Man"), "-----BEGIN CERTIFICATE-----\nTWFu\n-----END CERTIFICATE-----\n");
        assert_eq!(pem_block(b"Ma"), "-----BEGIN CERTIFICATE-----\nTWE=\n-----END CERTIFICATE-----\n");
        assert_eq!(pem_block(b"M"), "-----BEGIN CERTIFICATE-----\nTQ==\n-----END CERTIFICATE-----\n");
        let long = pem_block(&[0u8; 60]);
        assert_eq!(long.lines().nth(1).map(str::len), Some(64));
        assert_eq!(long.lines().nth(2), Some("AAAAAAAAAAAAAAAA"));
    }
}
