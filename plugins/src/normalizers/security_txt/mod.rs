//! `kat_security_txt_downloader` (OpenKAT's normalizer id): the JSON of
//! `security_txt_downloader` to `SecurityTXT` objects on the boefje's input
//! `Website`, as OpenKAT's normalizer gives them.
//!
//! For each place whose `content` is not null: the `URL` asked for and the
//! `URL` answered from. When the answer came from the website itself (same
//! scheme, hostname and address), a `SecurityTXT` of the website with the
//! text. When a redirect led elsewhere, the other site's objects (hostname,
//! address, port, service, website) and its `SecurityTXT`, plus one on the
//! input website at the asked URL that `redirects_to` it. Places without
//! content give nothing.

use std::net::IpAddr;

use kat_core::plugin::NormalizerManifest;
use kat_core::{Ooi, Reference};
use serde::Deserialize;

use super::{NormalizeError, Normalizer};
use crate::keys::Site;

/// The security.txt normalizer.
#[derive(Debug, Default)]
pub struct SecurityTxtNormalizer;

/// One place of the raw file.
#[derive(Debug, Deserialize)]
struct Place {
    content: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    ip: Option<String>,
}

impl Normalizer for SecurityTxtNormalizer {
    fn manifest(&self) -> NormalizerManifest {
        super::manifest("kat_security_txt_downloader", include_str!("normalizer.json"))
    }

    fn normalize(&self, input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError> {
        let website = Site::parse(input).ok_or_else(|| NormalizeError::parse(format!("kat_security_txt_downloader reads the security.txt of a Website, not of {input}")))?;
        let places: std::collections::BTreeMap<String, Place> = serde_json::from_slice(raw).map_err(|e| NormalizeError::parse(format!("expected a JSON object of place to result: {e}")))?;
        let mut out = Vec::new();
        for (place, found) in places {
            let Some(content) = found.content else { continue };
            let answered = found.url.ok_or_else(|| NormalizeError::parse(format!("{place}: content without the url it came from")))?;
            let asked = url(&website.network, &format!("{}://{}/{}", website.scheme, website.hostname, place.trim_start_matches('/')))?;
            let url_answered = url(&website.network, &answered)?;
            let parsed = reqwest::Url::parse(&answered).map_err(|e| NormalizeError::parse(format!("{place}: url {answered:?}: {e}")))?;
            let ip = found.ip.unwrap_or_else(|| website.address.to_string());
            let same_site = parsed.scheme() == website.scheme && parsed.host_str() == Some(website.hostname.as_str()) && ip.parse::<IpAddr>().ok() == Some(website.address);
            if same_site {
                out.push(security_txt(input.clone(), &url_answered, Some(&content), None)?);
            } else {
                let (other, mut chain) = other_website(&website.network, &parsed, &ip)?;
                let there = security_txt(other, &url_answered, Some(&content), None)?;
                let here = security_txt(input.clone(), &asked, None, Some(there.reference()))?;
                out.append(&mut chain);
                out.extend([there, here]);
            }
            if asked.reference() != url_answered.reference() {
                out.push(asked);
            }
            out.push(url_answered);
        }
        Ok(out)
    }
}

fn url(network: &str, raw: &str) -> Result<Ooi, NormalizeError> {
    Ok(Ooi::build("URL").field("network", network).field("raw", raw).finish()?)
}

fn security_txt(website: Reference, url: &Ooi, content: Option<&str>, redirects_to: Option<&Reference>) -> Result<Ooi, NormalizeError> {
    let mut builder = Ooi::build("SecurityTXT").reference("website", &website).reference("url", url.reference());
    if let Some(content) = content {
        builder = builder.field("security_txt", content);
    }
    if let Some(target) = redirects_to {
        builder = builder.reference("redirects_to", target);
    }
    Ok(builder.finish()?)
}

/// The website a redirect led to, with the objects its key needs.
fn other_website(network: &str, url: &reqwest::Url, ip: &str) -> Result<(Reference, Vec<Ooi>), NormalizeError> {
    let host = url.host_str().ok_or_else(|| NormalizeError::parse(format!("url {url} has no host")))?;
    let address: IpAddr = ip.parse().map_err(|_| NormalizeError::parse(format!("ip {ip:?} is not an address")))?;
    let scheme = if url.scheme() == "https" { "https" } else { "http" };
    let port = url.port_or_known_default().unwrap_or(if scheme == "https" { 443 } else { 80 });
    let hostname = Ooi::build("Hostname").field("network", network).field("name", host).finish()?;
    let ip_type = if address.is_ipv4() { "IPAddressV4" } else { "IPAddressV6" };
    let ip = Ooi::build(ip_type).field("network", network).field("address", address.to_string()).finish()?;
    let ip_port = Ooi::build("IPPort").reference("address", ip.reference()).field("protocol", "tcp").field("port", i64::from(port)).finish()?;
    let service = Ooi::build("Service").field("name", scheme).finish()?;
    let ip_service = Ooi::build("IPService").reference("ip_port", ip_port.reference()).reference("service", service.reference()).finish()?;
    let website = Ooi::build("Website").reference("ip_service", ip_service.reference()).reference("hostname", hostname.reference()).finish()?;
    let reference = website.reference().clone();
    Ok((reference, vec![hostname, ip, ip_port, service, ip_service, website]))
}
