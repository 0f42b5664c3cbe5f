//! Objects in the shape OpenKAT's boefjes read them: the boefje meta's
//! `arguments.input` is OpenKAT's `OOI.serialize()`, so a boefje written for
//! OpenKAT finds `input["name"]` of a Hostname, `input["address"]` of an IP
//! address or `input["address"]["address"]` of an IPPort where it expects them.
//!
//! OpenKAT's shape: `object_type`, `scan_profile` (Python's text of the scan
//! profile model, or `"None"`), `user_id` (`"None"`), `primary_key`, then every
//! field of the type; a reference field becomes its *tokenized* primary key (the
//! referenced object's natural-key parts by name, nested, every leaf a string:
//! `{"network": {"name": "internet"}, "address": "1.2.3.4"}`), an integer stays
//! a number and an unset field is the text `"None"`.
//!
//! A runner that knows only the reference (a boefje task carries no more) gets
//! the fields the natural key determines from [`key_fields`] and
//! [`input_from_reference`]; fields the key does not determine (a Hostname's
//! `dns_zone`, an IPPort's `state`, a TXT record's text, which the key holds as
//! a hash) are left out there, never guessed.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Map, Value};

use super::types::{type_spec, FieldKind, ObjectTypeSpec};
use super::Ooi;
use crate::error::CoreError;
use crate::reference::Reference;
use crate::scan_level::ScanLevel;

/// How an object got its clearance, as OpenKAT's scan profile types name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    /// A user declared the level.
    Declared,
    /// The level came from related objects.
    Inherited,
    /// No clearance (level 0).
    Empty,
}

/// An object's scan profile, for `arguments.input.scan_profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProfile {
    /// Declared, inherited or empty.
    pub kind: ProfileKind,
    /// The clearance.
    pub level: ScanLevel,
}

impl ScanProfile {
    /// The text OpenKAT's `serialize()` gives for this profile of `reference` (Python's `str()` of the model).
    pub fn openkat_text(&self, reference: &Reference) -> String {
        let kind = match self.kind {
            ProfileKind::Declared => "declared",
            ProfileKind::Inherited => "inherited",
            ProfileKind::Empty => "empty",
        };
        let level = self.level.get();
        format!("scan_profile_type='{kind}' reference=Reference({}) level=<ScanLevel.L{level}: {level}> user_id=None", python_repr(reference.as_str()))
    }
}

/// Python's `repr()` of a string: single quotes unless the text holds one and no double quote.
fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// One natural-key field read back from a primary key.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A text or integer key part, as written in the key.
    Part(String),
    /// A referenced object: its primary key and its own key fields.
    Ref { reference: String, fields: Vec<(&'static str, Token)> },
}

impl Token {
    /// OpenKAT's tokenized form: nested maps of key parts, every leaf a string.
    fn tokenized(&self) -> Value {
        match self {
            Token::Part(text) => Value::String(text.clone()),
            Token::Ref { fields, .. } => Value::Object(fields.iter().map(|(name, token)| (name.to_string(), token.tokenized())).collect()),
        }
    }
}

/// Split `reference` into its natural-key fields, following the type registry.
fn tokens(reference: &Reference) -> Result<Vec<(&'static str, Token)>, CoreError> {
    let cannot = |reason: &str| CoreError::MalformedReference { input: reference.to_string(), reason: reason.to_string() };
    let spec = type_spec(reference.object_type()).ok_or_else(|| cannot("unknown object type"))?;
    let parts: Vec<&str> = reference.natural_key().split('|').collect();
    let mut at = 0;
    let fields = split_key(spec, &parts, &mut at, true).map_err(|reason| cannot(&reason))?;
    if at != parts.len() {
        return Err(cannot("its key parts cannot be told apart"));
    }
    Ok(fields)
}

/// Read `spec`'s natural-key fields from `parts` starting at `at`; `to_end` when they end the whole key.
fn split_key(spec: &ObjectTypeSpec, parts: &[&str], at: &mut usize, to_end: bool) -> Result<Vec<(&'static str, Token)>, String> {
    let mut fields = Vec::with_capacity(spec.natural_key.len());
    for (i, name) in spec.natural_key.iter().enumerate() {
        let last = to_end && i + 1 == spec.natural_key.len();
        let kind = spec.field(name).map(|f| f.kind).ok_or_else(|| format!("{} has no field {name}", spec.name))?;
        let token = match kind {
            FieldKind::Ref { targets, .. } => {
                let target = if targets.is_empty() {
                    let named = parts.get(*at).ok_or("the key ends early")?;
                    *at += 1;
                    type_spec(named).ok_or_else(|| format!("field {name} names the unknown type {named:?}"))?
                } else {
                    pick_target(targets, parts, *at).ok_or_else(|| format!("field {name}: no known type fits"))?
                };
                let start = *at;
                let inner = split_key(target, parts, at, last)?;
                Token::Ref { reference: format!("{}|{}", target.name, parts[start..*at].join("|")), fields: inner }
            }
            FieldKind::Text | FieldKind::Int => {
                if *at >= parts.len() {
                    return Err("the key ends early".into());
                }
                let text = if last && spec.last_key_may_contain_bar { parts[*at..].join("|") } else { parts[*at].to_string() };
                *at = if last && spec.last_key_may_contain_bar { parts.len() } else { *at + 1 };
                Token::Part(text)
            }
        };
        fields.push((*name, token));
    }
    Ok(fields)
}

/// Whether a finding type id names a CVE (`CVE-2021-44228`): such ids are `CVEFindingType`s.
pub fn is_cve(id: &str) -> bool {
    let mut parts = id.splitn(3, '-');
    let (prefix, year, number) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    prefix.eq_ignore_ascii_case("cve") && year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) && number.len() >= 4 && number.bytes().all(|b| b.is_ascii_digit())
}

/// The target type of a reference field whose key starts at `parts[at]`: the only one, for IP
/// addresses the version the address text parses as, for web URLs whether the host is an address.
fn pick_target(targets: &[&str], parts: &[&str], at: usize) -> Option<&'static ObjectTypeSpec> {
    if let [only] = targets {
        return type_spec(only);
    }
    // An address's key is network, address; a web URL's scheme, network, host.
    let address = parts.get(at + 1).copied().unwrap_or_default();
    let url_host = parts.get(at + 2).copied().unwrap_or_default();
    let is_ip = |text: &str| text.parse::<std::net::IpAddr>().is_ok();
    let fits = |name: &&&str| match **name {
        "IPAddressV4" => address.parse::<Ipv4Addr>().is_ok(),
        "IPAddressV6" => address.parse::<Ipv6Addr>().is_ok(),
        "IPAddressHTTPURL" => is_ip(url_host),
        "HostnameHTTPURL" => !is_ip(url_host),
        "CVEFindingType" => is_cve(parts.get(at).copied().unwrap_or_default()),
        "KATFindingType" => !is_cve(parts.get(at).copied().unwrap_or_default()),
        _ => true,
    };
    targets.iter().find(fits).and_then(|name| type_spec(name))
}

/// The value an `Ooi` holds for a key field read back from a primary key; `None` when the key holds only a
/// hash of it (a TXT record's text).
fn field_value(spec: &ObjectTypeSpec, name: &str, token: &Token) -> Result<Option<Value>, String> {
    if spec.hashed_key == Some(name) {
        return Ok(None);
    }
    Ok(Some(match token {
        Token::Ref { reference, .. } => Value::String(reference.clone()),
        Token::Part(text) => match spec.field(name).map(|f| f.kind) {
            Some(FieldKind::Int) => text.parse::<i64>().map(Value::from).map_err(|_| format!("field {name}: {text:?} is not an integer"))?,
            _ => Value::String(text.clone()),
        },
    }))
}

/// The fields of the object `reference` names that its natural key determines, as [`Ooi`] fields (a
/// reference field holds the referenced object's primary key, an integer is a number). A field the key
/// holds only as a hash is left out.
pub fn key_fields(reference: &Reference) -> Result<Map<String, Value>, CoreError> {
    let spec = type_spec(reference.object_type()).ok_or_else(|| CoreError::UnknownObjectType(reference.object_type().to_string()))?;
    let mut fields = Map::new();
    for (name, token) in tokens(reference)? {
        let value = field_value(spec, name, &token).map_err(|reason| CoreError::MalformedReference { input: reference.to_string(), reason })?;
        if let Some(value) = value {
            fields.insert(name.to_string(), value);
        }
    }
    Ok(fields)
}

/// The header fields of OpenKAT's serialised object.
fn header(reference: &Reference, scan_profile: Option<&ScanProfile>) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("object_type".into(), Value::String(reference.object_type().to_string()));
    let profile = scan_profile.map_or_else(|| "None".to_string(), |p| p.openkat_text(reference));
    map.insert("scan_profile".into(), Value::String(profile));
    map.insert("user_id".into(), Value::String("None".into()));
    map.insert("primary_key".into(), Value::String(reference.to_string()));
    map
}

/// OpenKAT's serialised form of the object `reference` names, with only the fields its natural key
/// determines (see the module text); `scan_profile` `None` gives OpenKAT's `"None"`. A key whose parts
/// cannot be told apart gives only the header (`object_type`, `scan_profile`, `user_id`, `primary_key`).
pub fn input_from_reference(reference: &Reference, scan_profile: Option<&ScanProfile>) -> Value {
    let mut map = header(reference, scan_profile);
    let (Some(spec), Ok(fields)) = (type_spec(reference.object_type()), tokens(reference)) else { return Value::Object(map) };
    for (name, token) in fields {
        match (&token, field_value(spec, name, &token)) {
            (Token::Ref { .. }, _) => {
                map.insert(name.to_string(), token.tokenized());
            }
            (Token::Part(_), Ok(Some(value))) => {
                map.insert(name.to_string(), value);
            }
            (Token::Part(_), _) => {}
        }
    }
    Value::Object(map)
}

impl Ooi {
    /// The object `reference` names, built from the fields its natural key determines; fails when the
    /// type has a required field outside its key (a DNS record's value and type) or a hashed key.
    pub fn from_reference(reference: &Reference) -> Result<Ooi, CoreError> {
        Ooi::new(reference.object_type(), key_fields(reference)?)
    }

    /// The object as OpenKAT's `serialize()` gives it to a boefje (`arguments.input`): every field of the
    /// type, unset ones as `"None"`, reference fields tokenized.
    pub fn to_openkat_input(&self, scan_profile: Option<&ScanProfile>) -> Value {
        let mut map = header(self.reference(), scan_profile);
        let Some(spec) = type_spec(self.object_type()) else { return Value::Object(map) };
        for field in spec.fields {
            let value = match (field.kind, self.fields.get(field.name)) {
                (_, None | Some(Value::Null)) => Value::String("None".into()),
                (FieldKind::Ref { .. }, Some(Value::String(text))) => {
                    // OpenKAT gives null for a reference it cannot tokenize.
                    Reference::parse(text).ok().and_then(|r| tokens(&r).ok()).map_or(Value::Null, |fields| Token::Ref { reference: text.clone(), fields }.tokenized())
                }
                (_, Some(value)) => value.clone(),
            };
            map.insert(field.name.to_string(), value);
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Reference {
        Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn key_fields_rebuild_the_object_where_the_key_determines_it() {
        for text in ["Network|internet", "Hostname|internet|example.nl", "IPAddressV4|internet|1.2.3.4", "IPAddressV6|internet|2a00:d78::1", "IPPort|internet|1.2.3.4|tcp|22", "IPPort|internet|2a00:d78::1|udp|53", "IPService|internet|1.2.3.4|tcp|22|ssh", "DNSZone|internet|example.nl", "NXDOMAIN|internet|nope.example.nl", "Finding|Hostname|internet|example.nl|KAT-NO-SPF", "KATFindingType|KAT-NO-SPF"] {
            let ooi = Ooi::from_reference(&parse(text)).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(ooi.reference().as_str(), text, "the rebuilt object has the same key");
        }
        let port = key_fields(&parse("IPPort|internet|2a00:d78::1|udp|53")).expect("fields");
        assert_eq!(Value::Object(port), json!({"address": "IPAddressV6|internet|2a00:d78::1", "protocol": "udp", "port": 53}));
        let txt = key_fields(&parse("DNSTXTRecord|internet|example.com|d2b1e35921ca5499e137cdbf735817cf89874cd3")).expect("fields");
        assert_eq!(Value::Object(txt), json!({"hostname": "Hostname|internet|example.com"}), "the text is only a hash in the key");
        let mx = key_fields(&parse("DNSMXRecord|internet|example.nl|10 mail|example.nl.")).expect("fields");
        assert_eq!(mx["value"], "10 mail|example.nl.", "the last text part may hold '|'");
        assert!(Ooi::from_reference(&parse("DNSARecord|internet|example.nl|1.2.3.4")).is_err(), "address and record type are outside the key");
    }

    #[test]
    fn web_object_keys_split_into_their_references() {
        let website = "Website|internet|127.0.80.1|tcp|80|http|internet|www.web.test";
        let fields = key_fields(&parse(website)).expect("fields");
        assert_eq!(Value::Object(fields), json!({"ip_service": "IPService|internet|127.0.80.1|tcp|80|http", "hostname": "Hostname|internet|www.web.test"}));
        let header = format!("HTTPHeader|{}|http|internet|www.web.test|80|/|Content-Type", &website["Website|".len()..]);
        let fields = key_fields(&parse(&format!("HTTPResource|{}|http|internet|www.web.test|80|/a|b", &website["Website|".len()..]))).expect("fields");
        assert_eq!(fields["web_url"], "HostnameHTTPURL|http|internet|www.web.test|80|/a|b", "a path, last in the key, may hold '|'");
        let fields = key_fields(&parse(&header)).expect("fields");
        assert_eq!(fields["key"], "Content-Type");
        assert_eq!(fields["resource"], format!("HTTPResource|{}|http|internet|www.web.test|80|/", &website["Website|".len()..]));
        let cve = key_fields(&parse("Finding|Website|internet|::1|tcp|443|https|internet|a.test|CVE-2021-44228")).expect("fields");
        assert_eq!(cve["finding_type"], "CVEFindingType|CVE-2021-44228", "a CVE id is a CVEFindingType");
        let kat = key_fields(&parse("Finding|Hostname|internet|a.test|KAT-NO-SPF")).expect("fields");
        assert_eq!(kat["finding_type"], "KATFindingType|KAT-NO-SPF");
        let on_address = key_fields(&parse("HTTPResource|internet|::1|tcp|443|https|internet|a.test|https|internet|::1|443|/")).expect("fields");
        assert_eq!(on_address["web_url"], "IPAddressHTTPURL|https|internet|::1|443|/", "a URL whose host is an address is an IPAddressHTTPURL");
    }

    #[test]
    fn input_has_openkats_shape() {
        let host = input_from_reference(&parse("Hostname|internet|example.nl"), None);
        assert_eq!(host, json!({"object_type": "Hostname", "scan_profile": "None", "user_id": "None", "primary_key": "Hostname|internet|example.nl", "network": {"name": "internet"}, "name": "example.nl"}));
        let profile = ScanProfile { kind: ProfileKind::Declared, level: ScanLevel::L2 };
        let service = input_from_reference(&parse("IPService|internet|134.209.85.72|tcp|80|http"), Some(&profile));
        // As in OpenKAT's own normalizer test inputs (kat_testssl_sh_ciphers), plus the newer user_id.
        assert_eq!(service["scan_profile"], "scan_profile_type='declared' reference=Reference('IPService|internet|134.209.85.72|tcp|80|http') level=<ScanLevel.L2: 2> user_id=None");
        assert_eq!(service["ip_port"], json!({"address": {"network": {"name": "internet"}, "address": "134.209.85.72"}, "protocol": "tcp", "port": "80"}));
        assert_eq!(service["service"], json!({"name": "http"}));
        let port = input_from_reference(&parse("IPPort|internet|1.2.3.4|tcp|22"), None);
        assert_eq!((port["port"].clone(), port.get("state")), (json!(22), None), "a top-level integer stays a number; state is unknown");
        let finding = input_from_reference(&parse("Finding|Hostname|internet|example.nl|KAT-NO-SPF"), None);
        assert_eq!(finding["ooi"], json!({"network": {"name": "internet"}, "name": "example.nl"}));
        let odd = input_from_reference(&parse("Finding|DNSMXRecord|internet|example.nl|10 mail|example.nl.|KAT-X"), None);
        assert_eq!(odd.as_object().map(|m| m.len()), Some(4), "an ambiguous key gives only the header: {odd}");
    }

    #[test]
    fn a_full_object_serialises_every_field() {
        let ooi = Ooi::build("Hostname").field("network", "Network|internet").field("name", "example.nl").field("dns_zone", "DNSZone|internet|example.nl").finish().expect("hostname");
        let input = ooi.to_openkat_input(None);
        assert_eq!(input["dns_zone"], json!({"hostname": {"network": {"name": "internet"}, "name": "example.nl"}}));
        assert_eq!(input["registered_domain"], "None", "an unset field is OpenKAT's \"None\"");
        assert_eq!(input["network"], json!({"name": "internet"}));
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("a'b\"c\n"), "'a\\'b\"c\\n'");
    }
}
