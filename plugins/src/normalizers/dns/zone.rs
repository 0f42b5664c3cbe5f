//! `kat_dns_zone_normalize`: the SOA answer of the `dns-zone` boefje
//! (`boefje/dns-zone`) to the zone it names.
//!
//! The raw text is one answer in dnspython's message text form after a
//! first line naming the resolver, as OpenKAT's normalizer reads it. Its SOA
//! record gives, as in `kat_dns_normalize`, the `DNSZone`, the apex
//! `Hostname` (linked to the zone), the SOA name server's `Hostname` and the
//! `DNSSOARecord`. The scanned object is given back with what was learnt,
//! which affirms it: a scanned `Hostname` with its `dns_zone`, a scanned
//! `DNSZone` with its `parent`. An answer without an SOA record gives
//! nothing.

use kat_core::plugin::NormalizerManifest;
use kat_core::{Ooi, Reference};

use super::{responses, Collected};
use crate::keys::key_part;
use crate::normalizers::{NormalizeError, Normalizer};

/// The DNS zone normalizer.
#[derive(Debug, Default)]
pub struct DnsZoneNormalizer;

impl Normalizer for DnsZoneNormalizer {
    fn manifest(&self) -> NormalizerManifest {
        crate::normalizers::manifest("kat_dns_zone_normalize", include_str!("zone.json"))
    }

    fn normalize(&self, input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError> {
        let text = std::str::from_utf8(raw).map_err(|e| NormalizeError::parse(format!("the DNS answer is not UTF-8: {e}")))?;
        // OpenKAT's first line names the resolver in a form of its own; ours is `RESOLVER: <ip>` already.
        let (first, message) = text.split_once('\n').unwrap_or((text, ""));
        let text = if first.starts_with("RESOLVER:") { text.to_string() } else { format!("RESOLVER: {first}\n{message}") };
        let mut collected = Collected::default();
        match input.object_type() {
            "Hostname" => {
                collected.hostname(input.human_readable())?;
            }
            "DNSZone" => {}
            other => return Err(NormalizeError::parse(format!("a dns-zone answer belongs to a Hostname or DNSZone, not to a {other}"))),
        }
        for response in responses(&text)? {
            for rr in response.answer.iter().filter(|rr| rr.rtype == "SOA") {
                collected.record(rr)?;
            }
        }
        let Some(found) = collected.zone.as_ref().map(|zone| zone.reference().clone()) else { return Ok(Vec::new()) };
        let mut objects = collected.finish()?;
        if input.object_type() == "DNSZone" && &found != input {
            let hostname = key_part(input, "hostname").and_then(|h| Reference::parse(&h).ok()).ok_or_else(|| NormalizeError::parse(format!("{input} names no hostname")))?;
            objects.push(Ooi::build("DNSZone").reference("hostname", &hostname).reference("parent", &found).finish()?);
        }
        Ok(objects)
    }
}
