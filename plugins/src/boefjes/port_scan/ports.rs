//! Port lists in nmap's syntax (`22,80,8000-8100`, an optional `T:` prefix)
//! and the default list of the 1000 most common TCP ports.
//!
//! `top-ports.txt` holds the port numbers nmap ranks as the 1000 most often
//! open TCP ports (by the frequency column of its services data).

/// Why a port list was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid PORTS {item:?}: {reason}")]
pub struct PortsError {
    /// The offending item of the list.
    pub item: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The 1000 most common TCP ports, ascending.
pub fn top_ports() -> Vec<u16> {
    include_str!("top-ports.txt").trim().split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

/// Parse a port list; the result is sorted and without duplicates.
pub fn parse_ports(spec: &str) -> Result<Vec<u16>, PortsError> {
    let mut ports = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bare = item.strip_prefix("T:").unwrap_or(item);
        let bad = |reason| PortsError { item: item.to_string(), reason };
        let number = |s: &str| -> Result<u16, PortsError> {
            match s.trim().parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
                Ok(_) => Err(bad("ports run from 1 to 65535")),
                Err(_) => Err(bad("expected a port number or a range such as 8000-8100")),
            }
        };
        match bare.split_once('-') {
            Some((low, high)) => {
                let low = if low.is_empty() { 1 } else { number(low)? };
                let high = if high.is_empty() { 65535 } else { number(high)? };
                if low > high {
                    return Err(bad("a range must run from low to high"));
                }
                ports.extend(low..=high);
            }
            None => ports.push(number(bare)?),
        }
    }
    if ports.is_empty() {
        return Err(PortsError { item: spec.to_string(), reason: "no ports given" });
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nmap_syntax() {
        assert_eq!(parse_ports("80,22,8000-8002,22"), Ok(vec![22, 80, 8000, 8001, 8002]));
        assert_eq!(parse_ports("T:443"), Ok(vec![443]));
        assert_eq!(parse_ports("65530-").map(|p| p.len()), Ok(6));
        for bad in ["", "0", "70000", "a", "10-5", "1-2-3", ","] {
            assert!(parse_ports(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn top_ports_are_the_common_ones() {
        let top = top_ports();
        assert!(top.len() >= 999 && top.len() <= 1000, "{}", top.len());
        for p in [22, 80, 443, 3306, 8080] {
            assert!(top.contains(&p), "{p}");
        }
    }
}
