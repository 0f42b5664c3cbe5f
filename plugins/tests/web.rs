//! `kat_http_headers` and `kat_security_txt_downloader` on raw files in
//! OpenKAT's formats (`openkat-http/headers`, the security.txt downloader's
//! JSON), checked object by object, and on input they must refuse.

use kat_plugins::normalizers::{by_id, Normalizer};
use kat_core::Reference;

const WEBSITE: &str = "Website|internet|127.0.80.1|tcp|80|http|internet|www.web.test";
const RESOURCE: &str = "HTTPResource|internet|127.0.80.1|tcp|80|http|internet|www.web.test|http|internet|www.web.test|80|/";

fn normalizer(id: &str) -> Box<dyn Normalizer> {
    by_id(id).unwrap_or_else(|| panic!("{id} is built in"))
}

fn reference(text: &str) -> Reference {
    Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn each_header_becomes_an_http_header_of_the_resource() {
    let raw = br#"{"Content-Type": "text/html; charset=utf-8", "X-Frame-Options": "DENY", "Set-Cookie": "a=1, b=2"}"#;
    let objects = normalizer("kat_http_headers").normalize(&reference(RESOURCE), raw).expect("normalizes");
    let found: Vec<(String, String, String)> = objects
        .iter()
        .map(|o| (o.reference().to_string(), o.get("key").and_then(|v| v.as_str()).unwrap_or_default().to_string(), o.get("value").and_then(|v| v.as_str()).unwrap_or_default().to_string()))
        .collect();
    assert_eq!(
        found,
        [
            (format!("HTTPHeader|{}|Content-Type", &RESOURCE["HTTPResource|".len()..]), "Content-Type".into(), "text/html; charset=utf-8".into()),
            (format!("HTTPHeader|{}|Set-Cookie", &RESOURCE["HTTPResource|".len()..]), "Set-Cookie".into(), "a=1, b=2".into()),
            (format!("HTTPHeader|{}|X-Frame-Options", &RESOURCE["HTTPResource|".len()..]), "X-Frame-Options".into(), "DENY".into()),
        ]
    );
    assert!(objects.iter().all(|o| o.get("resource").and_then(|v| v.as_str()) == Some(RESOURCE)));
}

#[test]
fn headers_that_are_not_a_map_of_text_or_of_another_object_are_refused() {
    let headers = normalizer("kat_http_headers");
    for (input, raw, says) in [
        (RESOURCE, &b"[1, 2]"[..], "expected a JSON object"),
        (RESOURCE, &br#"{"X-Count": 3}"#[..], "header \"X-Count\": the value is not text"),
        (RESOURCE, &b"{\"a\": "[..], "expected a JSON object"),
        (WEBSITE, &b"{}"[..], "reads the headers of an HTTPResource"),
    ] {
        let err = headers.normalize(&reference(input), raw).expect_err("refused");
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn a_security_txt_on_the_site_itself_is_the_websites() {
    let raw = br#"{
        ".well-known/security.txt": {"content": "Contact: mailto:security@web.test\nExpires: 2030-01-01T00:00:00.000Z\n", "url": "http://www.web.test/.well-known/security.txt", "ip": "127.0.80.1", "status": 200},
        "security.txt": {"content": null, "url": "http://www.web.test/security.txt", "ip": "127.0.80.1", "status": 404}
    }"#;
    let objects = normalizer("kat_security_txt_downloader").normalize(&reference(WEBSITE), raw).expect("normalizes");
    let keys: Vec<&str> = objects.iter().map(|o| o.reference().as_str()).collect();
    assert_eq!(
        keys,
        [
            "SecurityTXT|internet|127.0.80.1|tcp|80|http|internet|www.web.test|internet|http://www.web.test/.well-known/security.txt",
            "URL|internet|http://www.web.test/.well-known/security.txt",
        ]
    );
    assert_eq!(objects[0].get("security_txt").and_then(|v| v.as_str()), Some("Contact: mailto:security@web.test\nExpires: 2030-01-01T00:00:00.000Z\n"));
    let none = br#"{".well-known/security.txt": {"content": null, "url": "x", "ip": "127.0.80.1", "status": 404}, "security.txt": {"content": null, "url": null, "ip": "127.0.80.1", "status": null, "error": "connection refused"}}"#;
    assert!(normalizer("kat_security_txt_downloader").normalize(&reference(WEBSITE), none).expect("normalizes").is_empty());
}

#[test]
fn a_security_txt_behind_a_redirect_belongs_to_the_site_it_came_from() {
    let raw = br#"{".well-known/security.txt": {"content": "Contact: https://other.test/report\n", "url": "https://other.test/.well-known/security.txt", "ip": "127.0.80.2", "status": 200}}"#;
    let objects = normalizer("kat_security_txt_downloader").normalize(&reference(WEBSITE), raw).expect("normalizes");
    let keys: Vec<&str> = objects.iter().map(|o| o.reference().as_str()).collect();
    let other_site = "internet|127.0.80.2|tcp|443|https|internet|other.test";
    assert_eq!(
        keys,
        [
            "Hostname|internet|other.test",
            "IPAddressV4|internet|127.0.80.2",
            "IPPort|internet|127.0.80.2|tcp|443",
            "Service|https",
            "IPService|internet|127.0.80.2|tcp|443|https",
            &format!("Website|{other_site}"),
            &format!("SecurityTXT|{other_site}|internet|https://other.test/.well-known/security.txt"),
            "SecurityTXT|internet|127.0.80.1|tcp|80|http|internet|www.web.test|internet|http://www.web.test/.well-known/security.txt",
            "URL|internet|http://www.web.test/.well-known/security.txt",
            "URL|internet|https://other.test/.well-known/security.txt",
        ]
    );
    let here = &objects[7];
    assert_eq!(here.get("redirects_to").and_then(|v| v.as_str()), Some(objects[6].reference().as_str()), "the website's own security.txt redirects to the other one");
    assert!(here.get("security_txt").is_none_or(|v| v.is_null()));
}

#[test]
fn security_txt_results_that_do_not_fit_are_refused() {
    let security = normalizer("kat_security_txt_downloader");
    for (input, raw, says) in [
        (WEBSITE, &br#"{"security.txt": {"content": "x"}}"#[..], "content without the url"),
        (WEBSITE, &br#"{"security.txt": {"content": "x", "url": "not a url"}}"#[..], "url \"not a url\""),
        (WEBSITE, &br#"{"security.txt": {"content": "x", "url": "http://o.test/s", "ip": "nope"}}"#[..], "is not an address"),
        (WEBSITE, &b"[]"[..], "expected a JSON object"),
        (RESOURCE, &b"{}"[..], "of a Website"),
    ] {
        let err = security.normalize(&reference(input), raw).expect_err("refused");
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn a_header_name_that_cannot_be_part_of_a_key_is_left_out() {
    let objects = normalizer("kat_http_headers").normalize(&reference(RESOURCE), br#"{"x|y": "1", "": "2", "ok": "3"}"#).expect("normalizes");
    assert_eq!(objects.iter().filter_map(|o| o.get("key")?.as_str()).collect::<Vec<_>>(), ["ok"]);
}

#[test]
fn a_certificate_file_that_is_not_a_chain_is_refused_and_an_empty_one_gives_nothing() {
    let certificates = normalizer("kat_ssl_certificates_normalize");
    assert!(certificates.normalize(&reference(WEBSITE), b"").expect("normalizes").is_empty(), "a plain HTTP website");
    assert!(certificates.normalize(&reference(WEBSITE), b"CONNECTED(00000003)\nno peer certificate available\n").expect("normalizes").is_empty());
    for (input, raw, says) in [
        (WEBSITE, &b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"[..], "certificate 1 of the chain"),
        (WEBSITE, &b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"[..], "PEM block 1"),
        (RESOURCE, &b""[..], "of a Website"),
    ] {
        let err = certificates.normalize(&reference(input), raw).expect_err("refused");
        assert!(err.to_string().contains(says), "{err}");
    }
}
