//! `kat_dns_normalize`: OpenKAT's `boefje/dns-records` raw format to objects.
//!
//! The raw file is JSON; its `dns_records` field holds dnspython's text form
//! of each answer (parsed by [`answers`]). Every owner name and every
//! name a record points to becomes a Hostname; A and AAAA records give IP
//! addresses; an SOA answer gives the DNSZone, to which the zone's hostnames
//! are linked. Values are written as OpenKAT writes them (`10 mail.example.nl.`
//! for MX, the target with its trailing dot for NS and CNAME, TXT without its
//! outer quotes), so primary keys match those in an OpenKAT graph. The TXT
//! answers of `dmarc_response` (the `_dmarc.` name's) become
//! `DMARCTXTRecord`s of the input hostname, as OpenKAT gives them.

use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};
use rustc_hash::FxHashMap as HashMap;

use serde_json::Value;

use kat_core::plugin::NormalizerManifest;
use kat_core::{Ooi, Reference};

pub mod answers;
pub mod zone;

use answers::{parse_mx, parse_responses, parse_soa, DnsResponse, RecordLine};
use super::{NormalizeError, Normalizer};

/// The DNS records normalizer.
#[derive(Debug, Default)]
pub struct DnsNormalizer;

/// Objects collected in first-seen order, each once.
#[derive(Default)]
struct Collected {
    hostnames: Vec<Ooi>,
    others: Vec<Ooi>,
    /// Where each collected object is ([`Collected::at`]), found by its primary key: the keys stay in the
    /// objects, not copied into the table.
    seen: HashTable<u32>,
    /// Each hostname's reference by its name as written (most records repeat a few owner names).
    names: HashMap<String, Reference>,
    zone: Option<Ooi>,
}

/// The bit of a [`Collected::seen`] entry that says the object is in `hostnames` (else in `others`).
const IN_HOSTNAMES: u32 = 1 << 31;

/// The hash of a primary key in [`Collected::seen`].
fn key_hash(key: &Reference) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(key.as_str())
}

impl Collected {
    /// Room for the objects of `records` answer records (most give one or two).
    fn with_capacity(records: usize) -> Collected {
        Collected { others: Vec::with_capacity(records), seen: HashTable::with_capacity(2 * records), ..Collected::default() }
    }

    /// The object a [`Collected::seen`] entry points at.
    fn at<'a>(hostnames: &'a [Ooi], others: &'a [Ooi], entry: u32) -> &'a Ooi {
        match entry & IN_HOSTNAMES {
            0 => &others[entry as usize],
            _ => &hostnames[(entry & !IN_HOSTNAMES) as usize],
        }
    }

    /// Add `ooi` to `hostnames` (or else `others`) unless an object with its key is collected already.
    fn add(&mut self, ooi: Ooi, hostname: bool) -> Result<(), NormalizeError> {
        let Collected { hostnames, others, seen, .. } = self;
        let list_len = if hostname { hostnames.len() } else { others.len() };
        let index = u32::try_from(list_len).ok().filter(|i| i & IN_HOSTNAMES == 0).ok_or_else(|| NormalizeError::parse("too many objects in one raw file".into()))?;
        let hash = key_hash(ooi.reference());
        let same = |entry: &u32| Collected::at(hostnames, others, *entry).reference() == ooi.reference();
        let rehash = |entry: &u32| key_hash(Collected::at(hostnames, others, *entry).reference());
        if let Entry::Vacant(vacant) = seen.entry(hash, same, rehash) {
            vacant.insert(if hostname { index | IN_HOSTNAMES } else { index });
            if hostname { hostnames.push(ooi) } else { others.push(ooi) }
        }
        Ok(())
    }

    fn hostname(&mut self, written: &str) -> Result<Reference, NormalizeError> {
        if let Some(reference) = self.names.get(written) {
            return Ok(reference.clone());
        }
        let name = written.trim_end_matches('.').to_ascii_lowercase();
        let host = Ooi::build("Hostname").reference("network", Reference::internet()).field("name", name).finish()?;
        let reference = host.reference().clone();
        self.add(host, true)?;
        self.names.insert(written.to_string(), reference.clone());
        Ok(reference)
    }

    fn push(&mut self, ooi: Ooi) -> Result<(), NormalizeError> {
        self.add(ooi, false)
    }

    fn record(&mut self, rr: &RecordLine) -> Result<(), NormalizeError> {
        let hostname = self.hostname(rr.name)?;
        let record = |object_type: &str, value: &str| {
            Ooi::build(object_type).reference("hostname", &hostname).field("dns_record_type", &*rr.rtype).field("value", value).field("ttl", rr.ttl)
        };
        let ooi = match &*rr.rtype {
            "A" | "AAAA" => {
                let (ip_type, record_type, valid) = if rr.rtype == "A" {
                    ("IPAddressV4", "DNSARecord", rr.rdata.parse::<std::net::Ipv4Addr>().is_ok())
                } else {
                    ("IPAddressV6", "DNSAAAARecord", rr.rdata.parse::<std::net::Ipv6Addr>().is_ok())
                };
                if !valid {
                    return Err(NormalizeError::parse(format!("invalid {} record address {:?}", rr.rtype, rr.rdata)));
                }
                let ip = Ooi::build(ip_type).reference("network", Reference::internet()).field("address", &*rr.rdata).finish()?;
                let record = record(record_type, &rr.rdata).reference("address", ip.reference()).finish()?;
                self.push(ip)?;
                record
            }
            "TXT" => record("DNSTXTRecord", rr.rdata.trim_matches('"')).finish()?,
            "MX" => {
                let (preference, exchange) = parse_mx(&rr.rdata).ok_or_else(|| NormalizeError::parse(format!("invalid MX record {:?}", rr.rdata)))?;
                let mut builder = record("DNSMXRecord", &rr.rdata).field("preference", preference);
                if exchange != "." {
                    builder = builder.reference("mail_hostname", &self.hostname(&exchange)?);
                }
                builder.finish()?
            }
            "NS" => {
                let target = self.hostname(&rr.rdata)?;
                record("DNSNSRecord", &rr.rdata).reference("name_server_hostname", &target).finish()?
            }
            "CNAME" => {
                let target = self.hostname(&rr.rdata)?;
                record("DNSCNAMERecord", &rr.rdata).reference("target_hostname", &target).finish()?
            }
            "SOA" => {
                let soa = parse_soa(&rr.rdata).ok_or_else(|| NormalizeError::parse(format!("invalid SOA record {:?}", rr.rdata)))?;
                let mname = self.hostname(&soa.mname)?;
                let zone = Ooi::build("DNSZone").reference("hostname", &hostname).finish()?;
                self.zone.get_or_insert(zone);
                record("DNSSOARecord", &rr.rdata)
                    .reference("soa_hostname", &mname)
                    .field("serial", soa.serial)
                    .field("refresh", soa.refresh)
                    .field("retry", soa.retry)
                    .field("expire", soa.expire)
                    .field("minimum", soa.minimum)
                    .finish()?
            }
            _ => return Ok(()),
        };
        self.push(ooi)
    }

    /// Link every hostname inside the zone to it, then list zone, hostnames, the rest.
    fn finish(mut self) -> Result<Vec<Ooi>, NormalizeError> {
        let mut out = Vec::with_capacity(self.hostnames.len() + self.others.len() + 1);
        if let Some(zone) = self.zone.take() {
            let zone_name = zone.reference().human_readable().to_string();
            let suffix = format!(".{zone_name}");
            for host in &mut self.hostnames {
                let name = host.reference().human_readable().to_string();
                if name == zone_name || name.ends_with(&suffix) {
                    host.set("dns_zone", zone.reference().as_str().into())?;
                }
            }
            out.push(zone);
        }
        out.append(&mut self.hostnames);
        out.append(&mut self.others);
        Ok(out)
    }
}

fn responses(text: &str) -> Result<Vec<DnsResponse<'_>>, NormalizeError> {
    parse_responses(text).map_err(|e| NormalizeError::parse(format!("invalid DNS answer text: {e}")))
}

impl Normalizer for DnsNormalizer {
    fn manifest(&self) -> NormalizerManifest {
        super::manifest("kat_dns_normalize", include_str!("normalizer.json"))
    }

    fn normalize(&self, input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError> {
        let json: Value = serde_json::from_slice(raw).map_err(|e| NormalizeError::parse(format!("not JSON: {e}")))?;
        let records = json.get("dns_records").and_then(Value::as_str).ok_or_else(|| NormalizeError::parse("no \"dns_records\" text field".into()))?;
        let answers = responses(records)?;
        let mut collected = Collected::with_capacity(answers.iter().map(|r| r.answer.len()).sum());
        if input.object_type() == "Hostname" {
            collected.hostname(input.human_readable())?;
        }
        for response in answers {
            if response.rcode == Some("NXDOMAIN") && input.object_type() == "Hostname" {
                collected.push(Ooi::build("NXDOMAIN").reference("hostname", input).finish()?)?;
            }
            for rr in &response.answer {
                collected.record(rr)?;
            }
        }
        // The DMARC policy (the TXT records of `_dmarc.<hostname>`) belongs to the hostname, as OpenKAT has it.
        if let Some(dmarc) = json.get("dmarc_response").and_then(Value::as_str).filter(|t| t.contains(";ANSWER"))
            && input.object_type() == "Hostname"
        {
            for response in responses(dmarc)? {
                for rr in response.answer.iter().filter(|rr| rr.rtype == "TXT") {
                    collected.push(Ooi::build("DMARCTXTRecord").reference("hostname", input).field("value", rr.rdata.trim_matches('"')).field("ttl", rr.ttl).finish()?)?;
                }
            }
        }
        collected.finish()
    }
}
