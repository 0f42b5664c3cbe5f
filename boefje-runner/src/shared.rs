//! Cross-organisation deduplication (OpenKAT's `deduplicate` flag of an
//! organisation and of a boefje, both true by default as in OpenKAT; a
//! KATalogus that cannot say means no).
//!
//! When the pool has popped a task whose organisation and boefje allow
//! sharing, it claims the queued tasks of other organisations for the same
//! boefje and input object ([`BoefjeRunner::claim_duplicates`], one filtered
//! pop, so it works the same in process and over HTTP), and
//! [`BoefjeRunner::run_shared`] runs the boefje once for all of them whose
//! organisation shares too and whose job environment (settings) is the same
//! as the first task's. Each of those tasks keeps its own boefje meta (its
//! own id and organisation; the run's times and environment) with its own
//! copy of the raw files, so every organisation's data looks as if it had
//! run alone and none learns of the others. A claimed task that may not be
//! shared, or whose settings differ, runs on its own; so do all of them when
//! the shared run fails, so one organisation's failure is never another's.
//!
//! The flags are asked of the KATalogus at most every [`SHARING_TTL`] per
//! organisation and boefje (over HTTP that is two requests), so a changed
//! flag takes effect within that time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::join_all;
use kat_core::services::scheduler::{Filter, Scheduler, TaskPatch, TaskType};
use kat_core::services::ServiceResult;
use kat_core::task::{BoefjeTask, Task, TaskStatus};

use crate::{finish, plain, BoefjeOutcome, BoefjeRunner};

/// The most tasks of other organisations one shared run takes.
const MAX_SHARED: usize = 64;


/// How long an answer of `Katalogus::shares_tasks` is used before it is asked again.
pub const SHARING_TTL: Duration = Duration::from_secs(30);

/// Recent answers of `Katalogus::shares_tasks`, by organisation and boefje.
#[derive(Default)]
pub(crate) struct SharingCache(Mutex<HashMap<(String, String), (bool, Instant)>>);

impl SharingCache {
    fn get(&self, organisation: &str, boefje_id: &str) -> Option<bool> {
        let answers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        answers.get(&(organisation.to_string(), boefje_id.to_string())).filter(|(_, at)| at.elapsed() < SHARING_TTL).map(|(shares, _)| *shares)
    }

    fn put(&self, organisation: &str, boefje_id: &str, shares: bool) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert((organisation.to_string(), boefje_id.to_string()), (shares, Instant::now()));
    }
}

impl BoefjeRunner {
    /// Claim (pop) the queued tasks of other organisations that duplicate `task`, if its organisation and
    /// boefje allow sharing; none otherwise, or when the catalogue or scheduler cannot be asked.
    pub async fn claim_duplicates(&self, scheduler: &dyn Scheduler, task: &Task) -> Vec<Task> {
        let Some(body) = body(task) else { return Vec::new() };
        if !self.shares(&task.organisation, &body.boefje.id).await {
            return Vec::new();
        }
        let filters = [
            Filter::new("data", Some("boefje__id"), "eq", body.boefje.id.clone()),
            Filter::new("data", Some("input_ooi"), "eq", body.input_ooi.clone()),
            Filter::new("organisation", None, "ne", task.organisation.clone()),
        ];
        match scheduler.pop(TaskType::Boefje, &filters, MAX_SHARED).await {
            Ok(duplicates) => duplicates,
            Err(e) => {
                tracing::warn!(task = %task.id, "cannot claim duplicates of the task; it runs alone: {e}");
                Vec::new()
            }
        }
    }

    /// Run `leader` once for itself and the `duplicates` it may share with (see the module documentation);
    /// every task ends completed or failed. Returns each task with its outcome, the leader first.
    pub async fn run_shared(&self, scheduler: &dyn Scheduler, leader: &Task, duplicates: Vec<Task>) -> Vec<(Task, ServiceResult<BoefjeOutcome>)> {
        let leader_run = match body(leader) {
            Some(leader_body) => self.plain_env(&leader.organisation, &leader_body).await.map(|env| (leader_body, env)),
            None => None,
        };
        let Some((leader_body, leader_env)) = leader_run else {
            return self.run_alone(scheduler, std::iter::once(leader.clone()).chain(duplicates).collect()).await;
        };
        let mut same = Vec::new();
        let mut alone = Vec::new();
        for task in duplicates {
            let shared = match body(&task) {
                Some(body) if self.shares(&task.organisation, &body.boefje.id).await && self.plain_env(&task.organisation, &body).await.as_ref() == Some(&leader_env) => Some(body),
                _ => None,
            };
            match shared {
                Some(body) => same.push((task, body)),
                None => alone.push(task),
            }
        }
        let mut results = Vec::new();
        if same.is_empty() {
            alone.insert(0, leader.clone());
        } else {
            let (ran, failed_followers) = self.run_for_all(scheduler, leader, &leader_body, same).await;
            results.extend(ran);
            alone.extend(failed_followers);
        }
        results.extend(self.run_alone(scheduler, alone).await);
        results
    }

    /// Run the leader once and store its output under each follower's meta too. When the run fails, the
    /// followers are handed back to be run on their own.
    async fn run_for_all(&self, scheduler: &dyn Scheduler, leader: &Task, leader_body: &BoefjeTask, followers: Vec<(Task, BoefjeTask)>) -> (Vec<(Task, ServiceResult<BoefjeOutcome>)>, Vec<Task>) {
        let mut results = Vec::new();
        if let Err(e) = scheduler.patch(leader.id, TaskPatch::status(TaskStatus::Running)).await {
            return (vec![(leader.clone(), Err(e))], followers.into_iter().map(|(t, _)| t).collect());
        }
        let (meta, produced) = self.produce(leader_body, Some(leader)).await;
        let failed = produced.error.is_some();
        let outcome = self.store(leader_body, meta.clone(), produced.clone()).await;
        results.push((leader.clone(), finish(scheduler, leader, outcome).await));
        if failed {
            return (results, followers.into_iter().map(|(t, _)| t).collect());
        }
        tracing::info!(task = %leader.id, shared_with = followers.len(), "boefje ran once for several organisations");
        for (task, body) in followers {
            let outcome = match scheduler.patch(task.id, TaskPatch::status(TaskStatus::Running)).await {
                Err(e) => Err(e),
                Ok(_) => {
                    let mut own = meta.clone();
                    own.id = body.id;
                    own.organization = body.organization.clone();
                    self.store(&body, own, produced.clone()).await
                }
            };
            results.push((task.clone(), finish(scheduler, &task, outcome).await));
        }
        (results, Vec::new())
    }

    /// Whether the organisation's tasks of this boefje may be shared (a recent answer, else the KATalogus's;
    /// no when it cannot be asked).
    async fn shares(&self, organisation: &str, boefje_id: &str) -> bool {
        if let Some(shares) = self.sharing.get(organisation, boefje_id) {
            return shares;
        }
        match self.katalogus.shares_tasks(organisation, boefje_id).await {
            Ok(shares) => {
                self.sharing.put(organisation, boefje_id, shares);
                shares
            }
            Err(e) => {
                tracing::debug!(organisation, boefje = boefje_id, "not sharing: cannot read the deduplication flags: {e}");
                false
            }
        }
    }

    /// Run each task on its own, at once.
    async fn run_alone(&self, scheduler: &dyn Scheduler, tasks: Vec<Task>) -> Vec<(Task, ServiceResult<BoefjeOutcome>)> {
        join_all(tasks.into_iter().map(|task| async move {
            let outcome = self.run_task(scheduler, &task).await;
            (task, outcome)
        }))
        .await
    }

    /// The job environment `organisation`'s task `body` would run with, in the clear, to compare; `None` when
    /// it cannot be built (the task's own run then says why).
    async fn plain_env(&self, organisation: &str, body: &BoefjeTask) -> Option<BTreeMap<String, String>> {
        let (_, manifest, schema) = self.plugin(&body.boefje.id)?;
        self.job_env(organisation, &manifest.id, schema.as_ref()).await.ok().map(|env| plain(&env))
    }
}

/// A task's body as a boefje task, if it is one.
fn body(task: &Task) -> Option<BoefjeTask> {
    serde_json::from_value(task.data.clone()).ok()
}
