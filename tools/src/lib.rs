//! `kat-tools`: the `kat` command line.
//!
//! Binaries in `src/bin/` stay thin: they parse arguments with clap and call
//! a function here.
//!
//! # Layout
//! - [`cli`]: the argument definitions and one module per subcommand.

#![forbid(unsafe_code)]

pub mod cli;
