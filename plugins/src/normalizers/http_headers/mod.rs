//! `kat_http_headers` (OpenKAT's normalizer id): OpenKAT's
//! `openkat-http/headers` raw, a JSON object of header name to value, to one
//! `HTTPHeader` per header of the boefje's input `HTTPResource` (the name
//! kept as sent; the rules compare names without case). A value that is not
//! text, or an input that is not an `HTTPResource`, fails the whole file. A
//! name that is empty or holds `|` (which separates the parts of a key) is
//! left out; the raw file keeps it.

use kat_core::plugin::NormalizerManifest;
use kat_core::{Ooi, Reference};
use serde_json::{Map, Value};

use super::{NormalizeError, Normalizer};

/// The HTTP headers normalizer.
#[derive(Debug, Default)]
pub struct HttpHeadersNormalizer;

impl Normalizer for HttpHeadersNormalizer {
    fn manifest(&self) -> NormalizerManifest {
        super::manifest("kat_http_headers", include_str!("normalizer.json"))
    }

    fn normalize(&self, input: &Reference, raw: &[u8]) -> Result<Vec<Ooi>, NormalizeError> {
        if input.object_type() != "HTTPResource" {
            return Err(NormalizeError::parse(format!("kat_http_headers reads the headers of an HTTPResource, not of {input}")));
        }
        let headers: Map<String, Value> = serde_json::from_slice(raw).map_err(|e| NormalizeError::parse(format!("expected a JSON object of header name to value: {e}")))?;
        let mut out = Vec::with_capacity(headers.len());
        for (key, value) in headers {
            let Value::String(value) = value else {
                return Err(NormalizeError::parse(format!("header {key:?}: the value is not text")));
            };
            if key.contains('|') || key.is_empty() {
                // HTTP allows '|' in a header name, but OpenKAT's keys cannot hold one there; the raw file keeps it.
                continue;
            }
            out.push(Ooi::build("HTTPHeader").reference("resource", input).field("key", key).field("value", value).finish()?);
        }
        Ok(out)
    }
}
