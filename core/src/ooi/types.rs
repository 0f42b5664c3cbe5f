//! The registry of object types: their fields, natural keys and the
//! clearance limits on each reference field, following OpenKAT's models.
//!
//! A reference field carries `max_issue` (the highest level an object passes
//! to the object it references) and `max_inherit` (the highest level it takes
//! from it); `None` means no limit.

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A string.
    Text,
    /// An integer.
    Int,
    /// A reference to an object of one of `targets` (empty: any type).
    Ref {
        /// The object types it may point to.
        targets: &'static [&'static str],
        /// The highest level this object issues to the referenced one.
        max_issue: Option<u8>,
        /// The highest level this object inherits from the referenced one.
        max_inherit: Option<u8>,
    },
}

/// One field of an object type.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The field name, as in OpenKAT's JSON.
    pub name: &'static str,
    /// What it holds.
    pub kind: FieldKind,
    /// Whether it may be absent or null.
    pub optional: bool,
}

/// An object type: its name, fields and natural key.
#[derive(Debug)]
pub struct ObjectTypeSpec {
    /// The type name, e.g. `Hostname`.
    pub name: &'static str,
    /// The fields, natural-key fields included.
    pub fields: &'static [FieldSpec],
    /// The fields whose values make the primary key, in order.
    pub natural_key: &'static [&'static str],
    /// True when the last key field is free text that may hold `|`.
    pub last_key_may_contain_bar: bool,
    /// A natural-key field whose value enters the key as the SHA-1 hex of its text
    /// (OpenKAT keys a TXT record by the hash of its text).
    pub hashed_key: Option<&'static str>,
}

impl ObjectTypeSpec {
    /// The field with this name.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn text(name: &'static str) -> FieldSpec {
    FieldSpec { name, kind: FieldKind::Text, optional: false }
}
const fn opt_text(name: &'static str) -> FieldSpec {
    FieldSpec { name, kind: FieldKind::Text, optional: true }
}
const fn int(name: &'static str) -> FieldSpec {
    FieldSpec { name, kind: FieldKind::Int, optional: false }
}
const fn opt_int(name: &'static str) -> FieldSpec {
    FieldSpec { name, kind: FieldKind::Int, optional: true }
}
const fn reference(
    name: &'static str,
    targets: &'static [&'static str],
    max_issue: Option<u8>,
    max_inherit: Option<u8>,
    optional: bool,
) -> FieldSpec {
    FieldSpec { name, kind: FieldKind::Ref { targets, max_issue, max_inherit }, optional }
}

const IP: &[&str] = &["IPAddressV4", "IPAddressV6"];
const NETWORK: &[&str] = &["Network"];
const HOSTNAME: &[&str] = &["Hostname"];
/// OpenKAT's `WebURL`: a URL on a hostname or on an IP address.
const WEB_URL: &[&str] = &["HostnameHTTPURL", "IPAddressHTTPURL"];

/// A DNS record type. OpenKAT keys records by hostname and value (`DNSARecord|internet|example.nl|1.2.3.4`);
/// `$key` overrides that (SOA: hostname and SOA hostname), `$hashed` names a key field that enters as SHA-1 (TXT).
macro_rules! dns_record {
    ($name:literal, key: $key:expr, bar: $bar:expr, hashed: $hashed:expr, $($extra:expr),* $(,)?) => {
        ObjectTypeSpec {
            name: $name,
            fields: &[
                reference("hostname", HOSTNAME, Some(0), Some(2), false),
                text("dns_record_type"),
                text("value"),
                opt_int("ttl"),
                $($extra),*
            ],
            natural_key: $key,
            last_key_may_contain_bar: $bar,
            hashed_key: $hashed,
        }
    };
    ($name:literal, $($extra:expr),* $(,)?) => {
        dns_record!($name, key: &["hostname", "value"], bar: true, hashed: None, $($extra),*)
    };
}

/// Every object type the model knows.
pub static OBJECT_TYPES: &[ObjectTypeSpec] = &[
    ObjectTypeSpec { name: "Network", fields: &[text("name")], natural_key: &["name"], last_key_may_contain_bar: false, hashed_key: None },
    ObjectTypeSpec {
        name: "Hostname",
        fields: &[
            reference("network", NETWORK, Some(0), None, false),
            text("name"),
            reference("dns_zone", &["DNSZone"], Some(1), Some(2), true),
            reference("registered_domain", HOSTNAME, Some(1), Some(2), true),
        ],
        natural_key: &["network", "name"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "DNSZone",
        fields: &[
            reference("hostname", HOSTNAME, Some(2), Some(1), false),
            reference("parent", &["DNSZone"], Some(0), Some(0), true),
        ],
        natural_key: &["hostname"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "IPAddressV4",
        fields: &[reference("network", NETWORK, Some(0), None, false), text("address"), reference("netblock", &[], Some(0), Some(4), true)],
        natural_key: &["network", "address"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "IPAddressV6",
        fields: &[reference("network", NETWORK, Some(0), None, false), text("address"), reference("netblock", &[], Some(0), Some(4), true)],
        natural_key: &["network", "address"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    dns_record!("DNSARecord", reference("address", &["IPAddressV4"], None, Some(0), false)),
    dns_record!("DNSAAAARecord", reference("address", &["IPAddressV6"], None, Some(0), false)),
    dns_record!("DNSCNAMERecord", reference("target_hostname", HOSTNAME, None, Some(0), false)),
    dns_record!("DNSMXRecord", reference("mail_hostname", HOSTNAME, Some(1), Some(0), true), opt_int("preference")),
    dns_record!("DNSNSRecord", reference("name_server_hostname", HOSTNAME, Some(1), Some(0), false)),
    dns_record!(
        "DNSSOARecord",
        key: &["hostname", "soa_hostname"],
        bar: false,
        hashed: None,
        reference("soa_hostname", HOSTNAME, Some(1), Some(0), false),
        opt_int("serial"),
        opt_int("retry"),
        opt_int("refresh"),
        opt_int("expire"),
        opt_int("minimum"),
    ),
    dns_record!("DNSTXTRecord", key: &["hostname", "value"], bar: false, hashed: Some("value"),),
    ObjectTypeSpec {
        name: "DMARCTXTRecord",
        fields: &[text("value"), opt_int("ttl"), reference("hostname", HOSTNAME, Some(0), None, false)],
        natural_key: &["value", "hostname"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "NXDOMAIN",
        fields: &[reference("hostname", HOSTNAME, Some(0), Some(2), false)],
        natural_key: &["hostname"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "IPPort",
        fields: &[reference("address", IP, Some(0), Some(4), false), text("protocol"), int("port"), opt_text("state")],
        natural_key: &["address", "protocol", "port"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec { name: "Service", fields: &[text("name")], natural_key: &["name"], last_key_may_contain_bar: false, hashed_key: None },
    ObjectTypeSpec {
        name: "IPService",
        fields: &[reference("ip_port", &["IPPort"], Some(0), Some(4), false), reference("service", &["Service"], Some(0), Some(0), false)],
        natural_key: &["ip_port", "service"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        // `suites`: the cipher suites offered per protocol, as OpenKAT's JSON object, kept as its JSON text.
        name: "TLSCipher",
        fields: &[reference("ip_service", &["IPService"], Some(0), Some(4), false), text("suites")],
        natural_key: &["ip_service"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "Website",
        fields: &[
            reference("ip_service", &["IPService"], Some(0), Some(1), false),
            reference("hostname", HOSTNAME, None, Some(4), false),
            reference("certificate", &["X509Certificate"], Some(1), None, true),
        ],
        natural_key: &["ip_service", "hostname"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "HostnameHTTPURL",
        fields: &[reference("network", NETWORK, Some(0), None, false), text("scheme"), reference("netloc", HOSTNAME, Some(2), Some(4), false), int("port"), text("path")],
        natural_key: &["scheme", "netloc", "port", "path"],
        last_key_may_contain_bar: true,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "IPAddressHTTPURL",
        fields: &[reference("network", NETWORK, Some(0), None, false), text("scheme"), reference("netloc", IP, Some(1), Some(4), false), int("port"), text("path")],
        natural_key: &["scheme", "netloc", "port", "path"],
        last_key_may_contain_bar: true,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "HTTPResource",
        fields: &[
            reference("website", &["Website"], Some(0), Some(4), false),
            reference("web_url", WEB_URL, Some(1), Some(4), false),
            reference("redirects_to", WEB_URL, None, None, true),
        ],
        natural_key: &["website", "web_url"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "HTTPHeader",
        fields: &[reference("resource", &["HTTPResource"], Some(0), Some(4), false), text("key"), text("value")],
        natural_key: &["resource", "key"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "URL",
        fields: &[reference("network", NETWORK, Some(0), None, false), text("raw"), reference("web_url", WEB_URL, Some(2), None, true)],
        natural_key: &["network", "raw"],
        last_key_may_contain_bar: true,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "SecurityTXT",
        fields: &[
            reference("website", &["Website"], Some(0), Some(4), false),
            reference("url", &["URL"], Some(0), Some(4), false),
            reference("redirects_to", &["SecurityTXT"], Some(2), Some(0), true),
            opt_text("security_txt"),
        ],
        natural_key: &["website", "url"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "X509Certificate",
        fields: &[
            opt_text("subject"),
            text("issuer"),
            text("valid_from"),
            text("valid_until"),
            opt_text("pk_algorithm"),
            opt_int("pk_size"),
            opt_text("pk_number"),
            reference("signed_by", &["X509Certificate"], Some(1), Some(0), true),
            text("serial_number"),
        ],
        natural_key: &["issuer", "serial_number"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "SubjectAlternativeNameHostname",
        fields: &[reference("certificate", &["X509Certificate"], Some(0), Some(1), false), reference("hostname", HOSTNAME, Some(0), Some(0), false)],
        natural_key: &["certificate", "hostname"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "CVEFindingType",
        fields: &[text("id"), opt_text("description"), opt_text("risk_severity")],
        natural_key: &["id"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "KATFindingType",
        fields: &[text("id"), opt_text("description"), opt_text("risk_severity")],
        natural_key: &["id"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
    ObjectTypeSpec {
        name: "Finding",
        fields: &[
            reference("ooi", &[], Some(0), Some(4), false),
            reference("finding_type", &["KATFindingType", "CVEFindingType"], Some(0), Some(0), false),
            opt_text("description"),
        ],
        natural_key: &["ooi", "finding_type"],
        last_key_may_contain_bar: false,
        hashed_key: None,
    },
];

/// The specs by name, built once (normalizers look a type up for every object and reference they make; the
/// names are ours, so a fast non-keyed hash is fine).
static BY_NAME: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, &'static ObjectTypeSpec>> = std::sync::LazyLock::new(|| OBJECT_TYPES.iter().map(|t| (t.name, t)).collect());

/// The spec of a type by name.
pub fn type_spec(name: &str) -> Option<&'static ObjectTypeSpec> {
    BY_NAME.get(name).copied()
}
