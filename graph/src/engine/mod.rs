//! The two graph engines behind one small surface: run a list of Cypher
//! statements in one write transaction, run one read query. Everything
//! crosses this boundary as `serde_json` values, so the rest of the crate
//! never knows which engine it talks to.
//!
//! - [`embedded`]: kglite in process (`KAT_GRAPH_URI=embedded:<path>`).
//! - [`bolt`]: a Bolt server such as Neo4j, through neo4rs (`bolt://`, `neo4j://`).

pub mod bolt;
pub mod embedded;

use serde_json::{Map, Value};

use crate::GraphError;

/// Rows of a query result: column names, then one JSON value per column.
pub type Rows = (Vec<String>, Vec<Vec<Value>>);

/// One statement of a write transaction: Cypher text and its parameters.
pub type Statement = (String, Map<String, Value>);

/// A connected graph engine.
pub enum Engine {
    /// kglite in this process.
    Embedded(embedded::EmbeddedEngine),
    /// A Bolt server.
    Bolt(bolt::BoltEngine),
}

impl Engine {
    /// Run `statements` in one transaction: all of them take effect or none.
    pub async fn write(&self, statements: &[Statement]) -> Result<(), GraphError> {
        match self {
            Engine::Embedded(engine) => engine.write(statements),
            Engine::Bolt(engine) => engine.write(statements).await,
        }
    }

    /// Run one statement that may fail harmlessly (such as creating an index that exists).
    pub async fn write_ignoring_errors(&self, cypher: &str) {
        let _ = self.write(&[(cypher.to_string(), Map::new())]).await;
    }

    /// Run a read-only query; the engine refuses a mutating one.
    pub async fn read(&self, cypher: &str, params: &Map<String, Value>) -> Result<Rows, GraphError> {
        match self {
            Engine::Embedded(engine) => engine.read(cypher, params),
            Engine::Bolt(engine) => engine.read(cypher, params).await,
        }
    }

    /// A short name of the engine for logs and errors: `embedded` or `bolt`.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Embedded(_) => "embedded",
            Engine::Bolt(_) => "bolt",
        }
    }
}
