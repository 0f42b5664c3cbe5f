//! Any bytes into `kat_ssl_certificates_normalize`, as they are and as the
//! DER inside a PEM `CERTIFICATE` block (so the certificate parser is
//! reached without the fuzzer having to find PEM): objects or an error,
//! never a panic, and every key given parses back to itself.
#![no_main]

use base64::Engine;
use kat_core::Reference;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let normalizer = kat_plugins::normalizers::by_id("kat_ssl_certificates_normalize").expect("built-in");
    let website = Reference::parse("Website|internet|127.0.0.1|tcp|443|https|internet|a.test").expect("valid");
    let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", base64::engine::general_purpose::STANDARD.encode(data));
    for raw in [data, pem.as_bytes()] {
        if let Ok(objects) = normalizer.normalize(&website, raw) {
            common::keys_parse_back(&objects);
        }
    }
});
