//! Why a boefje did or did not run on an object (`GET /explain`,
//! `kat explain`): every rule the scheduler applies, checked against the
//! KATalogus, the object index and the task history of that work (its
//! hash), each as a reason with a stable `code`, a sentence and details.
//!
//! Codes: `unknown_boefje`, `not_enabled`, `unknown_object`,
//! `object_deleted`, `not_consumed`, `clearance_too_low`, `condition_false`,
//! `within_grace`, `deduplicated`, `lease_expired`, `failed`, `ran`, and
//! `eligible` when nothing holds it back.

use kat_core::services::ServiceResult;
use kat_core::task::{Task, TaskStatus};
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::micros;
use crate::hash::boefje_hash;
use crate::local::LocalScheduler;
use crate::ranker::Held;
use crate::store::{tasks, Origin};
use crate::subscriptions::failed_condition;

/// One reason.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Reason {
    /// A stable code (see the module documentation).
    pub code: &'static str,
    /// What it means, for people.
    pub message: String,
    /// The facts behind it (levels, condition, times, task id).
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// The answer of `explain`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// The organisation.
    pub organisation: String,
    /// The boefje.
    pub boefje_id: String,
    /// The object.
    pub input_ooi: String,
    /// Whether the scheduler would queue this work now if the object were reported again.
    pub would_run: bool,
    /// Every reason that applies.
    pub reasons: Vec<Reason>,
    /// The newest task of this work, if any.
    #[schema(value_type = Option<Object>)]
    pub latest_task: Option<Task>,
}

fn reason(code: &'static str, message: String, detail: Value) -> Reason {
    Reason { code, message, detail }
}

/// Codes that stop the work from being queued.
const BLOCKING: [&str; 9] = ["unknown_boefje", "not_enabled", "unknown_object", "object_deleted", "not_consumed", "clearance_too_low", "condition_false", "within_grace", "deduplicated"];

impl LocalScheduler {
    /// Explain why `boefje_id` did or did not run on `input_ooi` for `organisation`.
    pub async fn explain(&self, organisation: &str, boefje_id: &str, input_ooi: &str) -> ServiceResult<Explanation> {
        kat_core::ids::check_organisation_id(organisation, "organisation")?;
        let mut reasons = Vec::new();
        let boefje = self.katalogus().boefjes(organisation).await?.into_iter().find(|b| b.manifest.id == boefje_id);
        match &boefje {
            None => reasons.push(reason("unknown_boefje", format!("the KATalogus has no boefje {boefje_id:?}"), Value::Null)),
            Some(b) if !b.enabled => reasons.push(reason("not_enabled", format!("boefje {boefje_id} is not enabled for organisation {organisation}"), Value::Null)),
            Some(_) => {}
        }
        let object = self.store().object(organisation, input_ooi).await?;
        match &object {
            None => reasons.push(reason("unknown_object", format!("no normalizer has reported {input_ooi} for organisation {organisation}"), Value::Null)),
            Some(o) if o.deleted => reasons.push(reason("object_deleted", format!("{input_ooi} was deleted"), Value::Null)),
            Some(_) => {}
        }
        if let (Some(b), Some(o)) = (&boefje, &object) {
            let m = &b.manifest;
            if !m.consumes.contains(&o.object_type) {
                reasons.push(reason("not_consumed", format!("boefje {boefje_id} consumes {}, not {}", m.consumes.join(", "), o.object_type), json!({"consumes": m.consumes, "object_type": o.object_type})));
            }
            if m.scan_level > o.scan_level {
                let (object_level, boefje_level) = (o.scan_level.get(), m.scan_level.get());
                reasons.push(reason("clearance_too_low", format!("the object's clearance is {object_level}, below the boefje's scan level {boefje_level}"), json!({"object_level": object_level, "boefje_level": boefje_level})));
            }
            if let Some(condition) = failed_condition(m, &o.fields) {
                reasons.push(reason("condition_false", format!("the condition {condition} does not hold on the object"), json!({"condition": condition})));
            }
        }
        let hash = boefje_hash(Some(input_ooi), boefje_id, organisation);
        let mut conn = self.store().pool.acquire().await.map_err(crate::store::db_error)?;
        let latest = tasks::latest(&mut conn, &hash).await?;
        if let Some(open) = tasks::find_open(&mut conn, &hash).await? {
            let t = &open.task;
            reasons.push(reason("deduplicated", format!("task {} for this work is {}: a new one would be deduplicated into it", t.id, t.status.as_str()), json!({"task_id": t.id, "status": t.status})));
        }
        if let Some(row) = latest.as_ref().filter(|r| r.attempts > 0) {
            reasons.push(reason("lease_expired", format!("the lease of task {} expired {} time(s)", row.task.id, row.attempts), json!({"task_id": row.task.id, "times": row.attempts})));
        }
        let finished = tasks::last_finished(&mut conn, &hash).await?;
        if let Some(row) = &finished {
            let at = row.finished_at.map(|t| t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default());
            match row.task.status {
                TaskStatus::Failed => reasons.push(reason("failed", format!("task {} failed: {}", row.task.id, row.reason.as_deref().unwrap_or("no reason given")), json!({"task_id": row.task.id, "reason": row.reason, "at": at}))),
                status => reasons.push(reason("ran", format!("task {} ran and ended {} at {}", row.task.id, status.as_str(), at.clone().unwrap_or_default()), json!({"task_id": row.task.id, "status": status, "at": at}))),
            }
            match self.settings().grace_rules().check(Origin::Rerun, row.finished_at, self.clock().now()) {
                Err(Held::Until(until)) => {
                    let until = until.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
                    reasons.push(reason("within_grace", format!("it last finished less than the grace period ago: not again before {until}"), json!({"until": until, "grace_seconds": self.settings().grace.as_secs()})));
                }
                Err(Held::ThisScan) => reasons.push(reason("within_grace", "it already ran during this scan".into(), json!({"until": null, "rerun_epoch": self.settings().rerun_epoch.map(micros)}))),
                Ok(()) => {}
            }
        }
        let would_run = !reasons.iter().any(|r| BLOCKING.contains(&r.code));
        if would_run {
            reasons.push(reason("eligible", "nothing holds it back: it runs when the object is reported again or its schedule is due".into(), Value::Null));
        }
        Ok(Explanation { organisation: organisation.into(), boefje_id: boefje_id.into(), input_ooi: input_ooi.into(), would_run, reasons, latest_task: latest.map(|r| r.task) })
    }
}
