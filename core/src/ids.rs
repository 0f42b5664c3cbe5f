//! Rules for identifiers and text that enter the system from outside: an
//! organisation id is a short code (it becomes a folder name in Bytes and a
//! key in every store), and no stored string may hold a NUL character
//! (PostgreSQL refuses it, and C tools cut at it). Every service applies
//! these same functions where an id or a string enters: KATalogus
//! organisations, Bytes metas and raw paths, scheduler tasks.

use crate::services::{ServiceError, ServiceResult};

/// The longest organisation id accepted.
pub const MAX_ORGANISATION_ID_LEN: usize = 32;

/// Whether `id` is a valid organisation id: 1 to 32 ASCII letters, digits, `-` or `_`.
pub fn is_organisation_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ORGANISATION_ID_LEN && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Refuse an organisation id that breaks the rule; `field` names the input at fault.
pub fn check_organisation_id(id: &str, field: &str) -> ServiceResult<()> {
    if is_organisation_id(id) {
        return Ok(());
    }
    // Never echo a huge or binary id back in full.
    let shown: String = id.chars().take(40).map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
    let more = if id.chars().count() > 40 { "..." } else { "" };
    Err(ServiceError::invalid(format!("organisation id {shown:?}{more}: use 1 to {MAX_ORGANISATION_ID_LEN} letters, digits, '-' or '_'")).with_field(field))
}

/// Refuse text with a NUL character; `field` names the input at fault.
pub fn check_text(value: &str, field: &str) -> ServiceResult<()> {
    if value.contains('\0') {
        return Err(ServiceError::invalid(format!("{field} must not contain a NUL character")).with_field(field));
    }
    Ok(())
}

/// The path (`a.b[2].c`) of the first string or key in `value` that holds a NUL character.
pub fn find_nul(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(map) => map.iter().any(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key.replace('\0', "\\0"));
                let found = key.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then(|| if path.is_empty() { "body".to_string() } else { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_ids() {
        for good in ["_dev", "org1", "A-b_9", &"x".repeat(32)] {
            assert!(check_organisation_id(good, "organization").is_ok(), "{good}");
        }
        for bad in ["", "..", "/abs/path", "org1/sub", "a b", "nul\0", "ü", &"x".repeat(33), &"y".repeat(100_000)] {
            let e = check_organisation_id(bad, "organization").expect_err(bad);
            assert_eq!(e.field.as_deref(), Some("organization"));
            assert!(e.message.len() < 200, "the message stays short: {}", e.message);
        }
    }

    #[test]
    fn nul_is_found_with_its_path() {
        assert!(check_text("fine", "name").is_ok());
        assert_eq!(check_text("a\0b", "name").expect_err("nul").field.as_deref(), Some("name"));
        let v = serde_json::json!({"boefje": {"id": "x", "version": null}, "arguments": {"input": ["ok", "b\u{0}ad"]}});
        assert_eq!(find_nul(&v).as_deref(), Some("arguments.input[1]"));
        assert_eq!(find_nul(&serde_json::json!({"a": [1, {"b": "c"}]})), None);
        assert_eq!(find_nul(&serde_json::json!("\u{0}")).as_deref(), Some("body"));
    }
}
