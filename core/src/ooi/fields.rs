//! `Fields`: the field values of one object, one slot per field of its type.
//!
//! Field names come from the type registry ([`super::types`]), so an object
//! carries no copy of its field names and two objects with the same values
//! compare equal whatever order their fields were set in. Normalizers make
//! an object for every record they read: this is their hot path.

use serde_json::{Map, Value};

use super::types::{FieldSpec, ObjectTypeSpec};

/// The value `Fields[name]` gives for a field that is absent.
static ABSENT: Value = Value::Null;

/// The fields of one object: for each field of its type, its value or nothing.
#[derive(Debug, Clone)]
pub struct Fields {
    spec: &'static ObjectTypeSpec,
    /// One slot per `spec.fields`, in that order; `None` is absent (an optional field may also be `Some(Null)`).
    slots: Vec<Option<Value>>,
}

impl Fields {
    /// No values yet for an object of type `spec`.
    pub(crate) fn empty(spec: &'static ObjectTypeSpec) -> Fields {
        // Not `vec![None; n]`: that clones a `None` into each slot, a call per slot.
        Fields { spec, slots: std::iter::repeat_with(|| None).take(spec.fields.len()).collect() }
    }

    /// The type these are fields of.
    pub(crate) fn spec(&self) -> &'static ObjectTypeSpec {
        self.spec
    }

    /// The slot of field `name`. Names are short and most differ from the one looked for in length or
    /// first byte, so those are compared before the whole name.
    #[inline]
    fn index(&self, name: &str) -> Option<usize> {
        let first = name.as_bytes().first();
        self.spec.fields.iter().position(|f| f.name.len() == name.len() && f.name.as_bytes().first() == first && f.name == name)
    }

    /// Set field `name`; its slot, or `Err` when the type has no such field.
    #[inline]
    pub(crate) fn set(&mut self, name: &str, value: Value) -> Result<usize, ()> {
        let index = self.index(name).ok_or(())?;
        self.slots[index] = Some(value);
        Ok(index)
    }

    /// Each field of the type with its value, if set.
    pub(crate) fn slots(&self) -> impl Iterator<Item = (&'static FieldSpec, Option<&Value>)> {
        self.spec.fields.iter().zip(self.slots.iter().map(Option::as_ref))
    }

    /// Field `name` of the type with its value, if set; `None` when the type has no such field.
    pub(crate) fn slot(&self, name: &str) -> Option<(&'static FieldSpec, Option<&Value>)> {
        let index = self.index(name)?;
        Some((&self.spec.fields[index], self.slots[index].as_ref()))
    }

    /// One field's value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.slot(name)?.1
    }

    /// Whether field `name` is set (null included).
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The fields that are set with their values, in the type's field order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.slots().filter_map(|(f, v)| v.map(|v| (f.name, v)))
    }

    /// The names of the fields that are set.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.iter().map(|(name, _)| name)
    }

    /// How many fields are set.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fields as a JSON map (OpenKAT's shape without `object_type` and `primary_key`).
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter().map(|(name, value)| (name.to_string(), value.clone())).collect()
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        std::ptr::eq(self.spec, other.spec) && self.slots == other.slots
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = Value;

    /// The field's value; `Null` when it is not set.
    fn index(&self, name: &str) -> &Value {
        self.get(name).unwrap_or(&ABSENT)
    }
}
