//! The parameters of the KATalogus's routes as the OpenAPI document declares
//! them (documentation only: the handlers read paths with `Path` and query
//! strings as name/value pairs, see [`super::plugins::pairs`]). Their types
//! are the schemas of [`super::schemas`], so every parameter carries its rule.

#![allow(dead_code, reason = "these structs only describe parameters for the OpenAPI document")]

use utoipa::IntoParams;

use super::schemas::{Count, Flag, OrganisationId, PluginId, PluginType, Text};

/// `{org}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrganisationPath {
    /// The organisation (an id that does not exist is 404).
    org: OrganisationId,
}

/// `{org}` and `{plugin_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PluginPath {
    /// The organisation (an id that does not exist is 404).
    org: OrganisationId,
    /// The plugin (an id that does not exist is 404).
    plugin_id: PluginId,
}

/// `{org}` and `{to_org}` of a clone.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClonePath {
    /// The organisation whose settings and enablement are copied.
    org: OrganisationId,
    /// The organisation they are copied to (not `org` itself: 422).
    to_org: OrganisationId,
}

/// The filters of `GET /v1/organisations/{org}/plugins`, applied in this order.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PluginFilters {
    /// Only these plugins, in this order (repeated or comma-separated; an id that does not exist is 404).
    ids: Option<Vec<Text>>,
    /// Only plugins whose id, name or description holds this text (in any case).
    q: Option<Text>,
    /// Only plugins of this type (rocky's name for the filter).
    plugin_type: Option<PluginType>,
    /// The same as `plugin_type` (which wins when both are given).
    r#type: Option<PluginType>,
    /// Only enabled (or disabled) plugins.
    state: Option<Flag>,
    /// Only boefjes with this container image.
    oci_image: Option<Text>,
    /// Only boefjes that need at least this scan level (normalizers stay).
    scan_level: Option<Count>,
    /// Only plugins that consume any of these (repeated or comma-separated).
    consumes: Option<Vec<Text>>,
    /// Only plugins that produce any of these (repeated or comma-separated).
    produces: Option<Vec<Text>>,
    /// Skip this many.
    offset: Option<Count>,
    /// Answer at most this many.
    limit: Option<Count>,
}

/// The filters of `GET /v1/configs`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigFilters {
    /// Only this organisation's configs.
    organisation_id: Option<Text>,
    /// Only this boefje's configs.
    boefje_id: Option<Text>,
    /// Only enabled (or disabled) configs.
    enabled: Option<Flag>,
    /// With `organisation_id` and `boefje_id`: list the equal configs of other organisations.
    with_duplicates: Option<Flag>,
    /// Skip this many.
    offset: Option<Count>,
    /// Answer at most this many.
    limit: Option<Count>,
}
