//! Reading configuration from environment variables through a lookup
//! function (the process environment in binaries, a map in tests), with
//! every numeric variable checked against its range at start-up, so that a
//! bad value stops the service with a one-line message (exit code 64 in the
//! binaries) instead of failing later, one request at a time.

use std::fmt::Display;
use std::str::FromStr;

/// A variable whose value is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A lookup over fixed `NAME`/value pairs, for tests and for configuration that does not come from the
/// process environment.
pub fn from_pairs(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The non-blank value of `name`, trimmed.
pub fn get(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The whole number in `name`, `default` when unset, refused unless `min <= n <= max`.
pub fn number<T>(lookup: &impl Fn(&str) -> Option<String>, name: &str, default: T, min: T, max: T) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    let Some(text) = get(lookup, name) else { return Ok(default) };
    let out_of_range = || ConfigError(format!("{name}={text:?} is out of range: use a whole number from {min} to {max}"));
    match text.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        Ok(_) => Err(out_of_range()),
        // A number too large for the type, such as 1e15 minutes, is out of range too.
        Err(_) if text.bytes().all(|b| b.is_ascii_digit()) => Err(out_of_range()),
        Err(_) => Err(ConfigError(format!("{name}={text:?} is not a whole number (use {min} to {max})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked_against_their_range() {
        let lookup = from_pairs(&[("A", " 15 "), ("B", "1e15"), ("C", "1000000000000000000000000"), ("D", "0"), ("E", "-3")]);
        assert_eq!(number(&lookup, "A", 1u64, 1, 100), Ok(15));
        assert_eq!(number(&lookup, "UNSET", 7u64, 1, 100), Ok(7));
        assert!(number(&lookup, "B", 1u64, 1, 100).expect_err("not a number").0.contains("B=\"1e15\" is not a whole number"));
        assert!(number(&lookup, "C", 1u64, 1, 100).expect_err("too big").0.contains("out of range"));
        assert!(number(&lookup, "D", 1u64, 1, 100).expect_err("too small").0.contains("from 1 to 100"));
        assert!(number(&lookup, "E", 1u64, 1, 100).is_err());
    }
}
