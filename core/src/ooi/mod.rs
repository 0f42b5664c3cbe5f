//! `Ooi`: one object of the graph (an "object of interest" in OpenKAT).
//!
//! An object is its type plus a JSON map of fields; its primary key (a
//! [`Reference`]) is derived from the natural-key fields declared in
//! [`types`]. The JSON shape is OpenKAT's: the fields at top level beside
//! `object_type` and `primary_key`. [`openkat`] gives the shape OpenKAT's
//! boefjes read an object in (`arguments.input`).

pub mod fields;
pub mod openkat;
pub mod types;

pub use fields::Fields;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::CoreError;
use crate::reference::Reference;
use types::{type_spec, FieldKind, ObjectTypeSpec};

/// Names OpenKAT's JSON of an object carries beside its fields; dropped when present.
const NOT_FIELDS: [&str; 4] = ["object_type", "primary_key", "scan_profile", "user_id"];

/// The SHA-1 of `text` in lowercase hex, as Python's `hashlib.sha1(text.encode()).hexdigest()`.
fn sha1_hex(text: &str) -> String {
    use sha1::Digest;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha1::Sha1::digest(text.as_bytes());
    let mut hex = String::with_capacity(2 * digest.len());
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

/// A typed object with its fields and derived primary key.
#[derive(Debug, Clone, PartialEq)]
pub struct Ooi {
    primary_key: Reference,
    fields: Fields,
}

impl Ooi {
    /// Build an object from its type and fields, checking every field and
    /// deriving the primary key. OpenKAT's `object_type`, `primary_key`,
    /// `scan_profile` and `user_id` beside the fields are ignored.
    pub fn new(object_type: &str, map: Map<String, Value>) -> Result<Ooi, CoreError> {
        let spec = type_spec(object_type).ok_or_else(|| CoreError::UnknownObjectType(object_type.to_string()))?;
        let mut fields = Fields::empty(spec);
        for (name, value) in map {
            if fields.set(&name, value).is_err() && !NOT_FIELDS.contains(&name.as_str()) {
                return Err(invalid(spec, &name, "is not a field of this type"));
            }
        }
        Ooi::of_fields(fields, 0)
    }

    /// Check each field once, without allocating, and build the key from the checked parts (normalizers
    /// build an object for every record they read). Bit `i` of `checked` says slot `i` holds the text of a
    /// [`Reference`], which is well formed already.
    fn of_fields(fields: Fields, checked: u64) -> Result<Ooi, CoreError> {
        let spec = fields.spec();
        let invalid = |field: &str, reason: &str| invalid(spec, field, reason);
        let mut missing = None;
        for (index, (field, value)) in fields.slots().enumerate() {
            let name = field.name;
            let Some(value) = value else {
                if !field.optional {
                    missing = missing.or(Some(name));
                }
                continue;
            };
            match (field.kind, value) {
                (_, Value::Null) if field.optional => {}
                (FieldKind::Text, Value::String(_)) => {}
                (FieldKind::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => {}
                (FieldKind::Ref { targets, .. }, Value::String(s)) => {
                    let type_len = match checked & slot_bit(index) {
                        0 => Reference::check(s).map_err(|e| invalid(name, &e.to_string()))?,
                        _ => crate::reference::split_at_bar(s).map_or(s.len(), |(object_type, _)| object_type.len()),
                    };
                    if !targets.is_empty() && !targets.contains(&&s[..type_len]) {
                        return Err(invalid(name, &format!("must reference one of {targets:?}")));
                    }
                }
                (FieldKind::Text, _) => return Err(invalid(name, "must be a string")),
                (FieldKind::Int, _) => return Err(invalid(name, "must be an integer")),
                (FieldKind::Ref { .. }, _) => return Err(invalid(name, "must be a reference string")),
            }
        }
        let mut key = String::with_capacity(64);
        key.push_str(spec.name);
        for name in spec.natural_key {
            let (kind, value) = fields.slot(name).map_or((None, None), |(f, v)| (Some(f.kind), v));
            let part: std::borrow::Cow<'_, str> = match value {
                Some(Value::String(s)) => match kind {
                    // A reference to any type keeps its type name in the key.
                    Some(FieldKind::Ref { targets: [], .. }) => s.as_str().into(),
                    // Checked above: the natural key follows the type name.
                    Some(FieldKind::Ref { .. }) => match crate::reference::split_at_bar(s) {
                        Some((_, natural_key)) => natural_key.into(),
                        None => return Err(invalid(name, "is not a valid reference")),
                    },
                    _ if spec.hashed_key == Some(*name) => sha1_hex(s).into(),
                    _ => s.as_str().into(),
                },
                Some(Value::Number(n)) => n.to_string().into(),
                _ => return Err(invalid(name, "is required: it is part of the natural key")),
            };
            if part.is_empty() {
                return Err(invalid(name, "must not be empty: it is part of the natural key"));
            }
            let last = spec.natural_key.last() == Some(name);
            let own_text = !matches!(kind, Some(FieldKind::Ref { .. }));
            if own_text && part.contains('|') && !(last && spec.last_key_may_contain_bar) {
                return Err(invalid(name, "must not contain '|': it is part of the natural key, whose parts '|' separates"));
            }
            key.push('|');
            key.push_str(&part);
        }
        if let Some(name) = missing {
            return Err(invalid(name, "is required"));
        }
        let primary_key = Reference::from_checked_parts(key, spec.name.len());
        Ok(Ooi { primary_key, fields })
    }

    /// Start building an object of `object_type` field by field.
    pub fn build(object_type: &str) -> OoiBuilder {
        let state = match type_spec(object_type) {
            Some(spec) => Ok((Fields::empty(spec), 0)),
            None => Err(Box::new(CoreError::UnknownObjectType(object_type.to_string()))),
        };
        OoiBuilder { state }
    }

    /// The object's type, e.g. `Hostname`.
    pub fn object_type(&self) -> &str {
        self.primary_key.object_type()
    }

    /// The primary key.
    pub fn reference(&self) -> &Reference {
        &self.primary_key
    }

    /// The fields (without `object_type` and `primary_key`).
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// One field's value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// Every non-null reference field with its target, e.g. `("network", Network|internet)`.
    pub fn references(&self) -> Vec<(&'static str, Reference)> {
        self.fields
            .slots()
            .filter(|(f, _)| matches!(f.kind, FieldKind::Ref { .. }))
            .filter_map(|(f, value)| match value {
                Some(Value::String(s)) => Reference::parse(s).ok().map(|r| (f.name, r)),
                _ => None,
            })
            .collect()
    }

    /// Set a field that is not part of the natural key (such as `dns_zone`).
    pub fn set(&mut self, name: &str, value: Value) -> Result<(), CoreError> {
        let spec = self.fields.spec();
        let mut fields = self.fields.clone();
        fields.set(name, value).map_err(|()| invalid(spec, name, "is not a field of this type"))?;
        let updated = Ooi::of_fields(fields, 0)?;
        if updated.primary_key != self.primary_key {
            return Err(invalid(spec, name, "is part of the natural key and cannot change"));
        }
        *self = updated;
        Ok(())
    }

    /// The object as OpenKAT's JSON: `object_type`, `primary_key` and the fields.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("object_type".into(), Value::String(self.object_type().to_string()));
        map.insert("primary_key".into(), Value::String(self.primary_key.to_string()));
        for (k, v) in self.fields.iter() {
            map.insert(k.to_string(), v.clone());
        }
        Value::Object(map)
    }

    /// Parse OpenKAT's JSON shape (an object with `object_type`).
    pub fn from_json(value: &Value) -> Result<Ooi, CoreError> {
        let map = value.as_object().ok_or_else(|| CoreError::UnknownObjectType("(not a JSON object)".into()))?;
        let object_type = map.get("object_type").and_then(Value::as_str).ok_or_else(|| CoreError::UnknownObjectType("(missing object_type)".into()))?;
        Ooi::new(object_type, map.clone())
    }
}

/// The bit of slot `index` in the builder's mask of slots set from a [`Reference`]; none past the 64th slot
/// (such a slot is checked again, as text is).
fn slot_bit(index: usize) -> u64 {
    u32::try_from(index).ok().and_then(|i| 1u64.checked_shl(i)).unwrap_or(0)
}

/// The error for field `field` of an object of type `spec`.
fn invalid(spec: &ObjectTypeSpec, field: &str, reason: &str) -> CoreError {
    CoreError::InvalidField { object_type: spec.name.to_string(), field: field.to_string(), reason: reason.to_string() }
}

impl Serialize for Ooi {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Ooi {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ooi::from_json(&value).map_err(serde::de::Error::custom)
    }
}

/// Builds an [`Ooi`] one field at a time; see [`Ooi::build`].
#[derive(Debug)]
pub struct OoiBuilder {
    /// The fields so far with the slots set from a [`Reference`] (as bits), or the first error (an unknown
    /// type or field), which [`OoiBuilder::finish`] returns. Boxed, so that the builder that each call takes
    /// and gives back by value stays small (normalizers call it for every field of every record).
    state: Result<(Fields, u64), Box<CoreError>>,
}

impl OoiBuilder {
    /// Set a field.
    #[inline]
    pub fn field(self, name: &str, value: impl Into<Value>) -> Self {
        self.set(name, value.into(), false)
    }

    /// Set a reference field from an object's primary key.
    #[inline]
    pub fn reference(self, name: &str, target: &Reference) -> Self {
        self.set(name, target.as_str().into(), true)
    }

    /// Inlined into the normalizers (another crate): called as a function, the builder and the value went
    /// through memory on each call.
    #[inline]
    fn set(mut self, name: &str, value: Value, is_reference: bool) -> Self {
        if let Ok((fields, checked)) = &mut self.state {
            match fields.set(name, value) {
                Ok(index) if is_reference => *checked |= slot_bit(index),
                Ok(index) => *checked &= !slot_bit(index),
                Err(()) => self.state = Err(Box::new(invalid(fields.spec(), name, "is not a field of this type"))),
            }
        }
        self
    }

    /// Validate and derive the primary key.
    pub fn finish(self) -> Result<Ooi, CoreError> {
        let (fields, checked) = self.state.map_err(|e| *e)?;
        Ooi::of_fields(fields, checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostname(name: &str) -> Ooi {
        Ooi::build("Hostname").field("network", "Network|internet").field("name", name).finish().expect("valid hostname")
    }

    #[test]
    fn primary_keys_follow_natural_keys() {
        assert_eq!(hostname("example.nl").reference().as_str(), "Hostname|internet|example.nl");
        let ip = Ooi::build("IPAddressV4").field("network", "Network|internet").field("address", "1.2.3.4").finish().expect("ip");
        let port = Ooi::build("IPPort").reference("address", ip.reference()).field("protocol", "tcp").field("port", 22).field("state", "open").finish().expect("port");
        assert_eq!(port.reference().as_str(), "IPPort|internet|1.2.3.4|tcp|22");
        let a = Ooi::build("DNSARecord")
            .reference("hostname", hostname("example.nl").reference())
            .field("dns_record_type", "A")
            .field("value", "1.2.3.4")
            .reference("address", ip.reference())
            .finish()
            .expect("a record");
        assert_eq!(a.reference().as_str(), "DNSARecord|internet|example.nl|1.2.3.4");
        let txt = Ooi::build("DNSTXTRecord").reference("hostname", hostname("example.com").reference()).field("dns_record_type", "TXT").field("value", "v=spf1 -all").finish().expect("txt");
        assert_eq!(txt.reference().as_str(), "DNSTXTRecord|internet|example.com|d2b1e35921ca5499e137cdbf735817cf89874cd3", "OpenKAT keys TXT records by SHA-1 of the text");
        let soa = Ooi::build("DNSSOARecord")
            .reference("hostname", hostname("example.nl").reference())
            .field("dns_record_type", "SOA")
            .field("value", "ns1.examplenl.nl. hostmaster.sidn.nl. 2021111101 14400 7200 1209600 86400")
            .reference("soa_hostname", hostname("ns1.examplenl.nl").reference())
            .finish()
            .expect("soa");
        assert_eq!(soa.reference().as_str(), "DNSSOARecord|internet|example.nl|internet|ns1.examplenl.nl");
        assert_eq!(a.references().len(), 2);
    }

    #[test]
    fn json_round_trips_in_openkat_shape() {
        let h = hostname("example.nl");
        let json = h.to_json();
        assert_eq!(json["object_type"], "Hostname");
        assert_eq!(json["primary_key"], "Hostname|internet|example.nl");
        assert_eq!(json["name"], "example.nl");
        let back: Ooi = serde_json::from_value(json).expect("parses back");
        assert_eq!(back, h);
    }

    #[test]
    fn bad_objects_are_refused_with_the_field_named() {
        let err = Ooi::build("Hostname").field("name", "x").finish().expect_err("no network");
        assert!(err.to_string().contains("\"network\""), "{err}");
        let err = Ooi::build("IPPort").field("address", "Hostname|internet|x").field("protocol", "tcp").field("port", 1).finish().expect_err("wrong target");
        assert!(err.to_string().contains("must reference"), "{err}");
        let err = Ooi::build("IPPort").field("address", "IPAddressV4|internet|1.1.1.1").field("protocol", "tcp").field("port", "x").finish().expect_err("port text");
        assert!(err.to_string().contains("integer"), "{err}");
        assert!(Ooi::build("Nope").finish().is_err());
        let err = Ooi::build("Hostname").field("network", "Network|internet").field("name", "a|b.nl").finish().expect_err("a bar in a key part");
        assert!(err.to_string().contains("\"name\"") && err.to_string().contains("must not contain '|'"), "{err}");
        let mx = Ooi::build("DNSMXRecord").field("hostname", "Hostname|internet|a.nl").field("dns_record_type", "MX").field("value", "10 mail|a.nl.").finish();
        assert!(mx.is_ok(), "a last key part that may hold '|' still may: {mx:?}");
        let mut h = hostname("a.nl");
        assert!(h.set("name", "b.nl".into()).is_err());
        assert!(h.set("dns_zone", "DNSZone|internet|a.nl".into()).is_ok());
        let err = Ooi::build("Hostname").field("network", "Network|internet").field("nmae", "a.nl").field("name", "a.nl").finish().expect_err("a misspelt field");
        assert!(err.to_string().contains("\"nmae\"") && err.to_string().contains("not a field"), "{err}");
        let err = Ooi::new("Hostname", serde_json::from_value(serde_json::json!({"network": "Network|internet", "name": "a.nl", "color": "red"})).unwrap_or_default()).expect_err("an unknown field");
        assert!(err.to_string().contains("\"color\""), "{err}");
    }

    #[test]
    fn fields_do_not_depend_on_the_order_they_were_set_in() {
        let a = Ooi::build("IPPort").field("protocol", "tcp").field("port", 22).field("address", "IPAddressV4|internet|1.2.3.4").finish().expect("port");
        let b = Ooi::build("IPPort").field("address", "IPAddressV4|internet|1.2.3.4").field("port", 22).field("protocol", "udp").field("protocol", "tcp").finish().expect("port");
        assert_eq!(a, b);
        assert_eq!(a.fields().keys().collect::<Vec<_>>(), ["address", "protocol", "port"], "the registry's order");
        assert_eq!(a.fields()["port"], 22);
        assert_eq!(a.fields()["state"], Value::Null, "an absent field reads as null");
        assert!(!a.fields().contains_key("state"));
        let with_null = Ooi::build("IPPort").field("address", "IPAddressV4|internet|1.2.3.4").field("protocol", "tcp").field("port", 22).field("state", Value::Null).finish().expect("port");
        assert!(with_null.fields().contains_key("state") && with_null != a, "a null field is set, unlike an absent one");
        assert_eq!(Ooi::from_json(&a.to_json()).ok(), Some(a.clone()));
        assert_eq!(a.fields().to_map().len(), a.fields().len());
    }

    #[test]
    fn a_reference_field_overwritten_with_text_is_checked_again() {
        let host = hostname("a.nl");
        let built = |text: &str| Ooi::build("DNSZone").reference("hostname", host.reference()).field("hostname", text).finish();
        let err = built("Hostname|internet").expect_err("too few key parts");
        assert!(err.to_string().contains("\"hostname\""), "{err}");
        assert!(built("Nope|x").is_err());
        assert_eq!(built("Hostname|internet|b.nl").map(|z| z.reference().to_string()).ok().as_deref(), Some("DNSZone|internet|b.nl"));
        let zone = Ooi::build("DNSZone").field("hostname", "Hostname|internet|b.nl").reference("hostname", host.reference()).finish().expect("zone");
        assert_eq!(zone.reference().as_str(), "DNSZone|internet|a.nl");
        assert_eq!(Reference::internet().as_str(), "Network|internet");
        assert_eq!((slot_bit(0), slot_bit(63), slot_bit(64), slot_bit(usize::MAX)), (1, 1 << 63, 0, 0), "no bit, and no overflow, past 64 slots");
    }
}
