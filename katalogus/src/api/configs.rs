//! `GET /v1/configs`: OpenKAT's boefje configs (one per organisation and
//! boefje the organisation enabled, disabled or configured), with OpenKAT's
//! query parameters `organisation_id`, `boefje_id`, `enabled`,
//! `with_duplicates`, `offset` and `limit`. Like the settings `GET`, the
//! answer carries setting values.

use axum::extract::State;
use axum::Json;

use super::error::ApiError;
use super::params::ConfigFilters;
use super::plugins::{boolean, number, one, pairs, Pairs};
use super::AppState;
use crate::store::configs::{BoefjeConfig, ConfigFilter};

/// `GET /v1/configs`
#[utoipa::path(get, path = "/v1/configs", params(ConfigFilters), responses((status = 200, description = "Boefje configs (they carry setting values)", body = [BoefjeConfig]), (status = 422, description = "A bad parameter")))]
pub async fn list(State(state): State<AppState>, query: Pairs) -> Result<Json<Vec<BoefjeConfig>>, ApiError> {
    let pairs = pairs(query)?;
    let filter = ConfigFilter {
        organisation_id: one(&pairs, "organisation_id"),
        boefje_id: one(&pairs, "boefje_id"),
        enabled: boolean(&pairs, "enabled")?,
        with_duplicates: boolean(&pairs, "with_duplicates")?.unwrap_or(false),
        offset: number(&pairs, "offset")?.unwrap_or(0),
        limit: number(&pairs, "limit")?,
    };
    Ok(Json(state.katalogus.configs(&filter).await?))
}
