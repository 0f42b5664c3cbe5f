//! A job's place in the worker pool ([`crate::Pool`]).
//!
//! A pool of size N runs at most N plugins at once: each popped task gets a
//! *running* place, and the pool pops only as many tasks as it has free
//! running places. Storing what a plugin produced (its raw files into Bytes,
//! then the task's final status) is not plugin work: a job that has run its
//! plugin moves to one of N *storing* places and gives its running place
//! back, so the pool pops the next task while Bytes commits. Without that, a
//! slot of the pool waited for Bytes' fsync after every job, and with
//! short plugins the pool spent most of its time waiting for commits.
//!
//! A job therefore holds at most one running place, then at most one storing
//! place: at most N plugins run and at most N outputs wait to be stored, so
//! a pool holds at most 2N outputs in memory. A job waits for a storing place
//! while holding its running place, so a slow Bytes slows the pops down
//! (back-pressure) instead of piling up outputs. Places come back when the
//! [`Slot`] is dropped, so a job that fails or panics frees them too.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The places of one pool: `size` running and `size` storing.
#[derive(Debug, Clone)]
pub(crate) struct Places {
    pub(crate) running: Arc<Semaphore>,
    storing: Arc<Semaphore>,
}

impl Places {
    /// `size` places of each kind.
    pub(crate) fn new(size: usize) -> Places {
        Places { running: Arc::new(Semaphore::new(size)), storing: Arc::new(Semaphore::new(size)) }
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

/// A job's place in its pool: running while its plugin runs, then storing (see the module documentation).
#[derive(Debug)]
pub struct Slot {
    running: Option<OwnedSemaphorePermit>,
    storing: Option<Arc<Semaphore>>,
    stored: Option<OwnedSemaphorePermit>,
}

impl Slot {
    /// A slot of no pool (a one-off run): it limits nothing.
    pub fn detached() -> Slot {
        Slot { running: None, storing: None, stored: None }
    }

    /// The job's plugin has ended: wait for a storing place, then give the running place back so that the
    /// pool can start another plugin. Calling it again does nothing; a wait that is cancelled keeps the
    /// running place.
    pub async fn plugin_ended(&mut self) {
        if self.running.is_none() {
            return;
        }
        if let Some(storing) = &self.storing {
            // The pool never closes its semaphores, so this only waits.
            self.stored = storing.clone().acquire_owned().await.ok();
        }
        self.running = None;
    }

    /// Whether the slot holds a running place (the job's plugin may still run).
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_frees_its_running_place_only_once_it_holds_a_storing_place() {
        let places = Places::new(1);
        let mut first = places.take();
        assert!(first.is_running());
        assert_eq!(places.free(), 0);
        assert!(!places.take().is_running(), "no second running place in a pool of one");
        first.plugin_ended().await;
        assert_eq!(places.free(), 1, "the running place is back once the job stores");
        let mut second = places.take();
        assert_eq!(places.free(), 0);
        // The only storing place is the first job's: the second waits for it, keeping its running place.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), second.plugin_ended()).await;
        assert!(waiting.is_err(), "a full store holds the next job back");
        assert_eq!(places.free(), 0, "and its running place with it (back-pressure)");
        drop(first);
        second.plugin_ended().await;
        assert_eq!(places.free(), 1);
        drop(second);
        assert_eq!(places.free(), 1);
        let mut again = places.take();
        again.plugin_ended().await;
        again.plugin_ended().await;
        assert_eq!(places.free(), 1, "ending twice frees once");
        let mut detached = Slot::detached();
        detached.plugin_ended().await;
        assert!(!detached.is_running());
    }
}
