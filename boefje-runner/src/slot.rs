//! A job's place in the worker pool ([`crate::Pool`]).
//!
//! A pool of size N runs at most N plugins at once: each popped task gets a
//! *running* place, and the pool pops only as many tasks as it has free
//! running places. Storing what a plugin produced (its raw files into Bytes,
//! then the task's final status) is not plugin work: a job that has run its
//! plugin takes a share of the pool's *storing budget* and gives its running
//! place back, so the pool pops the next task while Bytes commits. Without
//! that, a place of the pool waited for Bytes' fsync after every job, and
//! with short plugins the pool spent most of its time waiting for commits;
//! with more outputs waiting, each of Bytes' group commits takes more of
//! them.
//!
//! The storing budget is 2N units of [`STORING_UNIT`] (1 MiB): a job takes
//! one unit plus one per whole MiB of its output (files and log), and a job
//! whose output is larger than the whole budget takes all of it. So at most 2N
//! small outputs, and at most 2N MiB of outputs or one larger output, wait
//! to be stored: a pool holds at most N running outputs (each capped by
//! `BOEFJES_MAX_OUTPUT`) plus that in memory. A job waits for its share
//! while holding its running place, so a slow Bytes slows the pops down
//! (back-pressure) instead of piling up outputs. Places and shares come back
//! when the [`Slot`] is dropped, so a job that fails or panics frees them.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The size of one unit of the storing budget.
pub const STORING_UNIT: usize = 1 << 20;

/// The places of one pool: N running places and a storing budget of 2N units.
#[derive(Debug, Clone)]
pub(crate) struct Places {
    running: Arc<Semaphore>,
    storing: Budget,
}

/// A pool's storing budget: its semaphore and how many units it holds.
#[derive(Debug, Clone)]
struct Budget {
    units: Arc<Semaphore>,
    total: u32,
}

impl Places {
    /// `size` running places and `2 * size` storing units (`size` is at most `MAX_POOL_SIZE`).
    pub(crate) fn new(size: usize) -> Places {
        let total = u32::try_from(size.saturating_mul(2)).unwrap_or(u32::MAX).clamp(1, Semaphore::MAX_PERMITS as u32);
        Places { running: Arc::new(Semaphore::new(size)), storing: Budget { units: Arc::new(Semaphore::new(total as usize)), total } }
    }

    /// How many more plugins may start now.
    pub(crate) fn free(&self) -> usize {
        self.running.available_permits()
    }

    /// A slot with a running place if one is free; without one (a job the pool must run beyond its size,
    /// such as a Kubernetes Job an earlier life of the runner left) the job holds no place while it runs.
    pub(crate) fn take(&self) -> Slot {
        Slot { running: self.running.clone().try_acquire_owned().ok(), storing: Some(self.storing.clone()), stored: None }
    }

    /// Wait until a running place is free (it is not taken).
    pub(crate) async fn wait_free(&self) {
        if let Ok(permit) = self.running.acquire().await {
            drop(permit);
        }
    }
}

/// A job's place in its pool: running while its plugin runs, then a share of the storing budget (see the
/// module documentation).
#[derive(Debug)]
pub struct Slot {
    running: Option<OwnedSemaphorePermit>,
    storing: Option<Budget>,
    stored: Option<OwnedSemaphorePermit>,
}

impl Slot {
    /// A slot of no pool (a one-off run): it limits nothing.
    pub fn detached() -> Slot {
        Slot { running: None, storing: None, stored: None }
    }

    /// The job's plugin has ended with `output_bytes` of output: wait for its share of the storing budget,
    /// then give the running place back so that the pool can start another plugin. Calling it again does
    /// nothing; a wait that is cancelled keeps the running place.
    pub async fn plugin_ended(&mut self, output_bytes: usize) {
        if self.running.is_none() {
            return;
        }
        if let Some(budget) = &self.storing {
            let units = u32::try_from(output_bytes / STORING_UNIT + 1).unwrap_or(u32::MAX).min(budget.total);
            // The pool never closes its semaphores, so this only waits.
            self.stored = budget.units.clone().acquire_many_owned(units).await.ok();
        }
        self.running = None;
    }

    /// Whether the slot holds a running place (the job's plugin may still run).
    #[cfg(test)]
    fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether `slot.plugin_ended(bytes)` is still waiting after a moment.
    async fn waits(slot: &mut Slot, bytes: usize) -> bool {
        tokio::time::timeout(Duration::from_millis(50), slot.plugin_ended(bytes)).await.is_err()
    }

    #[tokio::test]
    async fn a_job_frees_its_running_place_once_it_holds_its_share_of_the_storing_budget() {
        let places = Places::new(1);
        let mut first = places.take();
        assert!(first.is_running());
        assert_eq!(places.free(), 0);
        assert!(!places.take().is_running(), "no second running place in a pool of one");
        first.plugin_ended(10).await;
        assert_eq!(places.free(), 1, "the running place is back once the job stores");
        let mut second = places.take();
        second.plugin_ended(STORING_UNIT - 1).await;
        assert_eq!(places.free(), 1, "two small outputs fit the budget of a pool of one");
        // The budget (2 units) is spent: the third waits for it, keeping its running place.
        let mut third = places.take();
        assert!(waits(&mut third, 0).await, "a spent budget holds the next job back");
        assert_eq!(places.free(), 0, "and its running place with it (back-pressure)");
        drop(first);
        third.plugin_ended(0).await;
        assert_eq!(places.free(), 1);
        drop((second, third));
        let mut again = places.take();
        again.plugin_ended(0).await;
        again.plugin_ended(0).await;
        drop(again);
        assert_eq!(places.storing.units.available_permits(), 2, "ending twice takes one share");
        let mut detached = Slot::detached();
        detached.plugin_ended(usize::MAX).await;
        assert!(!detached.is_running());
    }

    #[tokio::test]
    async fn large_outputs_take_a_share_by_size_and_one_larger_than_the_budget_takes_it_all() {
        let places = Places::new(2);
        let mut large = places.take();
        large.plugin_ended(2 * STORING_UNIT).await;
        assert_eq!(places.storing.units.available_permits(), 1, "2 MiB take 3 of the 4 units");
        let mut huge = places.take();
        assert!(waits(&mut huge, 1 << 30).await, "1 GiB waits for the whole budget");
        drop(large);
        huge.plugin_ended(1 << 30).await;
        assert_eq!(places.storing.units.available_permits(), 0);
        drop(huge);
        assert_eq!(places.storing.units.available_permits(), 4);
    }
}
