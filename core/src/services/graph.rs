//! The object-graph contract: declare objects, save observations, read
//! objects back. It is synchronous because the embedded engine is; an
//! implementation over the network blocks on its own runtime.

use super::ServiceResult;
use crate::reference::Reference;
use crate::{Ooi, ScanLevel};

/// An object as stored, with its clearance.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// The object.
    pub ooi: Ooi,
    /// Its clearance.
    pub scan_level: ScanLevel,
}

/// What a save changed.
#[derive(Debug, Default)]
pub struct SaveReport {
    /// Objects that are new, or whose clearance rose: candidates for new boefje tasks.
    pub new_or_raised: Vec<StoredObject>,
    /// Objects deleted because no origin holds them any more.
    pub deleted: Vec<Reference>,
}

/// The object graph.
pub trait ObjectGraph {
    /// Declare an object with a clearance, as a user does with a scan target.
    fn declare(&self, ooi: &Ooi, level: ScanLevel) -> ServiceResult<SaveReport>;
    /// Save what `method` (a normalizer) saw for `source`, replacing its earlier result.
    fn save_observation(&self, method: &str, source: &Reference, result: &[Ooi]) -> ServiceResult<SaveReport>;
    /// One stored object.
    fn get(&self, reference: &Reference) -> ServiceResult<Option<StoredObject>>;
}
