//! Mail rules, on the domains that were scanned for DNS records.
//! - `missing-spf`: a domain without a TXT record starting `v=spf1` gives
//!   `KAT-NO-SPF`.
//! - `missing-dmarc`: a domain without a `DMARCTXTRecord` (the `_dmarc.`
//!   name's TXT record) gives `KAT-NO-DMARC`.
//!
//! Both speak only of a domain that is the apex of a DNS zone, which is how
//! they tell a domain (`example.nl`) from a host name in it
//! (`www.example.nl`; OpenKAT uses the public suffix list): they consume a
//! hostname's own `DNSSOARecord` and put the finding on that hostname. A
//! name that was never looked up, or does not exist (its SOA record goes
//! with the next lookup), has no SOA record and gets nothing; a host name
//! costs the rules nothing.

use kat_core::builtin::Step;
use kat_core::{CoreError, Ooi};

use super::finding_types::{FindingType, NO_DMARC, NO_SPF};
use super::{finding, Rule};

/// A rule that a domain publishes a TXT policy record: the records a path from its SOA record reaches, the
/// prefix one of them must start with (compared without case), and what it concludes when none does.
#[derive(Debug)]
pub struct MissingPolicy {
    id: &'static str,
    records: &'static [&'static [Step]],
    prefix: &'static str,
    kind: &'static FindingType,
    description: &'static str,
}

/// `missing-spf`: no TXT record of the domain starts `v=spf1`.
pub const MISSING_SPF: MissingPolicy = MissingPolicy {
    id: "missing-spf",
    records: &[&[Step::Field("hostname"), Step::ReferencedBy { object_type: "DNSTXTRecord", field: "hostname" }]],
    prefix: "v=spf1",
    kind: &NO_SPF,
    description: "This domain has no SPF record.",
};

/// `missing-dmarc`: no DMARC record of the domain starts `v=DMARC1`.
pub const MISSING_DMARC: MissingPolicy = MissingPolicy {
    id: "missing-dmarc",
    records: &[&[Step::Field("hostname"), Step::ReferencedBy { object_type: "DMARCTXTRecord", field: "hostname" }]],
    prefix: "v=dmarc1",
    kind: &NO_DMARC,
    description: "This domain has no DMARC policy.",
};

impl Rule for MissingPolicy {
    fn id(&self) -> &'static str {
        self.id
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["DNSSOARecord"]
    }

    fn parameters(&self) -> &'static [&'static [Step]] {
        self.records
    }

    /// The finding on the SOA record's hostname when none of `records` starts with the prefix.
    fn evaluate(&self, soa: &Ooi, records: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        let Some(hostname) = soa.get("hostname").and_then(|h| h.as_str()).and_then(|h| kat_core::Reference::parse(h).ok()) else { return Ok(Vec::new()) };
        let found = records.iter().filter_map(|o| o.get("value")?.as_str()).any(|v| v.trim_start().to_ascii_lowercase().starts_with(self.prefix));
        if found {
            return Ok(Vec::new());
        }
        Ok(finding(&hostname, self.kind, self.description.to_string())?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(object_type: &str, value: &str) -> Ooi {
        let builder = Ooi::build(object_type).field("hostname", "Hostname|internet|a.test").field("value", value);
        let builder = if object_type == "DNSTXTRecord" { builder.field("dns_record_type", "TXT") } else { builder };
        builder.finish().expect("record")
    }

    fn soa() -> Ooi {
        Ooi::build("DNSSOARecord").field("hostname", "Hostname|internet|a.test").field("dns_record_type", "SOA").field("value", "ns.a.test. h.a.test. 1 2 3 4 5").field("soa_hostname", "Hostname|internet|ns.a.test").finish().expect("soa")
    }

    fn found(conclusion: &[Ooi]) -> Vec<(String, String)> {
        conclusion.iter().filter(|o| o.object_type() == "Finding").filter_map(|o| Some((o.get("finding_type")?.as_str()?.to_string(), o.get("ooi")?.as_str()?.to_string()))).collect()
    }

    #[test]
    fn a_domain_without_policies_is_a_finding_each_on_the_hostname() {
        let on_host = |kind: &str| vec![(format!("KATFindingType|{kind}"), "Hostname|internet|a.test".to_string())];
        assert_eq!(found(&MISSING_SPF.evaluate(&soa(), &[txt("DNSTXTRecord", "google-site-verification=x")]).expect("evaluates")), on_host("KAT-NO-SPF"));
        assert_eq!(found(&MISSING_DMARC.evaluate(&soa(), &[]).expect("evaluates")), on_host("KAT-NO-DMARC"));
        assert!(MISSING_SPF.evaluate(&soa(), &[txt("DNSTXTRecord", "V=SPF1 -all")]).expect("evaluates").is_empty());
        assert!(MISSING_DMARC.evaluate(&soa(), &[txt("DMARCTXTRecord", "v=DMARC1; p=reject")]).expect("evaluates").is_empty());
    }
}
