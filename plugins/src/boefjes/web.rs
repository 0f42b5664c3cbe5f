//! What the web boefjes share: the site of a `Website` key (`crate::keys::Site`)
//! as a boefje input, an HTTP client that connects to the site's address
//! whatever DNS says about the hostname (as OpenKAT's forced-IP adapter
//! does) and records any certificate ([`super::tls`]), reading a body up to
//! a cap, and an error's causes for the task's error.
//!
//! Settings: `USERAGENT` (default `OpenKAT`), `TIMEOUT` (seconds per
//! request, default 30).

use std::net::SocketAddr;
use std::time::Duration;

use kat_core::Reference;

use super::{number_setting, BoefjeError, JobEnv};
pub use crate::keys::Site;

impl Site {
    /// The site of `Website|...` for a web boefje: refused (wrong input) unless it is a website of an `http` or
    /// `https` service.
    pub fn of_website(website: &Reference) -> Result<Site, BoefjeError> {
        let site = Site::parse(website).ok_or_else(|| BoefjeError::WrongInput(website.to_string()))?;
        if site.scheme != "http" && site.scheme != "https" {
            return Err(BoefjeError::WrongInput(format!("{website}: service {:?} is not a web service", site.scheme)));
        }
        Ok(site)
    }

    /// The URL of `path` (starting with `/`) on the site.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}:{}{path}", self.scheme, self.hostname, self.port)
    }

    /// A client that sends requests for the site's hostname to its address, with `redirects` redirects followed.
    pub fn client(&self, env: &JobEnv, redirects: usize) -> Result<reqwest::Client, BoefjeError> {
        let timeout = Duration::from_secs(number_setting(env, "TIMEOUT", 30u64)?.clamp(1, 3600));
        let agent = env.get("USERAGENT").map_or_else(|| "OpenKAT".to_string(), |a| a.expose().clone());
        let policy = if redirects == 0 { reqwest::redirect::Policy::none() } else { reqwest::redirect::Policy::limited(redirects) };
        reqwest::Client::builder()
            .use_preconfigured_tls(super::tls::client_config()?)
            .resolve(&self.hostname, SocketAddr::new(self.address, self.port))
            .redirect(policy)
            .timeout(timeout)
            .user_agent(agent)
            .build()
            .map_err(|e| BoefjeError::Scan(format!("cannot make an HTTP client: {e}")))
    }
}

/// Read `response`'s body, at most `cap` bytes; true when it was longer.
pub async fn body_up_to(mut response: reqwest::Response, cap: usize) -> Result<(Vec<u8>, bool), BoefjeError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| BoefjeError::Scan(format!("reading the body failed: {e}")))? {
        let room = cap.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// An error with its causes, which say what went wrong on the wire (refused, timed out, bad certificate).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_website_key_names_its_site() {
        let site = Site::of_website(&Reference::parse("Website|internet|::1|tcp|8443|https|internet|www.a.test").expect("reference")).expect("site");
        assert_eq!(site, Site { scheme: "https".into(), hostname: "www.a.test".into(), network: "Network|internet".into(), address: "::1".parse().expect("ip"), port: 8443 });
        assert_eq!(site.url("/x"), "https://www.a.test:8443/x");
        let ssh = Reference::parse("Website|internet|127.0.0.1|tcp|22|ssh|internet|a.test").expect("reference");
        assert!(matches!(Site::of_website(&ssh), Err(BoefjeError::WrongInput(_))));
        assert!(Site::of_website(&Reference::parse("Hostname|internet|a.test").expect("reference")).is_err());
    }
}
