//! `missing-headers` (OpenKAT's bit of that name): the security headers an
//! `HTTPResource` answered without, from its `HTTPHeader`s (names compared
//! without case). A resource with no headers stored yet gives nothing (it
//! has not been fetched). HTTPS resources need `Strict-Transport-Security`
//! (`KAT-NO-HSTS`); deprecated or non-standard headers give
//! `KAT-NONSTANDARD-HEADERS`. A redirect (a `Location` header) is not a
//! page, so only when there is none: `X-Frame-Options`
//! (`KAT-NO-X-FRAME-OPTIONS`), `Content-Security-Policy` for content a
//! browser runs scripts in (HTML, XML, SVG: `KAT-NO-CSP`),
//! `Permissions-Policy`, `Referrer-Policy` and `X-Content-Type-Options`.

use std::collections::BTreeMap;

use kat_core::builtin::Step;
use kat_core::{CoreError, Ooi};

use super::finding_types::{FindingType, NONSTANDARD_HEADERS, NO_CSP, NO_HSTS, NO_PERMISSIONS_POLICY, NO_REFERRER_POLICY, NO_X_CONTENT_TYPE_OPTIONS, NO_X_FRAME_OPTIONS};
use super::{finding, Rule};
use crate::keys::key_path;

/// The missing headers rule.
#[derive(Debug, Default)]
pub struct MissingHeaders;

/// Headers that are deprecated or not standard (lower case).
pub const NONSTANDARD: &[&str] = &["pragma", "warning", "x-dns-prefetch-control", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-robots-tag"];

/// Content types a browser may run scripts in.
pub const SCRIPTABLE_TYPES: &[&str] = &["text/html", "application/xhtml+xml", "application/xml", "text/xml", "image/svg+xml"];

const TO_HEADERS: &[Step] = &[Step::ReferencedBy { object_type: "HTTPHeader", field: "resource" }];

impl Rule for MissingHeaders {
    fn id(&self) -> &'static str {
        "missing-headers"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["HTTPResource"]
    }

    fn parameters(&self) -> &'static [&'static [Step]] {
        &[TO_HEADERS]
    }

    fn evaluate(&self, resource: &Ooi, headers: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        if headers.is_empty() {
            return Ok(Vec::new());
        }
        let headers: BTreeMap<String, &str> = headers.iter().filter_map(|h| Some((h.get("key")?.as_str()?.to_ascii_lowercase(), h.get("value").and_then(|v| v.as_str()).unwrap_or_default()))).collect();
        let scheme = key_path(resource.reference(), &["web_url", "scheme"]);
        let mut missing: Vec<(&FindingType, String)> = Vec::new();
        let lacks = |name: &str| !headers.contains_key(name);
        if scheme.as_deref() != Some("http") && lacks("strict-transport-security") {
            missing.push((&NO_HSTS, "Header strict-transport-security is missing.".into()));
        }
        let nonstandard: Vec<&str> = NONSTANDARD.iter().copied().filter(|h| headers.contains_key(*h)).collect();
        if !nonstandard.is_empty() {
            missing.push((&NONSTANDARD_HEADERS, format!("Deprecated or nonstandard headers are used: {}.", nonstandard.join(", "))));
        }
        if lacks("location") {
            let content_type = headers.get("content-type").and_then(|t| t.split(';').next()).unwrap_or_default().trim().to_ascii_lowercase();
            let checks: [(&str, &FindingType, bool); 5] = [
                ("x-frame-options", &NO_X_FRAME_OPTIONS, true),
                ("content-security-policy", &NO_CSP, SCRIPTABLE_TYPES.contains(&content_type.as_str())),
                ("permissions-policy", &NO_PERMISSIONS_POLICY, true),
                ("referrer-policy", &NO_REFERRER_POLICY, true),
                ("x-content-type-options", &NO_X_CONTENT_TYPE_OPTIONS, true),
            ];
            for (header, kind, applies) in checks {
                if applies && lacks(header) {
                    missing.push((kind, format!("Header {header} is missing.")));
                }
            }
        }
        let mut out = Vec::new();
        for (kind, description) in missing {
            out.extend(finding(resource.reference(), kind, description)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESOURCE: &str = "HTTPResource|internet|127.0.80.1|tcp|443|https|internet|a.test|https|internet|a.test|443|/";

    fn resource(scheme: &str) -> Ooi {
        let text = RESOURCE.replace("https|internet|a.test|443", &format!("{scheme}|internet|a.test|443"));
        Ooi::from_reference(&kat_core::Reference::parse(&text).expect("reference")).expect("resource")
    }

    fn headers(resource: &Ooi, pairs: &[(&str, &str)]) -> Vec<Ooi> {
        pairs.iter().map(|(k, v)| Ooi::build("HTTPHeader").reference("resource", resource.reference()).field("key", *k).field("value", *v).finish().expect("header")).collect()
    }

    fn finding_types(found: &[Ooi]) -> Vec<String> {
        found.iter().filter(|o| o.object_type() == "KATFindingType").filter_map(|o| Some(o.get("id")?.as_str()?.to_string())).collect()
    }

    #[test]
    fn each_missing_header_is_a_finding_on_the_resource() {
        let https = resource("https");
        let found = MissingHeaders.evaluate(&https, &headers(&https, &[("Content-Type", "text/html; charset=utf-8"), ("X-Frame-Options", "DENY"), ("Pragma", "no-cache")])).expect("evaluates");
        assert_eq!(finding_types(&found), ["KAT-NO-HSTS", "KAT-NONSTANDARD-HEADERS", "KAT-NO-CSP", "KAT-NO-PERMISSIONS-POLICY", "KAT-NO-REFERRER-POLICY", "KAT-NO-X-CONTENT-TYPE-OPTIONS"]);
        assert!(found.iter().filter(|o| o.object_type() == "Finding").all(|f| f.get("ooi").and_then(|v| v.as_str()) == Some(https.reference().as_str())));
    }

    #[test]
    fn a_well_configured_plain_http_resource_or_a_redirect_needs_less() {
        let http = resource("http");
        let all = [("Content-Type", "text/html"), ("x-frame-options", "DENY"), ("Content-Security-Policy", "default-src 'self'"), ("Permissions-Policy", "camera=()"), ("Referrer-Policy", "no-referrer"), ("X-Content-Type-Options", "nosniff")];
        assert!(MissingHeaders.evaluate(&http, &headers(&http, &all)).expect("evaluates").is_empty(), "no HSTS on plain HTTP");
        let https = resource("https");
        let redirect = MissingHeaders.evaluate(&https, &headers(&https, &[("Location", "https://a.test/home"), ("Strict-Transport-Security", "max-age=31536000")])).expect("evaluates");
        assert!(redirect.is_empty(), "{redirect:?}");
        let json = MissingHeaders.evaluate(&http, &headers(&http, &[("Content-Type", "application/json")])).expect("evaluates");
        assert!(!finding_types(&json).contains(&"KAT-NO-CSP".to_string()), "no CSP needed for JSON");
        assert!(MissingHeaders.evaluate(&http, &[]).expect("evaluates").is_empty(), "not fetched yet");
    }
}
