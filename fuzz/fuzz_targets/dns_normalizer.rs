//! OpenKAT's `boefje/dns-records` raw format into the DNS normalizer: any
//! bytes give objects or an error, never a panic. The input is used as is
//! and also wrapped as the `dns_records` text of a valid JSON document, so
//! the answer parser is reached without the fuzzer having to find JSON.
#![no_main]

use kat_core::Reference;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let normalizer = kat_plugins::normalizers::by_id("kat_dns_normalize").expect("built-in");
    let input = Reference::parse("Hostname|internet|example.nl").expect("valid");
    let _ = normalizer.normalize(&input, data);
    let text = String::from_utf8_lossy(data);
    let wrapped = format!("{{\"dns_records\": {}}}", serde_json_string(&text));
    if let Ok(objects) = normalizer.normalize(&input, wrapped.as_bytes()) {
        common::keys_parse_back(&objects);
    }
});

/// `text` as a JSON string literal.
fn serde_json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
