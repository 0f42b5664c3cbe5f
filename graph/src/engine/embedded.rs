//! The only module that calls `kglite` (pinned to an exact version in the
//! workspace): open a durable graph file, run a write transaction, run a
//! read query. Everything crosses this boundary as `serde_json` values.

use std::collections::HashMap;
use std::path::Path;

use kglite::api::durable::DurabilityLevel;
use kglite::api::param::{json_object_to_value_map, kglite_value_to_json};
use kglite::api::session::{execute_mut, execute_read, open_path, CommitOutcome, ExecuteOptions, OpenSpec, Session};
use serde_json::{Map, Value};

use super::{Rows, Statement};
use crate::GraphError;

/// A durable kglite graph opened for writing (it holds the file's writer lease).
pub struct EmbeddedEngine {
    session: Session,
    _lease: Option<kglite::api::io::GraphWriterLease>,
}

impl EmbeddedEngine {
    /// Open or create the graph at `path` (and its folder) with a write-ahead log beside it.
    pub fn open(path: &Path) -> Result<Self, GraphError> {
        // kglite echoes "no such label" hints to stderr; an empty graph has no labels yet, so silence them.
        kglite::api::cypher::set_query_warning_sink(kglite::api::cypher::QueryWarningSink::Silent);
        // A fresh data directory: make the file's folder, as every kat command makes its data directory.
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| GraphError::Open(format!("creating {}: {e}", parent.display())))?;
        }
        let mut spec = OpenSpec::writer();
        spec.durability = DurabilityLevel::Full;
        let opened = open_path(path, &spec).map_err(|e| GraphError::Open(format!("{}: {e}", path.display())))?;
        Ok(EmbeddedEngine { session: opened.session, _lease: opened.lease })
    }

    /// Run `statements` (each with its parameters) in one transaction.
    pub fn write(&self, statements: &[Statement]) -> Result<(), GraphError> {
        let mut tx = self.session.begin();
        let working = tx.working_mut().map_err(|e| GraphError::Query(e.to_string()))?;
        for (cypher, params) in statements {
            let params = json_object_to_value_map(params);
            execute_mut(working, cypher, &ExecuteOptions::eager(&params)).map_err(|e| GraphError::Query(format!("{e} in {cypher}")))?;
        }
        match self.session.commit(tx, true) {
            CommitOutcome::ConflictDetected { .. } => Err(GraphError::Query("write conflict: another writer committed first".into())),
            _ => Ok(()),
        }
    }

    /// Run a read-only query; a mutating query is refused.
    pub fn read(&self, cypher: &str, params: &Map<String, Value>) -> Result<Rows, GraphError> {
        let params: HashMap<_, _> = json_object_to_value_map(params);
        let outcome = execute_read(&self.session.snapshot(), cypher, &ExecuteOptions::eager(&params)).map_err(|e| GraphError::Query(e.to_string()))?;
        let rows = outcome.result.rows.iter().map(|row| row.iter().map(kglite_value_to_json).collect()).collect();
        Ok((outcome.result.columns, rows))
    }
}
