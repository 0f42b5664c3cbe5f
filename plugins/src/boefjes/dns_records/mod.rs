//! `dns-records`: looks up a hostname's DNS records with hickory-resolver
//! and writes OpenKAT's `boefje/dns-records` JSON, so that OpenKAT's and our
//! `kat_dns_normalize` read it. Each answer is written in dnspython's
//! message text form, headed `RESOLVER: <ip>`, separated by blank lines.
//!
//! Settings: `RECORD_TYPES` (default as OpenKAT), `REMOTE_NS` (`ip` or
//! `ip:port`; default the system resolvers), `TIMEOUT_MS` (default 5000).
//! A name without records is left out; a name that does not exist gives an
//! `NXDOMAIN` block; a timeout or unreachable server fails the run. The TXT
//! records of `_dmarc.<hostname>` (the DMARC policy) are written as
//! OpenKAT's `dmarc_response`; DKIM is not looked up (`NXDOMAIN`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::Resolver;

use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::Reference;

use super::{number_setting, Boefje, BoefjeError, BoefjeRun, JobEnv, RawFile};

/// The record types looked up when `RECORD_TYPES` is not set (OpenKAT's list).
pub const DEFAULT_RECORD_TYPES: &str = "A,AAAA,CAA,CERT,RP,SRV,TXT,MX,NS,CNAME,DNAME,SOA";

/// The DNS records boefje.
#[derive(Debug, Default)]
pub struct DnsRecords;

impl Boefje for DnsRecords {
    fn manifest(&self) -> BoefjeManifest {
        super::manifest("dns-records/boefje.json", include_str!("boefje.json"))
    }

    fn schema(&self) -> Option<SettingsSchema> {
        SettingsSchema::parse("dns-records/schema.json", include_str!("schema.json")).ok()
    }

    fn run<'a>(&'a self, input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move {
            if input.object_type() != "Hostname" {
                return Err(BoefjeError::WrongInput(input.to_string()));
            }
            let hostname = input.human_readable();
            let types = record_types(env.get("RECORD_TYPES").map(|s| s.expose().as_str()).unwrap_or(DEFAULT_RECORD_TYPES))?;
            let timeout = Duration::from_millis(number_setting(env, "TIMEOUT_MS", 5000u64)?.max(1));
            let (resolver, server) = resolver(env.get("REMOTE_NS").map(|s| s.expose().as_str()), timeout)?;
            let fqdn = format!("{}.", hostname.trim_end_matches('.'));
            let mut blocks = Vec::new();
            let mut nx_domain = false;
            for rtype in types {
                match resolver.lookup(fqdn.as_str(), rtype).await {
                    Ok(lookup) => {
                        let answers: Vec<String> = lookup.answers().iter().map(ToString::to_string).collect();
                        blocks.push(block(&server, &fqdn, rtype, "NOERROR", &answers));
                    }
                    Err(e) if e.is_nx_domain() => {
                        blocks.push(block(&server, &fqdn, rtype, "NXDOMAIN", &[]));
                        nx_domain = true;
                        break;
                    }
                    Err(e) if e.is_no_records_found() => {}
                    Err(e) => return Err(BoefjeError::Scan(format!("looking up {rtype} records of {hostname} at {server}: {e}"))),
                }
            }
            let dmarc = dmarc_response(&resolver, &server, &fqdn, nx_domain).await;
            let raw = serde_json::json!({
                "dns_records": blocks.join("\n"),
                "dkim_response": "NXDOMAIN",
                "dmarc_response": dmarc,
            });
            Ok(vec![RawFile { name: "dns-records.json".into(), mime_types: vec!["boefje/dns-records".into()], content: raw.to_string().into_bytes() }])
        })
    }
}

/// OpenKAT's `dmarc_response`: the answer to the TXT query of `_dmarc.<fqdn>` in the text form of the other
/// answers, `NXDOMAIN` when that name does not exist (or the hostname itself does not), `Timeout` when the lookup
/// failed otherwise (the rest of the run stands).
async fn dmarc_response(resolver: &Resolver<TokioRuntimeProvider>, server: &str, fqdn: &str, nx_domain: bool) -> String {
    if nx_domain {
        return "NXDOMAIN".into();
    }
    let name = format!("_dmarc.{fqdn}");
    match resolver.lookup(name.as_str(), RecordType::TXT).await {
        Ok(lookup) => {
            let answers: Vec<String> = lookup.answers().iter().map(ToString::to_string).collect();
            block(server, &name, RecordType::TXT, "NOERROR", &answers)
        }
        Err(e) if e.is_nx_domain() => "NXDOMAIN".into(),
        Err(e) if e.is_no_records_found() => block(server, &name, RecordType::TXT, "NOERROR", &[]),
        Err(_) => "Timeout".into(),
    }
}

/// Parse `RECORD_TYPES`, refusing unknown types by name.
fn record_types(spec: &str) -> Result<Vec<RecordType>, BoefjeError> {
    spec.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let upper = t.to_ascii_uppercase();
            // hickory has no name for RP (RFC 1183, type 17); OpenKAT asks for it by default.
            let parsed = if upper == "RP" { Ok(RecordType::from(17u16)) } else { upper.parse::<RecordType>() };
            match parsed {
                Ok(RecordType::Unknown(_)) if upper != "RP" => Err(BoefjeError::Setting { key: "RECORD_TYPES".into(), reason: format!("unknown record type {t:?}") }),
                Ok(known) => Ok(known),
                Err(_) => Err(BoefjeError::Setting { key: "RECORD_TYPES".into(), reason: format!("unknown record type {t:?}") }),
            }
        })
        .collect()
}

/// Parse `REMOTE_NS`: an IP address with an optional port.
fn parse_server(spec: &str) -> Result<SocketAddr, BoefjeError> {
    let spec = spec.trim();
    spec.parse::<SocketAddr>()
        .or_else(|_| spec.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| BoefjeError::Setting { key: "REMOTE_NS".into(), reason: "expected an IP address with an optional port, such as 1.1.1.1 or 127.0.0.1:5353".into() })
}

pub(super) fn resolver(remote_ns: Option<&str>, timeout: Duration) -> Result<(Resolver<TokioRuntimeProvider>, String), BoefjeError> {
    let mut builder = match remote_ns {
        Some(spec) => {
            let addr = parse_server(spec)?;
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut ns.connections {
                connection.port = addr.port();
            }
            Resolver::builder_with_config(ResolverConfig::from_parts(None, Vec::new(), vec![ns]), TokioRuntimeProvider::default())
        }
        None => Resolver::builder_tokio().map_err(|e| BoefjeError::Scan(format!("cannot read the system resolver configuration: {e}")))?,
    };
    let server = remote_ns.map(str::trim).unwrap_or("system").to_string();
    let options = builder.options_mut();
    options.timeout = timeout;
    options.attempts = 1;
    options.cache_size = 0;
    options.ndots = 0;
    let resolver = builder.build().map_err(|e| BoefjeError::Scan(format!("cannot build the resolver: {e}")))?;
    Ok((resolver, server))
}

/// One answer in dnspython's message text form.
pub(super) fn block(server: &str, fqdn: &str, rtype: RecordType, rcode: &str, answers: &[String]) -> String {
    let mut text = format!("RESOLVER: {server}\nid 0\nopcode QUERY\nrcode {rcode}\nflags QR RD RA\n;QUESTION\n{fqdn} IN {rtype}\n;ANSWER\n");
    for answer in answers {
        text.push_str(answer);
        text.push('\n');
    }
    text.push_str(";AUTHORITY\n;ADDITIONAL\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert_eq!(record_types("a, mx").map(|t| t.len()).ok(), Some(2));
        assert!(record_types("A,BOGUS").is_err());
        assert_eq!(parse_server("127.0.0.1:5353").map(|a| a.port()).ok(), Some(5353));
        assert_eq!(parse_server("1.1.1.1").map(|a| a.port()).ok(), Some(53));
        assert_eq!(parse_server("[::1]:53").map(|a| a.port()).ok(), Some(53));
        assert!(parse_server("dns.example").is_err());
    }
}
