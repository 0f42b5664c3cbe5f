//! The rule stage (OpenKAT's bits): after a normalizer's observation is
//! saved, every rule is evaluated on each object of the observation whose
//! type it consumes, as the graph now holds it (fields merged from every
//! origin), with the objects its parameter paths reach. What a rule
//! concludes (findings with their finding types, or new objects such as a
//! website) is saved as its own observation, method `rule/<rule id>` and
//! source the object, so the next evaluation replaces it: a conclusion goes
//! as soon as its rule stops holding. For an object the save deleted, the
//! rule's observation is emptied, so its conclusions go with it.
//!
//! Two things make a rule run again besides its own object changing:
//! - an object at the end of one of its parameter paths changed (a header
//!   of a resource, an A record of an address): the path is walked back from
//!   it to the consumed objects it leads to (objects on the way do not
//!   count, as OpenKAT's bits rerun on their parameters only);
//! - a rule's save made new objects: they go through the stage in turn (a
//!   website found by one rule is checked by another), for at most
//!   [`MAX_ROUNDS`] rounds.

use std::collections::BTreeSet;

use kat_core::builtin::{Rule, Step};
use kat_core::ooi::types::{type_spec, FieldKind};
use kat_core::services::graph::{ObjectGraph, SaveReport};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::{Ooi, Reference};

/// How many times conclusions of rules are fed back through the rules after one observation.
pub const MAX_ROUNDS: usize = 4;

/// The origin method of a rule's conclusions.
pub fn method(rule: &dyn Rule) -> String {
    format!("rule/{}", rule.id())
}

/// An object that changed: its reference and, unless it was deleted, its fields.
struct Changed {
    reference: Reference,
    object: Option<Ooi>,
}

impl Changed {
    /// The reference held in `field`: from the object, or for a deleted one from its key.
    fn field(&self, field: &str) -> Option<Reference> {
        match &self.object {
            Some(object) => reference_in(object, field),
            None => kat_core::ooi::openkat::key_fields(&self.reference).ok()?.get(field).and_then(serde_json::Value::as_str).and_then(|t| Reference::parse(t).ok()),
        }
    }
}

/// The reference `object` holds in `field`, if any.
fn reference_in(object: &Ooi, field: &str) -> Option<Reference> {
    object.get(field).and_then(serde_json::Value::as_str).and_then(|text| Reference::parse(text).ok())
}

/// What the rule stage did after one observation.
#[derive(Debug, Default)]
pub struct Concluded {
    /// Every object the rules concluded (held by their origins now).
    pub objects: Vec<Ooi>,
    /// What saving the conclusions changed, merged.
    pub report: SaveReport,
}

/// Evaluate `rules` after an observation that saved `objects` and deleted `deleted`, saving each conclusion.
pub async fn apply(rules: &[Box<dyn Rule>], graph: &dyn ObjectGraph, organisation: &str, objects: &[Ooi], deleted: &[Reference]) -> ServiceResult<Concluded> {
    let mut concluded = Concluded::default();
    if rules.is_empty() {
        return Ok(concluded);
    }
    let mut changed: Vec<Changed> = objects.iter().map(|o| Changed { reference: o.reference().clone(), object: Some(o.clone()) }).collect();
    changed.extend(deleted.iter().map(|r| Changed { reference: r.clone(), object: None }));
    for _ in 0..MAX_ROUNDS {
        if changed.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for rule in rules {
            let method = method(rule.as_ref());
            for target in targets(rule.as_ref(), graph, organisation, &changed).await? {
                let conclusion = match graph.get(organisation, &target).await? {
                    Some(stored) => {
                        let parameters = parameters(rule.as_ref(), graph, organisation, &stored.ooi).await?;
                        rule.evaluate(&stored.ooi, &parameters).map_err(|e| ServiceError::internal(format!("rule {} failed on {target}: {e}", rule.id())))?
                    }
                    // Gone: what the rule concluded on it goes too.
                    None => Vec::new(),
                };
                let saved = graph.save_observation(organisation, &method, &target, &conclusion).await?;
                next.extend(saved.new_or_raised.iter().map(|s| Changed { reference: s.ooi.reference().clone(), object: Some(s.ooi.clone()) }));
                next.extend(saved.deleted.iter().map(|r| Changed { reference: r.clone(), object: None }));
                concluded.report.absorb(saved);
                concluded.objects.extend(conclusion);
            }
        }
        changed = next;
    }
    Ok(concluded)
}

/// The objects `rule` is to be evaluated on after `changed`: the consumed ones among them, and those a
/// parameter path leads back to from a changed object at its end.
async fn targets(rule: &dyn Rule, graph: &dyn ObjectGraph, organisation: &str, changed: &[Changed]) -> ServiceResult<BTreeSet<Reference>> {
    let mut targets: BTreeSet<Reference> = changed.iter().filter(|c| rule.consumes().contains(&c.reference.object_type())).map(|c| c.reference.clone()).collect();
    for path in rule.parameters() {
        for consumed in rule.consumes() {
            let types = types_along(consumed, path);
            let ends = types.last().cloned().unwrap_or_default();
            for object in changed.iter().filter(|c| ends.contains(&c.reference.object_type())) {
                targets.extend(walk_back(graph, organisation, &types, path, object).await?);
            }
        }
    }
    Ok(targets)
}

/// The object types that can stand at each place of `path` starting from `start` (place 0 is `start`).
fn types_along(start: &'static str, path: &[Step]) -> Vec<Vec<&'static str>> {
    let mut types = vec![vec![start]];
    for step in path {
        let here = types.last().cloned().unwrap_or_default();
        let next = match step {
            Step::Field(field) => here
                .iter()
                .filter_map(|t| type_spec(t)?.field(field))
                .flat_map(|f| match f.kind {
                    FieldKind::Ref { targets, .. } => targets.to_vec(),
                    _ => Vec::new(),
                })
                .collect(),
            Step::ReferencedBy { object_type, .. } => vec![*object_type],
        };
        types.push(next);
    }
    types
}

/// The objects at the start of `steps` from which the steps lead to `object` (which stands after the last);
/// `types` as [`types_along`] gives them for the steps.
async fn walk_back(graph: &dyn ObjectGraph, organisation: &str, types: &[Vec<&'static str>], steps: &[Step], object: &Changed) -> ServiceResult<Vec<Reference>> {
    let mut here: Vec<Reference> = vec![object.reference.clone()];
    let mut first = true;
    for (at, step) in steps.iter().enumerate().rev() {
        let mut back = Vec::new();
        for reference in &here {
            match step {
                // The objects before named this one in `field`.
                Step::Field(field) => {
                    for before in &types[at] {
                        back.extend(graph.referencing(organisation, before, field, reference).await?.into_iter().map(|s| s.ooi.reference().clone()));
                    }
                }
                // This object names the one before in `field`.
                Step::ReferencedBy { field, .. } => {
                    let named = if first { object.field(field) } else { graph.get(organisation, reference).await?.and_then(|s| reference_in(&s.ooi, field)) };
                    back.extend(named);
                }
            }
        }
        first = false;
        here = back;
    }
    Ok(here)
}

/// The objects `rule`'s parameter paths reach from `object`, path after path.
async fn parameters(rule: &dyn Rule, graph: &dyn ObjectGraph, organisation: &str, object: &Ooi) -> ServiceResult<Vec<Ooi>> {
    let mut reached = Vec::new();
    for path in rule.parameters() {
        let mut here = vec![object.clone()];
        for step in *path {
            let mut next = Vec::new();
            for current in &here {
                match step {
                    Step::Field(field) => {
                        if let Some(named) = reference_in(current, field) {
                            next.extend(graph.get(organisation, &named).await?.map(|s| s.ooi));
                        }
                    }
                    Step::ReferencedBy { object_type, field } => {
                        next.extend(graph.referencing(organisation, object_type, field, current.reference()).await?.into_iter().map(|s| s.ooi));
                    }
                }
            }
            here = next;
        }
        reached.extend(here);
    }
    Ok(reached)
}
