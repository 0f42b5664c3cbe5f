//! The object-graph contract: declare objects, save observations, read
//! objects back, every call scoped to one organisation (two organisations
//! that scan the same host share nothing). Implemented by `kat-graph` on the
//! embedded engine and on a Bolt server alike.

use async_trait::async_trait;

use super::ServiceResult;
use crate::reference::Reference;
use crate::{Ooi, ScanLevel};

/// An object as stored, with its clearance.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// The object.
    pub ooi: Ooi,
    /// Its clearance, as the rules give it from declarations and references.
    pub scan_level: ScanLevel,
    /// The clearance a user declared on it, if any.
    pub declared: Option<ScanLevel>,
}

/// What a save changed.
#[derive(Debug, Default)]
pub struct SaveReport {
    /// Objects that are new, or whose clearance rose: candidates for new boefje tasks.
    pub new_or_raised: Vec<StoredObject>,
    /// Objects whose clearance fell (a declaration lowered or removed, a reference gone).
    pub lowered: Vec<StoredObject>,
    /// Objects deleted because no origin holds them any more.
    pub deleted: Vec<Reference>,
}

impl SaveReport {
    /// Add what a later save in the same piece of work changed.
    pub fn absorb(&mut self, later: SaveReport) {
        self.new_or_raised.extend(later.new_or_raised);
        self.lowered.extend(later.lowered);
        self.deleted.extend(later.deleted);
    }
}

/// The object graph.
#[async_trait]
pub trait ObjectGraph: Send + Sync {
    /// Declare an object in `organisation` with a clearance, as a user does with a scan target.
    async fn declare(&self, organisation: &str, ooi: &Ooi, level: ScanLevel) -> ServiceResult<SaveReport>;
    /// Save what `method` (a normalizer) saw for `source` in `organisation`, replacing its earlier result.
    async fn save_observation(&self, organisation: &str, method: &str, source: &Reference, result: &[Ooi]) -> ServiceResult<SaveReport>;
    /// Save the objects normalizer `method` declares on `source`, replacing what it declared there before.
    async fn save_declarations(&self, organisation: &str, method: &str, source: &Reference, declared: &[Ooi]) -> ServiceResult<SaveReport>;
    /// Add the fields `method` found on `source` to those of `objects` that exist (an affirmation): it creates
    /// nothing and keeps nothing alive, so an observation can add to the very object it was made on.
    async fn affirm(&self, organisation: &str, method: &str, source: &Reference, objects: &[Ooi]) -> ServiceResult<()>;
    /// One stored object of `organisation`.
    async fn get(&self, organisation: &str, reference: &Reference) -> ServiceResult<Option<StoredObject>>;
    /// The stored objects of `object_type` in `organisation` whose reference field `field` names `target`
    /// (the headers of a resource, the A records of an address), ordered by key.
    async fn referencing(&self, organisation: &str, object_type: &str, field: &str, target: &Reference) -> ServiceResult<Vec<StoredObject>>;
}
