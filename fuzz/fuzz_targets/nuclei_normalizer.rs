//! Nuclei's JSON lines (`boefje/nuclei`) into the Nuclei normalizer: any
//! bytes give findings or an error, never a panic. The input is used as is
//! and also as the template id of an otherwise valid result line, so the id
//! checks are reached without the fuzzer having to find JSON.
#![no_main]

use kat_core::Reference;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let normalizer = kat_plugins::normalizers::by_id("kat_nuclei_normalize").expect("built-in");
    let input = Reference::parse("IPPort|internet|127.0.0.1|tcp|8080").expect("valid");
    let _ = normalizer.normalize(&input, data);
    let id = serde_json::to_string(&String::from_utf8_lossy(data)).expect("a string serializes");
    let line = format!("{{\"template-id\": {id}, \"info\": {{\"severity\": \"high\"}}, \"matched-at\": {id}}}");
    if let Ok(objects) = normalizer.normalize(&input, line.as_bytes()) {
        common::keys_parse_back(&objects);
    }
});
