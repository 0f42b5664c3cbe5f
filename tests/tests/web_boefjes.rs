//! `webpage-analysis` and `security_txt_downloader` against real HTTP
//! servers on loopback addresses of this test's own (127.0.81.x: no other
//! test scans them), then their normalizers on what they fetched. The
//! hostnames in the URLs resolve nowhere: the boefjes connect to the
//! website's address, as OpenKAT's do.

use std::collections::BTreeMap;

use kat_core::builtin::{JobEnv, RawFile};
use kat_core::secret::Secret;
use kat_core::Reference;
use kat_plugins::boefjes::by_id;
use kat_tests::web_server::{start_web_server, Page};

fn reference(text: &str) -> Reference {
    Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn env(pairs: &[(&str, &str)]) -> JobEnv {
    pairs.iter().map(|(k, v)| (k.to_string(), Secret::new(v.to_string()))).collect()
}

async fn run(boefje: &str, input: &str, settings: &[(&str, &str)]) -> Vec<RawFile> {
    by_id(boefje).unwrap_or_else(|| panic!("{boefje} is built in")).run(&reference(input), &env(settings)).await.unwrap_or_else(|e| panic!("{boefje} on {input}: {e}"))
}

fn raw<'a>(files: &'a [RawFile], mime_type: &str) -> &'a [u8] {
    &files.iter().find(|f| f.mime_types.iter().any(|m| m == mime_type)).unwrap_or_else(|| panic!("a raw file tagged {mime_type}")).content
}

#[tokio::test]
async fn webpage_analysis_keeps_the_headers_and_the_body_up_to_the_cap_and_does_not_follow_redirects() {
    let pages = BTreeMap::from([
        ("/".to_string(), Page::ok(&[("Content-Type", "text/html"), ("X-Frame-Options", "DENY"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")], "<html>hello web</html>")),
        ("/old".to_string(), Page::with_status(301, &[("Location", "http://www.web.test/")], "")),
    ]);
    let server = start_web_server("127.0.81.1:0", pages).await.expect("web server");
    let port = server.addr.port();
    let resource = |path: &str| format!("HTTPResource|internet|127.0.81.1|tcp|{port}|http|internet|www.web.test|http|internet|www.web.test|{port}|{path}");

    let files = run("webpage-analysis", &resource("/"), &[("MAX_BODY_BYTES", "10")]).await;
    let headers: serde_json::Value = serde_json::from_slice(raw(&files, "openkat-http/headers")).expect("headers are JSON");
    assert_eq!(headers["content-type"], "text/html");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["set-cookie"], "a=1, b=2", "a repeated header keeps every value");
    assert_eq!(raw(&files, "openkat-http/body"), b"<html>hell", "the body is cut at MAX_BODY_BYTES");

    let redirect = run("webpage-analysis", &resource("/old"), &[]).await;
    let headers: serde_json::Value = serde_json::from_slice(raw(&redirect, "openkat-http/headers")).expect("headers are JSON");
    assert_eq!(headers["location"], "http://www.web.test/", "the redirect itself is what the resource answers");

    // The normalizer makes the headers objects of the resource.
    let normalizer = kat_plugins::normalizers::by_id("kat_http_headers").expect("built in");
    let objects = normalizer.normalize(&reference(&resource("/")), raw(&files, "openkat-http/headers")).expect("normalizes");
    let keys: Vec<&str> = objects.iter().filter_map(|o| o.get("key")?.as_str()).collect();
    assert_eq!(keys, ["connection", "content-length", "content-type", "set-cookie", "x-frame-options"]);

    drop(server);
    let closed = by_id("webpage-analysis").expect("built in").run(&reference(&resource("/")), &env(&[("TIMEOUT", "2")])).await.expect_err("nothing listens any more");
    assert!(closed.to_string().contains(&format!("GET http://www.web.test:{port}/ at 127.0.81.1")), "{closed}");
}

#[tokio::test]
async fn security_txt_downloader_fetches_both_places_and_keeps_only_plain_text_files() {
    let text = "Contact: mailto:security@web.test\nExpires: 2030-01-01T00:00:00.000Z\n";
    let pages = BTreeMap::from([
        ("/.well-known/security.txt".to_string(), Page::ok(&[("Content-Type", "text/plain; charset=utf-8")], text)),
        // A site that answers every path with its home page has no security.txt there.
        ("/security.txt".to_string(), Page::ok(&[("Content-Type", "text/html")], "<html>home</html>")),
    ]);
    let server = start_web_server("127.0.81.2:0", pages).await.expect("web server");
    let port = server.addr.port();
    let website = format!("Website|internet|127.0.81.2|tcp|{port}|http|internet|www.web.test");

    let files = run("security_txt_downloader", &website, &[]).await;
    let found: serde_json::Value = serde_json::from_slice(raw(&files, "boefje/security_txt_downloader")).expect("JSON");
    let well_known = &found[".well-known/security.txt"];
    assert_eq!(well_known["content"], text);
    assert_eq!(well_known["status"], 200);
    assert_eq!(well_known["ip"], "127.0.81.2");
    assert_eq!(well_known["url"], format!("http://www.web.test:{port}/.well-known/security.txt"));
    assert_eq!(found["security.txt"]["content"], serde_json::Value::Null, "{found}");
    assert_eq!(found["security.txt"]["status"], 200);

    let normalizer = kat_plugins::normalizers::by_id("kat_security_txt_downloader").expect("built in");
    let objects = normalizer.normalize(&reference(&website), raw(&files, "boefje/security_txt_downloader")).expect("normalizes");
    let security_txt: Vec<_> = objects.iter().filter(|o| o.object_type() == "SecurityTXT").collect();
    assert_eq!(security_txt.len(), 1, "{objects:?}");
    assert_eq!(security_txt[0].get("website").and_then(|v| v.as_str()), Some(website.as_str()));
    assert_eq!(security_txt[0].get("security_txt").and_then(|v| v.as_str()), Some(text));
}

#[tokio::test]
async fn ssl_certificates_records_any_certificate_and_its_normalizer_reads_it() {
    use kat_tests::web_server::{start_tls_web_server, test_certificate};
    let day = time::Duration::days(1);
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).expect("whole seconds");
    // Expired, and for other names than the website's.
    let certificate = test_certificate(&["other.web.test", "*.other.web.test"], now - 30 * day, now - day, 4711).expect("certificate");
    let pages = BTreeMap::from([("/".to_string(), Page::ok(&[("Content-Type", "text/plain"), ("Strict-Transport-Security", "max-age=63072000")], "secure"))]);
    let server = start_tls_web_server("127.0.81.3:0", pages, &certificate).await.expect("TLS web server");
    let port = server.addr.port();
    let website = format!("Website|internet|127.0.81.3|tcp|{port}|https|internet|www.web.test");

    let files = run("ssl-certificates", &website, &[]).await;
    let pem = String::from_utf8(raw(&files, "boefje/ssl-certificates").to_vec()).expect("PEM is text");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n") && pem.trim_end().ends_with("-----END CERTIFICATE-----"), "{pem}");

    let normalizer = kat_plugins::normalizers::by_id("kat_ssl_certificates_normalize").expect("built in");
    let objects = normalizer.normalize(&reference(&website), pem.as_bytes()).expect("normalizes");
    let keys: Vec<&str> = objects.iter().map(|o| o.reference().as_str()).collect();
    let cert_key = "X509Certificate|CN=other.web.test|4711";
    assert_eq!(
        keys,
        [
            cert_key,
            "SubjectAlternativeNameHostname|CN=other.web.test|4711|internet|*.other.web.test",
            "Hostname|internet|*.other.web.test",
            "SubjectAlternativeNameHostname|CN=other.web.test|4711|internet|other.web.test",
            "Hostname|internet|other.web.test",
            website.as_str(),
        ]
    );
    let cert = &objects[0];
    let rfc3339 = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).expect("formats");
    assert_eq!(cert.get("valid_until").and_then(|v| v.as_str()), Some(rfc3339(now - day).as_str()));
    assert_eq!(cert.get("valid_from").and_then(|v| v.as_str()), Some(rfc3339(now - 30 * day).as_str()));
    assert_eq!(cert.get("subject").and_then(|v| v.as_str()), Some("CN=other.web.test"));
    assert_eq!(cert.get("pk_algorithm").and_then(|v| v.as_str()), Some("EC"));
    assert_eq!(objects[5].get("certificate").and_then(|v| v.as_str()), Some(cert_key), "the website is given back with its certificate");

    // The certificate does not stop webpage-analysis: over HTTPS it records the headers too.
    let resource = format!("HTTPResource|internet|127.0.81.3|tcp|{port}|https|internet|www.web.test|https|internet|www.web.test|{port}|/");
    let page = run("webpage-analysis", &resource, &[]).await;
    let headers: serde_json::Value = serde_json::from_slice(raw(&page, "openkat-http/headers")).expect("JSON");
    assert_eq!(headers["strict-transport-security"], "max-age=63072000");

    // A plain HTTP website has no chain: an empty file.
    let plain = run("ssl-certificates", "Website|internet|127.0.81.3|tcp|80|http|internet|www.web.test", &[]).await;
    assert!(raw(&plain, "boefje/ssl-certificates").is_empty());
}
