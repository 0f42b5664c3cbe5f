//! `kat-scheduler`: the task queues, and the rules that turn events into
//! tasks.
//!
//! Tasks live in SQLite in mula's shape. A push is deduplicated on a hash of
//! the task's type, organisation and body (its `id` left out): while a task
//! with that hash is unfinished, pushing it again returns the existing task.
//! A pop atomically takes the best queued task (lowest priority number,
//! then oldest) and marks it dispatched.
//!
//! # Layout
//! - [`queue`]: `LocalScheduler`, the in-process implementation of `kat_core::services::scheduler::Scheduler`.
//! - [`subscriptions`]: raw file received -> normalizer tasks; new or raised objects -> boefje tasks.

#![forbid(unsafe_code)]

pub mod queue;
pub mod subscriptions;

pub use queue::LocalScheduler;
