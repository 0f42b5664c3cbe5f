//! Scan targets as a user types them: a hostname, an IPv4 or IPv6 address,
//! or a reference (`Hostname|internet|example.nl`), turned into the objects
//! to declare (the network first, then the target).

use std::net::IpAddr;

use anyhow::{bail, Context};
use kat_core::{Ooi, Reference};

/// The network targets are declared in unless a reference names another.
pub const DEFAULT_NETWORK: &str = "internet";

/// The objects to declare for `target`: its network, then the target itself.
pub fn parse_target(target: &str) -> anyhow::Result<Vec<Ooi>> {
    let target = target.trim();
    let (object_type, network, value) = if target.contains('|') {
        let reference = Reference::parse(target)?;
        let (network, value) = reference.natural_key().split_once('|').unwrap_or(("", ""));
        (reference.object_type().to_string(), network.to_string(), value.to_string())
    } else if let Ok(ip) = target.parse::<IpAddr>() {
        let object_type = if ip.is_ipv4() { "IPAddressV4" } else { "IPAddressV6" };
        (object_type.to_string(), DEFAULT_NETWORK.to_string(), ip.to_string())
    } else {
        (String::from("Hostname"), DEFAULT_NETWORK.to_string(), target.trim_end_matches('.').to_ascii_lowercase())
    };
    let network_ooi = Ooi::build("Network").field("name", network.clone()).finish()?;
    let ooi = match object_type.as_str() {
        "Hostname" => {
            check_hostname(&value)?;
            Ooi::build("Hostname").reference("network", network_ooi.reference()).field("name", value).finish()?
        }
        "IPAddressV4" | "IPAddressV6" => {
            let ip: IpAddr = value.parse().with_context(|| format!("{value:?} is not an IP address"))?;
            if (object_type == "IPAddressV4") != ip.is_ipv4() {
                bail!("{value} is not an {object_type}");
            }
            Ooi::build(&object_type).reference("network", network_ooi.reference()).field("address", ip.to_string()).finish()?
        }
        other => bail!("kat scan takes hostnames and IP addresses, not {other} objects"),
    };
    Ok(vec![network_ooi, ooi])
}

fn check_hostname(name: &str) -> anyhow::Result<()> {
    // A top-level label is never all digits (RFC 3696 section 2), so `999.1.1.1` or `10.0.0` is a mistyped
    // IP address, never a hostname to look up in DNS.
    let last_label = name.rsplit('.').next().unwrap_or_default();
    if !last_label.is_empty() && last_label.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{name:?} looks like an IPv4 address but is not one (each of the four parts must be 0 to 255)");
    }
    if name.contains(':') {
        bail!("{name:?} looks like an IPv6 address but is not one");
    }
    let label_ok = |l: &str| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') && !l.starts_with('-');
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        bail!("{name:?} is not a hostname, an IP address or a reference");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(target: &str) -> String {
        parse_target(target).map(|v| v.last().map(|o| o.reference().to_string()).unwrap_or_default()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn hostnames_addresses_and_references() {
        assert_eq!(last("Example.NL."), "Hostname|internet|example.nl");
        assert_eq!(last("127.0.0.1"), "IPAddressV4|internet|127.0.0.1");
        assert_eq!(last("::1"), "IPAddressV6|internet|::1");
        assert_eq!(last("Hostname|lab|a.test"), "Hostname|lab|a.test");
        assert!(last("IPAddressV4|internet|::1").starts_with("error"));
        assert!(last("not a host!").starts_with("error"));
        assert!(last("DNSZone|internet|example.nl").contains("not DNSZone"));
        assert!(last("").starts_with("error"));
        for not_an_ip in ["999.1.1.1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "10"] {
            assert!(last(not_an_ip).contains("looks like an IPv4 address but is not one"), "{not_an_ip}: {}", last(not_an_ip));
        }
        assert!(last("2001:db8::zz").contains("looks like an IPv6 address"));
        assert_eq!(last("1.2.3.example"), "Hostname|internet|1.2.3.example");
    }
}
