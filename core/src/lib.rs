//! `kat-core`: the vocabulary every other crate of the pipeline shares.
//!
//! It holds the object model (OpenKAT's OOIs and their `Type|key|parts`
//! references), scan levels, plugin manifests, the job-environment rules and
//! the error kinds. It depends on no other workspace crate and on no I/O
//! library, so plugins, runners and services can all use it.
//!
//! # Layout
//! - [`error`]: `ErrorKind` and the crate's `CoreError`.
//! - [`reference`]: `Reference`, parsed from and printed as `Type|key|parts`.
//! - [`ooi`]: `Ooi`, a typed object with its fields, and the type registry.
//! - [`meta`]: `BoefjeMeta`, `RawDataMeta`, `NormalizerMeta` in OpenKAT's shapes.
//! - [`task`]: `Task` and the `TaskStatus` lifecycle.
//! - [`scan_level`]: `ScanLevel` (clearance 0 to 4).
//! - [`plugin`]: `boefje.json` / `normalizer.json` manifests and `schema.json`.
//! - [`env_rules`]: which setting names a job may carry, and the `BOEFJE_` prefix rule.
//! - [`secret`]: `Secret<T>`, a value that never prints.
//! - [`schema_check`]: validation of settings against a plugin's `schema.json` (JSON Schema 2020-12).
//! - [`crypto`]: settings encryption at rest, byte-compatible with PyNaCl's `Box` (OpenKAT's format).
//! - [`builtin`]: the `Boefje` and `Normalizer` traits that in-process plugins implement.
//! - [`events`]: `RawFileReceived`, the event Bytes emits.
//! - [`ids`]: the rules for organisation ids and stored text (no NUL), applied wherever they enter.
//! - [`config`]: reading numeric environment variables with a range check.
//! - [`services`]: one trait per service (Bytes, KATalogus, scheduler, object graph).

#![forbid(unsafe_code)]

pub mod builtin;
pub mod config;
pub mod crypto;
pub mod derived;
pub mod env_rules;
pub mod events;
pub mod ids;
pub mod error;
pub mod meta;
pub mod ooi;
pub mod plugin;
pub mod reference;
pub mod scan_level;
pub mod schema_check;
pub mod secret;
pub mod services;
pub mod task;

pub use error::{CoreError, ErrorKind};
pub use ooi::Ooi;
pub use reference::Reference;
pub use scan_level::ScanLevel;
