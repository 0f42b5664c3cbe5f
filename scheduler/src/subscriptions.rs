//! The rules that create tasks from events (DESIGN.md section 2), inside
//! the scheduler:
//!
//! - a stored raw file (`raw_file_received`) gives one normalizer task per
//!   enabled normalizer whose `consumes` names one of its mime types (none
//!   for `error/...` files); the event id is recorded in the same
//!   transaction, so a redelivered event adds nothing;
//! - saved objects (every object of a normalizer's observation, with its
//!   clearance) give one boefje task per enabled boefje that consumes the
//!   type, whose scan level the clearance reaches, whose `conditions` hold
//!   and whose `run_on` (`create`, `update`) matches how the object changed,
//!   unless the grace period holds it back; a boefje with `cron` or
//!   `interval` (and no `run_on`) gets a schedule per object; deleted
//!   objects stop their schedules and queued tasks;
//! - a plugin switched on (seen by polling the KATalogus, claimed in the
//!   database) schedules a boefje for the indexed objects it matches, or a
//!   normalizer for the stored raw files it reads; a boefje switched off
//!   stops its schedules;
//! - due schedules fire ([`LocalScheduler::tick`]).

use std::collections::HashMap;

use kat_core::events::RawFileReceived;
use kat_core::plugin::BoefjeManifest;
use kat_core::services::katalogus::BoefjePlugin;
use kat_core::services::scheduler::{ObjectState, Pushed, TaskType};
use kat_core::services::ServiceResult;
use kat_core::task::TaskStatus;
use kat_core::Reference;
use serde_json::{json, Map, Value};
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use crate::clock::micros;
use crate::filters::{holds, lookup, Op};
use crate::local::{LocalScheduler, RuleOutcome, RulePush};
use crate::objects::{self, Change};
use crate::schedules::{self, NewSchedule};
use crate::store::{db_error, Origin};

/// A boefje's `run_on` list (`create`, `update`), empty when it has none.
pub fn run_on(manifest: &BoefjeManifest) -> Vec<String> {
    manifest.run_on.clone()
}

/// The first of the boefje's conditions that does not hold on `fields` (as `field operator value`), if any.
pub fn failed_condition(manifest: &BoefjeManifest, fields: &Map<String, Value>) -> Option<String> {
    manifest.conditions.iter().find_map(|c| {
        let ok = Op::parse(&c.operator, "conditions").is_ok_and(|op| holds(op, lookup(fields, &c.field), &c.value));
        (!ok).then(|| format!("{} {} {}", c.field, c.operator, c.value))
    })
}

/// The body of a boefje task (mula's `BoefjeTask`).
pub fn boefje_body(manifest: &BoefjeManifest, input_ooi: &str, organisation: &str) -> Value {
    json!({"boefje": {"id": manifest.id, "name": manifest.name, "version": null, "oci_image": manifest.oci_image}, "input_ooi": input_ooi, "organization": organisation, "dispatches": []})
}

/// The schedule a boefje with `cron` or `interval` keeps per object.
fn schedule_for(manifest: &BoefjeManifest, input_ooi: &str, organisation: &str, hash: String) -> Option<NewSchedule> {
    let interval = manifest.interval.filter(|m| *m > 0).map(|m| std::time::Duration::from_secs(m.saturating_mul(60)));
    (manifest.cron.is_some() || interval.is_some()).then(|| NewSchedule {
        scheduler_id: "boefje".into(),
        organisation: organisation.into(),
        hash,
        data: boefje_body(manifest, input_ooi, organisation),
        schedule: manifest.cron.clone(),
        interval: if manifest.cron.is_some() { None } else { interval },
        deadline_at: None,
        boefje_id: Some(manifest.id.clone()),
        input_ooi: Some(input_ooi.into()),
    })
}

impl LocalScheduler {
    /// The enabled boefjes of `organisation`.
    async fn enabled_boefjes(&self, organisation: &str) -> ServiceResult<Vec<BoefjePlugin>> {
        Ok(self.katalogus().boefjes(organisation).await?.into_iter().filter(|p| p.enabled).collect())
    }

    /// Queue `boefje` on `object` (with its schedule when it has one), inside the caller's transaction.
    async fn boefje_on(&self, conn: &mut AnyConnection, boefje: &BoefjeManifest, organisation: &str, object: &str, origin: Origin) -> ServiceResult<RuleOutcome> {
        let data = boefje_body(boefje, object, organisation);
        let hash = crate::hash::boefje_hash(Some(object), &boefje.id, organisation);
        let schedule_id = match schedule_for(boefje, object, organisation, hash).filter(|_| run_on(boefje).is_empty()) {
            Some(new) => Some(schedules::ensure(conn, &new, self.clock().now()).await?.schedule.id),
            None => None,
        };
        self.rule_push(conn, RulePush { task_type: TaskType::Boefje, organisation, data, origin, schedule_id }).await
    }

    /// A raw file was stored: queue its normalizers, once per event id.
    pub async fn on_raw_file(&self, event: &RawFileReceived) -> ServiceResult<Vec<Pushed>> {
        let organisation = &event.organization;
        kat_core::ids::check_organisation_id(organisation, "organization")?;
        let normalizers = self.katalogus().normalizers(organisation).await?;
        let now = self.now();
        let mime_types: Vec<&str> = event.raw_data.mime_types.iter().map(|m| m.value.as_str()).collect();
        let mut tx = self.store().begin().await?;
        let fresh = sqlx::query("INSERT INTO processed_events (event_id, at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING").bind(event.event_id.to_string()).bind(now).execute(&mut *tx).await.map_err(db_error)?;
        if fresh.rows_affected() == 0 {
            return Ok(Vec::new());
        }
        let raw = serde_json::to_string(&event.raw_data).map_err(|e| kat_core::services::ServiceError::internal(e.to_string()))?;
        sqlx::query("INSERT INTO raw_files (id, organisation, mime_types, data, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING")
            .bind(event.raw_data.id.to_string())
            .bind(organisation)
            .bind(json!(mime_types).to_string())
            .bind(&raw)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut pushed = Vec::new();
        if !mime_types.iter().any(|m| m.starts_with("error/")) {
            for plugin in normalizers.iter().filter(|p| p.enabled && p.manifest.consumes.iter().any(|c| mime_types.contains(&c.as_str())) && kat_core::derived::dispatch_allows(&mime_types, &p.manifest.id)) {
                let data = json!({"normalizer": {"id": plugin.manifest.id, "version": null}, "raw_data": event.raw_data});
                if let RuleOutcome::Pushed(p) = self.rule_push(&mut tx, RulePush { task_type: TaskType::Normalizer, organisation, data, origin: Origin::RawFile, schedule_id: None }).await? {
                    pushed.push(p);
                }
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(pushed)
    }

    /// A normalizer saved `saved` and deleted `deleted`: index them and queue the boefjes they call for.
    pub async fn on_objects(&self, organisation: &str, saved: &[ObjectState], deleted: &[Reference]) -> ServiceResult<Vec<Pushed>> {
        kat_core::ids::check_organisation_id(organisation, "organisation")?;
        for object in saved {
            if let Some(path) = kat_core::ids::find_nul(&Value::Object(object.fields.clone())) {
                return Err(kat_core::services::ServiceError::invalid(format!("fields.{path} must not contain a NUL character")).with_field(format!("fields.{path}")));
            }
        }
        let boefjes = self.enabled_boefjes(organisation).await?;
        let run_ons: Vec<Vec<String>> = boefjes.iter().map(|b| run_on(&b.manifest)).collect();
        let now = self.clock().now();
        // One order for every writer: two transactions that index overlapping objects (two normalizer runners,
        // two replicas on one PostgreSQL) lock their rows, and the task hashes they push, in the same order, so
        // neither waits on the other in a cycle (PostgreSQL's "deadlock detected" failed such a task).
        let mut ordered: Vec<&ObjectState> = saved.iter().collect();
        ordered.sort_by(|a, b| a.reference.as_str().cmp(b.reference.as_str()));
        let mut tx = self.store().begin().await?;
        let mut pushed = Vec::new();
        for object in ordered {
            let change = objects::save(self.store(), &mut tx, organisation, object, micros(now)).await?;
            let reference = object.reference.as_str();
            for (boefje, run_on) in boefjes.iter().map(|b| &b.manifest).zip(&run_ons) {
                if !boefje.consumes.iter().any(|c| c == object.reference.object_type()) || boefje.scan_level > object.scan_level || failed_condition(boefje, &object.fields).is_some() {
                    continue;
                }
                let allowed = match change {
                    _ if run_on.is_empty() => true,
                    Change::Created => run_on.iter().any(|r| r == "create"),
                    Change::Updated => run_on.iter().any(|r| r == "update"),
                    // Reported again unchanged: only work that never got a task (a crashed earlier run).
                    Change::Unchanged => crate::store::tasks::latest(&mut tx, &crate::hash::boefje_hash(Some(reference), &boefje.id, organisation)).await?.is_none(),
                };
                if !allowed {
                    continue;
                }
                let origin = if change == Change::Created { Origin::NewObject } else { Origin::Rerun };
                if let RuleOutcome::Pushed(p) = self.boefje_on(&mut tx, boefje, organisation, reference, origin).await? {
                    pushed.push(p);
                }
            }
        }
        let mut deleted: Vec<&Reference> = deleted.iter().collect();
        deleted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        for reference in deleted {
            if objects::delete(&mut tx, organisation, reference.as_str(), micros(now)).await? {
                schedules::disable_where(&mut tx, organisation, "input_ooi", reference.as_str(), now).await?;
                self.cancel_queued_on(&mut tx, organisation, reference.as_str(), now).await?;
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(pushed)
    }

    /// Cancel the queued boefje tasks on a deleted object.
    async fn cancel_queued_on(&self, conn: &mut AnyConnection, organisation: &str, reference: &str, now: OffsetDateTime) -> ServiceResult<()> {
        let sql = format!(
            "UPDATE tasks SET status = 'cancelled', finished_at = $1, modified_at = $1, reason = 'the object was deleted' \
             WHERE organisation = $2 AND task_type = 'boefje' AND status = 'queued' AND {} = $4 RETURNING id",
            self.store().dialect.json_text("data", 1, 3)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now)).bind(organisation).bind("input_ooi").bind(reference).fetch_all(&mut *conn).await.map_err(db_error)?;
        for row in rows {
            let id: String = row.try_get(0).map_err(db_error)?;
            if let Ok(id) = uuid::Uuid::parse_str(&id) {
                crate::events::record(conn, self.store().webhook, id, micros(now), Some(TaskStatus::Queued), TaskStatus::Cancelled, Some("the object was deleted")).await?;
            }
        }
        Ok(())
    }

    /// Record the enablement of one plugin; whether it changed (or was first seen).
    async fn plugin_changed(&self, conn: &mut AnyConnection, organisation: &str, plugin_id: &str, kind: &str, enabled: bool) -> ServiceResult<bool> {
        let done = sqlx::query(
            "INSERT INTO plugin_state (organisation, plugin_id, kind, enabled) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organisation, plugin_id) DO UPDATE SET enabled = excluded.enabled WHERE plugin_state.enabled <> excluded.enabled",
        )
        .bind(organisation)
        .bind(plugin_id)
        .bind(kind)
        .bind(i64::from(enabled))
        .execute(conn)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    /// Compare `organisation`'s plugin enablement with what was last seen, and act on each change.
    pub async fn sync_plugins(&self, organisation: &str) -> ServiceResult<Vec<Pushed>> {
        kat_core::ids::check_organisation_id(organisation, "organisation")?;
        let now = self.clock().now();
        let mut pushed = Vec::new();
        for plugin in self.katalogus().boefjes(organisation).await? {
            let m = &plugin.manifest;
            let objects = if plugin.enabled { self.store().objects_of_types(organisation, &m.consumes).await? } else { Vec::new() };
            let mut tx = self.store().begin().await?;
            if !self.plugin_changed(&mut tx, organisation, &m.id, "boefje", plugin.enabled).await? {
                continue;
            }
            if !plugin.enabled {
                schedules::disable_where(&mut tx, organisation, "boefje_id", &m.id, now).await?;
            }
            for object in objects.iter().filter(|o| m.scan_level <= o.scan_level && failed_condition(m, &o.fields).is_none()) {
                if let RuleOutcome::Pushed(p) = self.boefje_on(&mut tx, m, organisation, &object.reference, Origin::NewObject).await? {
                    pushed.push(p);
                }
            }
            tx.commit().await.map_err(db_error)?;
        }
        for plugin in self.katalogus().normalizers(organisation).await? {
            let m = &plugin.manifest;
            let raws = if plugin.enabled { self.stored_raws(organisation).await? } else { Vec::new() };
            let mut tx = self.store().begin().await?;
            if !self.plugin_changed(&mut tx, organisation, &m.id, "normalizer", plugin.enabled).await? {
                continue;
            }
            for (_, raw) in raws.iter().filter(|(mimes, _)| !mimes.iter().any(|x| x.starts_with("error/")) && m.consumes.iter().any(|c| mimes.contains(c))) {
                let data = json!({"normalizer": {"id": m.id, "version": null}, "raw_data": raw});
                let hash = crate::hash::task_hash(TaskType::Normalizer, organisation, &data)?;
                if crate::store::tasks::latest(&mut tx, &hash).await?.is_some() {
                    continue;
                }
                if let RuleOutcome::Pushed(p) = self.rule_push(&mut tx, RulePush { task_type: TaskType::Normalizer, organisation, data, origin: Origin::RawFile, schedule_id: None }).await? {
                    pushed.push(p);
                }
            }
            tx.commit().await.map_err(db_error)?;
        }
        Ok(pushed)
    }

    /// The raw files stored for `organisation`: their mime types and metadata.
    async fn stored_raws(&self, organisation: &str) -> ServiceResult<Vec<(Vec<String>, Value)>> {
        let rows = sqlx::query("SELECT mime_types, data FROM raw_files WHERE organisation = $1 ORDER BY at").bind(organisation).fetch_all(&self.store().pool).await.map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let (mimes, data): (String, String) = (r.try_get(0).map_err(db_error)?, r.try_get(1).map_err(db_error)?);
                Ok((serde_json::from_str(&mimes).unwrap_or_default(), serde_json::from_str(&data).unwrap_or(Value::Null)))
            })
            .collect()
    }

    /// Poll the KATalogus for every organisation the scheduler knows (OpenKAT polls every minute).
    pub async fn sync_all(&self) -> ServiceResult<usize> {
        let mut pushed = 0;
        for organisation in self.store().organisations().await? {
            pushed += self.sync_plugins(&organisation).await?.len();
        }
        Ok(pushed)
    }

    /// Fire the schedules that are due; returns the tasks they created.
    pub async fn tick(&self) -> ServiceResult<Vec<Pushed>> {
        let now = self.clock().now();
        let mut boefjes: HashMap<String, Vec<BoefjePlugin>> = HashMap::new();
        let mut pushed = Vec::new();
        for due in self.store().due_schedules(now, 500).await? {
            let s = &due.schedule;
            let Some(seen) = s.deadline_at else { continue };
            let next = match (&s.schedule, due.interval) {
                (Some(cron), _) => schedules::next_cron(cron, now, "schedule"),
                (None, Some(interval)) => Ok(now + interval),
                (None, None) => Ok(now + self.settings().grace),
            };
            let task_type = TaskType::parse(&s.scheduler_id);
            let still_valid = match (&due.boefje_id, &due.input_ooi) {
                (Some(boefje_id), Some(input)) => {
                    if !boefjes.contains_key(&s.organisation) {
                        boefjes.insert(s.organisation.clone(), self.enabled_boefjes(&s.organisation).await?);
                    }
                    let object = self.store().object(&s.organisation, input).await?.filter(|o| !o.deleted);
                    let boefje = boefjes.get(&s.organisation).and_then(|list| list.iter().find(|b| &b.manifest.id == boefje_id));
                    matches!((object, boefje), (Some(o), Some(b)) if b.manifest.scan_level <= o.scan_level && b.manifest.consumes.contains(&o.object_type))
                }
                _ => true,
            };
            let (Ok(next), Some(task_type), true, Some(data)) = (next, task_type, still_valid, s.data.clone()) else {
                tracing::info!(schedule = %s.id, "disabling a schedule that can no longer run");
                let off = crate::schedules::SchedulePatch { enabled: Some(false), ..Default::default() };
                self.store().patch_schedule(s.id, &off, now).await?;
                continue;
            };
            let mut data = data;
            if let Value::Object(map) = &mut data {
                map.remove("id");
            }
            let mut tx = self.store().begin().await?;
            if !schedules::claim(&mut tx, s.id, seen, next, now).await? {
                continue;
            }
            let push = RulePush { task_type, organisation: &s.organisation, data, origin: Origin::Schedule, schedule_id: Some(s.id) };
            if let RuleOutcome::Pushed(p) = self.rule_push(&mut tx, push).await? {
                pushed.push(p);
            }
            tx.commit().await.map_err(db_error)?;
        }
        Ok(pushed)
    }
}
