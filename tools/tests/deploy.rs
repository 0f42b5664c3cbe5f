//! The deployment files cannot run here (no Docker engine, no cluster), so
//! this test keeps them honest against the code and the README:
//! - every variable `compose.yaml` and `deploy/kubernetes/*.yaml` set is in
//!   the README's variable table, for a binary that reads it;
//! - every ConfigMap and Secret a Deployment names exists;
//! - `deploy/kubernetes/boefje-runner.yaml` is what `kat k8s manifests` prints;
//! - the Dockerfile copies exactly this package's binaries, and each is built;
//! - every variable the code reads is in the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The README's variable table: variable -> the binaries that read it.
fn table() -> BTreeMap<String, BTreeSet<String>> {
    let readme = read("README.md");
    let start = readme.find("### Environment variables").expect("the README has the variable table");
    let mut table = BTreeMap::new();
    for line in readme[start..].lines().skip_while(|l| !l.starts_with("| variable")).skip(2).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 3, "a table row has variable, default and readers: {line}");
        let readers = cells[2].split(", ").map(String::from).collect();
        table.insert(cells[0].trim_matches('`').to_string(), readers);
    }
    assert!(table.len() > 50, "the table was read: {}", table.len());
    table
}

/// Assert `variable` is in the table, and (when given) that `binary` reads it.
fn check(table: &BTreeMap<String, BTreeSet<String>>, file: &str, variable: &str, binary: Option<&str>) {
    let key = if variable.starts_with("BOEFJE_") { "BOEFJE_<KEY>" } else { variable };
    let readers = table.get(key).unwrap_or_else(|| panic!("{file} sets {variable}, which the README's variable table lacks"));
    if let Some(binary) = binary {
        assert!(readers.contains(binary), "{file} gives {variable} to {binary}, which the table says does not read it (readers: {readers:?})");
    }
}

#[test]
fn compose_sets_only_variables_of_the_table_for_binaries_that_read_them() {
    let table = table();
    let compose: Value = serde_saphyr::from_str(&read("compose.yaml")).expect("compose.yaml parses");
    let services = compose["services"].as_object().expect("services");
    let mut kat_services = 0;
    for (name, service) in services {
        if service["image"] != "kat:latest" {
            continue;
        }
        kat_services += 1;
        let binary = service["command"][0].as_str().unwrap_or_else(|| panic!("service {name} names its binary"));
        for variable in service["environment"].as_object().unwrap_or_else(|| panic!("service {name} has an environment map")).keys() {
            check(&table, "compose.yaml", variable, Some(binary));
        }
    }
    assert_eq!(kat_services, 5, "katalogus, bytes, scheduler and both runners");
}

#[test]
fn the_kubernetes_manifests_set_only_variables_of_the_table_and_name_what_exists() {
    let table = table();
    let mut documents = Vec::new();
    for file in ["deploy/kubernetes/kat.yaml", "deploy/kubernetes/boefje-runner.yaml"] {
        let docs: Vec<Value> = serde_saphyr::from_multiple(&read(file)).unwrap_or_else(|e| panic!("{file} parses: {e}"));
        documents.extend(docs.into_iter().filter(|d| !d.is_null()).map(|d| (file, d)));
    }
    // Every key of every ConfigMap and Secret, by name.
    let mut sources: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, doc) in &documents {
        let data = match doc["kind"].as_str() {
            Some("ConfigMap") => &doc["data"],
            Some("Secret") => &doc["stringData"],
            _ => continue,
        };
        let keys: Vec<String> = data.as_object().unwrap_or_else(|| panic!("{file}: {} has data", doc["metadata"]["name"])).keys().cloned().collect();
        for key in &keys {
            check(&table, file, key, None);
        }
        sources.insert(doc["metadata"]["name"].as_str().expect("named").to_string(), keys);
    }
    let mut binaries = BTreeSet::new();
    for (file, doc) in documents.iter().filter(|(_, d)| d["kind"] == "Deployment") {
        for container in doc["spec"]["template"]["spec"]["containers"].as_array().expect("containers") {
            let binary = container["command"][0].as_str().expect("a command");
            binaries.insert(binary.to_string());
            for variable in container["env"].as_array().into_iter().flatten() {
                let name = variable["name"].as_str().expect("named");
                // The pod's address, for BOEFJES_API's $(POD_IP): Kubernetes fills it in, no binary reads it.
                if name != "POD_IP" {
                    check(&table, file, name, Some(binary));
                }
            }
            for from in container["envFrom"].as_array().into_iter().flatten() {
                let source = from["configMapRef"]["name"].as_str().or_else(|| from["secretRef"]["name"].as_str()).expect("a source");
                let keys = sources.get(source).unwrap_or_else(|| panic!("{file}: {binary} reads {source}, which no manifest defines"));
                // A shared source may hold variables for other binaries; a private one only for this one.
                if source != "kat-config" && source != "kat-secrets" {
                    for key in keys {
                        check(&table, file, key, Some(binary));
                    }
                }
            }
        }
    }
    assert_eq!(binaries, ["boefje-runner", "bytes-store", "katalogus", "normalizer-runner", "scheduler"].map(String::from).into(), "a Deployment per service");
    for shared in ["kat-config", "kat-secrets"] {
        for key in &sources[shared] {
            let readers = &table[key.as_str()];
            assert!(readers.iter().any(|r| binaries.contains(r)), "{shared} holds {key}, which none of the deployed binaries reads");
        }
    }
}

#[test]
fn the_boefje_runner_manifest_is_what_kat_k8s_manifests_prints() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kat")).args(["k8s", "manifests"]).output().expect("kat runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Vec<Value> = serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.stdout)).expect("printed YAML parses");
    let kept: Vec<Value> = serde_saphyr::from_multiple(&read("deploy/kubernetes/boefje-runner.yaml")).expect("the file parses");
    let kept: Vec<Value> = kept.into_iter().filter(|d| !d.is_null()).collect();
    assert_eq!(kept, printed, "regenerate it: kat k8s manifests > deploy/kubernetes/boefje-runner.yaml");
}

/// This package's binaries: the `[[bin]]` names of its Cargo.toml and the files of `src/bin/` they do not cover.
fn package_binaries() -> BTreeSet<String> {
    let manifest = read("tools/Cargo.toml");
    let mut names = BTreeSet::new();
    let mut covered = BTreeSet::new();
    for section in manifest.split("[[bin]]").skip(1) {
        let field = |key: &str| section.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().trim_start_matches('=').trim().trim_matches('"').to_string());
        names.insert(field("name").expect("a bin has a name"));
        covered.insert(field("path").expect("a bin has a path"));
    }
    for entry in std::fs::read_dir(root().join("tools/src/bin")).expect("src/bin") {
        let path = entry.expect("entry").path();
        let relative = format!("src/bin/{}", path.file_name().expect("name").to_string_lossy());
        if !covered.contains(&relative) {
            names.insert(path.file_stem().expect("stem").to_string_lossy().into_owned());
        }
    }
    names
}

#[test]
fn the_dockerfile_copies_every_binary_and_each_is_built() {
    let dockerfile = read("Dockerfile");
    let line = dockerfile.lines().find(|l| l.trim_start().starts_with("&& for bin in")).expect("the Dockerfile's copy loop");
    let copied: BTreeSet<String> = line.split(" in ").nth(1).expect("a list").trim_end_matches("; do \\").split_whitespace().map(String::from).collect();
    assert_eq!(copied, package_binaries(), "the Dockerfile copies exactly the binaries of kat-tools");
    let built = Path::new(env!("CARGO_BIN_EXE_kat")).parent().expect("the build directory").to_path_buf();
    for binary in &copied {
        assert!(built.join(binary).is_file(), "{binary} is not built in {}", built.display());
    }
    for used in ["katalogus", "bytes-store", "scheduler", "boefje-runner", "normalizer-runner"] {
        assert!(copied.contains(used), "compose.yaml and the manifests run {used}");
    }
}

/// The configuration variables named in the code: string literals that look like `PREFIX_NAME`.
fn variables_in_code() -> BTreeSet<String> {
    const PREFIXES: [&str; 9] = ["KAT_", "BYTES_", "KATALOGUS_", "SCHEDULER_", "BOEFJES_", "NORMALIZERS_", "QUEUE_", "NEO4J_", "AWS_"];
    let mut found = BTreeSet::new();
    let mut stack: Vec<PathBuf> = ["core", "server", "katalogus", "bytes-store", "scheduler", "boefje-runner", "normalizer-runner", "graph", "plugins", "tools"].iter().map(|c| root().join(c).join("src")).collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).expect("dir").map(|e| e.expect("entry").path()));
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        for literal in text.split('"').skip(1).step_by(2) {
            let upper = literal.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if upper && PREFIXES.iter().any(|p| literal.starts_with(p) && literal.len() > p.len()) {
                found.insert(literal.to_string());
            }
        }
    }
    found
}

#[test]
fn every_variable_the_code_reads_is_in_the_table() {
    let table = table();
    // Not configuration: what a job or a plugin gets, older OpenKAT names read as fallbacks, and AWS's own fallbacks.
    let not_settings = ["KAT_INPUT_URL", "KATALOGUS_PRIVATE_KEY_B64", "KATALOGUS_PUBLIC_KEY_B64", "AWS_DEFAULT_REGION", "AWS_ENDPOINT"];
    let missing: Vec<String> = variables_in_code().into_iter().filter(|v| !table.contains_key(v) && !not_settings.contains(&v.as_str())).collect();
    assert!(missing.is_empty(), "variables the code reads that the README's table lacks: {missing:?}");
}

#[test]
fn every_service_binary_help_lists_the_variables_it_reads() {
    let table = table();
    let binaries = [
        ("katalogus", env!("CARGO_BIN_EXE_katalogus")),
        ("bytes-store", env!("CARGO_BIN_EXE_bytes-store")),
        ("scheduler", env!("CARGO_BIN_EXE_scheduler")),
        ("boefje-runner", env!("CARGO_BIN_EXE_boefje-runner")),
        ("normalizer-runner", env!("CARGO_BIN_EXE_normalizer-runner")),
    ];
    for (name, path) in binaries {
        let out = std::process::Command::new(path).arg("--help").output().expect("the binary runs");
        assert!(out.status.success(), "{name} --help");
        let help = String::from_utf8_lossy(&out.stdout);
        let missing: Vec<&String> = table.iter().filter(|(_, readers)| readers.contains(name)).map(|(variable, _)| variable).filter(|v| !help.contains(v.as_str())).collect();
        assert!(missing.is_empty(), "{name} --help does not name {missing:?}, which the README's table says it reads");
    }
}
