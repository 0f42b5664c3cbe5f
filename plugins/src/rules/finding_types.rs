//! The finding types the built-in rules conclude, by OpenKAT's ids
//! (`KATFindingType|<id>`), each with what it means for the team reading a
//! report and a risk level (OpenKAT's `risk_severity` names).

/// How much a finding matters, worst first (OpenKAT's `risk_severity` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    /// Act now.
    Critical,
    /// Act soon.
    High,
    /// Plan a fix.
    Medium,
    /// Worth knowing.
    Low,
    /// Good practice, not a weakness in itself.
    Recommendation,
}

impl Risk {
    /// Every level, worst first.
    pub const ALL: [Risk; 5] = [Risk::Critical, Risk::High, Risk::Medium, Risk::Low, Risk::Recommendation];

    /// The stored name, e.g. `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Critical => "critical",
            Risk::High => "high",
            Risk::Medium => "medium",
            Risk::Low => "low",
            Risk::Recommendation => "recommendation",
        }
    }

    /// The level with this stored name.
    pub fn parse(name: &str) -> Option<Risk> {
        Risk::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// One finding type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingType {
    /// OpenKAT's id, e.g. `KAT-OPEN-DATABASE-PORT`.
    pub id: &'static str,
    /// What it means and what to do about it.
    pub description: &'static str,
    /// How much it matters.
    pub risk: Risk,
}

/// A database server's port is reachable.
pub const OPEN_DATABASE_PORT: FindingType = FindingType {
    id: "KAT-OPEN-DATABASE-PORT",
    description: "A database server answers on this port. Databases should be reachable only from the hosts that use them; put the port behind a firewall or bind the server to an internal address.",
    risk: Risk::High,
};

/// A remote administration port (SSH, Telnet, FTP, VNC) is reachable.
pub const OPEN_SYSADMIN_PORT: FindingType = FindingType {
    id: "KAT-OPEN-SYSADMIN-PORT",
    description: "A remote administration service (such as SSH, Telnet, FTP or VNC) answers on this port. Offer it only through a VPN or to known addresses.",
    risk: Risk::Medium,
};

/// Microsoft's Remote Desktop port is reachable.
pub const REMOTE_DESKTOP_PORT: FindingType = FindingType {
    id: "KAT-REMOTE-DESKTOP-PORT",
    description: "Remote Desktop (RDP) answers on this port. It is a frequent way in for attackers; offer it only through a VPN or a gateway.",
    risk: Risk::Medium,
};

/// An open port that is neither common nor known to be risky.
pub const UNCOMMON_OPEN_PORT: FindingType = FindingType {
    id: "KAT-UNCOMMON-OPEN-PORT",
    description: "A service answers on a port that is not commonly open to the world. Check that it is meant to be reachable.",
    risk: Risk::Low,
};
