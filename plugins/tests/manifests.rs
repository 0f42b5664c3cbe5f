//! The built-in manifests parse: a broken `boefje.json` or `normalizer.json`
//! would fall back to an empty manifest, which these checks catch.

use kat_plugins::{boefjes, normalizers};

#[test]
fn built_in_manifests_are_complete() {
    let boefjes: Vec<_> = boefjes::all().iter().map(|b| (b.manifest(), b.schema())).collect();
    assert_eq!(boefjes.iter().map(|(m, _)| m.id.as_str()).collect::<Vec<_>>(), ["dns-records", "port-scan", "webpage-analysis", "security_txt_downloader", "ssl-certificates", "dns-zone"]);
    for (manifest, schema) in &boefjes {
        assert!(!manifest.consumes.is_empty() && !manifest.produces.is_empty(), "{manifest:?}");
        assert!(manifest.name.is_some() && manifest.description.is_some(), "{manifest:?}");
        let schema = schema.as_ref().unwrap_or_else(|| panic!("{} has a schema.json", manifest.id));
        for key in schema.keys() {
            assert!(kat_core::env_rules::check_setting_name(key).is_ok(), "{}: {key}", manifest.id);
        }
    }
    let levels: Vec<u8> = boefjes.iter().map(|(m, _)| m.scan_level.get()).collect();
    assert_eq!(levels, [1, 2, 2, 2, 1, 1], "as in OpenKAT");
    for n in normalizers::all() {
        let m = n.manifest();
        assert!(!m.consumes.is_empty() && !m.produces.is_empty(), "{m:?}");
    }
    assert!(boefjes::by_id("nope").is_none() && normalizers::by_id("nope").is_none());
}
