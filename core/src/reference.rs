//! `Reference`: OpenKAT's primary key of an object, `Type|natural|key|parts`.
//!
//! The first part names the object type; the rest are the values of its
//! natural-key fields, where a field that references another object
//! contributes that object's own key parts (so `IPPort|internet|1.2.3.4|tcp|22`
//! embeds `IPAddressV4|internet|1.2.3.4`). Parsing checks the type is known
//! and the number of parts fits its natural key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::CoreError;
use crate::ooi::types::{type_spec, ObjectTypeSpec};

/// A parsed, validated reference to an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    text: String,
    type_len: usize,
}

impl Reference {
    /// Parse a `Type|key|parts` string, refusing unknown types and wrong part counts.
    pub fn parse(input: &str) -> Result<Reference, CoreError> {
        let type_len = Reference::check(input)?;
        Ok(Reference { text: input.to_string(), type_len })
    }

    /// Check that `input` is a well-formed reference without keeping it; the length of its type name.
    /// (Objects check each reference field they hold this way: most are never needed as a `Reference`.)
    pub fn check(input: &str) -> Result<usize, CoreError> {
        let bad = |reason: &str| CoreError::MalformedReference {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (object_type, key) = split_at_bar(input).ok_or_else(|| bad("expected Type|key, found no '|'"))?;
        if object_type.is_empty() {
            return Err(bad("the object type is empty"));
        }
        let spec = type_spec(object_type)
            .ok_or_else(|| bad(&format!("unknown object type {object_type:?}")))?;
        let mut parts = 0;
        for part in key.as_bytes().split(|&b| b == b'|') {
            if part.is_empty() {
                return Err(bad("a key part is empty"));
            }
            parts += 1;
        }
        let (min, exact) = key_part_count(spec);
        if parts < min || (exact && parts != min) {
            return Err(bad(&format!(
                "{object_type} has {min} key part{}, found {parts}",
                if min == 1 { "" } else { "s" },
            )));
        }
        Ok(object_type.len())
    }

    /// `Network|internet`, the network of every public address and hostname (normalizers reference it in
    /// nearly every object they make).
    pub fn internet() -> &'static Reference {
        static INTERNET: std::sync::LazyLock<Reference> = std::sync::LazyLock::new(|| Reference::from_checked_parts("Network|internet".into(), "Network".len()));
        &INTERNET
    }

    /// A reference from text the caller built from checked parts (an object's own key fields and the
    /// natural keys of references it checked), so it is well formed by construction.
    pub(crate) fn from_checked_parts(text: String, type_len: usize) -> Reference {
        debug_assert!(Reference::check(&text).is_ok_and(|len| len == type_len), "{text} is not a well-formed reference");
        Reference { text, type_len }
    }

    /// The object type, e.g. `Hostname`.
    pub fn object_type(&self) -> &str {
        &self.text[..self.type_len]
    }

    /// Everything after the type: the natural key, e.g. `internet|example.nl`.
    pub fn natural_key(&self) -> &str {
        &self.text[self.type_len + 1..]
    }

    /// The reference as a string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The last key part, which for most types is the human name (`example.nl`, `22`).
    pub fn human_readable(&self) -> &str {
        self.text.rsplit('|').next().unwrap_or(&self.text)
    }
}

/// Every type's [`count_key_parts`], computed once.
static KEY_PARTS: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, (usize, bool)>> =
    std::sync::LazyLock::new(|| crate::ooi::types::OBJECT_TYPES.iter().map(|t| (t.name, count_key_parts(t))).collect());

/// How many key parts a type's natural key has, and whether that is exact
/// (false when a field can take any object type, or when the last text field
/// may itself contain `|`).
pub(crate) fn key_part_count(spec: &ObjectTypeSpec) -> (usize, bool) {
    KEY_PARTS.get(spec.name).copied().unwrap_or_else(|| count_key_parts(spec))
}

fn count_key_parts(spec: &ObjectTypeSpec) -> (usize, bool) {
    let mut count = 0;
    let mut exact = true;
    for name in spec.natural_key {
        match spec.field(name).map(|f| f.kind) {
            Some(crate::ooi::types::FieldKind::Ref { targets, .. }) => {
                let counts: Vec<(usize, bool)> = targets
                    .iter()
                    .filter_map(|t| type_spec(t))
                    .map(count_key_parts)
                    .collect();
                let min = counts.iter().map(|c| c.0).min().unwrap_or(1);
                let max = counts.iter().map(|c| c.0).max().unwrap_or(1);
                count += min;
                exact &= !targets.is_empty() && min == max && counts.iter().all(|c| c.1);
                if targets.is_empty() {
                    count += 1;
                }
            }
            _ => count += 1,
        }
    }
    if spec.last_key_may_contain_bar {
        exact = false;
    }
    (count, exact)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Reference {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Reference::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `input` split at its first `|`. A byte search: `str::split_once('|')` compares each candidate's UTF-8
/// encoding with a `memcmp` call (a few per cent of the DNS normalizer's time). (`|` is ASCII, so it never sits
/// inside a multi-byte character and both sides are valid `str`s.)
pub(crate) fn split_at_bar(input: &str) -> Option<(&str, &str)> {
    let at = input.bytes().position(|b| b == b'|')?;
    Some((&input[..at], &input[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in [
            "Network|internet",
            "Hostname|internet|example.nl",
            "IPAddressV4|internet|1.2.3.4",
            "IPAddressV6|internet|2a00:d78::1",
            "IPPort|internet|1.2.3.4|tcp|22",
            "IPService|internet|1.2.3.4|tcp|22|https",
            "DNSARecord|internet|example.nl|94.198.159.35",
            "DNSMXRecord|internet|example.nl|10 mail|example.nl.",
            "DNSSOARecord|internet|example.nl|internet|ns1.example.nl",
            "DNSTXTRecord|internet|example.nl|2fdd81c7d128c5d3915c74be49f247b93f4ac48d",
            "Finding|Hostname|internet|example.nl|KAT-NO-SPF",
        ] {
            let r = Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.to_string(), text);
            let json = serde_json::to_string(&r).unwrap_or_default();
            assert_eq!(serde_json::from_str::<Reference>(&json).ok(), Some(r));
        }
        let r = Reference::parse("IPPort|internet|1.2.3.4|tcp|22").ok();
        assert_eq!(r.as_ref().map(|r| r.object_type()), Some("IPPort"));
        assert_eq!(r.as_ref().map(|r| r.natural_key()), Some("internet|1.2.3.4|tcp|22"));
        assert_eq!(r.as_ref().map(|r| r.human_readable()), Some("22"));
    }

    #[test]
    fn rejects_malformed() {
        for (text, needle) in [
            ("", "no '|'"),
            ("Hostname", "no '|'"),
            ("|internet|x", "type is empty"),
            ("Hostnme|internet|x", "unknown object type"),
            ("Hostname|internet", "2 key parts, found 1"),
            ("Hostname|internet|a|b", "2 key parts, found 3"),
            ("Hostname||x", "empty"),
            ("IPPort|internet|1.2.3.4|tcp", "key parts"),
            ("DNSSOARecord|internet|example.nl|ns1.example.nl", "4 key parts, found 3"),
            ("DNSTXTRecord|internet|example.nl|a|b", "3 key parts, found 4"),
        ] {
            match Reference::parse(text) {
                Ok(r) => panic!("{text:?} parsed as {r}"),
                Err(e) => assert!(e.to_string().contains(needle), "{text:?}: {e}"),
            }
        }
        assert!(serde_json::from_str::<Reference>("\"Nope|x\"").is_err());
    }

    #[test]
    fn splits_at_the_first_bar_between_multibyte_characters() {
        assert_eq!(split_at_bar("Hostname|internet|bücher.é"), Some(("Hostname", "internet|bücher.é")));
        assert_eq!(split_at_bar("é|"), Some(("é", "")));
        assert_eq!(split_at_bar("ééé"), None);
        let r = Reference::parse("Hostname|internet|bücher.example").expect("a non-ASCII name");
        assert_eq!((r.object_type(), r.to_string().as_str()), ("Hostname", "Hostname|internet|bücher.example"));
        assert!(Reference::parse("Hostname|internet|é|").is_err(), "an empty last part");
    }
}
