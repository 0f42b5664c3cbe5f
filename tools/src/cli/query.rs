//! `kat query CYPHER`: run a read-only Cypher query on the graph in the data
//! directory and print the rows, one JSON array a line after a header line.

use std::io::Write;

use anyhow::Context;
use clap::Args;

use kat_graph::Graph;

/// Arguments of `kat query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A read-only Cypher query, e.g. `MATCH (n:Hostname) RETURN n.primary_key AS pk`.
    pub cypher: String,
    /// Data directory.
    #[command(flatten)]
    pub data: super::data_dir::DataDirArg,
}

/// Run the query and print a header line of column names, then each row as JSON.
pub fn run(args: &QueryArgs, out: &mut impl Write) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data.data_dir).with_context(|| format!("creating data directory {}", args.data.data_dir.display()))?;
    let graph = Graph::open(&args.data.data_dir.join("graph.kgl"))?;
    let (columns, rows) = graph.query(&args.cypher)?;
    writeln!(out, "{}", columns.join("\t"))?;
    for row in rows {
        writeln!(out, "{}", serde_json::Value::Array(row))?;
    }
    Ok(())
}
