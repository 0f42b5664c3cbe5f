//! Bearer tokens as HTTP says they are: the scheme is case-insensitive
//! (RFC 9110), so `bearer abc` (what OpenKAT's Python clients send) and
//! `Bearer abc` are the same; comparisons run in constant time.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;

/// The token of an `Authorization: Bearer <token>` header, whatever the case of the scheme.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(char::is_whitespace)?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Compare two secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_is_case_insensitive() {
        for (header, want) in [("Bearer abc", Some("abc")), ("bearer abc", Some("abc")), ("BEARER  abc ", Some("abc")), ("Basic abc", None), ("Bearer", None), ("Bearerabc", None)] {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, header.parse().expect("header"));
            assert_eq!(bearer(&headers), want, "{header}");
        }
        assert_eq!(bearer(&HeaderMap::new()), None);
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab"));
    }
}
