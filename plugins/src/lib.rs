//! `kat-plugins`: the built-in boefjes and normalizers with their manifests.
//!
//! Plugins depend only on `kat-core`; runners find them through [`normalizers::all`].
//!
//! # Layout
//! - [`boefjes`]: the `Boefje` trait and `port-scan`.
//! - [`normalizers`]: the `Normalizer` trait, `kat_dns_normalize`, `kat_nmap_normalize`, `kat_nuclei_normalize`.
//! - [`rules`]: the `Rule` trait (OpenKAT's bits), the finding types, the built-in rules.
//! - [`keys`]: reading natural keys (a field, a field through references, a website's site).

#![forbid(unsafe_code)]

pub mod boefjes;
pub mod keys;
pub mod normalizers;
pub mod rules;
