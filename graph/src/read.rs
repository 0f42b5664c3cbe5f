//! Reading the graph of one organisation: objects by primary key, pages of
//! one type filtered by field, neighbours along references, the origins of
//! an object with when each last saw it, and read-only Cypher for `kat query`.

use std::collections::{BTreeSet, HashMap};

use kat_core::ooi::types::{type_spec, OBJECT_TYPES};
use kat_core::{Ooi, Reference, ScanLevel};
use serde_json::{Map, Value};

use crate::engine::Rows;
use crate::{cypher, group, params, Graph, GraphError, StoredObject};

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

/// An origin of an object, as [`Graph::origins`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginInfo {
    /// `declaration`, `observation` or `affirmation`.
    pub kind: String,
    /// The normalizer id, or `declaration`.
    pub method: String,
    /// The object the origin was made on.
    pub source: String,
    /// When the origin last saved (RFC 3339).
    pub observed_at: String,
}

/// A field that must equal a value, for [`Graph::list`].
#[derive(Debug, Clone)]
pub struct Filter {
    /// A field of the listed object type.
    pub field: String,
    /// The value it must have (a string, or an integer for integer fields).
    pub value: Value,
}

/// A page of objects and how many match in all.
#[derive(Debug)]
pub struct ObjectPage {
    /// The number of objects that match, on every page.
    pub count: u64,
    /// This page, ordered by primary key.
    pub objects: Vec<StoredObject>,
}

/// A reference relation read from the graph, with the type and level of the object at its far end.
#[derive(Debug, Clone)]
pub(crate) struct StoredEdge {
    pub from: Reference,
    pub field: String,
    pub to: Reference,
    pub other_level: u8,
}

impl Graph {
    /// The stored objects of `organisation` among `refs` (missing ones are left out).
    pub async fn get_many(&self, organisation: &str, refs: &[Reference]) -> Result<Vec<StoredObject>, GraphError> {
        let mut out = Vec::new();
        let unique: BTreeSet<&Reference> = refs.iter().collect();
        for (label, pks) in group(unique.into_iter().map(|r| (r.object_type().to_string(), Value::from(r.as_str())))) {
            let fields = field_names(&label)?;
            let rows = self.engine.read(&cypher::objects_by_key(&label, &fields), &params(organisation, [("pks", Value::Array(pks))])).await?;
            out.extend(rows_to_objects(&label, &fields, rows)?);
        }
        Ok(out)
    }

    /// One stored object of `organisation`.
    pub async fn get(&self, organisation: &str, reference: &Reference) -> Result<Option<StoredObject>, GraphError> {
        Ok(self.get_many(organisation, std::slice::from_ref(reference)).await?.pop())
    }

    /// A page of the objects of `object_type` in `organisation` whose fields equal `filters`, ordered by key.
    pub async fn list(&self, organisation: &str, object_type: &str, filters: &[Filter], offset: u64, limit: u64) -> Result<ObjectPage, GraphError> {
        let fields = field_names(object_type)?;
        let mut names = Vec::new();
        let mut values = params(organisation, [("skip", offset.into()), ("limit", limit.into())]);
        for (i, filter) in filters.iter().enumerate() {
            let Some(name) = fields.iter().find(|f| **f == filter.field) else {
                return Err(GraphError::Invalid(format!("{object_type} has no field {:?}; its fields are {}", filter.field, fields.join(", "))));
            };
            names.push(*name);
            values.insert(format!("f{i}"), filter.value.clone());
        }
        let (_, counted) = self.engine.read(&cypher::count_of_type(object_type, &names), &values).await?;
        let count = counted.first().and_then(|r| r.first()).and_then(Value::as_u64).unwrap_or(0);
        let rows = self.engine.read(&cypher::objects_of_type(object_type, &fields, &names), &values).await?;
        Ok(ObjectPage { count, objects: rows_to_objects(object_type, &fields, rows)? })
    }

    /// The objects of `object_type` in `organisation` whose reference field `field` names `target`, ordered by key
    /// (found along the field's relation, so the cost follows the target's relations, not the type's size).
    pub async fn referencing(&self, organisation: &str, object_type: &str, field: &str, target: &Reference) -> Result<Vec<StoredObject>, GraphError> {
        let fields = field_names(object_type)?;
        let Some(name) = fields.iter().find(|f| **f == field) else {
            return Err(GraphError::Invalid(format!("{object_type} has no field {field:?}; its fields are {}", fields.join(", "))));
        };
        let rows = self.engine.read(&cypher::referencing(object_type, name, target.object_type(), &fields), &params(organisation, [("pk", target.as_str().into())])).await?;
        rows_to_objects(object_type, &fields, rows)
    }

    /// Every object of `organisation`, or those of one type, ordered by type then key.
    pub async fn objects(&self, organisation: &str, object_type: Option<&str>) -> Result<Vec<StoredObject>, GraphError> {
        let mut out = Vec::new();
        for spec in OBJECT_TYPES.iter().filter(|s| object_type.is_none_or(|t| t == s.name)) {
            // Every object of the type: the page query alone, without `list`'s count.
            let fields = field_names(spec.name)?;
            let values = params(organisation, [("skip", 0.into()), ("limit", i64::MAX.into())]);
            let rows = self.engine.read(&cypher::objects_of_type(spec.name, &fields, &[]), &values).await?;
            out.extend(rows_to_objects(spec.name, &fields, rows)?);
        }
        Ok(out)
    }

    /// The objects within `depth` reference hops of `start` (either direction), `start` excluded, ordered by key.
    pub async fn neighbours(&self, organisation: &str, start: &Reference, depth: usize) -> Result<Vec<StoredObject>, GraphError> {
        let mut seen: BTreeSet<Reference> = BTreeSet::from([start.clone()]);
        let mut frontier = vec![start.clone()];
        for _ in 0..depth {
            let mut next = Vec::new();
            for edge in self.edges(organisation, &frontier).await? {
                for end in [edge.from, edge.to] {
                    if seen.insert(end.clone()) {
                        next.push(end);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        seen.remove(start);
        let mut found = self.get_many(organisation, &seen.into_iter().collect::<Vec<_>>()).await?;
        found.sort_by(|a, b| a.ooi.reference().cmp(b.ooi.reference()));
        Ok(found)
    }

    /// The origins that hold or affirm `reference`, newest first, with when each last saw it: the object's
    /// history of observations.
    pub async fn origins(&self, organisation: &str, reference: &Reference) -> Result<Vec<OriginInfo>, GraphError> {
        let (_, rows) = self.engine.read(&cypher::origins_of(reference.object_type()), &params(organisation, [("pk", reference.as_str().into())])).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
                OriginInfo { kind: text(0), method: text(1), source: text(2), observed_at: text(3) }
            })
            .collect())
    }

    /// Every observation link of `organisation`: (method, source, one object it saw), for drawing the tree.
    pub async fn observations(&self, organisation: &str) -> Result<Vec<Observed>, GraphError> {
        let (_, rows) = self.engine.read(cypher::ALL_ORIGIN_RESULTS, &params(organisation, [])).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let text = |i: usize| row.get(i).and_then(Value::as_str).map(String::from);
                Some(Observed { method: text(0)?, source: Reference::parse(&text(1)?).ok()?, result: Reference::parse(&text(2)?).ok()? })
            })
            .collect())
    }

    /// Run a read-only Cypher query over the whole graph (every organisation: filter on `organisation`);
    /// rows come back as JSON values.
    pub async fn query(&self, cypher: &str) -> Result<Rows, GraphError> {
        self.engine.read(cypher, &Map::new()).await
    }

    /// The reference relations touching `refs`, both directions, with the level of the far end.
    pub(crate) async fn edges(&self, organisation: &str, refs: &[Reference]) -> Result<Vec<StoredEdge>, GraphError> {
        let mut out = Vec::new();
        for (label, pks) in group(refs.iter().map(|r| (r.object_type().to_string(), Value::from(r.as_str())))) {
            let pks = params(organisation, [("pks", Value::Array(pks))]);
            for cypher in [cypher::references_from(&label), cypher::references_to(&label)] {
                let (_, rows) = self.engine.read(&cypher, &pks).await?;
                out.extend(rows.into_iter().filter_map(|row| {
                    let text = |i: usize| row.get(i).and_then(Value::as_str);
                    Some(StoredEdge {
                        from: Reference::parse(text(0)?).ok()?,
                        field: text(1)?.to_string(),
                        to: Reference::parse(text(2)?).ok()?,
                        other_level: level_of(row.get(4)),
                    })
                }));
            }
        }
        Ok(out)
    }

    /// The (key, level) pairs a per-label query returns, over every object type.
    pub(crate) async fn levels_by(&self, organisation: &str, query: fn(&str) -> String) -> Result<HashMap<Reference, u8>, GraphError> {
        let mut out = HashMap::new();
        for spec in OBJECT_TYPES {
            let (_, rows) = self.engine.read(&query(spec.name), &params(organisation, [])).await?;
            for row in rows {
                if let Some(r) = row.first().and_then(Value::as_str).and_then(|t| Reference::parse(t).ok()) {
                    out.insert(r, level_of(row.get(1)));
                }
            }
        }
        Ok(out)
    }
}

/// The field names of an object type, in the order its reads return them.
pub(crate) fn field_names(object_type: &str) -> Result<Vec<&'static str>, GraphError> {
    let spec = type_spec(object_type).ok_or_else(|| GraphError::Invalid(format!("unknown object type {object_type:?}")))?;
    Ok(spec.fields.iter().map(|f| f.name).collect())
}

fn level_of(value: Option<&Value>) -> u8 {
    value.and_then(Value::as_u64).and_then(|l| u8::try_from(l).ok()).filter(|l| *l <= 4).unwrap_or(0)
}

fn rows_to_objects(label: &str, fields: &[&str], (_, rows): Rows) -> Result<Vec<StoredObject>, GraphError> {
    rows.into_iter()
        .map(|row| {
            let pk = row.first().and_then(Value::as_str).unwrap_or_default().to_string();
            let values: Map<String, Value> = fields.iter().zip(row.iter().skip(3)).filter(|(_, v)| !v.is_null()).map(|(f, v)| (f.to_string(), v.clone())).collect();
            let ooi = Ooi::new(label, values).map_err(|_| GraphError::Corrupt(pk.clone()))?;
            let scan_level = ScanLevel::try_from(level_of(row.get(1))).unwrap_or_default();
            let declared = row.get(2).filter(|v| !v.is_null()).and_then(|v| ScanLevel::try_from(level_of(Some(v))).ok());
            Ok(StoredObject { ooi, scan_level, declared })
        })
        .collect()
}
