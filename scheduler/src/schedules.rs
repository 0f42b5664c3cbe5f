//! Schedules (mula's `schedules` table and JSON): recurring work, one per
//! (boefje, object, organisation), from the boefje's `cron` (five-field cron,
//! parsed with `croner`) or `interval` (minutes) in `boefje.json`, or made
//! over the API.
//!
//! A schedule is due when it is enabled, its `deadline_at` has passed and
//! no unfinished task has its hash. Firing it is claimed in the database
//! (the deadline moves only if it still holds the value this replica read),
//! in the same transaction as the task it creates, so across replicas each
//! deadline fires once. The next deadline is the cron's next time after
//! now, or now plus the interval, or now plus the grace period for a
//! schedule that has neither.

use std::time::Duration;

use kat_core::services::{ServiceError, ServiceResult};
use kat_core::ErrorKind;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::{from_micros, micros};
use crate::filters::{FilterSet, Sql, SCHEDULE_COLUMNS};
use crate::store::{db_error, Store};

/// A schedule, in mula's JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Schedule {
    /// Its id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// `boefje` or `normalizer`.
    pub scheduler_id: String,
    /// The organisation.
    pub organisation: String,
    /// The hash of `data` (the hash of the tasks it makes).
    pub hash: Option<String>,
    /// The task body it pushes.
    #[schema(value_type = Object)]
    pub data: Option<Value>,
    /// Whether it fires.
    pub enabled: bool,
    /// A cron expression.
    pub schedule: Option<String>,
    /// When it fires next.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub deadline_at: Option<OffsetDateTime>,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub modified_at: OffsetDateTime,
}

/// A schedule with what only the scheduler reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRow {
    /// The public part.
    pub schedule: Schedule,
    /// The interval of a boefje's `interval`.
    pub interval: Option<Duration>,
    /// The boefje it runs, for a boefje schedule.
    pub boefje_id: Option<String>,
    /// The object it runs on, for a boefje schedule.
    pub input_ooi: Option<String>,
}

/// A schedule to make.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSchedule {
    /// `boefje` or `normalizer`.
    pub scheduler_id: String,
    /// The organisation.
    pub organisation: String,
    /// The hash of the tasks it makes.
    pub hash: String,
    /// The task body.
    pub data: Value,
    /// A cron expression.
    pub schedule: Option<String>,
    /// A fixed interval (a boefje's `interval`).
    pub interval: Option<Duration>,
    /// The first deadline (default: the cron's next time, or now plus the interval).
    pub deadline_at: Option<OffsetDateTime>,
    /// The boefje, for a boefje schedule.
    pub boefje_id: Option<String>,
    /// The object, for a boefje schedule.
    pub input_ooi: Option<String>,
}

/// A change to a schedule (`PATCH /schedules/{id}`); `Some(None)` clears a field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchedulePatch {
    /// New hash.
    pub hash: Option<String>,
    /// New body.
    pub data: Option<Value>,
    /// Switch on or off.
    pub enabled: Option<bool>,
    /// New cron expression.
    pub schedule: Option<Option<String>>,
    /// New deadline.
    pub deadline_at: Option<Option<OffsetDateTime>>,
}

/// The next time after `after` that the cron expression `expression` names; a bad expression is refused naming `field`.
pub fn next_cron(expression: &str, after: OffsetDateTime, field: &str) -> ServiceResult<OffsetDateTime> {
    use croner::parser::{CronParser, Seconds, Year};
    let shown: String = expression.chars().take(60).collect();
    let refuse = |reason: String| ServiceError::invalid(format!("validation error: cron {shown:?}: {reason}")).with_field(field);
    let text = expression.trim();
    let text = if text.eq_ignore_ascii_case("@midnight") { "@daily" } else { text };
    if !text.starts_with('@') && text.split_whitespace().count() != 5 {
        return Err(refuse("use five fields: minute hour day-of-month month day-of-week".into()));
    }
    let cron = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build().parse(text).map_err(|e| refuse(e.to_string()))?;
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(after.unix_timestamp(), 0).ok_or_else(|| refuse("the time is out of range".into()))?;
    let next = cron.find_next_occurrence(&start, false).map_err(|e| refuse(e.to_string()))?;
    OffsetDateTime::from_unix_timestamp(next.timestamp()).map_err(|_| refuse("the next time is out of range".into()))
}

const COLUMNS: &str = "id, scheduler_id, organisation, hash, data, enabled, schedule, deadline_at, created_at, modified_at, interval_seconds, boefje_id, input_ooi";

fn row_of(row: &AnyRow) -> ServiceResult<ScheduleRow> {
    let corrupt = || ServiceError::internal("a stored schedule is corrupt");
    let id: String = row.try_get(0).map_err(db_error)?;
    let data: Option<String> = row.try_get(4).map_err(db_error)?;
    let enabled: i64 = row.try_get(5).map_err(db_error)?;
    let deadline: Option<i64> = row.try_get(7).map_err(db_error)?;
    let interval: Option<i64> = row.try_get(10).map_err(db_error)?;
    let schedule = Schedule {
        id: Uuid::parse_str(&id).map_err(|_| corrupt())?,
        scheduler_id: row.try_get(1).map_err(db_error)?,
        organisation: row.try_get(2).map_err(db_error)?,
        hash: row.try_get(3).map_err(db_error)?,
        data: data.map(|d| serde_json::from_str(&d).map_err(|_| corrupt())).transpose()?,
        enabled: enabled != 0,
        schedule: row.try_get(6).map_err(db_error)?,
        deadline_at: deadline.map(from_micros),
        created_at: from_micros(row.try_get(8).map_err(db_error)?),
        modified_at: from_micros(row.try_get(9).map_err(db_error)?),
    };
    Ok(ScheduleRow { schedule, interval: interval.and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs), boefje_id: row.try_get(11).map_err(db_error)?, input_ooi: row.try_get(12).map_err(db_error)? })
}

/// The first deadline of `new` at `now`.
fn first_deadline(new: &NewSchedule, now: OffsetDateTime) -> ServiceResult<Option<OffsetDateTime>> {
    if new.deadline_at.is_some() {
        return Ok(new.deadline_at);
    }
    if let Some(cron) = &new.schedule {
        return next_cron(cron, now, "schedule").map(Some);
    }
    Ok(new.interval.map(|i| now + i))
}

/// Insert `new` at `now` inside the caller's transaction; a schedule with the same hash is a 409.
pub async fn insert(conn: &mut AnyConnection, new: &NewSchedule, now: OffsetDateTime) -> ServiceResult<ScheduleRow> {
    let deadline = first_deadline(new, now)?;
    let sql = format!(
        "INSERT INTO schedules (id, scheduler_id, organisation, hash, data, enabled, schedule, interval_seconds, deadline_at, boefje_id, input_ooi, created_at, modified_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11, $11) RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::now_v7().to_string())
        .bind(&new.scheduler_id)
        .bind(&new.organisation)
        .bind(&new.hash)
        .bind(new.data.to_string())
        .bind(new.schedule.clone())
        .bind(new.interval.map(|i| i64::try_from(i.as_secs()).unwrap_or(i64::MAX)))
        .bind(deadline.map(micros))
        .bind(new.boefje_id.clone())
        .bind(new.input_ooi.clone())
        .bind(micros(now))
        .fetch_one(conn)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => ServiceError::new(ErrorKind::Conflict, format!("schedule with the same hash already exists: {}", new.hash)).with_field("data"),
            other => db_error(other),
        })?;
    row_of(&row)
}

/// The schedule with `hash`, made (from `new`) or switched back on when it exists; inside the caller's transaction.
pub async fn ensure(conn: &mut AnyConnection, new: &NewSchedule, now: OffsetDateTime) -> ServiceResult<ScheduleRow> {
    let sql = format!("UPDATE schedules SET enabled = 1, modified_at = $1 WHERE hash = $2 RETURNING {COLUMNS}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now)).bind(&new.hash).fetch_optional(&mut *conn).await.map_err(db_error)?;
    match row {
        Some(row) => row_of(&row),
        None => insert(conn, new, now).await,
    }
}

/// Move a due schedule's deadline from `seen` to `next`, unless another replica did first; whether this call won.
pub async fn claim(conn: &mut AnyConnection, id: Uuid, seen: OffsetDateTime, next: OffsetDateTime, now: OffsetDateTime) -> ServiceResult<bool> {
    let done = sqlx::query("UPDATE schedules SET deadline_at = $1, modified_at = $2 WHERE id = $3 AND deadline_at = $4 AND enabled = 1")
        .bind(micros(next))
        .bind(micros(now))
        .bind(id.to_string())
        .bind(micros(seen))
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

/// Switch off the schedules of `organisation` whose `column` (`boefje_id` or `input_ooi`) is `value`; how many.
pub async fn disable_where(conn: &mut AnyConnection, organisation: &str, column: &str, value: &str, now: OffsetDateTime) -> ServiceResult<u64> {
    let column = if column == "boefje_id" { "boefje_id" } else { "input_ooi" };
    let sql = format!("UPDATE schedules SET enabled = 0, modified_at = $1 WHERE organisation = $2 AND {column} = $3 AND enabled = 1");
    let done = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now)).bind(organisation).bind(value).execute(conn).await.map_err(db_error)?;
    Ok(done.rows_affected())
}

/// Which schedules to list (`GET /schedules`).
#[derive(Debug, Clone, Default)]
pub struct ScheduleQuery {
    /// Only this queue.
    pub scheduler_id: Option<String>,
    /// Only this organisation.
    pub organisation: Option<String>,
    /// Only this hash.
    pub hash: Option<String>,
    /// Only enabled (or disabled) ones.
    pub enabled: Option<bool>,
    /// Further conditions.
    pub filters: FilterSet,
    /// Skip this many.
    pub offset: i64,
    /// At most this many (1..=500).
    pub limit: i64,
}

impl Store {
    /// One schedule.
    pub async fn schedule(&self, id: Uuid) -> ServiceResult<ScheduleRow> {
        let sql = format!("SELECT {COLUMNS} FROM schedules WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.as_ref().map(row_of).transpose()?.ok_or_else(|| ServiceError::not_found(format!("schedule not found, by schedule_id: {id}")).with_field("schedule_id"))
    }

    /// The schedule of tasks with `hash`, if any.
    pub async fn schedule_by_hash(&self, hash: &str) -> ServiceResult<Option<ScheduleRow>> {
        let sql = format!("SELECT {COLUMNS} FROM schedules WHERE hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.as_ref().map(row_of).transpose()
    }

    /// Schedules matching `query`, newest first, with the total count.
    pub async fn schedules(&self, query: &ScheduleQuery) -> ServiceResult<(i64, Vec<ScheduleRow>)> {
        let mut sql = Sql::default();
        for (column, value) in [("scheduler_id", &query.scheduler_id), ("organisation", &query.organisation), ("hash", &query.hash)] {
            if let Some(value) = value {
                sql.push_text_eq(column, value);
            }
        }
        if let Some(enabled) = query.enabled {
            sql.push_raw_int("enabled =", i64::from(enabled));
        }
        query.filters.to_sql(self.dialect, SCHEDULE_COLUMNS, &mut sql)?;
        let count_sql = format!("SELECT count(*) FROM schedules WHERE {}", sql.text());
        let count: i64 = sql.bind(sqlx::query(sqlx::AssertSqlSafe(count_sql))).fetch_one(&self.pool).await.map_err(db_error)?.try_get(0).map_err(db_error)?;
        let n = sql.count();
        let text = format!("SELECT {COLUMNS} FROM schedules WHERE {} ORDER BY created_at DESC, id LIMIT ${} OFFSET ${}", sql.text(), n + 1, n + 2);
        let rows = sql.bind(sqlx::query(sqlx::AssertSqlSafe(text))).bind(query.limit.clamp(1, 500)).bind(query.offset.max(0)).fetch_all(&self.pool).await.map_err(db_error)?;
        Ok((count, rows.iter().map(row_of).collect::<ServiceResult<_>>()?))
    }

    /// Apply `patch` to schedule `id` at `now`.
    pub async fn patch_schedule(&self, id: Uuid, patch: &SchedulePatch, now: OffsetDateTime) -> ServiceResult<ScheduleRow> {
        let mut row = self.schedule(id).await?;
        if let Some(Some(cron)) = &patch.schedule {
            let next = next_cron(cron, now, "schedule")?;
            if patch.deadline_at.is_none() {
                row.schedule.deadline_at = Some(next);
            }
        }
        let s = &mut row.schedule;
        if let Some(hash) = &patch.hash {
            s.hash = Some(hash.clone());
        }
        if let Some(data) = &patch.data {
            s.data = Some(data.clone());
        }
        if let Some(enabled) = patch.enabled {
            s.enabled = enabled;
        }
        if let Some(schedule) = &patch.schedule {
            s.schedule = schedule.clone();
        }
        if let Some(deadline) = patch.deadline_at {
            s.deadline_at = deadline;
        }
        let sql = format!("UPDATE schedules SET hash = $1, data = $2, enabled = $3, schedule = $4, deadline_at = $5, modified_at = $6 WHERE id = $7 RETURNING {COLUMNS}");
        let updated = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(s.hash.clone())
            .bind(s.data.as_ref().map(Value::to_string))
            .bind(i64::from(s.enabled))
            .bind(s.schedule.clone())
            .bind(s.deadline_at.map(micros))
            .bind(micros(now))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.is_unique_violation() => ServiceError::new(ErrorKind::Conflict, "schedule with the same hash already exists").with_field("hash"),
                other => db_error(other),
            })?;
        updated.as_ref().map(row_of).transpose()?.ok_or_else(|| ServiceError::not_found(format!("schedule not found, by schedule_id: {id}")).with_field("schedule_id"))
    }

    /// Delete schedule `id` (its tasks keep their rows, without the schedule id).
    pub async fn delete_schedule(&self, id: Uuid) -> ServiceResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE tasks SET schedule_id = NULL WHERE schedule_id = $1").bind(id.to_string()).execute(&mut *tx).await.map_err(db_error)?;
        sqlx::query("DELETE FROM schedules WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    /// Enabled schedules whose deadline has passed and that have no unfinished task, oldest deadline first.
    pub async fn due_schedules(&self, now: OffsetDateTime, limit: i64) -> ServiceResult<Vec<ScheduleRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM schedules s WHERE s.enabled = 1 AND s.deadline_at <= $1 AND NOT EXISTS \
             (SELECT 1 FROM tasks t WHERE t.hash = s.hash AND t.status IN ('pending', 'queued', 'dispatched', 'running')) ORDER BY s.deadline_at LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now)).bind(limit).fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(row_of).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn cron_gives_the_next_time_and_refuses_nonsense() {
        let at = datetime!(2024-05-01 10:07:30 UTC);
        assert_eq!(next_cron("*/15 * * * *", at, "schedule").expect("valid"), datetime!(2024-05-01 10:15 UTC));
        assert_eq!(next_cron("0 0 * * *", at, "schedule").expect("valid"), datetime!(2024-05-02 00:00 UTC));
        assert_eq!(next_cron("@midnight", at, "schedule").expect("valid"), datetime!(2024-05-02 00:00 UTC));
        assert_eq!(next_cron("0 12 * * MON", at, "schedule").expect("valid"), datetime!(2024-05-06 12:00 UTC));
        assert_eq!(next_cron("0 0 L * *", at, "schedule").expect("valid"), datetime!(2024-05-31 00:00 UTC));
        for bad in ["bad format", "* * * *", "0 * * * * *", "61 * * * *", "@sometimes"] {
            let e = next_cron(bad, at, "schedule").expect_err(bad);
            assert_eq!(e.field.as_deref(), Some("schedule"));
            assert!(e.message.contains("validation error"), "{}", e.message);
        }
    }
}
