//! OpenKAT's secure hash of a raw file: SHA-512 over the contents followed
//! by the timestamp in Python's `isoformat()` spelling, written as
//! `sha512:<hex>`. The timestamp is stored beside the hash so that the
//! contents can be re-verified on every read.

use sha2::{Digest, Sha512};
use time::OffsetDateTime;

/// The timestamp as Python's `datetime.isoformat()` prints an aware UTC time.
pub fn isoformat(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let micros = at.microsecond();
    let base = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute(), at.second());
    if micros == 0 { format!("{base}+00:00") } else { format!("{base}.{micros:06}+00:00") }
}

/// `sha512:<hex>` of `content` followed by `timestamp`.
pub fn secure_hash(content: &[u8], timestamp: &str) -> String {
    let mut hasher = Sha512::new();
    hasher.update(content);
    hasher.update(timestamp.as_bytes());
    format!("sha512:{}", hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isoformat_matches_python() {
        let at = time::macros::datetime!(2024-05-01 10:00:00 UTC);
        assert_eq!(isoformat(at), "2024-05-01T10:00:00+00:00");
        assert_eq!(isoformat(at + time::Duration::microseconds(42)), "2024-05-01T10:00:00.000042+00:00");
    }

    #[test]
    fn hash_covers_contents_and_time() {
        let h = secure_hash(b"abc", "2024-05-01T10:00:00+00:00");
        assert!(h.starts_with("sha512:") && h.len() == 7 + 128);
        assert_ne!(h, secure_hash(b"abd", "2024-05-01T10:00:00+00:00"));
        assert_ne!(h, secure_hash(b"abc", "2024-05-01T10:00:01+00:00"));
        // sha512("") is a well-known value: the prefix and hex encoding are right.
        assert!(secure_hash(b"", "").ends_with("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"));
    }
}
