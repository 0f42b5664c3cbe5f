//! What this scheduler adds to mula's API: the two events that create
//! tasks, for runners and relays that reach the scheduler over HTTP
//! (`SchedulerClient`), and `explain`.
//!
//! - `POST /objects`: `{organisation, saved: [{reference, scan_level, fields}], deleted: [reference]}`
//!   from a normalizer runner;
//! - `POST /raw_file_received`: Bytes' `raw_file_received` event (once per `event_id`);
//! - `GET /explain?organisation=&boefje_id=&input_ooi=`: why a boefje did or did not run on an object.
//!
//! The first two answer `{"results": [{"task": Task, "created": bool}]}`.

use axum::extract::State;
use axum::Json;
use kat_core::events::RawFileReceived;
use kat_core::services::scheduler::{ObjectState, Pushed, Scheduler};
use kat_core::services::ServiceError;
use kat_core::Reference;
use kat_server::params::Query;
use kat_server::{ApiError, ApiJson};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiState;
use crate::explain::Explanation;

/// The body of `POST /objects`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ObjectsBody {
    /// The organisation.
    pub organisation: String,
    /// Every object of the observation, with its clearance and fields.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub saved: Vec<ObjectState>,
    /// References of deleted objects.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub deleted: Vec<Reference>,
}

/// Pushes as JSON.
pub fn pushed_json(pushed: &[Pushed]) -> Value {
    json!({"results": pushed.iter().map(|p| json!({"task": p.task, "created": p.created})).collect::<Vec<_>>()})
}

/// `POST /objects`
#[utoipa::path(post, path = "/objects", request_body(content = ObjectsBody, content_type = "application/json"),
    responses((status = 200, description = "{\"results\": [{task, created}]}: the boefje tasks the objects called for"), (status = 422, description = "A bad organisation, reference or level; the field is named")))]
pub async fn objects(State(state): State<ApiState>, ApiJson(body): ApiJson<ObjectsBody>) -> Result<Json<Value>, ApiError> {
    let pushed = state.scheduler.objects_changed(&body.organisation, &body.saved, &body.deleted).await?;
    Ok(Json(pushed_json(&pushed)))
}

/// `POST /raw_file_received`
#[utoipa::path(post, path = "/raw_file_received", request_body(content = Object, description = "Bytes' raw_file_received event", content_type = "application/json"),
    responses((status = 200, description = "{\"results\": [{task, created}]}: the normalizer tasks (none for a repeated event_id)"), (status = 422, description = "Not an event; the field is named")))]
pub async fn raw_file_received(State(state): State<ApiState>, ApiJson(event): ApiJson<RawFileReceived>) -> Result<Json<Value>, ApiError> {
    let pushed = state.scheduler.raw_file_received(&event).await?;
    Ok(Json(pushed_json(&pushed)))
}

/// `GET /explain`
#[utoipa::path(get, path = "/explain", params(("organisation" = String, Query), ("boefje_id" = String, Query), ("input_ooi" = String, Query)),
    responses((status = 200, description = "Every reason that applies", body = Explanation), (status = 422, description = "A missing or bad parameter; it is named")))]
pub async fn explain(State(state): State<ApiState>, query: Query) -> Result<Json<Explanation>, ApiError> {
    let need = |name: &str| query.text(name).filter(|v| !v.is_empty()).ok_or_else(|| ApiError(ServiceError::invalid(format!("{name} is required")).with_field(name)));
    let (organisation, boefje_id, input_ooi) = (need("organisation")?, need("boefje_id")?, need("input_ooi")?);
    Reference::parse(&input_ooi).map_err(|e| ApiError(ServiceError::invalid(format!("input_ooi: {e}")).with_field("input_ooi")))?;
    Ok(Json(state.scheduler.explain(&organisation, &boefje_id, &input_ooi).await?))
}
