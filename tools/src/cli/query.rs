//! `kat query CYPHER`: run a read-only Cypher query on the graph (the
//! embedded one in the data directory, or the one `KAT_GRAPH_URI` names) and
//! print the rows, one JSON array a line after a header line. The query sees
//! every organisation: filter on the `organisation` property.

use std::io::Write;

use anyhow::Context;
use clap::Args;

/// Arguments of `kat query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A read-only Cypher query, e.g. `MATCH (a:DNSARecord)-[:hostname]->(h:Hostname {name: 'example.nl'}) RETURN count(a)`.
    /// Every field of an object is a property, every reference a relation named after its field, and every
    /// node has `organisation`, `primary_key`, `object_type` and `scan_level`. The graph is the one
    /// KAT_GRAPH_URI names (`embedded:<path>`, `bolt://host:port` with NEO4J_USER and NEO4J_PASSWORD), by
    /// default DATA_DIR/graph.kgl.
    pub cypher: String,
    /// Data directory.
    #[command(flatten)]
    pub data: super::data_dir::DataDirArg,
}

/// Run the query and print a header line of column names, then each row as JSON.
pub fn run(args: &QueryArgs, out: &mut impl Write) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data.data_dir).with_context(|| format!("creating data directory {}", args.data.data_dir.display()))?;
    let (columns, rows) = super::data_dir::block_on(async {
        let graph = crate::embedded::open_graph(&args.data.data_dir).await?;
        Ok(graph.query(&args.cypher).await?)
    })?;
    writeln!(out, "{}", columns.join("\t"))?;
    for row in rows {
        writeln!(out, "{}", serde_json::Value::Array(row))?;
    }
    Ok(())
}
