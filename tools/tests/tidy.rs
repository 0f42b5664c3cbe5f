//! Tidy checks that keep the codebase livable: every Rust file opens with a
//! `//!` comment, no file grows past 600 lines, and the crate dependency
//! rules of ARCHITECTURE.md hold.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_file_opens_with_a_module_comment_and_stays_small() {
    let mut files = Vec::new();
    rust_files(&root(), &mut files);
    assert!(files.len() > 10, "found only {} files under {}", files.len(), root().display());
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text.starts_with("//!") {
            problems.push(format!("{}: does not open with a //! comment", file.display()));
        }
        let lines = text.lines().count();
        if lines > 600 {
            problems.push(format!("{}: {lines} lines, over 600", file.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The `[dependencies]` names of one crate's Cargo.toml.
fn dependencies(krate: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).unwrap_or_default();
    let mut in_deps = false;
    let mut names = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if let Some((name, _)) = line.split_once(['=', '.']).filter(|_| in_deps) {
            names.push(name.trim().to_string());
        }
    }
    names
}

#[test]
fn dependency_rules_hold() {
    let core = dependencies("core");
    assert!(core.contains(&"serde".to_string()), "parsed core's dependencies: {core:?}");
    for forbidden in ["axum", "sqlx", "lapin", "object_store", "neo4rs", "kube", "kglite", "tokio"] {
        assert!(!core.iter().any(|d| d == forbidden), "kat-core must not depend on {forbidden}");
    }
    assert!(!core.iter().any(|d| d.starts_with("kat-")), "kat-core must not depend on a workspace crate: {core:?}");
    // DESIGN.md section 3: which workspace crates each crate may use.
    // `kat-server` is the shared REST plumbing: services may use it, runners and plugins may not.
    let allowed: [(&str, &[&str]); 8] = [
        ("server", &["kat-core"]),
        ("plugins", &["kat-core"]),
        ("graph", &["kat-core"]),
        ("bytes-store", &["kat-core", "kat-server"]),
        ("katalogus", &["kat-core", "kat-server"]),
        ("scheduler", &["kat-core", "kat-server"]),
        ("boefje-runner", &["kat-core"]),
        ("normalizer-runner", &["kat-core", "kat-graph"]),
    ];
    for (krate, may_use) in allowed {
        let deps = dependencies(krate);
        assert!(deps.iter().any(|d| d == "kat-core"), "parsed {krate}'s dependencies: {deps:?}");
        for dep in deps.iter().filter(|d| d.starts_with("kat-")) {
            assert!(may_use.contains(&dep.as_str()), "{krate} may depend only on {may_use:?} among workspace crates, found {dep}");
        }
    }
}
