//! Settings encryption is byte-compatible with PyNaCl's `Box(private,
//! public)`, the format OpenKAT stores: we decrypt a blob PyNaCl made
//! (checked-in vector and a fresh one), and PyNaCl decrypts what we make.
//! Needs `python3` with PyNaCl: `bash scripts/services.sh` installs it.

use std::path::PathBuf;
use std::process::Command;

use kat_core::crypto::{generate_key_pair, Middleware};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/pynacl_vectors.py")
}

fn python(args: &[&str]) -> String {
    let out = Command::new("python3").arg(script()).args(args).output().expect("python3 runs (install it, then `bash scripts/services.sh` for PyNaCl)");
    assert!(out.status.success(), "PyNaCl helper failed (run `bash scripts/services.sh` to install PyNaCl): {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn vector(text: &str) -> (String, String, String, String) {
    let v: serde_json::Value = serde_json::from_str(text).expect("vector JSON");
    let field = |k: &str| v[k].as_str().expect("string field").to_string();
    (field("private"), field("public"), field("plain"), field("blob"))
}

#[test]
fn decrypts_the_checked_in_pynacl_vector() {
    let (private, public, plain, blob) = vector(include_str!("vectors/pynacl_box.json"));
    let m = Middleware::nacl_box(&private, &public).expect("keys");
    assert_eq!(m.decrypt(&blob).expect("decrypts PyNaCl's blob"), plain);
}

#[test]
fn interoperates_with_pynacl_both_ways() {
    let (private, public, plain, blob) = vector(&python(&["make"]));
    let m = Middleware::nacl_box(&private, &public).expect("keys");
    assert_eq!(m.decrypt(&blob).expect("decrypts a fresh PyNaCl blob"), plain);

    let (private, public) = generate_key_pair();
    let ours = Middleware::nacl_box(&private, &public).expect("keys");
    let text = r#"{"TOKEN": "made in rust", "N": 3}"#;
    let blob = ours.encrypt(text).expect("encrypts");
    assert_eq!(python(&["decrypt", &private, &public, &blob]), text, "PyNaCl decrypts our blob");
}

#[test]
fn raw_bytes_interoperate_with_pynacl_both_ways() {
    let (private, public) = generate_key_pair();
    let m = Middleware::nacl_box(&private, &public).expect("keys");
    let content: Vec<u8> = (0u8..=255).chain(b"<nmaprun/>".iter().copied()).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("raw");
    std::fs::write(&file, m.encrypt_bytes(&content).expect("encrypts")).expect("write");
    assert_eq!(python(&["decrypt-file", &private, &public, file.to_str().unwrap_or_default()]), hex(&content), "PyNaCl decrypts our raw file");
    let theirs = python(&["encrypt-hex", &private, &public, &hex(&content)]);
    let theirs: Vec<u8> = (0..theirs.len()).step_by(2).filter_map(|i| u8::from_str_radix(&theirs[i..i + 2], 16).ok()).collect();
    assert_eq!(theirs.len(), 24 + 16 + content.len(), "nonce || box, no base64");
    assert_eq!(m.decrypt_bytes(&theirs).expect("decrypts PyNaCl's raw"), content);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
