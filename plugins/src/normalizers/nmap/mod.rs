//! `kat_nmap_normalize`: nmap XML (`boefje/nmap`) to IPPort, Service and
//! IPService objects.
//!
//! Reads real nmap output and the XML our `port-scan` boefje writes. For each
//! open port it gives one IPPort, one Service and one IPService, in that
//! order, as OpenKAT's normalizer does; `http` over an `ssl` tunnel is named
//! `https`.
//!
//! Only a complete document is accepted: nmap writes `<runstats>` and the
//! closing `</nmaprun>` last, so output cut short (a killed scan, a truncated
//! upload) is refused instead of replacing a complete observation with a
//! partial one.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use kat_core::{Ooi, Reference};

use super::{NormalizeError, Normalizer};
use kat_core::plugin::NormalizerManifest;

/// The nmap XML normalizer.
#[derive(Debug, Default)]
pub struct NmapNormalizer;

#[derive(Debug, Default)]
struct Port {
    protocol: String,
    port: u16,
    state: String,
    service: Option<String>,
    tunnel: Option<String>,
}

impl Normalizer for NmapNormalizer {
    fn manifest(&self) -> NormalizerManifest {
        super::manifest("kat_nmap_normalize", include_str!("normalizer.json"))
    }

    fn normalize(&self, _input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError> {
        let mut reader = Reader::from_reader(raw);
        let mut buf = Vec::new();
        let mut objects = Vec::new();
        let mut address: Option<Reference> = None;
        let mut port: Option<Port> = None;
        let mut saw_nmaprun = false;
        let (mut saw_runstats, mut closed) = (false, false);
        let mut depth: usize = 0;
        loop {
            let event = reader.read_event_into(&mut buf).map_err(|e| NormalizeError::parse(format!("invalid nmap XML at byte {}: {e}", reader.buffer_position())))?;
            match event {
                Event::Eof => break,
                _ if closed => match event {
                    Event::Text(_) | Event::Comment(_) => {}
                    _ => return Err(NormalizeError::parse("invalid nmap XML: content after </nmaprun>".to_string())),
                },
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let is_empty = matches!(event, Event::Empty(_));
                    if !is_empty {
                        depth += 1;
                    }
                    match e.name().as_ref() {
                        "nmaprun" => saw_nmaprun = true,
                        "runstats" => saw_runstats = true,
                        "host" => address = None,
                        "address" => {
                            let kind = attr(e, "addrtype")?;
                            let addr = attr(e, "addr")?.unwrap_or_default();
                            let object_type = match kind.as_deref() {
                                Some("ipv4") => "IPAddressV4",
                                Some("ipv6") => "IPAddressV6",
                                _ => continue,
                            };
                            let ip = Ooi::build(object_type).reference("network", Reference::internet()).field("address", addr).finish()?;
                            address = Some(ip.reference().clone());
                        }
                        "port" => {
                            let protocol = attr(e, "protocol")?.unwrap_or_else(|| "tcp".into());
                            let number = attr(e, "portid")?.unwrap_or_default();
                            let number = number.parse::<u16>().map_err(|_| NormalizeError::parse(format!("invalid port number {number:?}")))?;
                            port = Some(Port { protocol, port: number, ..Port::default() });
                            if is_empty {
                                port = None;
                            }
                        }
                        "state" => {
                            if let Some(p) = port.as_mut() {
                                p.state = attr(e, "state")?.unwrap_or_default();
                            }
                        }
                        "service" => {
                            if let Some(p) = port.as_mut() {
                                p.service = attr(e, "name")?;
                                p.tunnel = attr(e, "tunnel")?;
                            }
                        }
                        _ => {}
                    }
                }
                Event::End(ref e) => {
                    depth = depth.saturating_sub(1);
                    match e.name().as_ref() {
                        "port" => {
                            if let (Some(p), Some(ip)) = (port.take(), address.as_ref()) {
                                push_port(&mut objects, ip, p)?;
                            }
                        }
                        "nmaprun" if depth == 0 => closed = true,
                        _ => {}
                    }
                }
                _ => {}
            }
            buf.clear();
        }
        if !saw_nmaprun {
            return Err(NormalizeError::parse("not nmap XML: no <nmaprun> element".to_string()));
        }
        if !closed || !saw_runstats {
            return Err(NormalizeError::parse(format!(
                "incomplete nmap XML: {} (the scan was cut short or the file truncated; the previous observation is kept)",
                if closed { "no <runstats> element" } else { "no closing </nmaprun>" }
            )));
        }
        Ok(objects)
    }
}

fn push_port(objects: &mut Vec<Ooi>, ip: &Reference, p: Port) -> Result<(), NormalizeError> {
    if p.state != "open" {
        return Ok(());
    }
    let ip_port = Ooi::build("IPPort").reference("address", ip).field("protocol", p.protocol).field("port", p.port).field("state", "open").finish()?;
    let port_ref = ip_port.reference().clone();
    objects.push(ip_port);
    let Some(mut name) = p.service.filter(|s| !s.is_empty()) else { return Ok(()) };
    if name == "http" && p.tunnel.as_deref() == Some("ssl") {
        name = "https".into();
    }
    let service = Ooi::build("Service").field("name", name).finish()?;
    let ip_service = Ooi::build("IPService").reference("ip_port", &port_ref).reference("service", service.reference()).finish()?;
    objects.push(service);
    objects.push(ip_service);
    Ok(())
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, NormalizeError> {
    for a in e.attributes() {
        let a = a.map_err(|err| NormalizeError::parse(format!("invalid XML attribute: {err}")))?;
        if a.key.as_ref() == name {
            let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|err| NormalizeError::parse(format!("invalid XML attribute value: {err}")))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}
