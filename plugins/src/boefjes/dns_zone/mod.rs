//! `dns-zone`: the DNS zone a name belongs to. For a `Hostname` it asks for
//! the SOA record of the name, then of each parent name in turn
//! (`www.example.nl`, `example.nl`, `nl`) until one has its own: that name
//! is the zone's apex. For a `DNSZone` it starts at the zone's parent name,
//! so it finds the parent zone (as OpenKAT's `dns-zone` does).
//!
//! The raw file (`boefje/dns-zone`) is the SOA answer in dnspython's message
//! text form headed `RESOLVER: <ip>`, as `dns-records` writes each answer and
//! OpenKAT's `kat_dns_zone_normalize` reads it (the first line, then the
//! message). When no name up to the top-level domain has an SOA record the
//! answer section is empty. Settings as `dns-records`: `REMOTE_NS`,
//! `TIMEOUT_MS`; a timeout or unreachable server fails the run.

use std::time::Duration;

use hickory_resolver::proto::rr::RecordType;

use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::Reference;

use super::dns_records::{block, resolver};
use super::{number_setting, Boefje, BoefjeError, BoefjeRun, JobEnv, RawFile};

/// The DNS zone boefje.
#[derive(Debug, Default)]
pub struct DnsZone;

impl Boefje for DnsZone {
    fn manifest(&self) -> BoefjeManifest {
        super::manifest("dns-zone/boefje.json", include_str!("boefje.json"))
    }

    fn schema(&self) -> Option<SettingsSchema> {
        SettingsSchema::parse("dns-zone/schema.json", include_str!("schema.json")).ok()
    }

    fn run<'a>(&'a self, input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move {
            let candidates = match input.object_type() {
                "Hostname" => names_upwards(input.human_readable()),
                "DNSZone" => names_upwards(input.human_readable()).into_iter().skip(1).collect(),
                _ => return Err(BoefjeError::WrongInput(input.to_string())),
            };
            let timeout = Duration::from_millis(number_setting(env, "TIMEOUT_MS", 5000u64)?.max(1));
            let (resolver, server) = resolver(env.get("REMOTE_NS").map(|s| s.expose().as_str()), timeout)?;
            let mut answer = None;
            for name in &candidates {
                let fqdn = format!("{name}.");
                match resolver.lookup(fqdn.as_str(), RecordType::SOA).await {
                    Ok(lookup) => {
                        // Only the name's own SOA record makes it a zone apex (a CNAME chain may end in another's).
                        let own: Vec<String> = lookup.answers().iter().filter(|r| r.record_type() == RecordType::SOA && r.name.to_ascii().eq_ignore_ascii_case(&fqdn)).map(ToString::to_string).collect();
                        if !own.is_empty() {
                            answer = Some(block(&server, &fqdn, RecordType::SOA, "NOERROR", &own));
                            break;
                        }
                    }
                    Err(e) if e.is_nx_domain() || e.is_no_records_found() => {}
                    Err(e) => return Err(BoefjeError::Scan(format!("looking up the SOA record of {name} at {server}: {e}"))),
                }
            }
            let last = candidates.last().map(|n| format!("{n}.")).unwrap_or_else(|| ".".into());
            let text = answer.unwrap_or_else(|| block(&server, &last, RecordType::SOA, "NOERROR", &[]));
            Ok(vec![RawFile { name: "dns-zone.txt".into(), mime_types: vec!["boefje/dns-zone".into()], content: text.into_bytes() }])
        })
    }
}

/// `name` and each name above it up to the top-level domain: `www.example.nl`, `example.nl`, `nl`.
fn names_upwards(name: &str) -> Vec<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
    (0..labels.len()).map(|i| labels[i..].join(".")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_up_to_the_top_level_domain() {
        assert_eq!(names_upwards("www.Example.nl."), ["www.example.nl", "example.nl", "nl"]);
        assert_eq!(names_upwards("nl"), ["nl"]);
        assert!(names_upwards("").is_empty());
    }
}
