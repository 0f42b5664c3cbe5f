//! The requests OpenKAT's own clients make (rocky's KATalogus client and
//! OpenKAT's KATalogus API tests), through real HTTP on SQLite and
//! PostgreSQL: lowercase `bearer`, bodies without `Content-Type`, trailing
//! slashes, `plugin_type` and `oci_image`, OpenKAT's default enablement,
//! `PUT /v1/organisations` as an upsert, `deduplicate`, `DELETE` of an
//! organisation answering 200, and `GET /v1/configs`.

#[macro_use]
mod common;

use common::{assert_error, ids, nacl, sqlite_url, Server};
use kat_core::services::katalogus::Katalogus;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends! {
    bodies_without_content_type_are_json => bodies_without_content_type;
    plugin_type_and_oci_image_filter => filters;
    every_route_takes_a_trailing_slash => trailing_slashes;
    boefjes_are_off_and_normalizers_on_by_default => default_enablement;
    put_organisations_upserts_with_deduplicate => organisation_upsert;
    configs_list_boefje_configs_with_duplicates => configs;
}

#[tokio::test]
async fn a_lowercase_bearer_scheme_is_accepted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start(&sqlite_url(dir.path()), nacl(), Some("t0ken")).await;
    for header in ["bearer t0ken", "BEARER t0ken", "Bearer t0ken"] {
        let response = s.client.get(format!("{}/v1/organisations", s.base)).header("authorization", header).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{header}");
    }
    for header in ["Basic t0ken", "bearer t0kem", "bearer"] {
        let response = s.client.get(format!("{}/v1/organisations", s.base)).header("authorization", header).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
        let body: Value = response.json().await.expect("a JSON error");
        assert!(body["detail"].is_string() && body.get("field").is_some(), "{body}");
    }
}

/// OpenKAT's clients send `content=model.model_dump_json()` without a `Content-Type`.
async fn bodies_without_content_type(url: String) {
    let s = Server::start(&url, nacl(), None).await;
    let raw = |v: Value| Some((v.to_string().into_bytes(), None));
    assert_eq!(s.send(Method::POST, "/v1/organisations/", raw(json!({"id": "o", "name": "O"}))).await.0, StatusCode::CREATED);
    assert_eq!(s.send(Method::PUT, "/v1/organisations/", raw(json!({"id": "p", "name": "P"}))).await.0, StatusCode::OK);
    assert_eq!(s.send(Method::PUT, "/v1/organisations/o/port-scan/settings", raw(json!({"PORTS": "443"}))).await.0, StatusCode::OK);
    assert_eq!(s.get("/v1/organisations/o/port-scan/settings").await.1, json!({"PORTS": "443"}));
    assert_eq!(s.send(Method::PATCH, "/v1/organisations/o/plugins/port-scan", raw(json!({"enabled": true}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get("/v1/organisations/o/plugins/port-scan").await.1["enabled"], true);
    let boefje = json!({"id": "whois", "name": "Whois", "type": "boefje", "static": false, "consumes": ["Hostname"]});
    assert_eq!(s.send(Method::POST, "/v1/organisations/o/plugins", raw(boefje)).await.0, StatusCode::CREATED);
    assert_eq!(s.send(Method::PATCH, "/v1/organisations/o/boefjes/whois", raw(json!({"description": "who"}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.get("/v1/organisations/o/plugins/whois").await.1["description"], "who");
    let text_plain = Some((json!({"id": "q", "name": "Q"}).to_string().into_bytes(), Some("text/plain")));
    assert_eq!(s.send(Method::POST, "/v1/organisations", text_plain).await.0, StatusCode::CREATED);
    for body in [&b"not json"[..], b"{\"id\": ", b""] {
        let answer = s.send(Method::POST, "/v1/organisations", Some((body.to_vec(), None))).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some("body"));
    }
}

async fn filters(url: String) {
    let s = Server::start(&url, nacl(), None).await;
    s.organisation("o").await;
    for (query, expected) in [
        ("?plugin_type=boefje", vec!["port-scan", "dns-records"]),
        ("?plugin_type=normalizer", vec!["kat_nmap_normalize"]),
        ("?type=normalizer", vec!["kat_nmap_normalize"]),
        ("?plugin_type=bit", vec![]),
        ("?oci_image=ghcr.io/minvws/openkat/dns:latest", vec!["dns-records"]),
        ("?oci_image=ghcr.io/minvws/openkat/nmap:latest", vec![]),
        ("?plugin_type=boefje&state=false", vec!["port-scan", "dns-records"]),
        ("?state=true", vec!["kat_nmap_normalize"]),
        ("?ids=kat_nmap_normalize&ids=port-scan", vec!["kat_nmap_normalize", "port-scan"]),
        ("?scan_level=2", vec!["port-scan", "kat_nmap_normalize"]),
        ("?limit=2", vec!["port-scan", "dns-records"]),
    ] {
        let (status, list) = s.get(&format!("/v1/organisations/o/plugins{query}")).await;
        assert_eq!((status, ids(&list)), (StatusCode::OK, expected), "{query}");
    }
    assert_error(&s.get("/v1/organisations/o/plugins?plugin_type=gadget").await, StatusCode::UNPROCESSABLE_ENTITY, Some("plugin_type"));
    let (status, body) = s.get("/v1/organisations/o/plugins?ids=port-scan&ids=nope").await;
    assert_eq!((status, body["detail"].clone()), (StatusCode::NOT_FOUND, json!("Plugin not found")));
    let added = json!({"id": "my-nmap", "name": "My nmap", "type": "boefje", "static": false, "oci_image": "ghcr.io/minvws/openkat/nmap:latest"});
    assert_eq!(s.call(Method::POST, "/v1/organisations/o/plugins", Some(added)).await.0, StatusCode::CREATED);
    assert_eq!(ids(&s.get("/v1/organisations/o/plugins?oci_image=ghcr.io/minvws/openkat/nmap:latest").await.1), ["my-nmap"]);
}

async fn trailing_slashes(url: String) {
    let s = Server::start(&url, nacl(), None).await;
    assert_eq!(s.call(Method::POST, "/v1/organisations/", Some(json!({"id": "o", "name": "O"}))).await.0, StatusCode::CREATED);
    assert_eq!(s.call(Method::PUT, "/v1/organisations/", Some(json!({"id": "p", "name": "P"}))).await.0, StatusCode::OK);
    for path in ["/health/", "/v1/organisations/", "/v1/organisations/o/", "/v1/organisations/o/plugins/", "/v1/organisations/o/plugins/port-scan/", "/v1/organisations/o/plugins/port-scan/schema.json/", "/v1/organisations/o/port-scan/settings/", "/v1/configs/", "/openapi.json/"] {
        assert_eq!(s.get(path).await.0, StatusCode::OK, "{path}");
    }
    assert_eq!(ids(&s.get("/v1/organisations/o/plugins/?plugin_type=normalizer").await.1), ["kat_nmap_normalize"]);
    assert_eq!(s.call(Method::PUT, "/v1/organisations/o/port-scan/settings/", Some(json!({"PORTS": "1"}))).await.0, StatusCode::OK);
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/plugins/port-scan/", Some(json!({"enabled": true}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::POST, "/v1/organisations/o/settings/clone/p/", None).await.0, StatusCode::OK);
    assert_eq!(s.get("/v1/organisations/p/port-scan/settings").await.1["PORTS"], "1");
    assert_eq!(s.call(Method::DELETE, "/v1/organisations/o/port-scan/settings/", None).await.0, StatusCode::OK);
    assert_eq!(s.call(Method::DELETE, "/v1/organisations/p/", None).await.0, StatusCode::OK);
}

async fn default_enablement(url: String) {
    let s = Server::start(&url, nacl(), None).await;
    s.organisation("o").await;
    s.organisation("p").await;
    let enabled = |list: &Value| -> Vec<(String, bool)> { list.as_array().into_iter().flatten().map(|p| (p["id"].as_str().unwrap_or("").to_string(), p["enabled"] == true)).collect() };
    let list = s.get("/v1/organisations/o/plugins").await.1;
    assert_eq!(enabled(&list), [("port-scan".into(), false), ("dns-records".into(), false), ("kat_nmap_normalize".into(), true)]);
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/plugins/port-scan", Some(json!({"enabled": true}))).await.0, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::PATCH, "/v1/organisations/o/plugins/kat_nmap_normalize", Some(json!({"enabled": false}))).await.0, StatusCode::NO_CONTENT);
    let list = s.get("/v1/organisations/o/plugins").await.1;
    assert_eq!(enabled(&list), [("port-scan".into(), true), ("dns-records".into(), false), ("kat_nmap_normalize".into(), false)]);
    assert_eq!(enabled(&s.get("/v1/organisations/p/plugins").await.1)[0], ("port-scan".into(), false), "another organisation keeps the default");
    let added = json!({"id": "added-boefje", "name": "Added", "type": "boefje", "enabled": true});
    assert_eq!(s.call(Method::POST, "/v1/organisations/o/plugins", Some(added)).await.1["enabled"], false, "an added boefje is off too; enabled in the body is not stored");
    assert_eq!(s.call(Method::POST, "/v1/organisations/o/plugins", Some(json!({"id": "added-normalizer", "name": "Added n", "type": "normalizer"}))).await.1["enabled"], true);

    // The embedded caller (kat scan) enables what it runs with set_enabled.
    let local = kat_katalogus::LocalKatalogus::connect(&url, common::repository(), nacl()).await.expect("same database");
    assert!(local.boefjes("p").await.expect("list").iter().all(|b| !b.enabled));
    local.set_enabled("p", "dns-records", true).await.expect("enable");
    assert_eq!(local.boefjes_for("p", "Hostname", kat_core::ScanLevel::L4).await.expect("list"), ["dns-records"]);
    assert!(local.normalizers("p").await.expect("list").iter().all(|n| n.enabled));
}

async fn organisation_upsert(url: String) {
    let s = Server::start(&url, nacl(), None).await;
    let (status, body) = s.call(Method::PUT, "/v1/organisations", Some(json!({"id": "o", "name": "First"}))).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    assert_eq!(s.get("/v1/organisations/o").await.1, json!({"id": "o", "name": "First", "deduplicate": true}));
    assert_eq!(s.call(Method::PUT, "/v1/organisations", Some(json!({"id": "o", "name": "Second", "deduplicate": false}))).await.0, StatusCode::OK);
    assert_eq!(s.get("/v1/organisations").await.1, json!({"o": {"id": "o", "name": "Second", "deduplicate": false}}));
    assert_error(&s.call(Method::POST, "/v1/organisations", Some(json!({"id": "o", "name": "Again"}))).await, StatusCode::CONFLICT, Some("id"));
    assert_error(&s.call(Method::PUT, "/v1/organisations", Some(json!({"id": "bad id", "name": "x"}))).await, StatusCode::UNPROCESSABLE_ENTITY, Some("id"));
    assert_error(&s.call(Method::PUT, "/v1/organisations", Some(json!({"id": "o", "name": "x", "deduplicate": "no"}))).await, StatusCode::UNPROCESSABLE_ENTITY, Some("deduplicate"));
    let (status, body) = s.call(Method::DELETE, "/v1/organisations/o", None).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null), "OpenKAT answers 200 with null");
    let answer = s.get("/v1/organisations/o").await;
    assert_error(&answer, StatusCode::NOT_FOUND, Some("organisation_id"));
    assert!(answer.1["detail"].as_str().is_some_and(|d| d.contains("Unknown organisation")), "{}", answer.1);
    assert_eq!(s.call(Method::DELETE, "/v1/organisations/o", None).await.0, StatusCode::NOT_FOUND);
}

async fn configs(url: String) {
    let s = Server::start(&url, nacl(), None).await;
    for org in ["a", "b", "c"] {
        s.organisation(org).await;
        assert_eq!(s.call(Method::PUT, &format!("/v1/organisations/{org}/port-scan/settings"), Some(json!({"PORTS": "80"}))).await.0, StatusCode::OK);
        s.call(Method::PATCH, &format!("/v1/organisations/{org}/plugins/port-scan"), Some(json!({"enabled": true}))).await;
    }
    s.call(Method::PUT, "/v1/organisations", Some(json!({"id": "c", "name": "C", "deduplicate": false}))).await;
    s.call(Method::PATCH, "/v1/organisations/a/plugins/dns-records", Some(json!({"enabled": true}))).await;
    s.call(Method::PATCH, "/v1/organisations/a/plugins/kat_nmap_normalize", Some(json!({"enabled": false}))).await;
    let (status, all) = s.get("/v1/configs").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let pairs: Vec<(&str, &str)> = all.as_array().expect("a list").iter().map(|c| (c["organisation_id"].as_str().unwrap_or(""), c["boefje_id"].as_str().unwrap_or(""))).collect();
    assert_eq!(pairs, [("a", "dns-records"), ("a", "port-scan"), ("b", "port-scan"), ("c", "port-scan")], "boefje configs only, normalizers never");
    let first = &all[1];
    assert_eq!((first["settings"].clone(), first["enabled"].clone(), first["duplicates"].clone()), (json!({"PORTS": "80"}), json!(true), json!([])));
    assert!(first["id"].as_u64().is_some_and(|id| id > 0), "{first}");
    assert_eq!(s.get("/v1/configs").await.1[1]["id"], first["id"], "ids are stable");
    assert_eq!(s.get("/v1/configs?organisation_id=b").await.1.as_array().map(Vec::len), Some(1));
    assert_eq!(s.get("/v1/configs?boefje_id=dns-records&enabled=true").await.1[0]["organisation_id"], "a");
    assert_eq!(s.get("/v1/configs?offset=1&limit=2").await.1.as_array().map(Vec::len), Some(2));
    let (_, one) = s.get("/v1/configs?organisation_id=a&boefje_id=port-scan&with_duplicates=true").await;
    let duplicates: Vec<&str> = one[0]["duplicates"].as_array().expect("duplicates").iter().filter_map(|d| d["organisation_id"].as_str()).collect();
    assert_eq!(duplicates, ["b"], "c does not deduplicate: {one}");
    s.call(Method::PUT, "/v1/organisations/b/port-scan/settings", Some(json!({"PORTS": "81"}))).await;
    assert_eq!(s.get("/v1/configs?organisation_id=a&boefje_id=port-scan&with_duplicates=true").await.1[0]["duplicates"], json!([]), "other settings are no duplicate");
    assert_error(&s.get("/v1/configs?enabled=maybe").await, StatusCode::UNPROCESSABLE_ENTITY, Some("enabled"));
    assert_error(&s.get("/v1/configs?limit=-1").await, StatusCode::UNPROCESSABLE_ENTITY, Some("limit"));
}
