//! The embedded KATalogus on a real SQLite file: settings are checked on
//! write (names, schema keys, types), enablement overrides OpenKAT's default
//! (boefjes off, normalizers on).

use kat_core::plugin::{BoefjeManifest, NormalizerManifest, SettingsSchema};
use kat_core::services::katalogus::Katalogus;
use kat_core::ErrorKind;
use kat_katalogus::{LocalKatalogus, PluginRepository};
use serde_json::{json, Map, Value};

fn repository() -> PluginRepository {
    let manifest = BoefjeManifest::parse("scan/boefje.json", r#"{"id": "scan", "consumes": ["IPAddressV4"], "scan_level": 2}"#).expect("manifest");
    let schema = SettingsSchema::parse(
        "scan/schema.json",
        r#"{"type": "object", "properties": {"PORTS": {"type": "string"}, "TIMEOUT_MS": {"type": "integer", "maximum": 60000}, "API_KEY": {"type": "string", "format": "password"}}}"#,
    )
    .expect("schema");
    let normalizer = NormalizerManifest::parse("n/normalizer.json", r#"{"id": "n", "consumes": ["boefje/scan"]}"#).expect("manifest");
    PluginRepository::new(vec![(manifest, Some(schema))], vec![normalizer])
}

fn map(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

#[tokio::test]
async fn settings_are_checked_converted_and_kept_per_organisation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let k = LocalKatalogus::open(&dir.path().join("k.sqlite"), repository()).await.expect("opens");
    k.ensure_organisation("a", "A").await.expect("org");
    k.ensure_organisation("b", "B").await.expect("org");
    k.put_settings("a", "scan", &map(json!({"PORTS": "22,80", "TIMEOUT_MS": "250"}))).await.expect("valid settings");
    let a = k.settings("a", "scan").await.expect("read");
    assert_eq!(a["TIMEOUT_MS"], json!(250), "a string is converted to the schema's integer");
    assert_eq!(a["PORTS"], json!("22,80"));
    assert!(k.settings("b", "scan").await.expect("read").is_empty(), "organisations are isolated");

    for (key, value, needle) in [
        ("LD_PRELOAD", json!("x"), "reserved"),
        ("PATH", json!("x"), "reserved"),
        ("LC_ALL", json!("x"), "reserved"),
        ("1ABC", json!("x"), "start with a letter"),
        ("A-B", json!("x"), "only letters"),
        ("OTHER", json!("x"), "not a property"),
        ("TIMEOUT_MS", json!("soon"), "must be an integer"),
        ("PORTS", json!(["22"]), "string, number or boolean"),
        ("TIMEOUT_MS", json!(600000), "maximum"),
    ] {
        let err = k.put_settings("a", "scan", &map(json!({ key: value }))).await.expect_err(key);
        assert_eq!(err.kind, ErrorKind::Invalid, "{key}");
        assert!(err.message.contains(needle) && err.message.contains(key), "{key}: {}", err.message);
    }
    assert_eq!(k.settings("a", "scan").await.expect("read")["TIMEOUT_MS"], json!(250), "a refused write changes nothing");
    assert_eq!(k.put_settings("nobody", "scan", &Map::new()).await.expect_err("no org").kind, ErrorKind::NotFound);
    assert_eq!(k.put_settings("a", "nope", &Map::new()).await.expect_err("no plugin").kind, ErrorKind::NotFound);
    assert_eq!(k.ensure_organisation("a b", "bad").await.expect_err("bad id").kind, ErrorKind::Invalid);
}

#[tokio::test]
async fn boefjes_are_off_and_normalizers_on_until_an_organisation_says_otherwise() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("k.sqlite");
    {
        let k = LocalKatalogus::open(&path, repository()).await.expect("opens");
        k.ensure_organisation("a", "A").await.expect("org");
        assert!(!k.boefjes("a").await.expect("list")[0].enabled, "boefjes are off by default, as in OpenKAT");
        assert!(k.normalizers("a").await.expect("list")[0].enabled, "normalizers are on by default");
        k.set_enabled("a", "scan", true).await.expect("enable");
        k.set_enabled("a", "n", false).await.expect("disable");
        assert_eq!(k.set_enabled("a", "nope", true).await.expect_err("unknown").kind, ErrorKind::NotFound);
        assert_eq!(k.set_enabled("nobody", "scan", true).await.expect_err("unknown organisation").kind, ErrorKind::NotFound);
    }
    let k = LocalKatalogus::open(&path, repository()).await.expect("reopens");
    assert!(k.boefjes("a").await.expect("list")[0].enabled, "kept across restarts");
    assert!(!k.normalizers("a").await.expect("list")[0].enabled);
    assert!(!k.boefjes("b").await.expect("list")[0].enabled, "other organisations keep the default");
    assert_eq!(k.boefjes_for("a", "IPAddressV4", kat_core::ScanLevel::L2).await.expect("list"), ["scan"]);
    assert!(k.boefjes_for("a", "IPAddressV4", kat_core::ScanLevel::L1).await.expect("list").is_empty(), "clearance below the scan level");
    assert!(k.boefjes_for("a", "Hostname", kat_core::ScanLevel::L4).await.expect("list").is_empty());
    k.set_enabled("a", "scan", false).await.expect("disable");
    assert!(k.boefjes_for("a", "IPAddressV4", kat_core::ScanLevel::L4).await.expect("list").is_empty());
}
