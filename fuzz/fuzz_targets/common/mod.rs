//! What every normalizer fuzz target checks of the objects a normalizer
//! gave: each has a primary key that parses back to the same text, so no
//! input can make a key that a later read would refuse or misread.

use kat_core::{Ooi, Reference};

/// Every object's key parses back to itself.
pub fn keys_parse_back(objects: &[Ooi]) {
    for object in objects {
        let key = object.reference().to_string();
        assert_eq!(Reference::parse(&key).map(|r| r.to_string()).ok(), Some(key));
    }
}
