//! The normalizers of the real-tool wrappers on their tools' own output:
//! `data/masscan.json` is masscan 1.3.2's `-oJ` layout (the first record
//! recorded from a run on 127.0.0.1, the others written in its layout: a
//! second port, a closed port shown with `--show closed`);
//! the dns-zone answer is dnspython's message text after OpenKAT's first line;
//! `data/testssl-3.0.json` was recorded from testssl.sh 3.0.8 `-E
//! --jsonfile` against `openssl s_server` offering AES256-SHA and
//! ECDHE-RSA-AES128-GCM-SHA256 on TLS 1.0-1.2 and OpenSSL's TLS 1.3 suites.

use kat_core::{Ooi, Reference};
use kat_plugins::normalizers::by_id;
use kat_plugins::rules::all as rules;
use serde_json::Value;

fn normalize(id: &str, input: &str, raw: &[u8]) -> Result<Vec<Ooi>, String> {
    let input = Reference::parse(input).expect("valid");
    by_id(id).expect("built-in").normalize(&input, raw).map_err(|e| e.to_string())
}

fn keys(objects: &[Ooi]) -> Vec<&str> {
    objects.iter().map(|o| o.reference().as_str()).collect()
}

#[test]
fn masscan_output_gives_each_address_and_open_port_once() {
    let objects = normalize("kat_masscan_normalize", "IPAddressV4|internet|127.0.0.1", include_bytes!("data/masscan.json")).expect("parses");
    assert_eq!(keys(&objects), ["IPAddressV4|internet|127.0.0.1", "IPPort|internet|127.0.0.1|tcp|8099", "IPPort|internet|127.0.0.1|tcp|5432"]);
    assert_eq!(objects[1].get("state"), Some(&Value::from("open")));
}

#[test]
fn masscan_output_of_older_versions_and_bad_output() {
    let older = b"[\n{ \"ip\": \"10.0.0.1\", \"ports\": [ {\"port\": 80, \"proto\": \"tcp\", \"status\": \"open\"} ] },\n]\n";
    let objects = normalize("kat_masscan_normalize", "IPAddressV4|internet|10.0.0.1", older).expect("the trailing comma of masscan 1.0 is accepted");
    assert_eq!(keys(&objects), ["IPAddressV4|internet|10.0.0.1", "IPPort|internet|10.0.0.1|tcp|80"]);
    assert_eq!(normalize("kat_masscan_normalize", "IPAddressV4|internet|10.0.0.1", b"[]\n").map(|o| o.len()), Ok(0), "nothing found");
    let cut = b"[\n{ \"ip\": \"10.0.0.1\", \"ports\": [ {\"port\": 80, \"proto\": \"tcp\", \"status\": \"open\"} ] }\n,\n";
    let err = normalize("kat_masscan_normalize", "IPAddressV4|internet|10.0.0.1", cut).expect_err("a killed scan is refused");
    assert!(err.contains("not complete masscan JSON"), "{err}");
    for (raw, says) in [(&b"[{\"ip\": \"10.0.0.1|x\", \"ports\": []}]"[..], "invalid IP address"), (b"[{\"ip\": \"10.0.0.1\", \"ports\": [{\"port\": 70000}]}]", "not complete"), (b"[{\"ip\": \"10.0.0.1\", \"ports\": [{\"port\": 1, \"proto\": \"icmp|x\"}]}]", "unknown protocol")] {
        let err = normalize("kat_masscan_normalize", "IPAddressV4|internet|10.0.0.1", raw).expect_err("refused");
        assert!(err.contains(says), "{err}");
    }
}

const SERVICE: &str = "IPService|internet|127.0.80.9|tcp|4433|https";

fn suites(cipher: &Ooi) -> Value {
    serde_json::from_str(cipher.get("suites").and_then(Value::as_str).expect("suites text")).expect("suites JSON")
}

#[test]
fn testssl_output_gives_the_suites_per_protocol_as_one_tls_cipher() {
    let objects = normalize("kat_ssl_test_ciphers_normalize", SERVICE, include_bytes!("data/testssl-3.0.json")).expect("parses");
    assert_eq!(keys(&objects), ["TLSCipher|internet|127.0.80.9|tcp|4433|https"]);
    let suites = suites(&objects[0]);
    let names = |protocol: &str| -> Vec<String> { suites[protocol].as_array().map(|l| l.iter().map(|s| s["cipher_suite_name"].as_str().unwrap_or_default().to_string()).collect()).unwrap_or_default() };
    assert_eq!(names("TLSv1"), ["AES256-SHA"]);
    assert_eq!(names("TLSv1.1"), ["AES256-SHA"]);
    assert_eq!(names("TLSv1.2"), ["AES256-SHA", "ECDHE-RSA-AES128-GCM-SHA256"]);
    assert_eq!(names("TLSv1.3"), ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]);
    assert_eq!(
        suites["TLSv1.2"][1],
        serde_json::json!({"cipher_suite_code": "xc02f", "cipher_suite_name": "ECDHE-RSA-AES128-GCM-SHA256", "key_exchange_algorithm": "ECDH", "key_size": 253, "encryption_algorithm": "AESGCM", "bits": 128, "cipher_suite_alias": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"})
    );
    assert_eq!(suites["TLSv1.2"][0]["key_exchange_algorithm"], "RSA");
    assert!(suites["TLSv1.2"][0].get("key_size").is_none(), "RSA key exchange has no size column");
}

#[test]
fn testssl_32_spelling_export_and_null_suites_and_failed_scans() {
    let raw = br#"[
      {"id": "cipher-tls1_2_xc030", "severity": "OK", "finding": "TLSv1.2   xc030   ECDHE-RSA-AES256-GCM-SHA384       ECDH 253   AESGCM      256      TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
      {"id": "cipher-ssl3_x03", "severity": "CRITICAL", "finding": "SSLv3   x03   EXP-RC4-MD5   RSA(512)   RC4   40,exp   TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
      {"id": "cipher-tls1_x02", "severity": "CRITICAL", "finding": "TLSv1   x02   NULL-SHA   RSA   None   None   TLS_RSA_WITH_NULL_SHA"},
      {"id": "cipher_order-tls1_2", "severity": "OK", "finding": "server"},
      {"id": "cipher-tls1_2_xc030", "severity": "OK", "finding": "TLSv1.2   xc030   ECDHE-RSA-AES256-GCM-SHA384       ECDH 253   AESGCM      256      TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
      {"id": "cipher-tls1_2_xzz", "severity": "OK", "finding": "TLSv1.2 xzz nonsense"},
      "not an object"
    ]"#;
    let objects = normalize("kat_ssl_test_ciphers_normalize", SERVICE, raw).expect("parses");
    let suites = suites(&objects[0]);
    assert_eq!(suites["TLSv1.2"].as_array().map(Vec::len), Some(1), "the row that does not read as a suite is skipped, a suite listed twice (-E and -P) kept once");
    assert_eq!(suites["SSLv3"][0]["bits"], 40);
    assert_eq!(suites["SSLv3"][0]["key_exchange_algorithm"], "RSA(512)");
    assert_eq!(suites["TLSv1"][0]["bits"], 0);

    assert_eq!(normalize("kat_ssl_test_ciphers_normalize", SERVICE, b"[]").map(|o| o.len()), Ok(0), "no TLS, no object");
    let fatal = br#"[{"id": "scanProblem", "severity": "FATAL", "finding": "Can't connect to '127.0.80.9:4433'"}]"#;
    let err = normalize("kat_ssl_test_ciphers_normalize", SERVICE, fatal).expect_err("a failed scan is refused");
    assert!(err.contains("Can't connect"), "{err}");
    assert!(normalize("kat_ssl_test_ciphers_normalize", "IPAddressV4|internet|127.0.80.9", b"[]").is_err(), "only an IPService");
    assert!(normalize("kat_ssl_test_ciphers_normalize", SERVICE, b"{}").is_err(), "not an array");
}

#[test]
fn cipher_classification_grades_the_recorded_suites() {
    let objects = normalize("kat_ssl_test_ciphers_normalize", SERVICE, include_bytes!("data/testssl-3.0.json")).expect("parses");
    let rules = rules();
    let rule = rules.iter().find(|r| r.id() == "cipher-classification").expect("the rule");
    assert_eq!(rule.consumes(), ["TLSCipher"]);
    let found = rule.evaluate(&objects[0], &[]).expect("evaluates");
    let cipher = "TLSCipher|internet|127.0.80.9|tcp|4433|https";
    assert_eq!(keys(&found), [format!("Finding|{cipher}|KAT-MEDIUM-TLS-CIPHER").as_str(), "KATFindingType|KAT-MEDIUM-TLS-CIPHER"]);
    let description = found[0].get("description").and_then(Value::as_str).unwrap_or_default();
    assert_eq!(
        description,
        "The service offers cipher suites that should not be used:\n\
         TLSv1 AES256-SHA: TLS 1.0 or 1.1, RSA key exchange without forward secrecy, CBC mode, SHA-1 message authentication\n\
         TLSv1.1 AES256-SHA: TLS 1.0 or 1.1, RSA key exchange without forward secrecy, CBC mode, SHA-1 message authentication\n\
         TLSv1.2 AES256-SHA: RSA key exchange without forward secrecy, CBC mode, SHA-1 message authentication"
    );
}

#[test]
fn cipher_classification_levels_follow_the_worst_weakness_of_each_suite() {
    let row = |id: &str, finding: &str| serde_json::json!({"id": id, "severity": "INFO", "finding": finding});
    let raw = serde_json::to_vec(&serde_json::json!([
        row("cipher-tls1_2_xc030", "TLSv1.2 xc030 ECDHE-RSA-AES256-GCM-SHA384 ECDH 253 AESGCM 256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        row("cipher-ssl3_x03", "SSLv3 x03 EXP-RC4-MD5 RSA(512) RC4 40,exp TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
        row("cipher-tls1_2_x0a", "TLSv1.2 x0a DES-CBC3-SHA RSA 3DES 168 TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
        row("cipher-tls1_2_x33", "TLSv1.2 x33 DHE-RSA-AES128-SHA DH 1024 AES 128 TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
        row("cipher-tls1_2_xc013", "TLSv1.2 xc013 ECDHE-RSA-AES128-SHA ECDH 253 AES 128 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
        row("cipher-tls1_3_x1301", "TLSv1.3 x1301 TLS_AES_128_GCM_SHA256 ECDH 253 AESGCM 128 TLS_AES_128_GCM_SHA256"),
    ]))
    .expect("json");
    let objects = normalize("kat_ssl_test_ciphers_normalize", SERVICE, &raw).expect("parses");
    let rules = rules();
    let rule = rules.iter().find(|r| r.id() == "cipher-classification").expect("the rule");
    let found = rule.evaluate(&objects[0], &[]).expect("evaluates");
    let findings: Vec<(String, String)> = found
        .iter()
        .filter(|o| o.object_type() == "Finding")
        .map(|f| (f.get("finding_type").and_then(Value::as_str).unwrap_or_default().to_string(), f.get("description").and_then(Value::as_str).unwrap_or_default().lines().skip(1).collect::<Vec<_>>().join("\n")))
        .collect();
    assert_eq!(
        findings,
        [
            ("KATFindingType|KAT-CRITICAL-TLS-CIPHER".to_string(), "SSLv3 EXP-RC4-MD5: SSL 2 or 3, export grade, RC4, MD5, RSA key exchange without forward secrecy".to_string()),
            ("KATFindingType|KAT-HIGH-TLS-CIPHER".to_string(), "TLSv1.2 DES-CBC3-SHA: 3DES, RSA key exchange without forward secrecy, CBC mode, SHA-1 message authentication".to_string()),
            ("KATFindingType|KAT-MEDIUM-TLS-CIPHER".to_string(), "TLSv1.2 DHE-RSA-AES128-SHA: Diffie-Hellman under 2048 bits, CBC mode, SHA-1 message authentication".to_string()),
            ("KATFindingType|KAT-LOW-TLS-CIPHER".to_string(), "TLSv1.2 ECDHE-RSA-AES128-SHA: CBC mode, SHA-1 message authentication".to_string()),
        ]
    );
}

#[test]
fn dns_zone_answers_with_openkats_first_line_give_the_zone_and_the_scanned_zone_its_parent() {
    // OpenKAT's normalizer skips the first line whatever it holds; dnspython's message text follows.
    let raw = b"8.8.8.8\nid 4711\nopcode QUERY\nrcode NOERROR\nflags QR RD RA\n;QUESTION\nexample.nl. IN SOA\n;ANSWER\nexample.nl. 3600 IN SOA ns1.example.nl. hostmaster.example.nl. 2024010101 3600 600 86400 300\n;AUTHORITY\n;ADDITIONAL\n";
    let objects = normalize("kat_dns_zone_normalize", "DNSZone|internet|sub.example.nl", raw).expect("parses");
    assert_eq!(
        keys(&objects),
        ["DNSZone|internet|example.nl", "Hostname|internet|example.nl", "Hostname|internet|ns1.example.nl", "DNSSOARecord|internet|example.nl|internet|ns1.example.nl", "DNSZone|internet|sub.example.nl"]
    );
    assert_eq!(objects[1].get("dns_zone"), Some(&Value::from("DNSZone|internet|example.nl")), "the apex is in its zone");
    assert_eq!(objects[4].get("parent"), Some(&Value::from("DNSZone|internet|example.nl")), "the scanned zone learns its parent");
    assert_eq!(objects[3].get("serial"), Some(&Value::from(2024010101)));

    let no_soa = b"RESOLVER: 127.0.0.1\nid 0\nopcode QUERY\nrcode NXDOMAIN\nflags QR RD RA\n;QUESTION\nnl. IN SOA\n;ANSWER\n;AUTHORITY\n;ADDITIONAL\n";
    assert_eq!(normalize("kat_dns_zone_normalize", "Hostname|internet|a.nl", no_soa).map(|o| o.len()), Ok(0), "no zone found, nothing said");
    assert!(normalize("kat_dns_zone_normalize", "IPAddressV4|internet|127.0.0.1", raw).is_err(), "only a Hostname or a DNSZone");
    let err = normalize("kat_dns_zone_normalize", "Hostname|internet|a.nl", b"x\n;ANSWER\nexample.nl. IN SOA\n").expect_err("a record line without a TTL");
    assert!(err.contains("invalid DNS answer text"), "{err}");
}
