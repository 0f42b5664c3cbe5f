//! Plugins beyond the built-ins: a directory tree of manifests
//! (`KATALOGUS_PLUGIN_DIR`, in OpenKAT's layout, malformed ones reported and
//! skipped) and plugins added and edited over the API, kept across restarts.

mod common;

use common::{nacl, repository, sqlite_url, Server};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// OpenKAT's layout (`tests/fixtures/plugin_tree`): a boefje and a normalizer in one folder, plugins nested
/// two levels deep, a folder without plugins, and one broken manifest, which is the only thing reported.
#[tokio::test]
async fn openkats_plugin_tree_loads_completely_and_reports_the_broken_manifest() {
    let tree = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plugin_tree");
    let mut plugins = kat_katalogus::PluginRepository::default();
    let problems = plugins.load_dir(&tree);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("kat_broken/boefje.json") && problems[0].contains("EOF"), "{}", problems[0]);
    let boefjes: Vec<&str> = plugins.boefjes().iter().map(|(m, _)| m.id.as_str()).collect();
    let normalizers: Vec<&str> = plugins.normalizers().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(boefjes, ["kat_export", "kat_test", "kat_test_2"]);
    assert_eq!(normalizers, ["kat_test_normalize", "kat_test_3_normalize"]);
    assert!(plugins.boefje("kat_test").is_some_and(|(_, s)| s.as_ref().is_some_and(|s| s.keys() == ["API_KEY"])), "the schema belongs to the boefje");
    assert_eq!(plugins.description("kat_test"), Some("# Kat test\n\nA boefje for the plugin-tree fixture.\n"));
    assert_eq!(plugins.description("kat_test_normalize"), None);
    let cover = std::fs::read(tree.join("kat_test/cover.jpg")).expect("fixture cover");
    assert_eq!(plugins.cover("kat_test"), Some(cover.as_slice()), "cover.jpg belongs to the boefje");
    assert_eq!(plugins.cover("kat_test_normalize"), None);

    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start_with(&sqlite_url(dir.path()), nacl(), None, plugins).await;
    s.organisation("o").await;
    let export = s.get("/v1/organisations/o/plugins/kat_export").await.1;
    assert_eq!(export["run_on"], json!(["create", "update"]));
    assert_eq!(export["version"], "1.2");
    assert_eq!(export["produces"], json!(["boefje/kat_export", "boefje/kat_export-1.2"]), "OpenKAT's implicit mime types");
    assert_eq!(s.get("/v1/organisations/o/plugins/kat_test_3_normalize").await.1["consumes"], json!(["boefje/kat_test_2", "normalizer/kat_test_3_normalize"]));
    let normalizer_cover = s.client.get(format!("{}/v1/organisations/o/plugins/kat_test_normalize/cover.jpg", s.base)).send().await.expect("cover");
    assert_eq!(normalizer_cover.bytes().await.expect("bytes").as_ref(), kat_katalogus::repository::DEFAULT_COVER);
    let boefje_cover = s.client.get(format!("{}/v1/organisations/o/plugins/kat_test/cover.jpg", s.base)).send().await.expect("cover");
    assert_eq!(boefje_cover.bytes().await.expect("bytes").as_ref(), cover.as_slice());
    assert_eq!(s.get("/v1/organisations/o/plugins?plugin_type=normalizer").await.1.as_array().map(Vec::len), Some(2));
}

fn write(dir: &std::path::Path, folder: &str, files: &[(&str, &str)]) {
    let folder = dir.join(folder);
    std::fs::create_dir_all(&folder).expect("mkdir");
    for (name, text) in files {
        std::fs::write(folder.join(name), text).expect("write");
    }
}

#[test]
fn a_plugin_directory_loads_good_folders_and_reports_bad_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "ssl-check", &[
        ("boefje.json", r#"{"id": "ssl-check", "consumes": ["Hostname"], "produces": ["boefje/ssl"], "scan_level": 2, "run": ["./check", "--all"], "timeout": 30}"#),
        ("schema.json", r#"{"type": "object", "properties": {"DEPTH": {"type": "integer"}}}"#),
        ("description.md", "# SSL check\n\nChecks certificates.\n"),
    ]);
    write(dir.path(), "ssl-normalize", &[("normalizer.json", r#"{"id": "ssl-normalize", "consumes": ["boefje/ssl"]}"#)]);
    write(dir.path(), "broken", &[("boefje.json", r#"{"name": "no id", "consumes": ["Hostname"]}"#)]);
    write(dir.path(), "bad-level", &[("boefje.json", r#"{"id": "x", "scan_level": 9}"#)]);
    write(dir.path(), "twin", &[("boefje.json", r#"{"id": "port-scan"}"#)]);
    write(dir.path(), "empty", &[("README", "nothing here")]);
    let mut plugins = repository();
    let problems = plugins.load_dir(dir.path());
    assert_eq!(problems.len(), 3, "{problems:#?}");
    let about = |folder: &str| problems.iter().find(|p| p.contains(&format!("/{folder}"))).unwrap_or_else(|| panic!("no report for {folder}: {problems:#?}")).clone();
    assert!(about("broken").contains("boefje.json") && about("broken").contains("id"), "{}", about("broken"));
    assert!(about("bad-level").contains("scan_level") || about("bad-level").contains('9'), "{}", about("bad-level"));
    assert!(about("twin").contains("Duplicate plugin: a plugin with this id already exists"), "{}", about("twin"));
    assert!(!problems.iter().any(|p| p.contains("/empty")), "a folder without plugins is not a problem: {problems:#?}");
    assert!(plugins.boefje("ssl-check").is_some_and(|(_, s)| s.as_ref().is_some_and(|s| s.keys() == ["DEPTH"])));
    assert!(plugins.boefje("ssl-check").is_some_and(|(m, _)| m.run == ["./check", "--all"] && m.timeout == Some(30)), "the local-executable fields are loaded");
    assert!(plugins.normalizers().iter().any(|n| n.id == "ssl-normalize"));
    assert_eq!(plugins.description("ssl-check"), Some("# SSL check\n\nChecks certificates.\n"));
    assert!(!plugins.is_editable("ssl-check"));
    assert_eq!(plugins.folder("ssl-check"), Some(dir.path().join("ssl-check").as_path()), "a runner resolves `run` against the folder");
    assert_eq!(plugins.folder("ssl-normalize"), Some(dir.path().join("ssl-normalize").as_path()));
    assert_eq!((plugins.folder("port-scan"), plugins.folder("x")), (None, None), "built-ins and skipped plugins have no folder");
    let missing = repository().load_dir(&dir.path().join("nope"));
    assert!(missing.len() == 1 && missing[0].contains("cannot read"), "{missing:?}");
}

#[tokio::test]
async fn plugins_added_over_the_api_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    added_plugins_are_stored_editable_and_validated(&sqlite_url(dir.path())).await;
}

#[tokio::test]
async fn plugins_added_over_the_api_on_postgres() {
    added_plugins_are_stored_editable_and_validated(&common::postgres_url().await).await;
}

async fn added_plugins_are_stored_editable_and_validated(url: &str) {
    let crypto = nacl();
    let s = Server::start(url, crypto.clone(), None).await;
    s.call(Method::POST, "/v1/organisations", Some(json!({"id": "o", "name": "O"}))).await;
    let boefje = json!({"id": "whois", "name": "Whois", "type": "boefje", "consumes": ["Hostname"], "produces": ["boefje/whois"], "scan_level": 1,
                        "boefje_schema": {"type": "object", "properties": {"SERVER": {"type": "string", "minLength": 3}}}});
    let (status, body) = s.call(Method::POST, "/v1/organisations/o/plugins", Some(boefje.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((body["id"].clone(), body["static"].clone(), body["enabled"].clone()), (json!("whois"), json!(false), json!(false)));
    assert_eq!(s.call(Method::POST, "/v1/organisations/o/plugins", Some(boefje)).await.0, StatusCode::BAD_REQUEST);
    let (status, body) = s.call(Method::POST, "/v1/organisations/o/plugins", Some(json!({"id": "n1", "type": "normalizer", "consumes": ["boefje/whois"]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for bad in [json!({"id": "x", "type": "gadget"}), json!({"type": "boefje", "consumes": []}), json!({"id": "bad id", "type": "boefje"})] {
        assert_eq!(s.call(Method::POST, "/v1/organisations/o/plugins", Some(bad.clone())).await.0, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(s.call(Method::POST, "/v1/organisations/nope/plugins", Some(json!({"id": "y", "type": "boefje"}))).await.0, StatusCode::NOT_FOUND);

    // Its schema validates its settings.
    assert_eq!(s.call(Method::PUT, "/v1/organisations/o/whois/settings", Some(json!({"SERVER": "ab"}))).await.1["field"], "SERVER");
    assert_eq!(s.call(Method::PUT, "/v1/organisations/o/whois/settings", Some(json!({"SERVER": "whois.example"}))).await.0, StatusCode::OK);

    // Edits: allowed on added plugins, refused on static ones.
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/whois", Some(json!({"scan_level": 3, "description": "who is"}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get("/v1/organisations/o/plugins/whois").await.1["scan_level"], 3);
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/normalizers/n1", Some(json!({"produces": ["DNSZone"]}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/port-scan", Some(json!({"scan_level": 1}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/nope", Some(json!({"scan_level": 1}))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/whois", Some(json!({"scan_level": 7}))).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/boefjes/whois", Some(json!({"id": "other"}))).await.0, StatusCode::NO_CONTENT, "the id is not a field a PATCH changes");
    assert_eq!(s.get("/v1/organisations/o/plugins/whois").await.0, StatusCode::OK);

    // A restart sees the added plugins, their edits and their settings.
    let again = Server::start(url, crypto, None).await;
    let whois = again.get("/v1/organisations/o/plugins/whois").await.1;
    assert_eq!((whois["scan_level"].clone(), whois["description"].clone()), (json!(3), json!("who is")));
    assert_eq!(again.get("/v1/organisations/o/plugins/n1").await.1["produces"], json!(["DNSZone"]));
    assert_eq!(again.get("/v1/organisations/o/whois/settings").await.1["SERVER"], "whois.example");
}

#[tokio::test]
async fn directory_plugins_serve_their_description_and_cover() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cover: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    write(dir.path(), "whois", &[("boefje.json", r#"{"id": "whois", "consumes": ["Hostname"]}"#), ("description.md", "# Whois\n")]);
    std::fs::write(dir.path().join("whois/cover.jpg"), cover).expect("cover");
    let mut plugins = repository();
    assert!(plugins.load_dir(dir.path()).is_empty());
    let s = Server::start_with(&sqlite_url(dir.path()), nacl(), None, plugins).await;
    s.call(Method::POST, "/v1/organisations", Some(json!({"id": "o", "name": "O"}))).await;
    assert_eq!(s.get("/v1/organisations/o/plugins/whois/description.md").await, (StatusCode::OK, json!("# Whois\n")));
    let response = s.client.get(format!("{}/v1/organisations/o/plugins/whois/cover.jpg", s.base)).send().await.expect("cover");
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), cover);
    let default = s.client.get(format!("{}/v1/organisations/o/plugins/port-scan/cover.jpg", s.base)).send().await.expect("cover");
    assert_eq!(default.bytes().await.expect("bytes").as_ref(), kat_katalogus::repository::DEFAULT_COVER, "a plugin without a cover gets the default one");
    assert_eq!(s.get("/v1/organisations/o/plugins/whois").await.1["static"], true);
}
