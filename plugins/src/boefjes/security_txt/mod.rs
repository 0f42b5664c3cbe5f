//! `security_txt_downloader` (OpenKAT's boefje id): fetch a website's
//! security.txt (RFC 9116) from its two places, `/.well-known/security.txt`
//! and the legacy `/security.txt`, from the website's own address,
//! following up to 5 redirects.
//!
//! Raw file `boefje/security_txt_downloader`, OpenKAT's JSON: per place
//! (`.well-known/security.txt`, `security.txt`) an object with `content`
//! (the text, or `null` when the answer is not a 200 `text/plain` file:
//! a site that answers every path with its home page has no security.txt),
//! `url` (where the answer came from after redirects), `ip` (the address
//! that answered) and `status`. A place that cannot be reached at all has
//! `content` `null`, `status` `null` and the reason in `error`.

use kat_core::plugin::{BoefjeManifest, SettingsSchema};
use kat_core::Reference;
use serde_json::{json, Map, Value};

use super::web::{body_up_to, error_chain, Site};
use super::{Boefje, BoefjeError, BoefjeRun, JobEnv, RawFile};

/// The security.txt downloader.
#[derive(Debug, Default)]
pub struct SecurityTxtDownloader;

/// The places of a security.txt, as the raw file's keys (paths without the leading `/`).
pub const PLACES: [&str; 2] = [".well-known/security.txt", "security.txt"];

/// The most of a security.txt that is kept.
pub const MAX_BYTES: usize = 100 * 1024;

impl Boefje for SecurityTxtDownloader {
    fn manifest(&self) -> BoefjeManifest {
        super::manifest("security_txt_downloader/boefje.json", include_str!("boefje.json"))
    }

    fn schema(&self) -> Option<SettingsSchema> {
        SettingsSchema::parse("security_txt_downloader/schema.json", include_str!("schema.json")).ok()
    }

    fn run<'a>(&'a self, input: &'a Reference, env: &'a JobEnv) -> BoefjeRun<'a> {
        Box::pin(async move {
            let site = Site::of_website(input)?;
            let client = site.client(env, 5)?;
            let mut results = Map::new();
            for place in PLACES {
                let url = site.url(&format!("/{place}"));
                let result = match client.get(&url).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let final_url = response.url().to_string();
                        let ip = response.remote_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| site.address.to_string());
                        let plain = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|t| t.to_str().ok()).is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("text/plain"));
                        let (body, _cut) = body_up_to(response, MAX_BYTES).await?;
                        let content = (status == 200 && plain).then(|| String::from_utf8_lossy(&body).into_owned());
                        json!({"content": content, "url": final_url, "ip": ip, "status": status})
                    }
                    Err(e) => json!({"content": null, "url": url, "ip": site.address.to_string(), "status": null, "error": error_chain(&e)}),
                };
                results.insert(place.to_string(), result);
            }
            let content = serde_json::to_vec(&Value::Object(results)).map_err(|e| BoefjeError::Scan(e.to_string()))?;
            Ok(vec![RawFile { name: "security_txt.json".into(), mime_types: vec!["boefje/security_txt_downloader".into()], content }])
        })
    }
}
