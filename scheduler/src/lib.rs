//! `kat-scheduler`: the scheduler service of DESIGN.md sections 2 and 6. It
//! decides what runs next for every organisation and hands tasks to
//! workers, ours and OpenKAT's, in process or over mula's REST API, on
//! SQLite or PostgreSQL, and every task reaches a final state even when
//! workers die (leases).
//!
//! # Layout
//! - [`local`]: `LocalScheduler`, the in-process `kat_core::services::scheduler::Scheduler`.
//! - [`store`]: the database (one code path for SQLite and PostgreSQL, a small `Dialect`).
//! - [`leases`]: atomic pop, patch along the lifecycle, heartbeats and lease expiry.
//! - [`ranker`]: priorities and the grace period; [`hash`]: mula's task hashes.
//! - [`filters`]: mula's filter language as SQL, and boefje conditions.
//! - [`schedules`]: cron and interval schedules; [`subscriptions`]: the rules that create tasks.
//! - [`objects`]: the object index; [`explain`]: why a boefje did or did not run.
//! - [`events`]: the task event log and the webhook outbox.
//! - [`api`]: mula's REST API; [`client`]: `SchedulerClient`, the trait over HTTP.
//! - [`consumer`]: the `raw_file_received` RabbitMQ consumer.
//! - [`config`]: the `SCHEDULER_*` variables; [`serve`]: the service with its background loops.
//! - [`clock`]: the clock every time rule reads (`TestClock` in tests).

#![forbid(unsafe_code)]

pub mod api;
pub mod client;
pub mod clock;
pub mod config;
pub mod consumer;
pub mod events;
pub mod explain;
pub mod filters;
pub mod hash;
pub mod leases;
pub mod local;
pub mod objects;
pub mod ranker;
pub mod schedules;
pub mod serve;
pub mod store;
pub mod subscriptions;

pub use clock::{Clock, SystemClock, TestClock};
pub use client::SchedulerClient;
pub use local::{LocalScheduler, Settings};
