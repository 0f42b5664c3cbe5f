//! OpenKAT's secure hash of a raw file: `sha512(contents +
//! str(boefje_meta.ended_at.timestamp()))`, written as `sha512:<hex>`, where
//! `str()` of the Python float is its shortest round-trip `repr`
//! (`1700000000.123456`, `1700000000.0`, `1e-06`). [`python_timestamp`]
//! reproduces that text exactly, so a hash computed here matches the one
//! OpenKAT's Bytes computes for the same contents and run.
//!
//! Raw files stored before this rule were hashed over the save time in
//! Python's `isoformat()` spelling ([`HashRule::IsoFormat`]); each stored
//! row says which rule it used, so both kinds keep verifying.

use sha2::{Digest, Sha512};
use time::OffsetDateTime;

/// Which text follows the contents in a stored raw file's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashRule {
    /// OpenKAT's rule: `str(boefje_meta.ended_at.timestamp())`.
    EndedAtTimestamp,
    /// The rule of earlier versions: the save time as `isoformat()`, kept in the row.
    IsoFormat,
}

impl HashRule {
    /// The marker stored in the `hash_rule` column.
    pub fn as_str(self) -> &'static str {
        match self {
            HashRule::EndedAtTimestamp => "ended_at_timestamp",
            HashRule::IsoFormat => "isoformat",
        }
    }

    /// The rule a stored marker names (`None` for an unknown marker).
    pub fn parse(marker: &str) -> Option<HashRule> {
        match marker {
            "ended_at_timestamp" => Some(HashRule::EndedAtTimestamp),
            "isoformat" => Some(HashRule::IsoFormat),
            _ => None,
        }
    }
}

/// The timestamp as Python's `datetime.isoformat()` prints an aware UTC time.
pub fn isoformat(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let micros = at.microsecond();
    let base = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute(), at.second());
    if micros == 0 { format!("{base}+00:00") } else { format!("{base}.{micros:06}+00:00") }
}

/// `datetime.timestamp()` of `at` as Python computes it (whole microseconds divided by 10^6, correctly
/// rounded) and printed by `str()`.
pub fn python_timestamp(at: OffsetDateTime) -> String {
    // Python truncates to whole microseconds; the exact quotient is a finite decimal, and parsing that
    // decimal is correctly rounded, as Python's integer true division is.
    let micros = at.unix_timestamp_nanos().div_euclid(1000);
    let sign = if micros < 0 { "-" } else { "" };
    let magnitude = micros.unsigned_abs();
    let exact = format!("{sign}{}.{:06}", magnitude / 1_000_000, magnitude % 1_000_000);
    python_float_repr(exact.parse::<f64>().unwrap_or(f64::NAN))
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation for decimal exponents
/// from -4 to 15 (always with a fractional part, `2.0`), else in exponent notation (`1e+16`, `1.5e-07`).
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits: `d.ddde<exp>`.
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.unsigned_abs());
    }
    let point = exponent + 1; // digits before the decimal point
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if digits.len() <= point {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{text}")
}

/// `sha512:<hex>` of `content` followed by `text` (the timestamp text of the row's rule).
pub fn secure_hash(content: &[u8], text: &str) -> String {
    let mut hasher = Sha512::new();
    hasher.update(content);
    hasher.update(text.as_bytes());
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
    fn float_repr_matches_python() {
        for (x, python) in [
            (1_700_000_000.123_456, "1700000000.123456"),
            (1_700_000_000.0, "1700000000.0"),
            (1_700_000_000.1, "1700000000.1"),
            (-30_585_822_589.0, "-30585822589.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e-6, "1e-06"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (9_999_999_999_999_998.0, "9999999999999998.0"),
            (123.0, "123.0"),
        ] {
            assert_eq!(python_float_repr(x), python, "{x:?}");
        }
    }

    #[test]
    fn openkats_test_vector() {
        // bytes/tests: ended_at 1000-10-10T10:10:11Z, b"test 123456".
        let at = time::macros::datetime!(1000-10-10 10:10:11 UTC);
        assert_eq!(python_timestamp(at), "-30585822589.0");
        assert_eq!(
            secure_hash(b"test 123456", &python_timestamp(at)),
            "sha512:ce89137e70b5f8433e787293f0c01332c0ca405d355a7080a50630340f77bf5227561a01cba83272273513097d91f3bf9a8e8f17416fadfc1575028157cef2df"
        );
    }

    #[test]
    fn hash_covers_contents_and_time() {
        let h = secure_hash(b"abc", "2024-05-01T10:00:00+00:00");
        assert!(h.starts_with("sha512:") && h.len() == 7 + 128);
        assert_ne!(h, secure_hash(b"abd", "2024-05-01T10:00:00+00:00"));
        assert_ne!(h, secure_hash(b"abc", "2024-05-01T10:00:01+00:00"));
        assert!(secure_hash(b"", "").ends_with("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"));
        assert_eq!(HashRule::parse(HashRule::IsoFormat.as_str()), Some(HashRule::IsoFormat));
        assert_eq!(HashRule::parse(HashRule::EndedAtTimestamp.as_str()), Some(HashRule::EndedAtTimestamp));
    }
}
