//! Settings against a plugin's `schema.json`, as JSON Schema draft 2020-12.
//!
//! Errors name the setting and the schema rule it breaks (`type`,
//! `maxLength`, `enum`, `required`, ...), never the value: a value may be a
//! secret, and the validator's own messages quote it.

use serde_json::{Map, Value};

use crate::error::CoreError;
use crate::plugin::SettingsSchema;

/// Check `values` against `schema`; the first broken rule is the error.
pub fn validate_settings(schema: &SettingsSchema, values: &Map<String, Value>) -> Result<(), CoreError> {
    let validator = jsonschema::options().with_draft(jsonschema::Draft::Draft202012).build(schema.as_json()).map_err(|e| CoreError::InvalidManifest {
        name: "schema.json".into(),
        reason: format!("not a valid JSON Schema (rule at {})", e.schema_path()),
    })?;
    let instance = Value::Object(values.clone());
    let Some(error) = validator.iter_errors(&instance).next() else { return Ok(()) };
    let key = error.instance_path().to_string().trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
    let rule = error.schema_path().to_string().rsplit('/').next().unwrap_or_default().to_string();
    let key = if key.is_empty() { "(settings)".to_string() } else { key };
    Err(CoreError::InvalidSetting { key, reason: format!("breaks the schema.json rule {rule:?}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> SettingsSchema {
        SettingsSchema::parse(
            "schema.json",
            r#"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                "properties": {"MODE": {"enum": ["fast", "slow"]}, "N": {"type": "integer", "minimum": 1}, "KEY": {"type": "string", "format": "password"}},
                "required": ["KEY"]}"#,
        )
        .expect("schema")
    }

    fn check(v: Value) -> Result<(), CoreError> {
        validate_settings(&schema(), v.as_object().expect("object"))
    }

    #[test]
    fn valid_settings_pass() {
        assert_eq!(check(json!({"KEY": "k", "MODE": "fast", "N": 3})), Ok(()));
    }

    #[test]
    fn errors_name_the_key_and_rule_but_not_the_value() {
        for (settings, key, rule) in [
            (json!({"KEY": "k", "MODE": "turbo-secret"}), "MODE", "enum"),
            (json!({"KEY": "k", "N": 0}), "N", "minimum"),
            (json!({"KEY": "k", "N": "many-secret"}), "N", "type"),
            (json!({"MODE": "fast"}), "(settings)", "required"),
        ] {
            let err = check(settings).expect_err("invalid").to_string();
            assert!(err.contains(key) && err.contains(rule), "{err}");
            assert!(!err.contains("secret"), "the value leaked: {err}");
        }
    }
}
