//! The only module that calls `neo4rs`: connect to a Bolt server (Neo4j in
//! production; in tests kglite-bolt-server behind scripts/bolt44_adapter.py),
//! run a write transaction, run a read query. Parameters go in as JSON and
//! rows come back as JSON; queries return scalars, lists and maps only
//! (never whole nodes, whose wire form differs between Bolt versions).

use neo4rs::{BoltType, ConfigBuilder, Query};
use serde_json::{Map, Value};

use super::{Rows, Statement};
use crate::GraphError;

/// How many times a write that meets a transient error is tried in all.
pub const ATTEMPTS: u32 = 6;

/// A pool of Bolt connections to one server.
pub struct BoltEngine {
    graph: neo4rs::Graph,
    uri: String,
}

impl BoltEngine {
    /// Connect to `uri` (`bolt://host:port` or `neo4j://host:port`) as `user`, and check that it answers.
    pub async fn connect(uri: &str, user: &str, password: &str) -> Result<Self, GraphError> {
        let config = ConfigBuilder::default()
            .uri(uri)
            .user(user)
            .password(password)
            .max_connections(16)
            .build()
            .map_err(|e| GraphError::Open(format!("{uri}: {e}")))?;
        let graph = neo4rs::Graph::connect(config).map_err(|e| GraphError::Open(format!("{uri}: {e}")))?;
        let engine = BoltEngine { graph, uri: uri.to_string() };
        engine.read("RETURN 1 AS ok", &Map::new()).await.map_err(|e| GraphError::Open(format!("{uri} does not answer: {e}")))?;
        Ok(engine)
    }

    /// Run `statements` in one transaction. A transaction the server refuses with a transient error (Neo4j's
    /// `Neo.TransientError.*`: another writer committed first, a deadlock, a lock timeout) rolled back as a whole,
    /// so it is run again, up to [`ATTEMPTS`] times with a growing pause, as Neo4j's drivers do.
    pub async fn write(&self, statements: &[Statement]) -> Result<(), GraphError> {
        let mut attempt = 1;
        loop {
            match self.write_once(statements).await {
                Err(GraphError::Query(message)) if attempt < ATTEMPTS && message.contains("Neo.TransientError.") => {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn write_once(&self, statements: &[Statement]) -> Result<(), GraphError> {
        let mut tx = self.graph.start_txn().await.map_err(|e| self.unavailable(e))?;
        for (cypher, params) in statements {
            if let Err(e) = tx.run(query(cypher, params)?).await {
                let _ = tx.rollback().await;
                return Err(GraphError::Query(format!("{e} in {cypher}")));
            }
        }
        tx.commit().await.map_err(|e| GraphError::Query(format!("commit failed: {e}")))?;
        Ok(())
    }

    /// Run a query in a read transaction.
    pub async fn read(&self, cypher: &str, params: &Map<String, Value>) -> Result<Rows, GraphError> {
        let mut stream = self.graph.execute_read(query(cypher, params)?).await.map_err(|e| GraphError::Query(e.to_string()))?;
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await.map_err(|e| GraphError::Query(e.to_string()))? {
            if columns.is_empty() {
                columns = in_return_order(cypher, row.keys().iter().map(|k| k.value.clone()).collect());
            }
            let values = columns.iter().map(|c| row.get::<Value>(c).unwrap_or(Value::Null)).collect();
            rows.push(values);
        }
        Ok((columns, rows))
    }

    fn unavailable(&self, e: neo4rs::Error) -> GraphError {
        GraphError::Open(format!("{}: {e}", self.uri))
    }
}

/// neo4rs hands a row's columns over in a hash map, without their order: put them back in the order the
/// query's last `RETURN` names them (by `AS alias`, else by the expression text); any it cannot find go last,
/// by name.
fn in_return_order(cypher: &str, mut columns: Vec<String>) -> Vec<String> {
    let upper = cypher.to_ascii_uppercase();
    let returns = upper.rfind("RETURN").map_or(cypher, |at| &cypher[at..]);
    let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let upper_returns = returns.to_ascii_uppercase();
    let position = |column: &str| {
        let alias = format!(" AS {column}");
        let found = upper_returns.match_indices(&alias.to_ascii_uppercase()).map(|(i, _)| i).find(|i| !is_ident(returns[i + alias.len()..].chars().next()));
        found.or_else(|| returns.find(column)).unwrap_or(usize::MAX)
    };
    columns.sort_by_cached_key(|c| (position(c), c.clone()));
    columns
}

fn query(cypher: &str, params: &Map<String, Value>) -> Result<Query, GraphError> {
    let mut q = neo4rs::query(cypher);
    for (name, value) in params {
        let value = BoltType::try_from(value.clone()).map_err(|e| GraphError::Query(format!("parameter {name}: {e}")))?;
        q = q.param(name, value);
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::in_return_order;

    fn order(cypher: &str, columns: &[&str]) -> Vec<String> {
        in_return_order(cypher, columns.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn columns_come_back_in_return_order() {
        let q = "MATCH (n:X) WHERE n.primary_key IN $pks RETURN n.primary_key AS pk, n.scan_level AS level, n.declared_level AS declared, n.f AS f, n.field AS field";
        assert_eq!(order(q, &["field", "declared", "f", "pk", "level"]), ["pk", "level", "declared", "f", "field"]);
        assert_eq!(order("MATCH (a) RETURN count(a), a.name", &["a.name", "count(a)"]), ["count(a)", "a.name"]);
        assert_eq!(order("UNWIND $x AS pk MATCH (a) return a.x as pk, 1 as one", &["one", "pk"]), ["pk", "one"]);
        assert_eq!(order("RETURN 1 AS b", &["zz", "b", "aa"]), ["b", "aa", "zz"], "unknown columns go last, by name");
    }
}
