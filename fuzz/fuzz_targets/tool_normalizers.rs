//! The normalizers of the tool wrappers and `dns-zone` on any bytes:
//! `kat_masscan_normalize` (masscan's JSON), `kat_ssl_test_ciphers_normalize`
//! (testssl.sh's flat JSON, then the `cipher-classification` rule on the
//! TLSCipher it gives) and `kat_dns_zone_normalize` (an SOA answer) give
//! objects or an error, never a panic. The input is used as is and also
//! inside each format (a masscan address, a testssl.sh finding row, an SOA
//! record's data), so the checks past the outer format are reached without
//! the fuzzer having to find it. Every object given has a key that parses
//! back to itself.
#![no_main]

use kat_core::Reference;
use libfuzzer_sys::fuzz_target;

mod common;


/// The plugins under test, built once (building them per input cost most of each run).
struct Plugins {
    masscan: Box<dyn kat_plugins::normalizers::Normalizer>,
    testssl: Box<dyn kat_plugins::normalizers::Normalizer>,
    zone: Box<dyn kat_plugins::normalizers::Normalizer>,
    cipher_rule: Box<dyn kat_plugins::rules::Rule>,
}

static PLUGINS: std::sync::LazyLock<Plugins> = std::sync::LazyLock::new(|| {
    let by_id = |id| kat_plugins::normalizers::by_id(id).expect("built-in");
    let cipher_rule = kat_plugins::rules::all().into_iter().find(|r| r.id() == "cipher-classification").expect("the rule");
    Plugins { masscan: by_id("kat_masscan_normalize"), testssl: by_id("kat_ssl_test_ciphers_normalize"), zone: by_id("kat_dns_zone_normalize"), cipher_rule }
});

fuzz_target!(|data: &[u8]| {
    let Plugins { masscan, testssl, zone, cipher_rule } = &*PLUGINS;
    let ip = Reference::parse("IPAddressV4|internet|127.0.0.1").expect("valid");
    let service = Reference::parse("IPService|internet|127.0.0.1|tcp|443|https").expect("valid");
    let host = Reference::parse("Hostname|internet|www.a.test").expect("valid");
    let dns_zone = Reference::parse("DNSZone|internet|a.test").expect("valid");
    let lossy = String::from_utf8_lossy(data);
    let text = serde_json::to_string(&lossy).expect("a string serializes");
    let masscan_json = format!("[{{\"ip\": {text}, \"ports\": [{{\"port\": 80, \"proto\": \"tcp\", \"status\": \"open\"}}]}}]");
    let testssl_json = format!("[{{\"id\": \"cipher-tls1_2_xc02f\", \"finding\": {text}}}, {{\"id\": {text}, \"finding\": \"TLSv1 x35 AES256-SHA RSA AES 256 TLS_RSA_WITH_AES_256_CBC_SHA\"}}]");
    let zone_text = format!("RESOLVER: 127.0.0.1\nid 0\nopcode QUERY\nrcode NOERROR\nflags QR RD RA\n;QUESTION\na.test. IN SOA\n;ANSWER\na.test. 300 IN SOA {lossy}\n;AUTHORITY\n;ADDITIONAL\n");
    for (input, raw) in [(&ip, data), (&ip, masscan_json.as_bytes())] {
        if let Ok(objects) = masscan.normalize(input, raw) {
            common::keys_parse_back(&objects);
        }
    }
    for raw in [data, testssl_json.as_bytes()] {
        if let Ok(objects) = testssl.normalize(&service, raw) {
            common::keys_parse_back(&objects);
            for cipher in &objects {
                if let Ok(found) = cipher_rule.evaluate(cipher, &[]) {
                    common::keys_parse_back(&found);
                }
            }
        }
    }
    for (input, raw) in [(&host, data), (&host, zone_text.as_bytes()), (&dns_zone, zone_text.as_bytes())] {
        if let Ok(objects) = zone.normalize(input, raw) {
            common::keys_parse_back(&objects);
        }
    }
});
