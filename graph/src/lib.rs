//! `kat-graph`: the object graph, per organisation, on the embedded kglite
//! engine or on a Bolt server (Neo4j), with the same Cypher on both. Saves
//! observations (the objects a normalizer saw for one input object), keeps
//! their origins, deletes objects that no origin holds any more, and spreads
//! clearance along references.
//!
//! An origin is `(kind, method, source)`: for an observation the method is
//! the normalizer id and the source the input object; for a declaration the
//! method is `declaration` and the source the declared object itself. Saving
//! an origin replaces its result set, so an object that the newest run no
//! longer sees is removed unless another origin still holds it. An
//! affirmation adds fields to objects that exist and holds nothing.
//!
//! Clearance follows the rules in [`clearance`] (and ARCHITECTURE.md).
//!
//! Writes of one `Graph` are serialised (a save reads levels, writes, then
//! settles clearance); several processes writing to one Bolt server may
//! interleave, and a later save settles what an earlier one left.
//!
//! # Layout
//! - [`cypher`]: all Cypher text.
//! - [`engine`]: the only calls into kglite and neo4rs.
//! - `save`: declarations, observations, affirmations, deletion.
//! - `read`: objects by key, by type, neighbours, origins, raw queries.
//! - [`clearance`]: the clearance rules and their propagation.

#![forbid(unsafe_code)]

pub mod clearance;
pub mod cypher;
pub mod engine;
mod read;
mod save;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use kat_core::ooi::types::OBJECT_TYPES;
use kat_core::services::graph::ObjectGraph;
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::{ErrorKind, Ooi, Reference, ScanLevel};

use engine::{bolt::BoltEngine, embedded::EmbeddedEngine, Engine};

pub use engine::Rows;
pub use kat_core::services::graph::{SaveReport, StoredObject};
pub use read::{Filter, ObjectPage, Observed, OriginInfo};

/// Errors of the graph.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The graph could not be opened or reached (file held by another process, server down, ...).
    #[error("cannot open graph {0}")]
    Open(String),
    /// A query failed or was refused.
    #[error("graph query failed: {0}")]
    Query(String),
    /// Stored data no longer parses as an object.
    #[error("stored object {0} is corrupt")]
    Corrupt(String),
    /// The request names something the graph does not know (an object type, a field).
    #[error("{0}")]
    Invalid(String),
}

impl GraphError {
    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GraphError::Open(_) => ErrorKind::Unavailable,
            GraphError::Query(_) | GraphError::Invalid(_) => ErrorKind::Invalid,
            GraphError::Corrupt(_) => ErrorKind::Internal,
        }
    }
}

impl From<GraphError> for ServiceError {
    fn from(e: GraphError) -> Self {
        ServiceError::new(e.kind(), e.to_string())
    }
}

/// Where the graph lives (`KAT_GRAPH_URI`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphLocation {
    /// `embedded:<path>`: a kglite file in this process.
    Embedded(PathBuf),
    /// `bolt://host:port` or `neo4j://host:port`: a Bolt server, with `NEO4J_USER` / `NEO4J_PASSWORD`.
    Bolt {
        /// The server address as given.
        uri: String,
        /// The user name (`NEO4J_USER`, default `neo4j`).
        user: String,
        /// The password (`NEO4J_PASSWORD`, default empty).
        password: String,
    },
}

impl GraphLocation {
    /// Read a `KAT_GRAPH_URI` value; `None` or empty means the embedded graph `default_path`.
    pub fn parse(uri: Option<&str>, default_path: &Path, user: Option<String>, password: Option<String>) -> Result<Self, GraphError> {
        let uri = uri.map(str::trim).unwrap_or_default();
        if uri.is_empty() {
            return Ok(GraphLocation::Embedded(default_path.to_path_buf()));
        }
        if let Some(path) = uri.strip_prefix("embedded:") {
            if path.is_empty() {
                return Ok(GraphLocation::Embedded(default_path.to_path_buf()));
            }
            return Ok(GraphLocation::Embedded(PathBuf::from(path)));
        }
        let scheme = uri.split("://").next().unwrap_or_default();
        if uri.contains("://") && matches!(scheme, "bolt" | "bolt+s" | "bolt+ssc" | "neo4j" | "neo4j+s" | "neo4j+ssc") {
            return Ok(GraphLocation::Bolt { uri: uri.to_string(), user: user.unwrap_or_else(|| "neo4j".into()), password: password.unwrap_or_default() });
        }
        Err(GraphError::Invalid(format!(
            "KAT_GRAPH_URI {uri:?} is neither embedded:<path> nor bolt://host:port or neo4j://host:port"
        )))
    }
}

impl std::fmt::Display for GraphLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphLocation::Embedded(path) => write!(f, "embedded:{}", path.display()),
            GraphLocation::Bolt { uri, user, .. } => write!(f, "{uri} as {user}"),
        }
    }
}

/// The object graph.
pub struct Graph {
    engine: Engine,
    writes: tokio::sync::Mutex<()>,
}

impl Graph {
    /// Open the graph at `location` and make sure its indexes exist.
    pub async fn connect(location: &GraphLocation) -> Result<Graph, GraphError> {
        let engine = match location {
            GraphLocation::Embedded(path) => Engine::Embedded(EmbeddedEngine::open(path)?),
            GraphLocation::Bolt { uri, user, password } => Engine::Bolt(BoltEngine::connect(uri, user, password).await?),
        };
        for label in OBJECT_TYPES.iter().map(|s| s.name).chain(["Origin"]) {
            if engine.write(&[(cypher::create_index(label), Default::default())]).await.is_err() {
                engine.write_ignoring_errors(&cypher::create_key_index(label)).await;
            }
        }
        Ok(Graph { engine, writes: tokio::sync::Mutex::new(()) })
    }

    /// Open or create the embedded graph file at `path`.
    pub async fn open(path: &Path) -> Result<Graph, GraphError> {
        Graph::connect(&GraphLocation::Embedded(path.to_path_buf())).await
    }

    /// Which engine this graph runs on: `embedded` or `bolt`.
    pub fn engine_name(&self) -> &'static str {
        self.engine.name()
    }
}

#[async_trait]
impl ObjectGraph for Graph {
    async fn declare(&self, organisation: &str, ooi: &Ooi, level: ScanLevel) -> ServiceResult<SaveReport> {
        Ok(Graph::declare(self, organisation, ooi, level).await?)
    }

    async fn save_observation(&self, organisation: &str, method: &str, source: &Reference, result: &[Ooi]) -> ServiceResult<SaveReport> {
        Ok(Graph::save_observation(self, organisation, method, source, result).await?)
    }

    async fn save_declarations(&self, organisation: &str, method: &str, source: &Reference, declared: &[Ooi]) -> ServiceResult<SaveReport> {
        Ok(Graph::save_declarations(self, organisation, method, source, declared).await?)
    }

    async fn affirm(&self, organisation: &str, method: &str, source: &Reference, objects: &[Ooi]) -> ServiceResult<()> {
        Graph::affirm(self, organisation, method, source, objects).await?;
        Ok(())
    }

    async fn get(&self, organisation: &str, reference: &Reference) -> ServiceResult<Option<StoredObject>> {
        Ok(Graph::get(self, organisation, reference).await?)
    }

    async fn referencing(&self, organisation: &str, object_type: &str, field: &str, target: &Reference) -> ServiceResult<Vec<StoredObject>> {
        Ok(Graph::referencing(self, organisation, object_type, field, target).await?)
    }
}

/// Group `(key, value)` pairs by key, keys in order.
pub(crate) fn group<K: Ord, V>(items: impl Iterator<Item = (K, V)>) -> std::collections::BTreeMap<K, Vec<V>> {
    let mut map: std::collections::BTreeMap<K, Vec<V>> = std::collections::BTreeMap::new();
    for (k, v) in items {
        map.entry(k).or_default().push(v);
    }
    map
}

/// A parameter map from pairs; every statement also gets `org`.
pub(crate) fn params<const N: usize>(organisation: &str, pairs: [(&str, serde_json::Value); N]) -> serde_json::Map<String, serde_json::Value> {
    let mut map: serde_json::Map<String, serde_json::Value> = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    map.insert("org".into(), organisation.into());
    map
}
