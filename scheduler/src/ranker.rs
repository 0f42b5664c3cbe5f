//! Ranking and the grace period (OpenKAT's boefje ranker, made explicit).
//!
//! Priority: lower runs first. User pushes (REST push, `kat scan`
//! declarations) rank first, then tasks for new objects, then reruns,
//! ordered by how long ago the last run of that boefje on that object
//! finished (longest ago first: the priority is that finish time in epoch
//! seconds, above the new-object band).
//!
//! Grace: a run of a boefje on an object that finished less than the grace
//! period ago holds back a rerun of the same work (same hash), except for
//! user pushes and due schedules. `kat scan` uses grace 0 with a *rerun
//! epoch* at its start: work that finished before this scan runs again,
//! work that finished during it does not, so a scan re-scans everything
//! once and never loops on objects its own results keep reporting.

use std::time::Duration;

use time::OffsetDateTime;

use crate::store::Origin;

/// The priority of a user push that names none.
pub const USER_PRIORITY: i64 = 1;
/// The priority of a task for a new object (or a normalizer task).
pub const NEW_PRIORITY: i64 = 1_000;
/// Reruns rank from here up, by the epoch second their last run finished.
pub const RERUN_BASE: i64 = 10_000;

/// The grace rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraceRules {
    /// `SCHEDULER_GRACE_PERIOD`.
    pub grace: Duration,
    /// Work that finished at or after this time is held back too (`kat scan` sets its start).
    pub rerun_epoch: Option<OffsetDateTime>,
}

/// Why a rerun waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The last run finished less than the grace period ago: not before `until`.
    Until(OffsetDateTime),
    /// The last run finished during this scan (after the rerun epoch).
    ThisScan,
}

impl GraceRules {
    /// Whether a task of `origin` for work that last finished at `last_finished` may be created at `now`.
    pub fn check(&self, origin: Origin, last_finished: Option<OffsetDateTime>, now: OffsetDateTime) -> Result<(), Held> {
        let Some(finished) = last_finished else { return Ok(()) };
        if matches!(origin, Origin::User | Origin::Schedule) {
            return Ok(());
        }
        if self.rerun_epoch.is_some_and(|epoch| finished >= epoch) {
            return Err(Held::ThisScan);
        }
        let until = finished + self.grace;
        if now < until { Err(Held::Until(until)) } else { Ok(()) }
    }
}

/// The priority of a task of `origin`; `asked` is the priority a user push gave, `last_finished` when the same work last finished.
pub fn priority(origin: Origin, asked: Option<i64>, last_finished: Option<OffsetDateTime>) -> i64 {
    match (origin, last_finished) {
        (Origin::User, _) => asked.unwrap_or(USER_PRIORITY),
        (Origin::RawFile, _) | (_, None) => NEW_PRIORITY,
        (_, Some(finished)) => RERUN_BASE + finished.unix_timestamp().max(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn users_first_then_new_objects_then_the_oldest_rerun() {
        let old = datetime!(2024-01-01 00:00 UTC);
        let recent = datetime!(2024-05-01 00:00 UTC);
        let ranks = [priority(Origin::User, None, Some(recent)), priority(Origin::NewObject, None, None), priority(Origin::Rerun, None, Some(old)), priority(Origin::Rerun, None, Some(recent))];
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
        assert_eq!(priority(Origin::User, Some(7), None), 7);
    }

    #[test]
    fn grace_holds_back_reruns_but_not_users() {
        let rules = GraceRules { grace: Duration::from_secs(3600), rerun_epoch: None };
        let finished = datetime!(2024-05-01 10:00 UTC);
        assert_eq!(rules.check(Origin::Rerun, Some(finished), datetime!(2024-05-01 10:30 UTC)), Err(Held::Until(datetime!(2024-05-01 11:00 UTC))));
        assert_eq!(rules.check(Origin::Rerun, Some(finished), datetime!(2024-05-01 11:00 UTC)), Ok(()));
        assert_eq!(rules.check(Origin::User, Some(finished), finished), Ok(()));
        assert_eq!(rules.check(Origin::NewObject, None, finished), Ok(()));
        let scan = GraceRules { grace: Duration::ZERO, rerun_epoch: Some(datetime!(2024-05-01 09:00 UTC)) };
        assert_eq!(scan.check(Origin::Rerun, Some(finished), finished), Err(Held::ThisScan));
        assert_eq!(scan.check(Origin::Rerun, Some(datetime!(2024-05-01 08:00 UTC)), finished), Ok(()));
    }
}
