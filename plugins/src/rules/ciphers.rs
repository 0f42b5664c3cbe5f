//! `cipher-classification`: the cipher suites a `TLSCipher` lists, judged
//! against the Dutch NCSC's TLS guidelines (as OpenKAT's bit does), give one
//! finding per risk level found: `KAT-CRITICAL-TLS-CIPHER`,
//! `KAT-HIGH-TLS-CIPHER`, `KAT-MEDIUM-TLS-CIPHER` and `KAT-LOW-TLS-CIPHER`,
//! each listing the suites at that level and why.
//!
//! A suite's level is the worst of its weaknesses, read from its protocol
//! and OpenSSL name, key exchange (and its size), encryption and bits:
//!
//! | level | weaknesses |
//! |---|---|
//! | critical | SSL 2 or 3; no encryption (NULL); export grade; anonymous key exchange; RC4; single DES; MD5 |
//! | high | 3DES; pre-shared or SRP keys; Diffie-Hellman under 1024 bits |
//! | medium | TLS 1.0 or 1.1; static RSA key exchange (no forward secrecy); Diffie-Hellman under 2048 bits; CCM-8 |
//! | low | CBC mode; SHA-1 message authentication |
//!
//! A suite with none of these (AES-GCM, ChaCha20-Poly1305 with ECDHE or
//! DHE of 2048 bits or more on TLS 1.2 or 1.3) gives nothing.

use std::collections::BTreeMap;

use kat_core::{CoreError, Ooi};
use serde_json::Value;

use super::finding_types::{CRITICAL_TLS_CIPHER, HIGH_TLS_CIPHER, LOW_TLS_CIPHER, MEDIUM_TLS_CIPHER};
use super::{finding, FindingType, Risk, Rule};

/// The cipher classification rule.
#[derive(Debug, Default)]
pub struct CipherClassification;

impl Rule for CipherClassification {
    fn id(&self) -> &'static str {
        "cipher-classification"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["TLSCipher"]
    }

    fn evaluate(&self, cipher: &Ooi, _: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        let suites: BTreeMap<String, Vec<Value>> = cipher.get("suites").and_then(Value::as_str).and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default();
        let mut by_risk: BTreeMap<Risk, Vec<String>> = BTreeMap::new();
        for (protocol, list) in &suites {
            for suite in list {
                let name = suite.get("cipher_suite_name").and_then(Value::as_str).unwrap_or("?");
                let reasons = weaknesses(protocol, suite);
                if let Some(worst) = reasons.iter().map(|(risk, _)| *risk).min() {
                    let why: Vec<&str> = reasons.iter().map(|(_, why)| *why).collect();
                    by_risk.entry(worst).or_default().push(format!("{protocol} {name}: {}", why.join(", ")));
                }
            }
        }
        let mut objects = Vec::new();
        for (risk, lines) in by_risk {
            let Some(finding_type) = finding_type_of(risk) else { continue };
            let description = format!("The service offers cipher suites that should not be used:\n{}", lines.join("\n"));
            objects.extend(finding(cipher.reference(), finding_type, description)?);
        }
        Ok(objects)
    }
}

fn finding_type_of(risk: Risk) -> Option<&'static FindingType> {
    match risk {
        Risk::Critical => Some(&CRITICAL_TLS_CIPHER),
        Risk::High => Some(&HIGH_TLS_CIPHER),
        Risk::Medium => Some(&MEDIUM_TLS_CIPHER),
        Risk::Low => Some(&LOW_TLS_CIPHER),
        Risk::Recommendation => None,
    }
}

/// Every weakness of one suite offered on `protocol`, with its level.
fn weaknesses(protocol: &str, suite: &Value) -> Vec<(Risk, &'static str)> {
    let text = |field: &str| suite.get(field).and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
    let (name, key_exchange, encryption) = (text("cipher_suite_name"), text("key_exchange_algorithm"), text("encryption_algorithm"));
    let alias = text("cipher_suite_alias");
    let key_size = suite.get("key_size").and_then(Value::as_u64);
    let bits = suite.get("bits").and_then(Value::as_u64);
    let parts: Vec<&str> = name.split(['-', '_']).collect();
    let has = |part: &str| parts.contains(&part);
    let mut found = Vec::new();
    let mut add = |holds: bool, risk: Risk, why: &'static str| {
        if holds {
            found.push((risk, why));
        }
    };
    add(matches!(protocol, "SSLv2" | "SSLv3"), Risk::Critical, "SSL 2 or 3");
    add(has("NULL") || encryption == "NONE" || bits == Some(0), Risk::Critical, "no encryption");
    add(has("EXP") || has("EXPORT") || name.contains("EXP1024"), Risk::Critical, "export grade");
    add(has("ADH") || has("AECDH") || has("ANON") || alias.contains("_ANON_"), Risk::Critical, "anonymous key exchange");
    add(has("RC4") || encryption.starts_with("RC4"), Risk::Critical, "RC4");
    let triple_des = name.contains("DES-CBC3") || name.contains("3DES") || encryption == "3DES";
    add(!triple_des && (has("DES") || encryption == "DES"), Risk::Critical, "single DES");
    add(has("MD5"), Risk::Critical, "MD5");
    add(triple_des, Risk::High, "3DES");
    add(has("PSK") || has("SRP") || key_exchange.contains("PSK") || key_exchange.contains("SRP"), Risk::High, "pre-shared or SRP keys");
    let dh = key_exchange == "DH" || key_exchange == "DHE";
    add(dh && key_size.is_some_and(|s| s < 1024), Risk::High, "Diffie-Hellman under 1024 bits");
    add(dh && key_size.is_some_and(|s| (1024..2048).contains(&s)), Risk::Medium, "Diffie-Hellman under 2048 bits");
    add(matches!(protocol, "TLSv1" | "TLSv1.1"), Risk::Medium, "TLS 1.0 or 1.1");
    add(key_exchange == "RSA" || key_exchange.starts_with("RSA("), Risk::Medium, "RSA key exchange without forward secrecy");
    add(has("CCM8") || encryption.contains("CCM8"), Risk::Medium, "CCM-8");
    let aead = ["GCM", "CCM", "CHACHA20", "POLY1305"].iter().any(|a| encryption.contains(a) || name.contains(a));
    let stream_or_none = encryption == "NONE" || encryption.starts_with("RC4") || bits == Some(0);
    add(protocol != "TLSv1.3" && !aead && !stream_or_none, Risk::Low, "CBC mode");
    add(protocol != "TLSv1.3" && parts.last() == Some(&"SHA"), Risk::Low, "SHA-1 message authentication");
    found
}
