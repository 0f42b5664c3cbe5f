//! Mail rules, on the domains that were scanned for DNS records.
//! - `missing-spf`: a domain without a TXT record starting `v=spf1` gives
//!   `KAT-NO-SPF`.
//! - `missing-dmarc`: a domain without a `DMARCTXTRecord` (the `_dmarc.`
//!   name's TXT record) gives `KAT-NO-DMARC`.
//!
//! Both look only at a `Hostname` that is the apex of a DNS zone, which is
//! how they tell a domain (`example.nl`) from a host name in it
//! (`www.example.nl`; OpenKAT uses the public suffix list): the hostname
//! has an SOA record of its own. A name that does not exist (NXDOMAIN), or
//! that was never looked up (no SOA record stored), gives nothing.

use kat_core::builtin::Step;
use kat_core::{CoreError, Ooi};

use super::finding_types::{FindingType, NO_DMARC, NO_SPF};
use super::{finding, Rule};

const TO_TXT: &[Step] = &[Step::ReferencedBy { object_type: "DNSTXTRecord", field: "hostname" }];
const TO_DMARC: &[Step] = &[Step::ReferencedBy { object_type: "DMARCTXTRecord", field: "hostname" }];
const TO_SOA: &[Step] = &[Step::ReferencedBy { object_type: "DNSSOARecord", field: "hostname" }];
const TO_NXDOMAIN: &[Step] = &[Step::ReferencedBy { object_type: "NXDOMAIN", field: "hostname" }];

/// The finding when `hostname` is a zone apex that exists and none of `records` (its TXT or DMARC records)
/// starts with `prefix` (compared without case).
fn missing(hostname: &Ooi, parameters: &[Ooi], record_type: &str, prefix: &str, kind: &FindingType, description: &str) -> Result<Vec<Ooi>, CoreError> {
    let has = |object_type: &str| parameters.iter().any(|o| o.object_type() == object_type);
    if !has("DNSSOARecord") || has("NXDOMAIN") {
        return Ok(Vec::new());
    }
    let found = parameters.iter().filter(|o| o.object_type() == record_type).filter_map(|o| o.get("value")?.as_str()).any(|v| v.trim_start().to_ascii_lowercase().starts_with(prefix));
    if found {
        return Ok(Vec::new());
    }
    Ok(finding(hostname.reference(), kind, description.to_string())?.into())
}

/// The missing SPF rule.
#[derive(Debug, Default)]
pub struct MissingSpf;

impl Rule for MissingSpf {
    fn id(&self) -> &'static str {
        "missing-spf"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["Hostname"]
    }

    fn parameters(&self) -> &'static [&'static [Step]] {
        &[TO_TXT, TO_SOA, TO_NXDOMAIN]
    }

    fn evaluate(&self, hostname: &Ooi, parameters: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        missing(hostname, parameters, "DNSTXTRecord", "v=spf1", &NO_SPF, "This domain has no SPF record.")
    }
}

/// The missing DMARC rule.
#[derive(Debug, Default)]
pub struct MissingDmarc;

impl Rule for MissingDmarc {
    fn id(&self) -> &'static str {
        "missing-dmarc"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["Hostname"]
    }

    fn parameters(&self) -> &'static [&'static [Step]] {
        &[TO_DMARC, TO_SOA, TO_NXDOMAIN]
    }

    fn evaluate(&self, hostname: &Ooi, parameters: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        missing(hostname, parameters, "DMARCTXTRecord", "v=dmarc1", &NO_DMARC, "This domain has no DMARC policy.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostname() -> Ooi {
        Ooi::build("Hostname").field("network", "Network|internet").field("name", "a.test").finish().expect("hostname")
    }

    fn txt(object_type: &str, value: &str) -> Ooi {
        let builder = Ooi::build(object_type).field("hostname", "Hostname|internet|a.test").field("value", value);
        let builder = if object_type == "DNSTXTRecord" { builder.field("dns_record_type", "TXT") } else { builder };
        builder.finish().expect("record")
    }

    fn soa() -> Ooi {
        Ooi::build("DNSSOARecord").field("hostname", "Hostname|internet|a.test").field("dns_record_type", "SOA").field("value", "ns.a.test. h.a.test. 1 2 3 4 5").field("soa_hostname", "Hostname|internet|ns.a.test").finish().expect("soa")
    }

    fn ids(found: &[Ooi]) -> Vec<String> {
        found.iter().filter(|o| o.object_type() == "KATFindingType").filter_map(|o| Some(o.get("id")?.as_str()?.to_string())).collect()
    }

    #[test]
    fn a_zone_apex_without_policies_is_a_finding_each() {
        let host = hostname();
        assert_eq!(ids(&MissingSpf.evaluate(&host, &[soa(), txt("DNSTXTRecord", "google-site-verification=x")]).expect("evaluates")), ["KAT-NO-SPF"]);
        assert_eq!(ids(&MissingDmarc.evaluate(&host, &[soa()]).expect("evaluates")), ["KAT-NO-DMARC"]);
        assert!(MissingSpf.evaluate(&host, &[soa(), txt("DNSTXTRecord", "V=SPF1 -all")]).expect("evaluates").is_empty());
        assert!(MissingDmarc.evaluate(&host, &[soa(), txt("DMARCTXTRecord", "v=DMARC1; p=reject")]).expect("evaluates").is_empty());
    }

    #[test]
    fn names_that_are_not_a_scanned_existing_zone_apex_give_nothing() {
        let host = hostname();
        assert!(MissingSpf.evaluate(&host, &[]).expect("evaluates").is_empty(), "no SOA: not a domain, or not looked up");
        let nx = Ooi::build("NXDOMAIN").field("hostname", "Hostname|internet|a.test").finish().expect("nx");
        assert!(MissingDmarc.evaluate(&host, &[soa(), nx]).expect("evaluates").is_empty());
    }
}
