//! `kat_ssl_test_ciphers_normalize`: testssl.sh's flat JSON output (raw of
//! the `testssl-sh-ciphers` boefje, OpenKAT's format) to one `TLSCipher` on
//! the scanned `IPService`.
//!
//! testssl.sh `--jsonfile` writes an array of findings `{"id", "ip",
//! "port", "severity", "finding"}`. With `-E` (cipher per protocol) each
//! offered suite is one finding with id `cipher-<proto>_x<code>` (`proto`
//! one of `ssl2`, `ssl3`, `tls1`, `tls1_1`, `tls1_2`, `tls1_3`) whose text
//! is testssl's table row: protocol (`TLS 1.2` in testssl 3.0, `TLSv1.2` in
//! 3.2), hex code, OpenSSL name, key exchange, the key exchange's size when
//! it has one, encryption, its bits (`40,exp` for export grade, `None` for
//! NULL) and the IANA name. The protocol is read from the id, so both
//! versions give the same suites, each once per protocol. Every other
//! finding is skipped, as are rows that do not read as a suite.
//!
//! `suites` is OpenKAT's object, protocol (`TLSv1.2`) to a list of
//! `{cipher_suite_code, cipher_suite_name, key_exchange_algorithm,
//! key_size?, encryption_algorithm, bits, cipher_suite_alias?}`, kept as JSON
//! text. No suite gives no object (a service without TLS). A scan testssl
//! reports as failed (`scanProblem` with severity `FATAL`) is refused, so it
//! never replaces what an earlier scan saw.

use kat_core::plugin::NormalizerManifest;
use kat_core::{Ooi, Reference};
use serde_json::{json, Map, Value};

use super::{NormalizeError, Normalizer};

/// The testssl.sh cipher normalizer.
#[derive(Debug, Default)]
pub struct TestsslCiphersNormalizer;

impl Normalizer for TestsslCiphersNormalizer {
    fn manifest(&self) -> NormalizerManifest {
        super::manifest("kat_ssl_test_ciphers_normalize", include_str!("normalizer.json"))
    }

    fn normalize(&self, input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError> {
        if input.object_type() != "IPService" {
            return Err(NormalizeError::parse(format!("testssl.sh output belongs to an IPService, not to {input}")));
        }
        let findings: Vec<Value> = serde_json::from_slice(raw).map_err(|e| NormalizeError::parse(format!("not testssl.sh's flat JSON output (--jsonfile): {e}")))?;
        let mut suites: Map<String, Value> = Map::new();
        for finding in &findings {
            let (Some(id), Some(text)) = (finding.get("id").and_then(Value::as_str), finding.get("finding").and_then(Value::as_str)) else { continue };
            if id == "scanProblem" && finding.get("severity").and_then(Value::as_str) == Some("FATAL") {
                return Err(NormalizeError::parse(format!("testssl.sh could not scan the service: {text}")));
            }
            let Some(protocol) = protocol_of(id) else { continue };
            let Some(suite) = suite_of(text) else { continue };
            if let Value::Array(list) = suites.entry(protocol).or_insert_with(|| Value::Array(Vec::new())) {
                // testssl.sh 3.2 lists a suite again under its server preferences when run with -P as well as -E.
                if !list.iter().any(|seen| seen["cipher_suite_code"] == suite["cipher_suite_code"]) {
                    list.push(suite);
                }
            }
        }
        if suites.is_empty() {
            return Ok(Vec::new());
        }
        let cipher = Ooi::build("TLSCipher").reference("ip_service", input).field("suites", Value::Object(suites).to_string()).finish()?;
        Ok(vec![cipher])
    }
}

/// The protocol of a `cipher-<proto>_x<code>` finding id, in OpenKAT's spelling (`TLSv1.2`).
fn protocol_of(id: &str) -> Option<String> {
    let rest = id.strip_prefix("cipher-")?;
    let (proto, code) = rest.rsplit_once('_')?;
    if !is_hex_code(code) {
        return None;
    }
    let name = match proto.to_ascii_lowercase().as_str() {
        "ssl2" => "SSLv2",
        "ssl3" => "SSLv3",
        "tls1" => "TLSv1",
        "tls1_1" => "TLSv1.1",
        "tls1_2" => "TLSv1.2",
        "tls1_3" => "TLSv1.3",
        _ => return None,
    };
    Some(name.to_string())
}

/// `x` and hex digits, as testssl writes a suite's code (`xc02f`, `x9d`).
fn is_hex_code(token: &str) -> bool {
    token.strip_prefix('x').is_some_and(|hex| !hex.is_empty() && hex.len() <= 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One suite from testssl's table row, or `None` when the row does not read as one.
fn suite_of(text: &str) -> Option<Value> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let at = tokens.iter().position(|t| is_hex_code(t))?;
    let row = &tokens[at..];
    let (code, name, key_exchange) = (row[0], *row.get(1)?, *row.get(2)?);
    let (key_size, rest) = match row.get(3) {
        Some(size) if size.bytes().all(|b| b.is_ascii_digit()) => (Some(size.parse::<u32>().ok()?), &row[4..]),
        _ => (None, row.get(3..)?),
    };
    let encryption = *rest.first()?;
    let bits = rest.get(1)?;
    let bits = if bits.eq_ignore_ascii_case("none") { 0 } else { bits.split(',').next()?.parse::<u32>().ok()? };
    let mut suite = json!({
        "cipher_suite_code": code,
        "cipher_suite_name": name,
        "key_exchange_algorithm": key_exchange,
        "encryption_algorithm": encryption,
        "bits": bits,
    });
    if let Some(size) = key_size {
        suite["key_size"] = size.into();
    }
    if let Some(alias) = rest.get(2) {
        suite["cipher_suite_alias"] = (*alias).into();
    }
    Some(suite)
}
