//! The web normalizers on any bytes: `kat_http_headers` (OpenKAT's
//! `openkat-http/headers` JSON) and `kat_security_txt_downloader` (the
//! downloader's JSON) give objects or an error, never a panic. The input is
//! used as is and also as a header name and value, and as the content, URL
//! and address of a security.txt result, so the checks past the JSON are
//! reached without the fuzzer having to find JSON. Every object given has a
//! key that parses back to itself.
#![no_main]

use kat_core::Reference;
use libfuzzer_sys::fuzz_target;

mod common;


fuzz_target!(|data: &[u8]| {
    let headers = kat_plugins::normalizers::by_id("kat_http_headers").expect("built-in");
    let security = kat_plugins::normalizers::by_id("kat_security_txt_downloader").expect("built-in");
    let resource = Reference::parse("HTTPResource|internet|127.0.0.1|tcp|80|http|internet|a.test|http|internet|a.test|80|/").expect("valid");
    let website = Reference::parse("Website|internet|127.0.0.1|tcp|80|http|internet|a.test").expect("valid");
    let text = serde_json::to_string(&String::from_utf8_lossy(data)).expect("a string serializes");
    for (normalizer, input, wrapped) in [
        (&headers, &resource, format!("{{{text}: {text}, \"Content-Type\": {text}}}")),
        (&security, &website, format!("{{\"security.txt\": {{\"content\": {text}, \"url\": {text}, \"ip\": {text}}}, \".well-known/security.txt\": {{\"content\": \"x\", \"url\": {text}, \"ip\": \"127.0.0.1\"}}}}")),
    ] {
        if let Ok(objects) = normalizer.normalize(input, data) {
            common::keys_parse_back(&objects);
        }
        if let Ok(objects) = normalizer.normalize(input, wrapped.as_bytes()) {
            common::keys_parse_back(&objects);
        }
    }
});
