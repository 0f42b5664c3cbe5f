//! Certificate rules.
//! - `expiring-certificate`: an `X509Certificate` past its `valid_until`
//!   gives `KAT-CERTIFICATE-EXPIRED`, one that ends within
//!   [`EXPIRING_SOON_DAYS`] days `KAT-CERTIFICATE-EXPIRING-SOON` (both on
//!   the certificate). Time is the clock's when the rule runs, which is after
//!   every observation of the certificate, so each scan looks again.
//! - `ssl-certificate-hostname`: a `Website` whose `certificate` names
//!   neither its hostname nor a wildcard that covers it (one label deep, as
//!   browsers match) among its subject alternative names gives
//!   `KAT-SSL-CERT-HOSTNAME-MISMATCH` on the website; a certificate without
//!   DNS names is matched on its subject's common name. A website without a
//!   certificate gives nothing.

use kat_core::builtin::Step;
use kat_core::{CoreError, Ooi, Reference};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::finding_types::{CERTIFICATE_EXPIRED, CERTIFICATE_EXPIRING_SOON, SSL_CERT_HOSTNAME_MISMATCH};
use super::{finding, Rule};
use crate::keys::{key_part, key_path};

/// How many days before its end a certificate counts as expiring soon.
pub const EXPIRING_SOON_DAYS: i64 = 30;

/// The certificate expiry rule.
#[derive(Debug, Default)]
pub struct ExpiringCertificate;

impl ExpiringCertificate {
    /// What holds for `certificate` at `now`.
    pub fn evaluate_at(certificate: &Ooi, now: OffsetDateTime) -> Result<Vec<Ooi>, CoreError> {
        let Some(until) = certificate.get("valid_until").and_then(|v| v.as_str()).and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()) else { return Ok(Vec::new()) };
        let (kind, description) = if until <= now {
            (&CERTIFICATE_EXPIRED, format!("The certificate expired on {}.", until.date()))
        } else if until - now <= time::Duration::days(EXPIRING_SOON_DAYS) {
            (&CERTIFICATE_EXPIRING_SOON, format!("The certificate expires on {}.", until.date()))
        } else {
            return Ok(Vec::new());
        };
        Ok(finding(certificate.reference(), kind, description)?.into())
    }
}

impl Rule for ExpiringCertificate {
    fn id(&self) -> &'static str {
        "expiring-certificate"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["X509Certificate"]
    }

    fn evaluate(&self, certificate: &Ooi, _parameters: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        ExpiringCertificate::evaluate_at(certificate, OffsetDateTime::now_utc())
    }
}

/// The certificate hostname rule.
#[derive(Debug, Default)]
pub struct CertificateHostname;

const TO_CERTIFICATE: &[Step] = &[Step::Field("certificate")];
const TO_NAMES: &[Step] = &[Step::Field("certificate"), Step::ReferencedBy { object_type: "SubjectAlternativeNameHostname", field: "certificate" }];

/// Whether a certificate name (`*.example.nl` or `www.example.nl`) covers `hostname`.
pub fn name_covers(name: &str, hostname: &str) -> bool {
    let (name, hostname) = (name.trim_end_matches('.').to_ascii_lowercase(), hostname.trim_end_matches('.').to_ascii_lowercase());
    match name.strip_prefix("*.") {
        Some(parent) => hostname.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == hostname,
    }
}

impl Rule for CertificateHostname {
    fn id(&self) -> &'static str {
        "ssl-certificate-hostname"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["Website"]
    }

    fn parameters(&self) -> &'static [&'static [Step]] {
        &[TO_CERTIFICATE, TO_NAMES]
    }

    fn evaluate(&self, website: &Ooi, parameters: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        let Some(certificate) = parameters.iter().find(|o| o.object_type() == "X509Certificate") else { return Ok(Vec::new()) };
        let Some(hostname) = key_path(website.reference(), &["hostname", "name"]) else { return Ok(Vec::new()) };
        let mut names: Vec<String> = parameters
            .iter()
            .filter(|o| o.object_type() == "SubjectAlternativeNameHostname")
            .filter_map(|san| key_part(&Reference::parse(san.get("hostname")?.as_str()?).ok()?, "name"))
            .collect();
        if names.is_empty() {
            let subject = certificate.get("subject").and_then(|s| s.as_str()).unwrap_or_default();
            names.extend(subject.split(',').filter_map(|part| part.trim().strip_prefix("CN=")).map(str::to_string));
        }
        if names.iter().any(|name| name_covers(name, &hostname)) {
            return Ok(Vec::new());
        }
        names.sort();
        let description = format!("The certificate is for {}, not for {hostname}.", if names.is_empty() { "no hostname".to_string() } else { names.join(", ") });
        Ok(finding(website.reference(), &SSL_CERT_HOSTNAME_MISMATCH, description)?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(valid_until: &str) -> Ooi {
        Ooi::build("X509Certificate").field("issuer", "CN=Test CA").field("serial_number", "7").field("valid_from", "2020-01-01T00:00:00Z").field("valid_until", valid_until).field("subject", "CN=www.a.test").finish().expect("certificate")
    }

    fn ids(found: &[Ooi]) -> Vec<String> {
        found.iter().filter(|o| o.object_type() == "KATFindingType").filter_map(|o| Some(o.get("id")?.as_str()?.to_string())).collect()
    }

    #[test]
    fn a_certificate_is_expired_after_its_end_and_expiring_within_thirty_days_of_it() {
        let now = OffsetDateTime::parse("2026-06-01T00:00:00Z", &Rfc3339).expect("time");
        let at = |until: &str| ids(&ExpiringCertificate::evaluate_at(&certificate(until), now).expect("evaluates"));
        assert_eq!(at("2026-05-31T23:59:59Z"), ["KAT-CERTIFICATE-EXPIRED"]);
        assert_eq!(at("2026-06-01T00:00:00Z"), ["KAT-CERTIFICATE-EXPIRED"], "the last second counts as ended");
        assert_eq!(at("2026-07-01T00:00:00Z"), ["KAT-CERTIFICATE-EXPIRING-SOON"], "30 days ahead");
        assert!(at("2026-07-01T00:00:01Z").is_empty());
        assert!(at("not a date").is_empty());
    }

    #[test]
    fn names_cover_their_host_and_wildcards_one_label() {
        assert!(name_covers("www.a.test", "WWW.a.test."));
        assert!(name_covers("*.a.test", "www.a.test"));
        assert!(!name_covers("*.a.test", "a.test"));
        assert!(!name_covers("*.a.test", "x.www.a.test"));
        assert!(!name_covers("b.test", "a.test"));
    }

    #[test]
    fn a_website_whose_certificate_does_not_name_it_is_a_finding() {
        let website = Ooi::from_reference(&Reference::parse("Website|internet|127.0.0.1|tcp|443|https|internet|www.a.test").expect("reference")).expect("website");
        let cert = certificate("2030-01-01T00:00:00Z");
        let san = |name: &str| Ooi::build("SubjectAlternativeNameHostname").reference("certificate", cert.reference()).field("hostname", format!("Hostname|internet|{name}")).finish().expect("san");
        let check = |parameters: &[Ooi]| ids(&CertificateHostname.evaluate(&website, parameters).expect("evaluates"));
        assert!(check(&[cert.clone(), san("other.test"), san("*.a.test")]).is_empty(), "the wildcard covers it");
        assert_eq!(check(&[cert.clone(), san("other.test")]), ["KAT-SSL-CERT-HOSTNAME-MISMATCH"]);
        assert!(check(std::slice::from_ref(&cert)).is_empty(), "no names: the subject's CN=www.a.test");
        assert!(check(&[]).is_empty(), "no certificate, nothing to say");
    }
}
