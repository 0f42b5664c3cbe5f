//! The rule stage (OpenKAT's bits): after a normalizer's observation is
//! saved, every rule is evaluated on each object of the observation whose
//! type it consumes, as the graph now holds it (fields merged from every
//! origin). What a rule concludes (findings with their finding types) is
//! saved as its own observation, method `rule/<rule id>` and source the
//! object, so the next evaluation replaces it: a finding goes as soon as its
//! rule stops holding. For an object the save deleted, the rule's
//! observation is emptied, so its findings go with it.

use kat_core::builtin::Rule;
use kat_core::services::graph::{ObjectGraph, SaveReport};
use kat_core::services::{ServiceError, ServiceResult};
use kat_core::{Ooi, Reference};

/// The origin method of a rule's conclusions.
pub fn method(rule: &dyn Rule) -> String {
    format!("rule/{}", rule.id())
}

/// Evaluate `rules` on the consumed ones among `objects` and on the deleted ones, saving each conclusion; what
/// the saves changed, merged.
pub async fn apply(rules: &[Box<dyn Rule>], graph: &dyn ObjectGraph, organisation: &str, objects: &[Ooi], deleted: &[Reference]) -> ServiceResult<SaveReport> {
    let mut report = SaveReport::default();
    for rule in rules {
        let method = method(rule.as_ref());
        let consumed = |object_type: &str| rule.consumes().contains(&object_type);
        for object in objects.iter().filter(|o| consumed(o.object_type())) {
            let Some(stored) = graph.get(organisation, object.reference()).await? else { continue };
            let conclusion = rule.evaluate(&stored.ooi).map_err(|e| ServiceError::internal(format!("rule {} failed on {}: {e}", rule.id(), object.reference())))?;
            report.absorb(graph.save_observation(organisation, &method, object.reference(), &conclusion).await?);
        }
        for gone in deleted.iter().filter(|r| consumed(r.object_type())) {
            report.absorb(graph.save_observation(organisation, &method, gone, &[]).await?);
        }
    }
    Ok(report)
}
