//! Reading objects' natural keys: a key field as text ([`key_part`]), one
//! through nested references ([`key_path`]: a website's hostname's name),
//! and the [`Site`] a `Website` key names, which the web boefjes connect to
//! and the web normalizers and rules speak about.

use std::net::IpAddr;

use kat_core::Reference;

/// A natural-key field of the object `reference` names, read from the key as text (a reference field gives the
/// referenced object's primary key, a number its digits); `None` when the key does not hold it.
pub fn key_part(reference: &Reference, field: &str) -> Option<String> {
    match kat_core::ooi::openkat::key_fields(reference).ok()?.remove(field)? {
        serde_json::Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

/// A natural-key field reached through the references the key holds: `key_path(website, &["hostname", "name"])`
/// is the name of the website's hostname. `None` when a step is not in the key.
pub fn key_path(reference: &Reference, path: &[&str]) -> Option<String> {
    let (last, through) = path.split_last()?;
    let mut here = reference.clone();
    for field in through {
        here = Reference::parse(&key_part(&here, field)?).ok()?;
    }
    key_part(&here, last)
}

/// The site a website key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The service's name (`http` or `https` for a web service).
    pub scheme: String,
    /// The hostname the site answers for.
    pub hostname: String,
    /// The hostname's network, as a reference (`Network|internet`).
    pub network: String,
    /// The address the service listens on.
    pub address: IpAddr,
    /// The TCP port.
    pub port: u16,
}

impl Site {
    /// The site of `Website|...` (its service and hostname); `None` for another type or a key that does not
    /// read as a website's.
    pub fn parse(website: &Reference) -> Option<Site> {
        if website.object_type() != "Website" {
            return None;
        }
        let part = |path: &[&str]| key_path(website, path);
        Some(Site {
            scheme: part(&["ip_service", "service", "name"])?,
            hostname: part(&["hostname", "name"])?,
            network: part(&["hostname", "network"])?,
            address: part(&["ip_service", "ip_port", "address", "address"])?.parse().ok()?,
            port: part(&["ip_service", "ip_port", "port"])?.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_through_their_references() {
        let website = Reference::parse("Website|internet|::1|tcp|8443|https|internet|www.a.test").expect("reference");
        assert_eq!(key_path(&website, &["hostname", "name"]).as_deref(), Some("www.a.test"));
        assert_eq!(key_path(&website, &["ip_service", "ip_port", "port"]).as_deref(), Some("8443"));
        assert_eq!(key_path(&website, &["hostname", "nope"]), None);
        let site = Site::parse(&website).expect("site");
        assert_eq!(site, Site { scheme: "https".into(), hostname: "www.a.test".into(), network: "Network|internet".into(), address: "::1".parse().expect("ip"), port: 8443 });
        assert_eq!(Site::parse(&Reference::parse("Hostname|internet|a.test").expect("reference")), None);
    }
}
