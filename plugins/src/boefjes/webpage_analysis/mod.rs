//! `webpage-analysis` (OpenKAT's boefje id): fetch an `HTTPResource` of a
//! website. The request goes to the website's address and port whatever DNS
//! says about its hostname, with the hostname in the URL (so in the `Host`
//! header and, for HTTPS, in SNI). Redirects are not followed: a redirect is
//! what the resource answers, and its `Location` header is kept.
//!
//! Raw files: `openkat-http/headers`, OpenKAT's JSON object of header name
//! to value (a header sent more than once has its values joined by `, `),
//! read by `kat_http_headers`; `openkat-http/body`, the body up to
//! `MAX_BODY_BYTES`. Settings: `USERAGENT`, `TIMEOUT` (see [`super::web`]),
//! `MAX_BODY_BYTES` (default 1 MiB). A site that does not answer fails the
//! task with the reason.

use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::Reference;
use serde_json::{Map, Value};

use super::web::{body_up_to, error_chain, Site};
use super::{number_setting, Boefje, BoefjeError, BoefjeRun, JobEnv, RawFile};
use crate::keys::{key_part, key_path};

/// The webpage analysis boefje.
#[derive(Debug, Default)]
pub struct WebpageAnalysis;

impl Boefje for WebpageAnalysis {
    fn manifest(&self) -> BoefjeManifest {
        super::manifest("webpage-analysis/boefje.json", include_str!("boefje.json"))
    }

    fn schema(&self) -> Option<SettingsSchema> {
        SettingsSchema::parse("webpage-analysis/schema.json", include_str!("schema.json")).ok()
    }

    fn run<'a>(&'a self, input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move {
            let (site, url) = target(input)?;
            let cap = number_setting(env, "MAX_BODY_BYTES", 1usize << 20)?;
            let response = site.client(env, 0)?.get(&url).send().await.map_err(|e| BoefjeError::Scan(format!("GET {url} at {}: {}", site.address, error_chain(&e))))?;
            let mut headers = Map::new();
            for (name, value) in response.headers() {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                match headers.get_mut(name.as_str()) {
                    Some(Value::String(earlier)) => {
                        earlier.push_str(", ");
                        earlier.push_str(&value);
                    }
                    _ => {
                        headers.insert(name.as_str().to_string(), Value::String(value));
                    }
                }
            }
            let (body, _cut) = body_up_to(response, cap).await?;
            let headers = serde_json::to_vec(&headers).map_err(|e| BoefjeError::Scan(e.to_string()))?;
            Ok(vec![
                RawFile { name: "headers.json".into(), mime_types: vec!["openkat-http/headers".into()], content: headers },
                RawFile { name: "body".into(), mime_types: vec!["openkat-http/body".into()], content: body },
            ])
        })
    }
}

/// The site of the resource's website and the URL to fetch there.
fn target(resource: &Reference) -> Result<(Site, String), BoefjeError> {
    let wrong = || BoefjeError::WrongInput(resource.to_string());
    if resource.object_type() != "HTTPResource" {
        return Err(wrong());
    }
    let website = key_part(resource, "website").and_then(|w| Reference::parse(&w).ok()).ok_or_else(wrong)?;
    let site = Site::of_website(&website)?;
    let part = |field: &str| key_path(resource, &["web_url", field]).ok_or_else(wrong);
    let (scheme, port, path) = (part("scheme")?, part("port")?, part("path")?);
    let url = format!("{scheme}://{}:{port}{path}", site.hostname);
    Ok((Site { scheme, ..site }, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_the_resources_own_on_the_websites_address() {
        let resource = Reference::parse("HTTPResource|internet|127.0.80.1|tcp|80|http|internet|www.a.test|http|internet|www.a.test|80|/login").expect("reference");
        let (site, url) = target(&resource).expect("target");
        assert_eq!(url, "http://www.a.test:80/login");
        assert_eq!(site.address.to_string(), "127.0.80.1");
        assert!(target(&Reference::parse("Hostname|internet|a.test").expect("reference")).is_err());
    }
}
