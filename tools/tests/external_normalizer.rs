//! An external normalizer written in Python, from a plugin folder under
//! `KATALOGUS_PLUGIN_DIR`, in a real scan: the scheduler picks it by the mime
//! type of a folder boefje's raw file, it reads the raw file on standard
//! input and `NORMALIZER_META`, and its JSON lines arrive in the graph. One
//! that prints an invalid object fails its task, naming the object, and
//! saves nothing. A derived raw file it returns is normalized by the
//! normalizer its mime type selects, and a chain of derivations stops at
//! the depth limit. The scan's DNS lookups go to the test DNS server and its
//! port scans to a closed port on 127.0.0.1.

use std::path::Path;

fn kat(data: &Path, env: &[(&str, String)], args: &[&str]) -> (bool, String, String) {
    kat_tests::cli::run(env!("CARGO_BIN_EXE_kat"), data, env, args)
}

fn executable(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
    let mut permissions = std::fs::metadata(path).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(path, permissions).expect("chmod");
}

/// A boefje that lists two names under example.test (`BAD` for bad.test, nothing for other hosts), a Python
/// normalizer that turns each line into a Hostname, declares the network and, for example.test, derives a
/// raw file `d1.example.test` of mime type `text/x-derived-names`, and a second one that reads such files: each line
/// `dN.rest` becomes a Hostname and a derived file `dN+1.rest` of the same mime type (a loop the depth limit
/// stops).
fn plugin_folders(root: &Path) {
    let boefje = root.join("list-names");
    std::fs::create_dir_all(&boefje).expect("folder");
    std::fs::write(boefje.join("boefje.json"), r#"{"id": "list-names", "consumes": ["Hostname"], "produces": ["text/x-names"], "scan_level": 1, "run": ["./main"]}"#).expect("manifest");
    let list = "#!/bin/sh\nname=$(printf '%s' \"$BOEFJE_META\" | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"arguments\"][\"input\"][\"name\"])')\ncase \"$name\" in bad.test) echo BAD;; example.test) printf 'www.%s\\nmail.%s\\n' \"$name\" \"$name\";; esac\n";
    executable(&boefje.join("main"), list);

    let normalizer = root.join("names-normalizer");
    std::fs::create_dir_all(&normalizer).expect("folder");
    std::fs::write(normalizer.join("normalizer.json"), r#"{"id": "names-normalizer", "consumes": ["boefje/list-names"], "produces": ["Hostname"], "run": ["./normalize.py"], "timeout": 30}"#).expect("manifest");
    let normalize = r#"#!/usr/bin/env python3
import json, os, sys
meta = json.loads(os.environ["NORMALIZER_META"])
assert meta["raw_data"]["boefje_meta"]["boefje"]["id"] == "list-names"
print(json.dumps({"declaration": {"object_type": "Network", "name": "internet"}}))
for line in sys.stdin.read().split():
    if line == "BAD":
        print(json.dumps({"object_type": "Hostname", "network": "Network|internet"}))
    else:
        print(json.dumps({"object_type": "Hostname", "network": "Network|internet", "name": line}))
name = meta["raw_data"]["boefje_meta"]["input_ooi"].split("|")[-1]
if name == "example.test":
    print(json.dumps({"raw_file": {"content": "d1." + name, "mime_types": ["text/x-derived-names"]}}))
"#;
    executable(&normalizer.join("normalize.py"), normalize);

    let chain = root.join("derived-names");
    std::fs::create_dir_all(&chain).expect("folder");
    std::fs::write(chain.join("normalizer.json"), r#"{"id": "derived-names", "consumes": ["text/x-derived-names"], "produces": ["Hostname"], "run": ["./normalize.py"]}"#).expect("manifest");
    let derive = r#"#!/usr/bin/env python3
import json, sys
for line in sys.stdin.read().split():
    print(json.dumps({"object_type": "Hostname", "network": "Network|internet", "name": line}))
    n, rest = line.split(".", 1)
    print(json.dumps({"raw_file": {"content": "d%d.%s" % (int(n[1:]) + 1, rest), "mime_types": ["text/x-derived-names"]}}))
"#;
    executable(&chain.join("normalize.py"), derive);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_normalizer_runs_in_a_scan_and_an_invalid_object_fails_its_task() {
    let dns_port = kat_tests::dns_server::start_dns_server().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = tempfile::tempdir().expect("plugin dir");
    plugin_folders(plugins.path());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let env = vec![
        ("KATALOGUS_PLUGIN_DIR", plugins.path().display().to_string()),
        ("BOEFJE_REMOTE_NS", format!("127.0.0.1:{dns_port}")),
        ("BOEFJE_RECORD_TYPES", "A".to_string()),
        ("BOEFJE_PORTS", closed.to_string()),
    ];
    let data = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let (ok, stdout, stderr) = kat(&data, &env, &["scan", "example.test"]);
        assert!(ok, "{stdout}\n{stderr}");
        let (ok, rows, stderr) = kat(&data, &env, &["query", "MATCH (h:Hostname) WHERE h.name STARTS WITH 'www.' OR h.name STARTS WITH 'mail.' RETURN h.name AS name ORDER BY name"]);
        assert!(ok, "{stderr}");
        assert_eq!(rows, "name\n[\"mail.example.test\"]\n[\"www.example.test\"]\n", "the external normalizer's objects arrived");
        let (_, rows, _) = kat(&data, &env, &["query", "MATCH (n:Network) RETURN n.primary_key AS pk"]);
        assert_eq!(rows, "pk\n[\"Network|internet\"]\n", "its declaration arrived");
        let (_, rows, _) = kat(&data, &env, &["query", "MATCH (h:Hostname) WHERE h.name ENDS WITH '.example.test' AND h.name STARTS WITH 'd' RETURN h.name AS name ORDER BY name"]);
        assert_eq!(rows, "name\n[\"d1.example.test\"]\n[\"d2.example.test\"]\n[\"d3.example.test\"]\n", "derived files were normalized to the depth limit (3) and no further");

        let (ok, stdout, stderr) = kat(&data, &env, &["scan", "bad.test"]);
        assert!(!ok, "{stdout}");
        assert!(stderr.contains("names-normalizer") && stderr.contains("output line 2 is not a valid object") && stderr.contains(r#"{"object_type": "Hostname", "network": "Network|internet"}"#), "{stderr}");
        let (_, rows, _) = kat(&data, &env, &["query", "MATCH (h:Hostname) WHERE h.name = 'bad.test' RETURN count(h) AS n"]);
        assert_eq!(rows, "n\n[1]\n", "only the declared target: the failed run saved nothing");
    })
    .await
    .expect("the test ran");
}
