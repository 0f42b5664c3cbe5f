//! The reference parser (`Type|part|part`, OpenKAT's primary keys, read from
//! every API and raw file): any text parses or is refused, never a panic,
//! and what parses prints back as the same text.
#![no_main]

use kat_core::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(reference) = Reference::parse(text) {
        assert_eq!(reference.to_string(), text);
        let _ = reference.human_readable();
        let _ = reference.natural_key();
    }
});
