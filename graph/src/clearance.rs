//! Clearance (scan level 0-4) and how it flows along references.
//!
//! The rules, per organisation:
//! 1. An object a user declared a level on has at least that level.
//! 2. For every reference relation `(a)-[field]->(b)`, with the field's
//!    limits `max_issue` and `max_inherit` (OpenKAT's
//!    `max_issue_scan_level` / `max_inherit_scan_level`, in
//!    `kat_core::ooi::types`; no limit means 4): `b` has at least
//!    `min(level(a), max_issue)` and `a` at least `min(level(b), max_inherit)`.
//! 3. Every object has the least level that satisfies 1 and 2 (0 when
//!    nothing gives it more).
//!
//! Because of 3, levels fall as well as rise: removing or lowering a
//! declaration, or an object or reference that carried a level, lowers what
//! depended on it. A save that can only add (new objects, references or a
//! higher declaration) settles incrementally from the touched objects,
//! starting at their stored levels; a save that removes something settles
//! the whole organisation from its declarations.

use std::collections::{HashMap, HashSet};

use kat_core::ooi::types::{type_spec, FieldKind};
use kat_core::Reference;
use serde_json::{json, Value};

use crate::{cypher, group, params, Graph, GraphError};

/// The limits of reference `field` of objects of `from_type`: (max_issue, max_inherit), 4 where unlimited.
/// `None` when the field is not a reference of that type.
pub fn limits(from_type: &str, field: &str) -> Option<(u8, u8)> {
    match type_spec(from_type)?.field(field)?.kind {
        FieldKind::Ref { max_issue, max_inherit, .. } => Some((max_issue.unwrap_or(4), max_inherit.unwrap_or(4))),
        _ => None,
    }
}

/// Levels being settled: for each object the level so far and the level stored before the save.
#[derive(Debug, Default)]
pub(crate) struct Settlement {
    levels: HashMap<Reference, (u8, u8)>,
}

impl Settlement {
    /// Start `reference` at `current`, remembering `stored` as what the graph held.
    pub fn start(&mut self, reference: Reference, current: u8, stored: u8) {
        self.levels.entry(reference).or_insert((current, stored));
    }

    /// Raise `reference` to at least `level`; true when that changed it.
    fn raise(&mut self, reference: &Reference, level: u8) -> bool {
        match self.levels.get_mut(reference) {
            Some((current, _)) if *current < level => {
                *current = level;
                true
            }
            _ => false,
        }
    }

    fn current(&self, reference: &Reference) -> u8 {
        self.levels.get(reference).map_or(0, |(c, _)| *c)
    }

    /// The objects whose level differs from the stored one: (reference, new level, stored level).
    pub fn changes(&self) -> Vec<(Reference, u8, u8)> {
        self.levels.iter().filter(|(_, (c, s))| c != s).map(|(r, (c, s))| (r.clone(), *c, *s)).collect()
    }
}

/// Apply rule 2 to the relation `(from)-[field]->(to)`; returns the objects it raised.
fn apply(settlement: &mut Settlement, from: &Reference, field: &str, to: &Reference) -> Vec<Reference> {
    let Some((max_issue, max_inherit)) = limits(from.object_type(), field) else { return Vec::new() };
    let mut raised = Vec::new();
    if settlement.raise(to, settlement.current(from).min(max_issue)) {
        raised.push(to.clone());
    }
    if settlement.raise(from, settlement.current(to).min(max_inherit)) {
        raised.push(from.clone());
    }
    raised
}

/// Where an object first met along a relation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Baseline {
    /// At its stored level (settling an addition).
    Stored,
    /// At 0 (settling the whole organisation from its declarations).
    Zero,
}

impl Graph {
    /// Spread levels from `start` along the stored reference relations until rule 2 holds everywhere reached.
    pub(crate) async fn spread(&self, organisation: &str, settlement: &mut Settlement, start: Vec<Reference>, baseline: Baseline) -> Result<(), GraphError> {
        let mut edges: HashMap<Reference, Vec<(Reference, String, Reference)>> = HashMap::new();
        let mut queue: Vec<Reference> = start;
        while !queue.is_empty() {
            let batch: Vec<Reference> = queue.drain(..).collect::<HashSet<_>>().into_iter().collect();
            let unknown: Vec<Reference> = batch.iter().filter(|r| !edges.contains_key(*r)).cloned().collect();
            if !unknown.is_empty() {
                for r in &unknown {
                    edges.insert(r.clone(), Vec::new());
                }
                let asked: HashSet<&Reference> = unknown.iter().collect();
                for edge in self.edges(organisation, &unknown).await? {
                    let other = if asked.contains(&edge.from) && !asked.contains(&edge.to) { &edge.to } else { &edge.from };
                    let start_at = if baseline == Baseline::Stored { edge.other_level } else { 0 };
                    settlement.start(other.clone(), start_at, edge.other_level);
                    let triple = (edge.from.clone(), edge.field.clone(), edge.to.clone());
                    for end in [&edge.from, &edge.to] {
                        if let Some(list) = edges.get_mut(end) {
                            list.push(triple.clone());
                        }
                    }
                }
            }
            for r in &batch {
                for (from, field, to) in edges.get(r).cloned().unwrap_or_default() {
                    queue.extend(apply(settlement, &from, &field, &to));
                }
            }
        }
        Ok(())
    }

    /// Settle the whole organisation from its declarations (rule 3 with levels that may fall).
    pub(crate) async fn settle_all(&self, organisation: &str) -> Result<Settlement, GraphError> {
        let declared = self.levels_by(organisation, cypher::declared_objects).await?;
        let stored = self.levels_by(organisation, cypher::cleared_objects).await?;
        let mut settlement = Settlement::default();
        for (r, level) in &declared {
            settlement.start(r.clone(), *level, stored.get(r).copied().unwrap_or(0));
        }
        self.spread(organisation, &mut settlement, declared.keys().cloned().collect(), Baseline::Zero).await?;
        for (r, level) in stored {
            settlement.start(r, 0, level);
        }
        Ok(settlement)
    }

    /// Write the changed levels of `settlement`; returns (raised, lowered) references.
    pub(crate) async fn write_levels(&self, organisation: &str, settlement: &Settlement) -> Result<(Vec<Reference>, Vec<Reference>), GraphError> {
        let changes = settlement.changes();
        let statements: Vec<_> = group(changes.iter().map(|(r, level, _)| (r.object_type().to_string(), json!({"pk": r.as_str(), "level": level}))))
            .into_iter()
            .map(|(label, rows)| (cypher::set_levels(&label), params(organisation, [("rows", Value::Array(rows))])))
            .collect();
        if !statements.is_empty() {
            self.engine.write(&statements).await?;
        }
        let (raised, lowered): (Vec<_>, Vec<_>) = changes.into_iter().partition(|(_, new, old)| new > old);
        Ok((raised.into_iter().map(|c| c.0).collect(), lowered.into_iter().map(|c| c.0).collect()))
    }
}
