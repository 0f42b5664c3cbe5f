//! `Secret<T>`: a value, such as a setting or a key, that never prints.
//!
//! `Debug`, `Display` and `Serialize` all print `***`; the only way to the
//! value is [`Secret::expose`], so a leak review only has to read those calls.

use serde::{Serialize, Serializer};

/// A wrapper whose formatting and serialisation hide the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wrap a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself; every call is a place where a secret leaves the wrapper.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl<T> std::fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some("\"***\""));
        assert_eq!(s.expose(), "hunter2");
    }
}
