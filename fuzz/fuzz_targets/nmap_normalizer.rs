//! nmap XML (`boefje/nmap`) into the nmap normalizer: any bytes give
//! objects or an error, never a panic.
#![no_main]

use kat_core::Reference;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let normalizer = kat_plugins::normalizers::by_id("kat_nmap_normalize").expect("built-in");
    let input = Reference::parse("IPAddressV4|internet|127.0.0.1").expect("valid");
    if let Ok(objects) = normalizer.normalize(&input, data) {
        common::keys_parse_back(&objects);
    }
});
