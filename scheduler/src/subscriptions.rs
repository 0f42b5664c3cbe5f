//! The rules that create tasks from events (DESIGN.md section 2):
//! a stored raw file gives one normalizer task per enabled normalizer that
//! consumes one of its mime types; a new object, or one whose clearance
//! rose, gives one boefje task per enabled boefje that consumes its type
//! and whose scan level the object's clearance reaches.

use kat_core::events::RawFileReceived;
use kat_core::meta::PluginRef;
use kat_core::services::graph::StoredObject;
use kat_core::services::katalogus::Katalogus;
use kat_core::services::scheduler::{NewTask, Pushed, Scheduler, TaskType};
use kat_core::services::ServiceResult;
use kat_core::task::{BoefjeTask, NormalizerTask};
use kat_core::Reference;
use uuid::Uuid;

/// Queue the normalizer tasks for one stored raw file.
pub async fn on_raw_file_received(scheduler: &dyn Scheduler, katalogus: &dyn Katalogus, event: &RawFileReceived) -> ServiceResult<Vec<Pushed>> {
    let mut pushed = Vec::new();
    for plugin in katalogus.normalizers(&event.organization).await? {
        let reads = plugin.manifest.consumes.iter().any(|c| event.raw_data.mime_types.iter().any(|m| &m.value == c));
        if !plugin.enabled || !reads {
            continue;
        }
        let body = NormalizerTask { id: Uuid::new_v4(), normalizer: PluginRef { id: plugin.manifest.id.clone(), version: None }, raw_data: event.raw_data.clone() };
        pushed.push(scheduler.push(new_task(TaskType::Normalizer, &event.organization, &body)?).await?);
    }
    Ok(pushed)
}

/// Queue the boefje tasks for objects that are new or whose clearance rose.
pub async fn on_new_objects(scheduler: &dyn Scheduler, katalogus: &dyn Katalogus, organisation: &str, objects: &[StoredObject]) -> ServiceResult<Vec<Pushed>> {
    let boefjes = katalogus.boefjes(organisation).await?;
    let mut pushed = Vec::new();
    for object in objects {
        for plugin in &boefjes {
            let m = &plugin.manifest;
            if plugin.enabled && m.consumes.iter().any(|c| c == object.ooi.object_type()) && m.scan_level <= object.scan_level {
                pushed.push(scheduler.push(boefje_task(organisation, &m.id, object.ooi.reference())?).await?);
            }
        }
    }
    Ok(pushed)
}

/// A boefje task body for `boefje_id` on `input`.
pub fn boefje_task(organisation: &str, boefje_id: &str, input: &Reference) -> ServiceResult<NewTask> {
    let body = BoefjeTask { id: Uuid::new_v4(), boefje: PluginRef { id: boefje_id.to_string(), version: None }, input_ooi: input.to_string(), organization: organisation.to_string() };
    new_task(TaskType::Boefje, organisation, &body)
}

fn new_task(task_type: TaskType, organisation: &str, body: &impl serde::Serialize) -> ServiceResult<NewTask> {
    let data = serde_json::to_value(body).map_err(|e| kat_core::services::ServiceError::internal(e.to_string()))?;
    Ok(NewTask { task_type, organisation: organisation.to_string(), priority: 0, data })
}
