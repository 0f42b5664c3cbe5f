//! The `kat` argument definitions and the dispatch to each subcommand.

pub mod normalize;
pub mod query;

use clap::{Parser, Subcommand};

/// kat: an attack-surface scanning pipeline compatible with OpenKAT's
/// boefjes, normalizers and raw formats.
#[derive(Debug, Parser)]
#[command(name = "kat", version, about = "kat: an attack-surface scanning pipeline compatible with OpenKAT's boefjes, normalizers and raw formats", long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `kat`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a normalizer on a raw file offline and print the objects as JSON
    /// lines (one object a line, with `object_type` and `primary_key`),
    /// touching no store.
    Normalize(normalize::NormalizeArgs),
    /// Run a read-only Cypher query on the object graph and print the rows.
    Query(query::QueryArgs),
}

/// Run the parsed command; the error is printed by `main` as one line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Normalize(args) => normalize::run(&args, &mut std::io::stdout().lock()),
        Command::Query(args) => query::run(&args, &mut std::io::stdout().lock()),
    }
}
