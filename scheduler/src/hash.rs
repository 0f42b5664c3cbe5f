//! Task hashes, as mula computes them: the hex of MurmurHash3 x64 128-bit
//! (seed 0, as Python's `mmh3.hash_bytes`) of
//! `"{input_ooi}-{boefje_id}-{organization}"` for a boefje task (without
//! the object when there is none) and of
//! `"{normalizer_id}-{raw_file_id}-{organization}"` for a normalizer task
//! (mula uses the boefje meta id there; the raw file id keeps two raw files
//! of one run apart). One unfinished task per hash is the deduplication rule.

use kat_core::services::scheduler::TaskType;
use kat_core::services::{ServiceError, ServiceResult};
use serde_json::Value;

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

fn mix_k1(k1: u64) -> u64 {
    k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

fn mix_k2(k2: u64) -> u64 {
    k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

/// A little-endian u64 from up to 8 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// MurmurHash3 x64 128-bit of `data` with `seed`: `h1` then `h2`, each little-endian.
pub fn murmur3_x64_128(data: &[u8], seed: u32) -> [u8; 16] {
    let (mut h1, mut h2) = (u64::from(seed), u64::from(seed));
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        h1 ^= mix_k1(le(&block[..8]));
        h1 = h1.rotate_left(27).wrapping_add(h2).wrapping_mul(5).wrapping_add(0x52dc_e729);
        h2 ^= mix_k2(le(&block[8..]));
        h2 = h2.rotate_left(31).wrapping_add(h1).wrapping_mul(5).wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    if tail.len() > 8 {
        h2 ^= mix_k2(le(&tail[8..]));
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(le(&tail[..tail.len().min(8)]));
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&h1.to_le_bytes());
    out[8..].copy_from_slice(&h2.to_le_bytes());
    out
}

/// `mmh3.hash_bytes(text).hex()`.
pub fn mmh3_hex(text: &str) -> String {
    murmur3_x64_128(text.as_bytes(), 0).iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of a boefje task on `input_ooi` (mula's `BoefjeTask.hash`).
pub fn boefje_hash(input_ooi: Option<&str>, boefje_id: &str, organization: &str) -> String {
    match input_ooi.filter(|i| !i.is_empty()) {
        Some(input) => mmh3_hex(&format!("{input}-{boefje_id}-{organization}")),
        None => mmh3_hex(&format!("{boefje_id}-{organization}")),
    }
}

/// The hash of a normalizer task on raw file `raw_id`.
pub fn normalizer_hash(normalizer_id: &str, raw_id: &str, organization: &str) -> String {
    mmh3_hex(&format!("{normalizer_id}-{raw_id}-{organization}"))
}

fn text<'a>(data: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(data, |v, key| v.get(key))?.as_str()
}

/// The hash of a task body of `task_type`; a body without the fields the hash needs is refused, naming the field.
pub fn task_hash(task_type: TaskType, organisation: &str, data: &Value) -> ServiceResult<String> {
    let need = |path: &[&str]| text(data, path).ok_or_else(|| ServiceError::invalid(format!("data.{} is required for a {} task", path.join("."), task_type.as_str())).with_field(format!("data.{}", path.join("."))));
    match task_type {
        TaskType::Boefje => {
            let organization = text(data, &["organization"]).unwrap_or(organisation);
            Ok(boefje_hash(text(data, &["input_ooi"]), need(&["boefje", "id"])?, organization))
        }
        TaskType::Normalizer => {
            let organization = text(data, &["raw_data", "boefje_meta", "organization"]).unwrap_or(organisation);
            Ok(normalizer_hash(need(&["normalizer", "id"])?, need(&["raw_data", "id"])?, organization))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors printed by Python's `mmh3.hash_bytes(s).hex()` (mmh3 5.x), the library mula uses.
    #[test]
    fn matches_pythons_mmh3() {
        for (input, want) in [
            ("", "00000000000000000000000000000000"),
            ("hello", "029bbd41b3a7d8cb191dae486a901e5b"),
            ("Hostname|internet|example.nl-dns-records-_dev", "d86758fc8b421bbf80ef99c33e8bc0f8"),
            ("The quick brown fox jumps over the lazy dog", "6c1b07bc7bbc4be347939ac4a93c437a"),
            (&"a".repeat(33), "bdd433f476c32ee0019fde9dbb56e3ae"),
        ] {
            assert_eq!(mmh3_hex(input), want, "{input:?}");
        }
    }

    #[test]
    fn task_hashes_follow_mula() {
        let boefje = serde_json::json!({"boefje": {"id": "dns-records"}, "input_ooi": "Hostname|internet|example.nl", "organization": "_dev"});
        assert_eq!(task_hash(TaskType::Boefje, "_dev", &boefje).expect("hash"), "d86758fc8b421bbf80ef99c33e8bc0f8");
        assert_eq!(boefje_hash(None, "x", "o"), mmh3_hex("x-o"));
        let e = task_hash(TaskType::Normalizer, "_dev", &boefje).expect_err("not a normalizer body");
        assert_eq!(e.field.as_deref(), Some("data.normalizer.id"));
    }
}
