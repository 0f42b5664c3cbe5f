//! `kat-graph`: the object graph. Saves observations (the objects a
//! normalizer saw for one input object), keeps their origins, deletes objects
//! that no origin holds any more, and spreads clearance along references.
//!
//! An origin is `(method, source)`: for an observation the method is the
//! normalizer id and the source is the input object; for a declaration the
//! method is `declaration` and the source the declared object itself. Saving
//! an origin replaces its result set, so an object that the newest run no
//! longer sees is removed unless another origin still holds it.
//!
//! Clearance: a declared object gets the declared level; along each reference
//! field an object issues `min(level, max_issue)` to the object it points to
//! and inherits `min(level, max_inherit)` from it (limits per field in
//! `kat_core::ooi::types`), to a fixed point over the saved objects and the
//! source. Levels only rise; nothing lowers them yet.
//!
//! # Layout
//! - [`cypher`]: all Cypher text.
//! - [`embedded`]: the only calls into the embedded kglite engine.

#![forbid(unsafe_code)]

pub mod cypher;
pub mod embedded;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use kat_core::ooi::types::{type_spec, FieldKind, OBJECT_TYPES};
use kat_core::services::graph::ObjectGraph;
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::{ErrorKind, Ooi, Reference, ScanLevel};
use serde_json::{json, Map, Value};

use embedded::{EmbeddedEngine, Rows};

/// Errors of the graph.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The graph file could not be opened (held by another process, corrupt log, ...).
    #[error("cannot open graph {0}")]
    Open(String),
    /// A query failed or was refused.
    #[error("graph query failed: {0}")]
    Query(String),
    /// Stored data no longer parses as an object.
    #[error("stored object {0} is corrupt")]
    Corrupt(String),
}

impl GraphError {
    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GraphError::Open(_) => ErrorKind::Unavailable,
            GraphError::Query(_) => ErrorKind::Invalid,
            GraphError::Corrupt(_) => ErrorKind::Internal,
        }
    }
}

pub use kat_core::services::graph::{SaveReport, StoredObject};

/// The object graph on the embedded engine.
pub struct Graph {
    engine: EmbeddedEngine,
}

impl Graph {
    /// Open or create the graph file at `path`.
    pub fn open(path: &Path) -> Result<Graph, GraphError> {
        let engine = EmbeddedEngine::open(path)?;
        for spec in OBJECT_TYPES {
            engine.write_ignoring_errors(&cypher::create_index(spec.name));
        }
        engine.write_ignoring_errors(&cypher::create_index("Origin"));
        Ok(Graph { engine })
    }

    /// Declare an object with a clearance, as a user does with a scan target.
    pub fn declare(&self, ooi: &Ooi, level: ScanLevel) -> Result<SaveReport, GraphError> {
        let origin = format!("declaration|{}", ooi.reference());
        self.save_origin(&origin, "declaration", ooi.reference(), std::slice::from_ref(ooi), Some(level))
    }

    /// Save what normalizer `method` saw for input object `source`, replacing its earlier result.
    pub fn save_observation(&self, method: &str, source: &Reference, result: &[Ooi]) -> Result<SaveReport, GraphError> {
        let origin = format!("observation|{method}|{source}");
        self.save_origin(&origin, method, source, result, None)
    }

    fn save_origin(&self, origin: &str, method: &str, source: &Reference, result: &[Ooi], declared: Option<ScanLevel>) -> Result<SaveReport, GraphError> {
        let mut keys: Vec<Reference> = result.iter().map(|o| o.reference().clone()).collect();
        keys.push(source.clone());
        let before: HashMap<Reference, ScanLevel> = self.get_many(&keys)?.into_iter().map(|s| (s.ooi.reference().clone(), s.scan_level)).collect();
        let mut levels: HashMap<Reference, u8> = keys.iter().map(|k| (k.clone(), before.get(k).map_or(0, |l| l.get()))).collect();
        if let Some(level) = declared {
            let entry = levels.entry(source.clone()).or_default();
            *entry = (*entry).max(level.get());
        }
        spread_clearance(result, &mut levels);

        let origin_param = |extra: Map<String, Value>| {
            let mut m = Map::new();
            m.insert("origin".into(), Value::from(origin));
            m.extend(extra);
            m
        };
        let old: BTreeSet<String> = self.engine.read(cypher::ORIGIN_RESULTS, &origin_param(Map::new()))?.1.into_iter().filter_map(|r| r.first().and_then(Value::as_str).map(String::from)).collect();
        let new: BTreeSet<String> = result.iter().map(|o| o.reference().to_string()).collect();

        let mut statements: Vec<(String, Map<String, Value>)> = Vec::new();
        let by_type = group(result.iter().map(|o| (o.object_type().to_string(), json!({"pk": o.reference().as_str(), "fields": Value::Object(o.fields().clone()).to_string()}))));
        for (label, rows) in &by_type {
            statements.push((cypher::merge_objects(label), params([("rows", Value::Array(rows.clone()))])));
        }
        statements.push((cypher::MERGE_ORIGIN.into(), origin_param(params([("method", method.into()), ("source", source.as_str().into())]))));
        statements.push((cypher::CLEAR_ORIGIN_RESULTS.into(), origin_param(Map::new())));
        for (label, rows) in &by_type {
            let pks: Vec<Value> = rows.iter().map(|r| r["pk"].clone()).collect();
            statements.push((cypher::link_results(label), origin_param(params([("pks", Value::Array(pks))]))));
        }
        let refs = result.iter().flat_map(|o| o.references().into_iter().map(move |(field, to)| ((o.object_type().to_string(), to.object_type().to_string()), json!({"from": o.reference().as_str(), "to": to.as_str(), "field": field}))));
        for ((from, to), rows) in group(refs) {
            statements.push((cypher::link_refs(&from, &to), params([("rows", Value::Array(rows))])));
        }
        let changed = levels.iter().filter(|(k, l)| before.get(*k).map_or(**l > 0 || new.contains(k.as_str()), |b| b.get() < **l));
        for (label, rows) in group(changed.map(|(k, l)| (k.object_type().to_string(), json!({"pk": k.as_str(), "level": l})))) {
            statements.push((cypher::set_levels(&label), params([("rows", Value::Array(rows))])));
        }
        let gone: Vec<Reference> = old.difference(&new).filter_map(|k| Reference::parse(k).ok()).collect();
        for (label, pks) in group(gone.iter().map(|r| (r.object_type().to_string(), Value::from(r.as_str())))) {
            statements.push((cypher::delete_orphans(&label), params([("pks", Value::Array(pks))])));
        }
        self.engine.write(&statements)?;

        let still_there: BTreeSet<Reference> = self.get_many(&gone)?.into_iter().map(|s| s.ooi.reference().clone()).collect();
        let new_or_raised = result
            .iter()
            .filter_map(|o| {
                let level = levels.get(o.reference()).copied().unwrap_or(0);
                let raised = before.get(o.reference()).is_none_or(|b| b.get() < level);
                raised.then(|| StoredObject { ooi: o.clone(), scan_level: ScanLevel::try_from(level).unwrap_or(ScanLevel::L0) })
            })
            .collect();
        Ok(SaveReport { new_or_raised, deleted: gone.into_iter().filter(|r| !still_there.contains(r)).collect() })
    }

    /// The stored objects among `refs` (missing ones are left out).
    pub fn get_many(&self, refs: &[Reference]) -> Result<Vec<StoredObject>, GraphError> {
        let mut out = Vec::new();
        for (label, pks) in group(refs.iter().map(|r| (r.object_type().to_string(), Value::from(r.as_str())))) {
            out.extend(self.rows_to_objects(&label, self.engine.read(&cypher::objects_by_key(&label), &params([("pks", Value::Array(pks))]))?)?);
        }
        Ok(out)
    }

    /// One stored object.
    pub fn get(&self, reference: &Reference) -> Result<Option<StoredObject>, GraphError> {
        Ok(self.get_many(std::slice::from_ref(reference))?.pop())
    }

    /// Every stored object, or those of one type, ordered by type then key.
    pub fn objects(&self, object_type: Option<&str>) -> Result<Vec<StoredObject>, GraphError> {
        let mut out = Vec::new();
        for spec in OBJECT_TYPES.iter().filter(|s| object_type.is_none_or(|t| t == s.name)) {
            out.extend(self.rows_to_objects(spec.name, self.engine.read(&cypher::objects_of_type(spec.name), &Map::new())?)?);
        }
        Ok(out)
    }

    /// Run a read-only Cypher query; rows come back as JSON values.
    pub fn query(&self, cypher: &str) -> Result<Rows, GraphError> {
        self.engine.read(cypher, &Map::new())
    }

    /// Every observation link: (method, source, one object it saw), for drawing the object tree.
    pub fn observations(&self) -> Result<Vec<Observed>, GraphError> {
        let (_, rows) = self.engine.read(cypher::ALL_ORIGIN_RESULTS, &Map::new())?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let text = |i: usize| row.get(i).and_then(Value::as_str).map(String::from);
                Some(Observed { method: text(0)?, source: Reference::parse(&text(1)?).ok()?, result: Reference::parse(&text(2)?).ok()? })
            })
            .collect())
    }

    fn rows_to_objects(&self, label: &str, (_, rows): Rows) -> Result<Vec<StoredObject>, GraphError> {
        rows.into_iter()
            .map(|row| {
                let pk = row.first().and_then(Value::as_str).unwrap_or_default().to_string();
                let fields: Map<String, Value> = row.get(1).and_then(Value::as_str).and_then(|f| serde_json::from_str(f).ok()).ok_or_else(|| GraphError::Corrupt(pk.clone()))?;
                let ooi = Ooi::new(label, fields).map_err(|_| GraphError::Corrupt(pk.clone()))?;
                let level = row.get(2).and_then(Value::as_u64).and_then(|l| u8::try_from(l).ok()).and_then(|l| ScanLevel::try_from(l).ok()).unwrap_or_default();
                Ok(StoredObject { ooi, scan_level: level })
            })
            .collect()
    }
}

/// One link of an origin to an object it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The normalizer id, or `declaration`.
    pub method: String,
    /// The object the observation was made on.
    pub source: Reference,
    /// An object it saw.
    pub result: Reference,
}

impl From<GraphError> for ServiceError {
    fn from(e: GraphError) -> Self {
        ServiceError::new(e.kind(), e.to_string())
    }
}

impl ObjectGraph for Graph {
    fn declare(&self, ooi: &Ooi, level: ScanLevel) -> ServiceResult<SaveReport> {
        Ok(Graph::declare(self, ooi, level)?)
    }

    fn save_observation(&self, method: &str, source: &Reference, result: &[Ooi]) -> ServiceResult<SaveReport> {
        Ok(Graph::save_observation(self, method, source, result)?)
    }

    fn get(&self, reference: &Reference) -> ServiceResult<Option<StoredObject>> {
        Ok(Graph::get(self, reference)?)
    }
}

/// Spread clearance along reference fields to a fixed point (see the crate docs).
fn spread_clearance(result: &[Ooi], levels: &mut HashMap<Reference, u8>) {
    for _ in 0..16 {
        let mut changed = false;
        for o in result {
            let Some(spec) = type_spec(o.object_type()) else { continue };
            for (field, target) in o.references() {
                let Some(FieldKind::Ref { max_issue, max_inherit, .. }) = spec.field(field).map(|f| f.kind) else { continue };
                let (Some(&lo), Some(&lt)) = (levels.get(o.reference()), levels.get(&target)) else { continue };
                let issued = lo.min(max_issue.unwrap_or(4));
                let inherited = lt.min(max_inherit.unwrap_or(4));
                if issued > lt {
                    levels.insert(target.clone(), issued);
                    changed = true;
                }
                if inherited > lo {
                    levels.insert(o.reference().clone(), inherited);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

fn group<K: Ord>(items: impl Iterator<Item = (K, Value)>) -> BTreeMap<K, Vec<Value>> {
    let mut map: BTreeMap<K, Vec<Value>> = BTreeMap::new();
    for (k, v) in items {
        map.entry(k).or_default().push(v);
    }
    map
}

fn params<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
