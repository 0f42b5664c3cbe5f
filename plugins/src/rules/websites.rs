//! `website-discovery` (OpenKAT's bit of that name): a web service on an
//! address is a website of every hostname whose A or AAAA record points at
//! that address. For an `IPService` whose service is `http` or `https` it
//! concludes, per such hostname, the `Website` (service + hostname), the URL
//! of the site's root (`HostnameHTTPURL`, path `/`) and the `HTTPResource`
//! that joins the two, which `webpage-analysis` then fetches. When a record
//! goes, the rule runs again and the website goes with it.

use kat_core::builtin::Step;
use kat_core::{CoreError, Ooi};

use super::Rule;
use crate::keys::{key_part, key_path};

/// The website discovery rule.
#[derive(Debug, Default)]
pub struct WebsiteDiscovery;

/// The services that serve websites.
pub const WEB_SERVICES: &[&str] = &["http", "https"];

const TO_A_RECORDS: &[Step] = &[Step::Field("ip_port"), Step::Field("address"), Step::ReferencedBy { object_type: "DNSARecord", field: "address" }];
const TO_AAAA_RECORDS: &[Step] = &[Step::Field("ip_port"), Step::Field("address"), Step::ReferencedBy { object_type: "DNSAAAARecord", field: "address" }];

impl Rule for WebsiteDiscovery {
    fn id(&self) -> &'static str {
        "website-discovery"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["IPService"]
    }

    fn parameters(&self) -> &'static [&'static [Step]] {
        &[TO_A_RECORDS, TO_AAAA_RECORDS]
    }

    fn evaluate(&self, service: &Ooi, records: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        let reference = service.reference();
        let Some(scheme) = key_path(reference, &["service", "name"]) else { return Ok(Vec::new()) };
        if !WEB_SERVICES.contains(&scheme.as_str()) {
            return Ok(Vec::new());
        }
        let Some(port) = key_path(reference, &["ip_port", "port"]) else { return Ok(Vec::new()) };
        let mut hostnames: Vec<&str> = records.iter().filter_map(|r| r.get("hostname")?.as_str()).collect();
        hostnames.sort_unstable();
        hostnames.dedup();
        let mut out = Vec::new();
        for hostname in hostnames {
            let hostname = kat_core::Reference::parse(hostname)?;
            let network = key_part(&hostname, "network").unwrap_or_else(|| "Network|internet".into());
            let website = Ooi::build("Website").reference("ip_service", reference).reference("hostname", &hostname).finish()?;
            let url = Ooi::build("HostnameHTTPURL").field("network", network).field("scheme", scheme.as_str()).reference("netloc", &hostname).field("port", port.parse::<i64>().unwrap_or_default()).field("path", "/").finish()?;
            let resource = Ooi::build("HTTPResource").reference("website", website.reference()).reference("web_url", url.reference()).finish()?;
            out.extend([website, url, resource]);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(object_type: &str, hostname: &str, address: &str) -> Ooi {
        Ooi::build(object_type).field("hostname", format!("Hostname|internet|{hostname}")).field("dns_record_type", "A").field("value", address).field("address", format!("IPAddressV4|internet|{address}")).finish().expect("record")
    }

    fn service(name: &str, port: u16) -> Ooi {
        Ooi::build("IPService").field("ip_port", format!("IPPort|internet|127.0.80.1|tcp|{port}")).field("service", format!("Service|{name}")).finish().expect("service")
    }

    #[test]
    fn a_web_service_is_a_website_of_each_hostname_pointing_at_it() {
        let records = [record("DNSARecord", "b.test", "127.0.80.1"), record("DNSARecord", "a.test", "127.0.80.1"), record("DNSARecord", "a.test", "127.0.80.1")];
        let found = WebsiteDiscovery.evaluate(&service("https", 8443), &records).expect("evaluates");
        let keys: Vec<&str> = found.iter().map(|o| o.reference().as_str()).collect();
        assert_eq!(
            keys,
            [
                "Website|internet|127.0.80.1|tcp|8443|https|internet|a.test",
                "HostnameHTTPURL|https|internet|a.test|8443|/",
                "HTTPResource|internet|127.0.80.1|tcp|8443|https|internet|a.test|https|internet|a.test|8443|/",
                "Website|internet|127.0.80.1|tcp|8443|https|internet|b.test",
                "HostnameHTTPURL|https|internet|b.test|8443|/",
                "HTTPResource|internet|127.0.80.1|tcp|8443|https|internet|b.test|https|internet|b.test|8443|/",
            ]
        );
    }

    #[test]
    fn other_services_and_addresses_without_hostnames_have_no_website() {
        let records = [record("DNSARecord", "a.test", "127.0.80.1")];
        assert!(WebsiteDiscovery.evaluate(&service("ssh", 22), &records).expect("evaluates").is_empty());
        assert!(WebsiteDiscovery.evaluate(&service("http", 80), &[]).expect("evaluates").is_empty());
    }
}
