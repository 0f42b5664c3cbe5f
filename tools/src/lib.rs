//! `kat-tools`: the `kat` command line.
//!
//! Binaries in `src/bin/` stay thin: they parse arguments with clap and call
//! a function here.
//!
//! # Layout
//! - [`cli`]: the argument definitions and one module per subcommand.
//! - [`embedded`]: the in-process services wired on one data directory.
//! - [`pipeline`]: the scan loop: events -> normalizer tasks -> objects -> boefje tasks.
//! - [`profiles`]: scan profiles (`kat scan --profile`), named sets of boefjes and settings.
//! - [`remote`]: `kat scan --api`, the scan run by running services.
//! - [`runner_health`]: `/health` of the boefje and normalizer runners.
//! - [`scheduler_service`]: the scheduler service (`scheduler`, `kat serve --scheduler`).
//! - [`boefje_runner_service`]: the boefje worker pool over HTTP (`boefje-runner`, `kat serve --boefje-runner`).
//! - [`normalizer_pool`]: the normalizer worker of the shared pool.
//! - [`normalizer_runner_service`]: the normalizer worker pool over HTTP (`normalizer-runner`, `kat serve --normalizer-runner`).
//! - [`serve_all`]: `kat serve` without a flag, every service in one process.
//! - [`targets`]: scan targets as users type them.
//! - [`tree`]: the object tree printed after a scan.

#![forbid(unsafe_code)]

/// Every binary of this crate allocates with mimalloc: normalizers and the graph make many small objects, and
/// glibc's allocator spent a third of a DNS normalization in malloc and free. Without transparent huge pages
/// (`no_thp`): each fresh 2 MiB page mimalloc asked the kernel for was zeroed at first touch, which took a
/// third of the no-op runner's CPU and halved the DNS normalizer (measured; README's performance notes).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod boefje_runner_service;
pub mod cli;
pub mod embedded;
pub mod normalizer_pool;
pub mod normalizer_runner_service;
pub mod pipeline;
pub mod profiles;
pub mod remote;
pub mod runner_health;
pub mod scheduler_service;
pub mod serve_all;
pub mod targets;
pub mod tree;
