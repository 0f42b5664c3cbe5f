//! Scan levels (clearance): how intrusive a boefje may be against an object.
//!
//! An object carries a level from 0 (do not touch) to 4; a boefje declares the
//! level it needs and runs only on objects whose level is at least that.

use serde::{Deserialize, Serialize};

/// A clearance or a boefje's required level, 0 to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct ScanLevel(u8);

impl ScanLevel {
    /// Level 0: the object may not be scanned at all.
    pub const L0: ScanLevel = ScanLevel(0);
    /// Level 1: passive look-ups only.
    pub const L1: ScanLevel = ScanLevel(1);
    /// Level 2: light active scanning, such as a port scan.
    pub const L2: ScanLevel = ScanLevel(2);
    /// Level 3: intrusive scanning.
    pub const L3: ScanLevel = ScanLevel(3);
    /// Level 4: everything.
    pub const L4: ScanLevel = ScanLevel(4);

    /// The level as a number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for ScanLevel {
    type Error = String;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        if value <= 4 {
            Ok(ScanLevel(value))
        } else {
            Err(format!("scan level must be 0 to 4, got {value}"))
        }
    }
}

impl From<ScanLevel> for u8 {
    fn from(level: ScanLevel) -> u8 {
        level.0
    }
}

impl std::fmt::Display for ScanLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "L{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_above_four_are_refused() {
        assert!(ScanLevel::try_from(5).is_err());
        assert_eq!(ScanLevel::try_from(4), Ok(ScanLevel::L4));
        assert!(serde_json::from_str::<ScanLevel>("7").is_err());
        assert_eq!(serde_json::from_str::<ScanLevel>("2").ok(), Some(ScanLevel::L2));
    }
}
