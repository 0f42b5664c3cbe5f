//! Plugin manifests in OpenKAT's format: `boefje.json`, `normalizer.json`
//! and the settings schema `schema.json`.
//!
//! Built-in plugins embed their manifests with `include_str!`; the parsers
//! here report which file and field is wrong. `SettingsSchema::check_definition`
//! is the stricter check for schemas that arrive over the KATalogus API.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CoreError;
use crate::scan_level::ScanLevel;

/// A boefje's `boefje.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoefjeManifest {
    /// Unique id, e.g. `dns-records`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// Object types it runs on.
    #[serde(default)]
    pub consumes: Vec<String>,
    /// Mime types of its raw output.
    #[serde(default)]
    pub produces: Vec<String>,
    /// The clearance an object needs before this boefje may run on it.
    #[serde(default)]
    pub scan_level: ScanLevel,
    /// Container image, for container boefjes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_image: Option<String>,
    /// Arguments to the container image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oci_arguments: Vec<String>,
    /// Recurring schedule as a cron expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Recurring schedule in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// Conditions on the triggering object's fields (Stalker-style): the
    /// scheduler queues this boefje for an object only when all of them hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// OpenKAT's `run_on`: run only when an object is `create`d and/or
    /// `update`d (no recurring schedule); empty (or `null`) means always.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "run_on")]
    pub run_on: Vec<String>,
    /// A local executable's command line (argv); a first element with a `/`
    /// is relative to the plugin's folder, which is also its working directory.
    /// Empty for built-in and container boefjes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run: Vec<String>,
    /// How a local executable hands back its output: `stdout` (the default) or
    /// `boefje-api` (OpenKAT's container protocol).
    #[serde(default, skip_serializing_if = "Protocol::is_stdout")]
    pub protocol: Protocol,
    /// The longest a run may take, in seconds (overrides the runner's `BOEFJES_JOB_TIMEOUT`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "timeout")]
    pub timeout: Option<u64>,
}

/// How a local executable boefje hands back its output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// Its standard output is the raw output; its standard error the job log.
    #[default]
    #[serde(rename = "stdout")]
    Stdout,
    /// It speaks OpenKAT's boefje API: it is given the input URL as its last argument.
    #[serde(rename = "boefje-api")]
    BoefjeApi,
}

impl Protocol {
    /// Whether this is the default, `stdout`.
    pub fn is_stdout(&self) -> bool {
        *self == Protocol::Stdout
    }

    /// The name as `boefje.json` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Stdout => "stdout",
            Protocol::BoefjeApi => "boefje-api",
        }
    }
}

/// `timeout`: `null` or a whole number of seconds, at least 1.
fn timeout<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(seconds) if seconds > 0 => Ok(Some(seconds)),
            _ => Err(serde::de::Error::custom("timeout: use a whole number of seconds, at least 1")),
        },
    }
}

/// `run_on`: `null` or a list of `create` / `update`.
fn run_on<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let values: Option<Vec<String>> = Option::deserialize(deserializer)?;
    let values = values.unwrap_or_default();
    if let Some(bad) = values.iter().find(|v| *v != "create" && *v != "update") {
        return Err(serde::de::Error::custom(format!("run_on: {bad:?} is neither \"create\" nor \"update\"")));
    }
    Ok(values)
}

/// One condition of a boefje's `conditions`: `field` of the object (`__`
/// walks into nested values) compared by `operator` (`eq`, `ne`, `in`,
/// `not_in`, `lt`, `gt`, `lte`, `gte`, `contains`, `starts_with`, `like`,
/// `ilike`) with `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The object's field, e.g. `port` or `name`.
    pub field: String,
    /// The comparison.
    pub operator: String,
    /// What to compare with.
    #[serde(default)]
    pub value: Value,
}

/// A normalizer's `normalizer.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizerManifest {
    /// Unique id, e.g. `kat_dns_normalize`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// Mime types of raw files it reads.
    #[serde(default)]
    pub consumes: Vec<String>,
    /// Object types it may produce.
    #[serde(default)]
    pub produces: Vec<String>,
    /// For a plugin folder's external normalizer: the command (argv, relative to the folder) that reads the
    /// raw file on standard input and writes JSON lines of objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run: Vec<String>,
    /// Seconds an external normalizer may run (default `NORMALIZERS_JOB_TIMEOUT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

fn parse<T: for<'de> Deserialize<'de>>(name: &str, text: &str) -> Result<T, CoreError> {
    serde_json::from_str(text).map_err(|e| CoreError::InvalidManifest {
        name: name.to_string(),
        reason: e.to_string(),
    })
}

impl BoefjeManifest {
    /// Parse a `boefje.json`; `name` says which file, for the error.
    pub fn parse(name: &str, text: &str) -> Result<Self, CoreError> {
        parse(name, text)
    }
}

impl NormalizerManifest {
    /// Parse a `normalizer.json`; `name` says which file, for the error.
    pub fn parse(name: &str, text: &str) -> Result<Self, CoreError> {
        parse(name, text)
    }
}

/// A plugin's `schema.json`: the JSON Schema of its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsSchema(Value);

impl SettingsSchema {
    /// Parse a `schema.json`; it must be a JSON object.
    pub fn parse(name: &str, text: &str) -> Result<Self, CoreError> {
        let value: Value = parse(name, text)?;
        if !value.is_object() {
            return Err(CoreError::InvalidManifest { name: name.into(), reason: "schema must be a JSON object".into() });
        }
        Ok(SettingsSchema(value))
    }

    /// The schema as JSON.
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    /// The declared property names.
    pub fn keys(&self) -> Vec<&str> {
        self.0.get("properties").and_then(Value::as_object).map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default()
    }

    /// The `type` declared for a property (`string`, `integer`, ...).
    pub fn property_type(&self, key: &str) -> Option<&str> {
        self.property(key)?.get("type")?.as_str()
    }

    /// Whether a property is secret (`writeOnly: true` or `format: password`).
    pub fn is_secret(&self, key: &str) -> bool {
        self.property(key).is_some_and(|p| p.get("writeOnly") == Some(&Value::Bool(true)) || p.get("format").and_then(Value::as_str) == Some("password"))
    }

    /// The property names listed as `required`.
    pub fn required(&self) -> Vec<&str> {
        self.0.get("required").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    }

    fn property(&self, key: &str) -> Option<&Value> {
        self.0.get("properties")?.get(key)
    }

    /// Check that the schema can serve as a plugin's settings schema: a valid
    /// JSON Schema (draft 2020-12, as OpenKAT checks it) whose property names
    /// pass the job-environment name rules. Plugins added over the KATalogus API
    /// are checked with this; `parse` only requires a JSON object.
    pub fn check_definition(&self) -> Result<(), CoreError> {
        let invalid = |reason: String| CoreError::InvalidManifest { name: "boefje_schema".into(), reason };
        if let Err(e) = jsonschema::draft202012::meta::validate(&self.0) {
            let at = e.instance_path().to_string();
            return Err(invalid(format!("not a valid JSON Schema (draft 2020-12): the keyword at {:?} breaks the rule {:?}", if at.is_empty() { "/" } else { &at }, e.schema_path().to_string().rsplit('/').next().unwrap_or_default())));
        }
        jsonschema::options().with_draft(jsonschema::Draft::Draft202012).build(&self.0).map_err(|e| invalid(format!("not a usable JSON Schema (rule at {})", e.schema_path())))?;
        match self.0.get("properties") {
            None => Ok(()),
            Some(Value::Object(properties)) => properties.keys().try_for_each(|key| {
                crate::env_rules::check_setting_name(key).map_err(|e| match e {
                    CoreError::InvalidSetting { key, reason } => invalid(format!("property {key:?}: {reason}")),
                    other => other,
                })
            }),
            Some(_) => Err(invalid("properties must be an object".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openkat_boefje_manifest() {
        let m = BoefjeManifest::parse("boefje.json", r#"{"id":"dns-records","name":"DnsRecords","consumes":["Hostname"],"produces":["boefje/dns-records"],"scan_level":1}"#).expect("parses");
        assert_eq!(m.scan_level, ScanLevel::L1);
        assert_eq!(m.consumes, ["Hostname"]);
        let err = BoefjeManifest::parse("x/boefje.json", r#"{"id":"a","scan_level":9}"#).expect_err("bad level");
        assert!(err.to_string().contains("x/boefje.json"), "{err}");
        let m = BoefjeManifest::parse("boefje.json", r#"{"id":"a","run_on":["create","update"]}"#).expect("run_on");
        assert_eq!(m.run_on, ["create", "update"]);
        assert_eq!(BoefjeManifest::parse("boefje.json", r#"{"id":"a","run_on":null}"#).expect("null run_on").run_on, Vec::<String>::new());
        let err = BoefjeManifest::parse("boefje.json", r#"{"id":"a","run_on":["delete"]}"#).expect_err("unknown run_on");
        assert!(err.to_string().contains("neither"), "{err}");
    }

    #[test]
    fn parses_local_executable_fields() {
        let m = BoefjeManifest::parse("boefje.json", r#"{"id":"a","run":["./main","--flag"],"protocol":"boefje-api","timeout":30}"#).expect("local fields");
        assert_eq!((m.run.as_slice(), m.protocol, m.timeout), (["./main".to_string(), "--flag".to_string()].as_slice(), Protocol::BoefjeApi, Some(30)));
        let plain = BoefjeManifest::parse("boefje.json", r#"{"id":"a"}"#).expect("defaults");
        assert_eq!((plain.run.len(), plain.protocol, plain.timeout), (0, Protocol::Stdout, None));
        let json = serde_json::to_value(&plain).expect("serialises");
        assert!(json.get("run").is_none() && json.get("protocol").is_none() && json.get("timeout").is_none(), "defaults are not written: {json}");
        assert_eq!(serde_json::to_value(&m).expect("serialises")["protocol"], "boefje-api");
        for (bad, needle) in [(r#"{"id":"a","protocol":"grpc"}"#, "expected `stdout` or `boefje-api`"), (r#"{"id":"a","timeout":0}"#, "at least 1"), (r#"{"id":"a","timeout":-5}"#, "at least 1"), (r#"{"id":"a","timeout":"9"}"#, "at least 1"), (r#"{"id":"a","run":"./main"}"#, "sequence")] {
            let err = BoefjeManifest::parse("x/boefje.json", bad).expect_err(bad);
            assert!(err.to_string().contains(needle) && err.to_string().contains("x/boefje.json"), "{bad}: {err}");
        }
    }

    #[test]
    fn schema_knows_types_and_secrets() {
        let s = SettingsSchema::parse("schema.json", r#"{"properties":{"A":{"type":"integer"},"TOKEN":{"type":"string","writeOnly":true},"P":{"type":"string","format":"password"}},"required":["A"]}"#).expect("parses");
        assert_eq!(s.property_type("A"), Some("integer"));
        assert!(s.is_secret("TOKEN") && s.is_secret("P") && !s.is_secret("A"));
        assert_eq!(s.required(), ["A"]);
        assert!(SettingsSchema::parse("schema.json", "[]").is_err());
    }

    #[test]
    fn schema_definitions_are_checked() {
        let check = |text: &str| SettingsSchema::parse("schema.json", text).expect("an object").check_definition();
        assert_eq!(check(r#"{"type": "object", "properties": {"MY_KEY": {"type": "integer"}}, "required": []}"#), Ok(()));
        for bad in [r#"{"$schema": 3}"#, r#"{"type": "nothing"}"#, r#"{"properties": {"PATH": {"type": "string"}}}"#, r#"{"properties": {"a-b": {}}}"#, r#"{"properties": {"A": {"pattern": "("}}}"#] {
            let e = check(bad).expect_err(bad);
            assert!(e.to_string().contains("boefje_schema"), "{bad}: {e}");
        }
    }
}
