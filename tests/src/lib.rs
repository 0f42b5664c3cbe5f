//! `kat-tests`: the harness of the end-to-end tests (the scenarios are in
//! `tests/`). It holds the real test services that no package provides: a
//! small DNS server and an HTTP server on loopback addresses, and the plumbing to run the real service
//! binaries against real databases.
//!
//! # Layout
//! - [`cli`]: a workspace binary run on a data directory, its output captured.
//! - [`dns_server`]: a UDP DNS server (on hickory-proto) serving a test zone.
//! - [`files`]: every file under a directory (for secret-leak checks).
//! - [`services`]: a fresh PostgreSQL database, a free port, a service binary run in the background.
//! - [`web_server`]: an HTTP server on a chosen loopback address with the pages a test sets.

#![forbid(unsafe_code)]

pub mod cli;
pub mod dns_server;
pub mod files;
pub mod services;
pub mod web_server;
