//! `port-classification-ip` (OpenKAT's bit of that name): an open `IPPort`
//! is classified by the port lists OpenKAT uses. Remote administration
//! ports (TCP 21, 22, 23, 5900) give `KAT-OPEN-SYSADMIN-PORT`, database
//! ports (TCP 1433, 1434, 3050, 3306, 5432) `KAT-OPEN-DATABASE-PORT`,
//! Remote Desktop (TCP 3389) `KAT-REMOTE-DESKTOP-PORT`. Any other port
//! outside the common ones (TCP 25, 53, 80, 110, 143, 443, 993, 995; UDP 53)
//! gives `KAT-UNCOMMON-OPEN-PORT`. A port whose `state` is set and not
//! `open` gives nothing.

use kat_core::{CoreError, Ooi};
use serde_json::Value;

use super::finding_types::{FindingType, OPEN_DATABASE_PORT, OPEN_SYSADMIN_PORT, REMOTE_DESKTOP_PORT, UNCOMMON_OPEN_PORT};
use super::{finding, Rule};

/// TCP ports that are commonly open to the world.
pub const COMMON_TCP_PORTS: &[u16] = &[25, 53, 80, 110, 143, 443, 993, 995];
/// UDP ports that are commonly open to the world.
pub const COMMON_UDP_PORTS: &[u16] = &[53];
/// TCP ports of remote administration services.
pub const SYSADMIN_TCP_PORTS: &[u16] = &[21, 22, 23, 5900];
/// TCP ports of database servers.
pub const DATABASE_TCP_PORTS: &[u16] = &[1433, 1434, 3050, 3306, 5432];
/// TCP ports of Microsoft's Remote Desktop.
pub const REMOTE_DESKTOP_TCP_PORTS: &[u16] = &[3389];

/// The port classification rule.
#[derive(Debug, Default)]
pub struct PortClassification;

/// The finding type of an open port, if any.
pub fn classify(protocol: &str, port: u16) -> Option<&'static FindingType> {
    let tcp = protocol.eq_ignore_ascii_case("tcp");
    let in_list = |list: &[u16]| list.contains(&port);
    if tcp && in_list(SYSADMIN_TCP_PORTS) {
        Some(&OPEN_SYSADMIN_PORT)
    } else if tcp && in_list(DATABASE_TCP_PORTS) {
        Some(&OPEN_DATABASE_PORT)
    } else if tcp && in_list(REMOTE_DESKTOP_TCP_PORTS) {
        Some(&REMOTE_DESKTOP_PORT)
    } else if (tcp && in_list(COMMON_TCP_PORTS)) || (protocol.eq_ignore_ascii_case("udp") && in_list(COMMON_UDP_PORTS)) {
        None
    } else {
        Some(&UNCOMMON_OPEN_PORT)
    }
}

impl Rule for PortClassification {
    fn id(&self) -> &'static str {
        "port-classification-ip"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["IPPort"]
    }

    fn evaluate(&self, object: &Ooi, _parameters: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        let fields = object.fields();
        if fields.get("state").and_then(Value::as_str).is_some_and(|state| state != "open") {
            return Ok(Vec::new());
        }
        let (Some(protocol), Some(port)) = (fields.get("protocol").and_then(Value::as_str), fields.get("port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok())) else {
            return Ok(Vec::new());
        };
        let Some(kind) = classify(protocol, port) else { return Ok(Vec::new()) };
        let description = format!("{} port {port} is open.", protocol.to_ascii_uppercase());
        Ok(finding(object.reference(), kind, description)?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(protocol: &str, number: u16, state: Option<&str>) -> Ooi {
        let mut builder = Ooi::build("IPPort").field("address", "IPAddressV4|internet|127.0.0.1").field("protocol", protocol).field("port", number);
        if let Some(state) = state {
            builder = builder.field("state", state);
        }
        builder.finish().expect("a valid port")
    }

    fn finding_type_of(protocol: &str, number: u16, state: Option<&str>) -> Option<String> {
        let found = PortClassification.evaluate(&port(protocol, number, state), &[]).expect("evaluates");
        match found.as_slice() {
            [] => None,
            [finding, kind] => {
                assert_eq!(finding.object_type(), "Finding");
                assert_eq!(finding.fields()["ooi"], port(protocol, number, state).reference().as_str());
                assert_eq!(finding.fields()["finding_type"], kind.reference().as_str());
                Some(kind.fields()["id"].as_str().expect("an id").to_string())
            }
            other => panic!("expected a finding and its type, got {other:?}"),
        }
    }

    #[test]
    fn each_list_gives_its_finding_type() {
        assert_eq!(finding_type_of("tcp", 22, Some("open")).as_deref(), Some("KAT-OPEN-SYSADMIN-PORT"));
        assert_eq!(finding_type_of("tcp", 5900, None).as_deref(), Some("KAT-OPEN-SYSADMIN-PORT"));
        assert_eq!(finding_type_of("tcp", 5432, Some("open")).as_deref(), Some("KAT-OPEN-DATABASE-PORT"));
        assert_eq!(finding_type_of("tcp", 1433, Some("open")).as_deref(), Some("KAT-OPEN-DATABASE-PORT"));
        assert_eq!(finding_type_of("tcp", 3389, Some("open")).as_deref(), Some("KAT-REMOTE-DESKTOP-PORT"));
        assert_eq!(finding_type_of("tcp", 8081, Some("open")).as_deref(), Some("KAT-UNCOMMON-OPEN-PORT"));
        assert_eq!(finding_type_of("udp", 5432, Some("open")).as_deref(), Some("KAT-UNCOMMON-OPEN-PORT"), "the database list is TCP");
    }

    #[test]
    fn common_and_closed_ports_give_nothing() {
        for common in COMMON_TCP_PORTS {
            assert_eq!(finding_type_of("tcp", *common, Some("open")), None, "tcp {common}");
        }
        assert_eq!(finding_type_of("udp", 53, Some("open")), None);
        assert_eq!(finding_type_of("tcp", 5432, Some("closed")), None);
        assert_eq!(finding_type_of("tcp", 3389, Some("filtered")), None);
    }

    #[test]
    fn the_finding_key_is_openkats() {
        let found = PortClassification.evaluate(&port("tcp", 3306, Some("open")), &[]).expect("evaluates");
        assert_eq!(found[0].reference().as_str(), "Finding|IPPort|internet|127.0.0.1|tcp|3306|KAT-OPEN-DATABASE-PORT");
        assert_eq!(found[1].reference().as_str(), "KATFindingType|KAT-OPEN-DATABASE-PORT");
        assert_eq!(found[1].fields()["risk_severity"], "high");
    }
}
