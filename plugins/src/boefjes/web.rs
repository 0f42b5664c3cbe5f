//! What the web boefjes share: the site a `Website` or `HTTPResource` key
//! names (address, port, scheme, hostname), an HTTP client that connects to
//! that address whatever DNS says about the hostname (as OpenKAT's
//! forced-IP adapter does) and records any certificate ([`super::tls`]),
//! and reading a body up to a cap.
//!
//! Settings: `USERAGENT` (default `OpenKAT`), `TIMEOUT` (seconds per
//! request, default 30).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use kat_core::Reference;

use super::{number_setting, BoefjeError, JobEnv};
use crate::rules::key_part;

/// The site a website key names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// `http` or `https`: the service's name.
    pub scheme: String,
    /// The hostname the site answers for.
    pub hostname: String,
    /// The address the service listens on.
    pub address: IpAddr,
    /// The TCP port.
    pub port: u16,
}

impl Site {
    /// The site of `Website|...` (its service and hostname).
    pub fn of_website(website: &Reference) -> Result<Site, BoefjeError> {
        let wrong = || BoefjeError::WrongInput(website.to_string());
        if website.object_type() != "Website" {
            return Err(wrong());
        }
        let part = |r: &Reference, field: &str| key_part(r, field).ok_or_else(wrong);
        let reference = |text: String| Reference::parse(&text).map_err(|_| wrong());
        let service = reference(part(website, "ip_service")?)?;
        let port = reference(part(&service, "ip_port")?)?;
        let scheme = part(&reference(part(&service, "service")?)?, "name")?;
        if scheme != "http" && scheme != "https" {
            return Err(BoefjeError::WrongInput(format!("{website}: service {scheme:?} is not a web service")));
        }
        Ok(Site {
            scheme,
            hostname: part(&reference(part(website, "hostname")?)?, "name")?,
            address: part(&reference(part(&port, "address")?)?, "address")?.parse().map_err(|_| wrong())?,
            port: part(&port, "port")?.parse().map_err(|_| wrong())?,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_website_key_names_its_site() {
        let site = Site::of_website(&Reference::parse("Website|internet|::1|tcp|8443|https|internet|www.a.test").expect("reference")).expect("site");
        assert_eq!(site, Site { scheme: "https".into(), hostname: "www.a.test".into(), address: "::1".parse().expect("ip"), port: 8443 });
        assert_eq!(site.url("/x"), "https://www.a.test:8443/x");
        let ssh = Reference::parse("Website|internet|127.0.0.1|tcp|22|ssh|internet|a.test").expect("reference");
        assert!(matches!(Site::of_website(&ssh), Err(BoefjeError::WrongInput(_))));
        assert!(Site::of_website(&Reference::parse("Hostname|internet|a.test").expect("reference")).is_err());
    }
}
