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

/// A site served over HTTPS does not tell browsers to keep to HTTPS.
pub const NO_HSTS: FindingType = FindingType {
    id: "KAT-NO-HSTS",
    description: "The HTTPS site sends no Strict-Transport-Security header, so a browser may still be sent to its plain HTTP version by an attacker on the network. Send Strict-Transport-Security with a max-age of at least a year.",
    risk: Risk::Medium,
};

/// A page that can run scripts has no Content-Security-Policy.
pub const NO_CSP: FindingType = FindingType {
    id: "KAT-NO-CSP",
    description: "A page that a browser renders as HTML, XML or SVG comes without a Content-Security-Policy header, which would limit the damage of injected scripts. Send a policy that names the sources the page may load from.",
    risk: Risk::Medium,
};

/// A page may be framed by any site.
pub const NO_X_FRAME_OPTIONS: FindingType = FindingType {
    id: "KAT-NO-X-FRAME-OPTIONS",
    description: "The response has no X-Frame-Options header, so any site may show the page in a frame and trick users into clicking on it (clickjacking). Send X-Frame-Options: DENY or SAMEORIGIN, or a frame-ancestors policy.",
    risk: Risk::Medium,
};

/// Browsers may guess the content type of a response.
pub const NO_X_CONTENT_TYPE_OPTIONS: FindingType = FindingType {
    id: "KAT-NO-X-CONTENT-TYPE-OPTIONS",
    description: "The response has no X-Content-Type-Options header, so a browser may guess its type and run content served as data as a script. Send X-Content-Type-Options: nosniff.",
    risk: Risk::Low,
};

/// No Permissions-Policy limits the browser features a page may use.
pub const NO_PERMISSIONS_POLICY: FindingType = FindingType {
    id: "KAT-NO-PERMISSIONS-POLICY",
    description: "The response has no Permissions-Policy header to switch off browser features (camera, microphone, location) the site does not use.",
    risk: Risk::Recommendation,
};

/// No Referrer-Policy limits what the browser tells other sites.
pub const NO_REFERRER_POLICY: FindingType = FindingType {
    id: "KAT-NO-REFERRER-POLICY",
    description: "The response has no Referrer-Policy header, so full URLs of the site may be sent to the sites it links to. Send Referrer-Policy: strict-origin-when-cross-origin or stricter.",
    risk: Risk::Recommendation,
};

/// The response uses headers that are deprecated or not standard.
pub const NONSTANDARD_HEADERS: FindingType = FindingType {
    id: "KAT-NONSTANDARD-HEADERS",
    description: "The response carries headers that are deprecated or not standard; they may not do what is meant and can leak information. Remove them.",
    risk: Risk::Recommendation,
};

/// A website publishes no security.txt.
pub const NO_SECURITY_TXT: FindingType = FindingType {
    id: "KAT-NO-SECURITY-TXT",
    description: "The website has no security.txt (RFC 9116) at /.well-known/security.txt, so someone who finds a weakness does not know whom to tell. Publish one with at least a Contact and an Expires field.",
    risk: Risk::Recommendation,
};

/// A certificate is past its end date.
pub const CERTIFICATE_EXPIRED: FindingType = FindingType {
    id: "KAT-CERTIFICATE-EXPIRED",
    description: "The certificate's validity has ended: browsers refuse the site or warn its visitors, who learn to click warnings away. Renew it, and automate renewal.",
    risk: Risk::High,
};

/// A certificate ends within 30 days.
pub const CERTIFICATE_EXPIRING_SOON: FindingType = FindingType {
    id: "KAT-CERTIFICATE-EXPIRING-SOON",
    description: "The certificate's validity ends within 30 days. Renew it before then.",
    risk: Risk::Medium,
};

/// A website serves a certificate that does not name it.
pub const SSL_CERT_HOSTNAME_MISMATCH: FindingType = FindingType {
    id: "KAT-SSL-CERT-HOSTNAME-MISMATCH",
    description: "The website serves a certificate that is not for its hostname, so browsers refuse it or warn its visitors. Serve a certificate that lists the hostname among its subject alternative names.",
    risk: Risk::High,
};

/// A mail domain publishes no SPF policy.
pub const NO_SPF: FindingType = FindingType {
    id: "KAT-NO-SPF",
    description: "The domain has no SPF record (a TXT record starting v=spf1), so receivers cannot tell which servers may send its mail and others can send mail in its name more easily. Publish one; a domain that sends no mail can publish v=spf1 -all.",
    risk: Risk::Medium,
};

/// A mail domain publishes no DMARC policy.
pub const NO_DMARC: FindingType = FindingType {
    id: "KAT-NO-DMARC",
    description: "The domain has no DMARC policy (a TXT record at _dmarc.<domain> starting v=DMARC1), so receivers do not know what to do with mail that fails SPF and DKIM, and the domain hears nothing of abuse. Publish one, at least p=none with a reporting address.",
    risk: Risk::Medium,
};

/// A TLS service offers cipher suites that are broken: an attacker can read or change its traffic.
pub const CRITICAL_TLS_CIPHER: FindingType = FindingType {
    id: "KAT-CRITICAL-TLS-CIPHER",
    description: "The service offers cipher suites that are broken (no or export-grade encryption, anonymous key exchange, RC4, DES, MD5, SSL 2 or 3): an attacker on the path can read or change its traffic. Turn them off.",
    risk: Risk::Critical,
};

/// A TLS service offers cipher suites that are weak.
pub const HIGH_TLS_CIPHER: FindingType = FindingType {
    id: "KAT-HIGH-TLS-CIPHER",
    description: "The service offers cipher suites that are weak (3DES, pre-shared or SRP keys, Diffie-Hellman groups under 1024 bits). Turn them off.",
    risk: Risk::High,
};

/// A TLS service offers cipher suites that should be phased out.
pub const MEDIUM_TLS_CIPHER: FindingType = FindingType {
    id: "KAT-MEDIUM-TLS-CIPHER",
    description: "The service offers cipher suites that should be phased out (TLS 1.0 or 1.1, RSA key exchange without forward secrecy, Diffie-Hellman groups under 2048 bits, CCM-8). Plan to turn them off.",
    risk: Risk::Medium,
};

/// A TLS service offers cipher suites that are sufficient but not the best choice.
pub const LOW_TLS_CIPHER: FindingType = FindingType {
    id: "KAT-LOW-TLS-CIPHER",
    description: "The service offers cipher suites that are sufficient but not recommended (CBC mode, SHA-1 message authentication). Prefer AEAD suites (AES-GCM, ChaCha20-Poly1305) with forward secrecy.",
    risk: Risk::Low,
};
