//! `kat_masscan_normalize`: masscan's JSON output (`masscan -oJ`, raw
//! `boefje/masscan`) to IP addresses and open ports.
//!
//! masscan writes one record per answer: `{"ip", "timestamp", "ports":
//! [{"port", "proto", "status", "reason", "ttl"}]}` inside a JSON array.
//! Older masscan versions leave a comma after the last record (`},\n]`);
//! that one comma is accepted. Each address that answered gives one
//! `IPAddressV4`/`IPAddressV6` (a range scan finds addresses that were not
//! known) and each open port one `IPPort` with state `open`, in the order
//! masscan wrote them, each once. Ports in another state (`--show closed`)
//! are skipped. A file that is not a complete array (a killed scan) is
//! refused, so a partial scan never replaces a complete observation; the
//! `masscan` boefje writes `[]` when masscan found nothing.

use std::collections::HashSet;
use std::net::IpAddr;

use kat_core::plugin::NormalizerManifest;
use kat_core::{Ooi, Reference};
use serde::Deserialize;

use super::{NormalizeError, Normalizer};

/// The masscan normalizer.
#[derive(Debug, Default)]
pub struct MasscanNormalizer;

/// One masscan record (the fields the normalizer reads).
#[derive(Debug, Deserialize)]
struct Record {
    ip: String,
    #[serde(default)]
    ports: Vec<Port>,
}

#[derive(Debug, Deserialize)]
struct Port {
    port: u16,
    #[serde(default = "tcp")]
    proto: String,
    #[serde(default)]
    status: Option<String>,
}

fn tcp() -> String {
    "tcp".into()
}

impl Normalizer for MasscanNormalizer {
    fn manifest(&self) -> NormalizerManifest {
        super::manifest("kat_masscan_normalize", include_str!("normalizer.json"))
    }

    fn normalize(&self, _input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError> {
        let text = std::str::from_utf8(raw).map_err(|e| NormalizeError::parse(format!("masscan output is not UTF-8: {e}")))?;
        let records: Vec<Record> = serde_json::from_str(&without_trailing_comma(text)).map_err(|e| NormalizeError::parse(format!("not complete masscan JSON output (masscan -oJ): {e}")))?;
        let mut objects = Vec::new();
        let mut seen = HashSet::new();
        for record in records {
            let address: IpAddr = record.ip.parse().map_err(|_| NormalizeError::parse(format!("masscan record with an invalid IP address {:?}", record.ip)))?;
            let object_type = if address.is_ipv4() { "IPAddressV4" } else { "IPAddressV6" };
            let ip = Ooi::build(object_type).reference("network", Reference::internet()).field("address", address.to_string()).finish()?;
            let ip_ref = ip.reference().clone();
            for port in record.ports.into_iter().filter(|p| p.status.as_deref().is_none_or(|s| s == "open")) {
                if !matches!(port.proto.as_str(), "tcp" | "udp" | "sctp") {
                    return Err(NormalizeError::parse(format!("masscan record with an unknown protocol {:?}", port.proto)));
                }
                let ip_port = Ooi::build("IPPort").reference("address", &ip_ref).field("protocol", port.proto).field("port", port.port).field("state", "open").finish()?;
                if seen.insert(ip.reference().clone()) {
                    objects.push(ip.clone());
                }
                if seen.insert(ip_port.reference().clone()) {
                    objects.push(ip_port);
                }
            }
        }
        Ok(objects)
    }
}

/// The text with the comma older masscan versions leave before the closing `]` removed.
fn without_trailing_comma(text: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = text.trim_end();
    let Some(body) = trimmed.strip_suffix(']') else { return text.into() };
    match body.trim_end().strip_suffix(',') {
        Some(records) => format!("{records}]").into(),
        None => text.into(),
    }
}
