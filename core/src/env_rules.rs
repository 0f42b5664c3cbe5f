//! The job-environment rules: which setting names a job may carry and how a
//! job's environment is assembled (DESIGN.md section 5).
//!
//! The environment starts empty; host variables `BOEFJE_X` become defaults
//! for `X` only where the boefje's schema lists `X`; the organisation's
//! settings override them, again only for listed keys; values are converted
//! to the schema's type; names that a shell or OS uses are refused.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::CoreError;
use crate::plugin::SettingsSchema;
use crate::secret::Secret;

/// The prefix of host variables that give settings defaults.
pub const HOST_PREFIX: &str = "BOEFJE_";

const RESERVED: &str = include_str!("reserved-env-names.txt");

/// Whether `name` is a reserved name (`LC_*` covers every `LC_` name).
pub fn is_reserved(name: &str) -> bool {
    RESERVED.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).any(|r| match r.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == r,
    })
}

/// Check a setting name: `^[A-Za-z][A-Za-z0-9_]*$` and not reserved.
pub fn check_setting_name(name: &str) -> Result<(), CoreError> {
    let refuse = |reason: &str| Err(CoreError::InvalidSetting { key: name.to_string(), reason: reason.to_string() });
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => {}
        _ => return refuse("a name must start with a letter (^[A-Za-z][A-Za-z0-9_]*$)"),
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return refuse("a name may hold only letters, digits and '_' (^[A-Za-z][A-Za-z0-9_]*$)");
    }
    if is_reserved(name) {
        return refuse("the name is reserved for the shell or OS");
    }
    Ok(())
}

/// Convert a setting value to the JSON type the schema declares for it; a
/// string default from the host becomes an integer, number or boolean.
pub fn convert_value(schema: &SettingsSchema, key: &str, value: &Value) -> Result<Value, CoreError> {
    let refuse = |reason: String| CoreError::InvalidSetting { key: key.to_string(), reason };
    let Some(kind) = schema.property_type(key) else { return Ok(value.clone()) };
    let text = match value {
        Value::String(s) => s.trim(),
        // The KATalogus and the runner share this function, so a number the runner would refuse
        // (1e29 for an integer: it does not fit a job's 64-bit integer) is refused on write too.
        Value::Number(n) if kind == "integer" => {
            return match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(Value::from(i)),
                (None, Some(f)) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Ok(Value::from(f as i64)),
                _ => Err(refuse(format!("must be an integer from {} to {}", i64::MIN, i64::MAX))),
            };
        }
        other => return Ok(other.clone()),
    };
    match kind {
        "integer" => text.parse::<i64>().map(Value::from).map_err(|_| refuse(format!("must be an integer from {} to {}", i64::MIN, i64::MAX))),
        "number" => text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).ok_or_else(|| refuse("must be a number".into())),
        "boolean" => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Value::Bool(true)),
            "false" | "0" | "no" => Ok(Value::Bool(false)),
            _ => Err(refuse("must be a boolean".into())),
        },
        _ => Ok(value.clone()),
    }
}

/// Build a job's environment from the host variables, the organisation's
/// settings and the boefje's schema. Values come back as strings wrapped in
/// [`Secret`]; keys outside the schema are dropped silently for host
/// variables and refused for settings.
pub fn build_job_env(
    schema: Option<&SettingsSchema>,
    host_env: &BTreeMap<String, String>,
    settings: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Secret<String>>, CoreError> {
    let mut merged: BTreeMap<String, Value> = BTreeMap::new();
    let Some(schema) = schema else {
        if let Some(key) = settings.keys().next() {
            return Err(CoreError::InvalidSetting { key: key.clone(), reason: "the boefje has no schema.json, so it takes no settings".into() });
        }
        return Ok(BTreeMap::new());
    };
    let keys = schema.keys();
    for (name, value) in host_env {
        if let Some(key) = name.strip_prefix(HOST_PREFIX).filter(|key| keys.contains(key)) {
            merged.insert(key.to_string(), Value::String(value.clone()));
        }
    }
    for (key, value) in settings {
        if !keys.contains(&key.as_str()) {
            return Err(CoreError::InvalidSetting { key: key.clone(), reason: "not a setting in the boefje's schema.json".into() });
        }
        merged.insert(key.clone(), value.clone());
    }
    for key in schema.required() {
        if !merged.contains_key(key) {
            return Err(CoreError::InvalidSetting { key: key.to_string(), reason: "required by the boefje's schema.json but not set".into() });
        }
    }
    let mut typed = serde_json::Map::new();
    for (key, value) in merged {
        check_setting_name(&key)?;
        typed.insert(key.clone(), convert_value(schema, &key, &value)?);
    }
    crate::schema_check::validate_settings(schema, &typed)?;
    let mut env = BTreeMap::new();
    for (key, value) in typed {
        let text = match value {
            Value::String(s) => s,
            Value::Null => continue,
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => return Err(CoreError::InvalidSetting { key, reason: "values must be strings, numbers or booleans".into() }),
        };
        env.insert(key, Secret::new(text));
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> SettingsSchema {
        SettingsSchema::parse("schema.json", r#"{"properties":{"PORTS":{"type":"string","maxLength":32},"TIMEOUT_MS":{"type":"integer"},"TOKEN":{"type":"string","writeOnly":true}}}"#).expect("schema")
    }

    #[test]
    fn names_follow_the_rules() {
        for bad in ["LD_PRELOAD", "PATH", "LC_ALL", "LC_ANYTHING", "1ABC", "A-B", "", "_X", "HOME"] {
            assert!(check_setting_name(bad).is_err(), "{bad} accepted");
        }
        for good in ["PORTS", "TIMEOUT_MS", "a1_b"] {
            assert!(check_setting_name(good).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn host_defaults_only_for_schema_keys_and_settings_override() {
        let host: BTreeMap<String, String> = [("BOEFJE_PORTS", "22"), ("BOEFJE_TIMEOUT_MS", "500"), ("SECRET_TOKEN", "leak"), ("BOEFJE_OTHER", "x"), ("PORTS", "99")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let settings: BTreeMap<String, Value> = [("PORTS".to_string(), Value::from("80,443"))].into_iter().collect();
        let env = build_job_env(Some(&schema()), &host, &settings).expect("env");
        let plain: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.expose().as_str())).collect();
        assert_eq!(plain, BTreeMap::from([("PORTS", "80,443"), ("TIMEOUT_MS", "500")]));
    }

    #[test]
    fn values_are_converted_and_checked() {
        let host = BTreeMap::from([("BOEFJE_TIMEOUT_MS".to_string(), "soon".to_string())]);
        let err = build_job_env(Some(&schema()), &host, &BTreeMap::new()).expect_err("not an integer");
        assert!(err.to_string().contains("TIMEOUT_MS") && err.to_string().contains("integer"), "{err}");
        assert!(!err.to_string().contains("soon"), "values never appear in errors: {err}");
        let host = BTreeMap::from([("BOEFJE_PORTS".to_string(), "x".repeat(40))]);
        let err = build_job_env(Some(&schema()), &host, &BTreeMap::new()).expect_err("too long for the schema");
        assert!(err.to_string().contains("PORTS") && err.to_string().contains("maxLength"), "{err}");
        assert!(!err.to_string().contains("xxxx"), "values never appear in errors: {err}");
        for huge in [serde_json::json!(1e29), serde_json::json!(u64::MAX), serde_json::json!(1.5), Value::from("1e29")] {
            let settings = BTreeMap::from([("TIMEOUT_MS".to_string(), huge.clone())]);
            let err = build_job_env(Some(&schema()), &BTreeMap::new(), &settings).expect_err("not a 64-bit integer");
            assert!(err.to_string().contains("TIMEOUT_MS") && err.to_string().contains("integer from"), "{huge}: {err}");
        }
        let settings = BTreeMap::from([("TIMEOUT_MS".to_string(), serde_json::json!(2000.0))]);
        assert_eq!(build_job_env(Some(&schema()), &BTreeMap::new(), &settings).expect("a whole float")["TIMEOUT_MS"].expose(), "2000");
        let settings = BTreeMap::from([("EVIL".to_string(), Value::from("x"))]);
        assert!(build_job_env(Some(&schema()), &BTreeMap::new(), &settings).is_err());
    }
}
