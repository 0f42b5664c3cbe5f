//! `kat scan`, `run_boefje`, `show_raw` and `run_normalizer` as a user runs
//! them, against real TCP listeners on 127.0.0.1 and a fresh data directory.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(program: &str, data: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let out = Command::new(program).args(args).env("KAT_DATA_DIR", data).envs(env.iter().copied()).output().expect("binary runs");
    Run { ok: out.status.success(), stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn kat(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    run(env!("CARGO_BIN_EXE_kat"), data, env, args)
}

fn listeners(n: usize) -> Vec<TcpListener> {
    (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port")).collect()
}

fn port(l: &TcpListener) -> u16 {
    l.local_addr().expect("addr").port()
}

/// A port with nothing listening: bind, note the port, close.
fn closed_port() -> u16 {
    port(&listeners(1)[0])
}

fn open_ports_in_graph(data: &Path) -> Vec<u16> {
    let out = kat(data, &[], &["query", "MATCH (n:IPPort) RETURN n.primary_key AS pk ORDER BY pk"]);
    assert!(out.ok, "{}", out.stderr);
    let mut ports: Vec<u16> = out.stdout.lines().skip(1).filter_map(|l| l.trim_matches(|c| c == '[' || c == ']' || c == '"').rsplit('|').next()?.parse().ok()).collect();
    ports.sort_unstable();
    ports
}

fn object_count(data: &Path) -> String {
    let out = kat(data, &[], &["query", "MATCH (n) WHERE n.object_type IS NOT NULL RETURN count(n) AS n"]);
    assert!(out.ok, "{}", out.stderr);
    out.stdout
}

#[test]
fn scan_finds_exactly_the_open_ports_rescans_without_duplicates_and_drops_stale_ports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut open = listeners(3);
    let mut expected: Vec<u16> = open.iter().map(port).collect();
    expected.sort_unstable();
    let ports = format!("{},{}", expected.iter().map(u16::to_string).collect::<Vec<_>>().join(","), closed_port());
    let secret = "s3cr3t-token-never-stored-4711";
    let env = [("BOEFJE_PORTS", ports.as_str()), ("BOEFJE_TIMEOUT_MS", "500"), ("SECRET_TOKEN", secret)];

    let first = kat(dir.path(), &env, &["scan", "127.0.0.1"]);
    assert!(first.ok, "{}\n{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("IPAddressV4|internet|127.0.0.1 [L2]"), "{}", first.stdout);
    assert!(first.stdout.contains("Objects per type") && first.stdout.contains("IPPort               3"), "{}", first.stdout);
    assert_eq!(open_ports_in_graph(dir.path()), expected);
    let count = object_count(dir.path());

    assert!(first.stderr.contains("enabled the boefjes dns-records, port-scan, webpage-analysis, security_txt_downloader, ssl-certificates, dns-zone for organisation _dev"), "boefjes are off by default, so the scan enables them and says so: {}", first.stderr);

    let second = kat(dir.path(), &env, &["scan", "127.0.0.1"]);
    assert!(second.ok, "{}", second.stderr);
    assert!(!second.stderr.contains("enabled the boefjes"), "the organisation's choice is kept: {}", second.stderr);
    assert!(second.stdout.contains("1 boefje tasks"), "the target is scanned again: {}", second.stdout);
    assert_eq!(object_count(dir.path()), count, "a second run adds no duplicates");

    // Close one port: the newest scan no longer sees it, so its IPPort goes.
    let gone = port(&open.remove(0));
    let third = kat(dir.path(), &env, &["scan", "127.0.0.1"]);
    assert!(third.ok, "{}", third.stderr);
    assert_eq!(open_ports_in_graph(dir.path()), expected.iter().copied().filter(|p| *p != gone).collect::<Vec<_>>());

    // A host variable without the BOEFJE_ prefix never reaches a boefje or any stored file.
    for entry in kat_tests::files::all_files(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret), "{} holds the secret", entry.display());
    }
    for out in [&first, &second, &third] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }
}

#[test]
fn a_failed_boefje_fails_the_scan_naming_the_task_and_keeps_the_error_as_raw() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = kat(dir.path(), &[("BOEFJE_PORTS", "80-nope")], &["scan", "127.0.0.1"]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(out.stderr.contains("1 task(s) failed") && out.stderr.contains("port-scan on IPAddressV4|internet|127.0.0.1"), "{}", out.stderr);
    assert!(out.stderr.contains("PORTS"), "the error names the setting: {}", out.stderr);
    assert!(!out.stderr.contains("panicked"));

    // run_boefje shows the same failure and the id of the error raw file, which show_raw prints.
    let run = run(env!("CARGO_BIN_EXE_run_boefje"), dir.path(), &[("BOEFJE_PORTS", "80-nope")], &["_dev", "port-scan", "IPAddressV4|internet|127.0.0.1"]);
    assert!(!run.ok && run.stderr.contains("failed"), "{}", run.stderr);
    let raw_id = run.stdout.trim();
    let meta = kat(dir.path(), &[], &["show-raw", "--meta", raw_id]);
    assert!(meta.ok, "{}", meta.stderr);
    let meta: serde_json::Value = serde_json::from_str(&meta.stdout).expect("meta is JSON");
    assert!(meta["mime_types"].as_array().is_some_and(|m| m.iter().any(|t| t["value"] == "error/boefje")), "{meta}");
}

#[test]
fn run_boefje_show_raw_and_run_normalizer_work_on_stored_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let open = listeners(1);
    let p = port(&open[0]).to_string();
    let env = [("BOEFJE_PORTS", p.as_str())];
    let ran = run(env!("CARGO_BIN_EXE_run_boefje"), dir.path(), &env, &["_dev", "port-scan", "IPAddressV4|internet|127.0.0.1"]);
    assert!(ran.ok, "{}", ran.stderr);
    let raw_id = ran.stdout.trim().to_string();
    assert_eq!(raw_id.lines().count(), 1, "one raw file: {raw_id}");

    let shown = run(env!("CARGO_BIN_EXE_show_raw"), dir.path(), &[], &[&raw_id]);
    assert!(shown.ok && shown.stdout.contains(&format!("portid=\"{p}\"")), "{}{}", shown.stdout, shown.stderr);
    let meta = run(env!("CARGO_BIN_EXE_show_raw"), dir.path(), &[], &["--meta", &raw_id]);
    let meta: serde_json::Value = serde_json::from_str(&meta.stdout).expect("meta is JSON");
    assert_eq!(meta["boefje_meta"]["boefje"]["id"], "port-scan");
    assert_eq!(meta["mime_types"], serde_json::json!([{"value": "boefje/nmap"}, {"value": "boefje/port-scan"}]), "tagged with the output's type and OpenKAT's boefje/<id>");
    assert_eq!(meta["boefje_meta"]["environment"]["PORTS"], p.as_str());
    assert!(meta["secure_hash"].as_str().is_some_and(|h| h.starts_with("sha512:")));
    let not_json = run(env!("CARGO_BIN_EXE_show_raw"), dir.path(), &[], &["--json", &raw_id]);
    assert!(!not_json.ok && not_json.stderr.contains("is not JSON (its mime types: boefje/nmap"), "{}", not_json.stderr);

    let normalized = run(env!("CARGO_BIN_EXE_run_normalizer"), dir.path(), &[], &["kat_nmap_normalize", &raw_id]);
    assert!(normalized.ok, "{}", normalized.stderr);
    assert!(normalized.stdout.lines().any(|l| l.contains(&format!("\"IPPort|internet|127.0.0.1|tcp|{p}\""))), "{}", normalized.stdout);
    assert_eq!(open_ports_in_graph(dir.path()), vec![port(&open[0])]);

    for (program, args, needle) in [
        (env!("CARGO_BIN_EXE_run_boefje"), vec!["_dev", "nope", "Hostname|internet|a.test"], "unknown boefje \"nope\"; known: dns-records, port-scan, webpage-analysis, security_txt_downloader, ssl-certificates, dns-zone"),
        (env!("CARGO_BIN_EXE_run_boefje"), vec!["_dev", "port-scan", "Hostname|internet"], "malformed reference"),
        (env!("CARGO_BIN_EXE_show_raw"), vec!["not-a-uuid"], "is not a raw file id"),
        (env!("CARGO_BIN_EXE_show_raw"), vec!["7134430c-8509-4944-b0be-27cb9bfb4bc2"], "no raw file 7134430c"),
        (env!("CARGO_BIN_EXE_run_normalizer"), vec!["kat_dns_normalize", raw_id.as_str()], "cannot read raw file"),
        (env!("CARGO_BIN_EXE_run_normalizer"), vec!["nope", raw_id.as_str()], "unknown normalizer \"nope\""),
        (env!("CARGO_BIN_EXE_kat"), vec!["scan", "not a host!"], "is not a hostname"),
    ] {
        let out = run(program, dir.path(), &[], &args);
        assert!(!out.ok && out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn a_tampered_raw_file_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let open = listeners(1);
    let p = port(&open[0]).to_string();
    // The contents in a file of their own (BYTES_INLINE_MAX=0), to damage on disk; `kat_bytes`'s inline tests damage
    // contents kept in the database.
    let ran = run(env!("CARGO_BIN_EXE_run_boefje"), dir.path(), &[("BOEFJE_PORTS", p.as_str()), ("BYTES_INLINE_MAX", "0")], &["_dev", "port-scan", "IPAddressV4|internet|127.0.0.1"]);
    let raw_id = ran.stdout.trim().to_string();
    let file = dir.path().join("raw/_dev").join(&raw_id);
    let mut bytes = std::fs::read(&file).expect("raw file on disk");
    bytes[10] ^= 1;
    std::fs::write(&file, bytes).expect("tamper");
    let shown = run(env!("CARGO_BIN_EXE_show_raw"), dir.path(), &[], &[&raw_id]);
    assert!(!shown.ok && shown.stderr.contains("does not match its stored hash"), "{}", shown.stderr);
    let verified = kat(dir.path(), &[], &["verify-raw", &raw_id]);
    assert!(!verified.ok && verified.stdout.contains(&format!("FAILED {raw_id}")) && verified.stderr.contains("1 of 1"), "{}{}", verified.stdout, verified.stderr);
    // A second, untouched file passes; --all reports both.
    let second = run(env!("CARGO_BIN_EXE_run_boefje"), dir.path(), &[("BOEFJE_PORTS", p.as_str())], &["_dev", "port-scan", "IPAddressV4|internet|127.0.0.1"]);
    let good = second.stdout.trim();
    assert!(kat(dir.path(), &[], &["verify-raw", good]).ok);
    let all = kat(dir.path(), &[], &["verify-raw", "--all"]);
    assert!(!all.ok && all.stdout.contains(&format!("ok {good}")) && all.stdout.contains(&format!("FAILED {raw_id}")), "{}", all.stdout);
}

#[test]
fn raw_files_can_be_encrypted_at_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let open = listeners(1);
    let p = port(&open[0]).to_string();
    let keys = kat(dir.path(), &[], &["keygen"]).stdout;
    let value = |name: &str| keys.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap_or_default().to_string();
    let (private, public) = (value("BOEFJES_KATALOGUS_PRIVATE_KEY"), value("BOEFJES_KATALOGUS_PUBLIC_KEY"));
    let env = [("BYTES_ENCRYPTION_MIDDLEWARE", "NACL_SEALBOX"), ("BYTES_PRIVATE_KEY_B64", private.as_str()), ("BYTES_PUBLIC_KEY_B64", public.as_str()), ("BOEFJE_PORTS", p.as_str()), ("BYTES_INLINE_MAX", "0")];
    let ran = run(env!("CARGO_BIN_EXE_run_boefje"), dir.path(), &env, &["_dev", "port-scan", "IPAddressV4|internet|127.0.0.1"]);
    assert!(ran.ok, "{}", ran.stderr);
    let raw_id = ran.stdout.trim();
    let on_disk = std::fs::read(dir.path().join("raw/_dev").join(raw_id)).expect("raw file");
    assert!(!String::from_utf8_lossy(&on_disk).contains("nmaprun"), "contents are encrypted on disk");
    let shown = run(env!("CARGO_BIN_EXE_show_raw"), dir.path(), &env, &[raw_id]);
    assert!(shown.ok && shown.stdout.contains("nmaprun"), "{}", shown.stderr);
    assert!(kat(dir.path(), &env, &["verify-raw", "--all"]).ok);
    let unkeyed = run(env!("CARGO_BIN_EXE_show_raw"), dir.path(), &[], &[raw_id]);
    assert!(!unkeyed.ok && unkeyed.stderr.contains("does not match its stored hash"), "without the keys the file is refused: {}", unkeyed.stderr);
    let wrong_keys = kat(dir.path(), &[], &["keygen"]).stdout;
    let wrong = |name: &str| wrong_keys.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap_or_default().to_string();
    let (wp, wq) = (wrong("BOEFJES_KATALOGUS_PRIVATE_KEY"), wrong("BOEFJES_KATALOGUS_PUBLIC_KEY"));
    let wrong_env = [("BYTES_ENCRYPTION_MIDDLEWARE", "NACL_SEALBOX"), ("BYTES_PRIVATE_KEY_B64", wp.as_str()), ("BYTES_PUBLIC_KEY_B64", wq.as_str())];
    let refused = run(env!("CARGO_BIN_EXE_show_raw"), dir.path(), &wrong_env, &[raw_id]);
    assert!(!refused.ok && refused.stderr.contains("wrong key pair"), "{}", refused.stderr);
}

#[test]
fn run_boefje_runs_a_plugin_folder_executable_from_katalogus_plugin_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = tempfile::tempdir().expect("plugin dir");
    let folder = plugins.path().join("echo-input");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(folder.join("boefje.json"), r#"{"id": "echo-input", "consumes": ["Hostname"], "produces": ["text/plain"], "scan_level": 1, "run": ["./main"]}"#).expect("manifest");
    // The input arrives in BOEFJE_META's arguments.input, in OpenKAT's shape; the program echoes the hostname.
    let script = "#!/bin/sh\necho \"WARNING: about to echo\" >&2\nprintf '%s' \"$BOEFJE_META\" | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"arguments\"][\"input\"][\"name\"])'\n";
    let main = folder.join("main");
    std::fs::write(&main, script).expect("script");
    let mut permissions = std::fs::metadata(&main).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&main, permissions).expect("chmod");
    let plugin_dir = plugins.path().to_str().expect("utf-8 path");

    let ran = kat(dir.path(), &[("KATALOGUS_PLUGIN_DIR", plugin_dir)], &["run-boefje", "_dev", "echo-input", "Hostname|internet|example.test"]);
    assert!(ran.ok, "{}", ran.stderr);
    let raw_id = ran.stdout.trim();
    let shown = kat(dir.path(), &[], &["show-raw", raw_id]);
    assert_eq!(shown.stdout.trim(), "example.test", "{}", shown.stderr);
    let meta = kat(dir.path(), &[], &["show-raw", "--meta", raw_id]);
    let meta: serde_json::Value = serde_json::from_str(&meta.stdout).expect("meta is JSON");
    assert_eq!(meta["mime_types"], serde_json::json!([{"value": "boefje/echo-input"}, {"value": "text/plain"}]), "{meta}");

    let unknown = kat(dir.path(), &[], &["run-boefje", "_dev", "echo-input", "Hostname|internet|example.test"]);
    assert!(!unknown.ok && unknown.stderr.contains("unknown boefje \"echo-input\""), "without KATALOGUS_PLUGIN_DIR the folder is not known: {}", unknown.stderr);
}

/// The findings section of a scan's output: (risk, finding type, object) per line.
fn findings(stdout: &str) -> Vec<(String, String, String)> {
    let section = stdout.split("\nFindings (").nth(1).unwrap_or_default();
    let mut risk = String::new();
    let mut out = Vec::new();
    for line in section.lines().skip(1).take_while(|l| !l.is_empty()) {
        if let Some(group) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            risk = group.split(' ').next().unwrap_or_default().to_string();
        } else if let Some((id, object)) = line.trim().split_once(char::is_whitespace) {
            out.push((risk.clone(), id.to_string(), object.trim().to_string()));
        }
    }
    out
}

#[test]
fn open_ports_become_findings_by_risk_and_a_finding_goes_with_its_port() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Ports the port classification rule names (ports above 1024, so any user may listen there), and a random one.
    let bind = |p: u16| TcpListener::bind(("127.0.0.1", p)).unwrap_or_else(|e| panic!("port {p} must be free on 127.0.0.1 for this test ({e}); stop what listens there"));
    let (rdp, vnc, mut database) = (bind(3389), bind(5900), Some(bind(1433)));
    let other = listeners(1);
    let uncommon = port(&other[0]);
    let ports = format!("3389,5900,1433,{uncommon},{}", closed_port());
    let env = [("BOEFJE_PORTS", ports.as_str()), ("BOEFJE_TIMEOUT_MS", "500")];
    let target = |p: u16| format!("IPPort|internet|127.0.0.1|tcp|{p}");

    let first = kat(dir.path(), &env, &["scan", "127.0.0.1"]);
    assert!(first.ok, "{}\n{}", first.stdout, first.stderr);
    let mut expected = vec![
        ("high".to_string(), "KAT-OPEN-DATABASE-PORT".to_string(), target(1433)),
        ("medium".to_string(), "KAT-OPEN-SYSADMIN-PORT".to_string(), target(5900)),
        ("medium".to_string(), "KAT-REMOTE-DESKTOP-PORT".to_string(), target(3389)),
        ("low".to_string(), "KAT-UNCOMMON-OPEN-PORT".to_string(), target(uncommon)),
    ];
    assert_eq!(findings(&first.stdout), expected, "exactly one finding per open port, worst risk first:\n{}", first.stdout);
    assert!(first.stdout.contains("Findings (4):"), "{}", first.stdout);
    let stored = kat(dir.path(), &[], &["query", "MATCH (f:Finding)-[:finding_type]->(t:KATFindingType) RETURN t.kat_id AS id, t.risk_severity AS risk ORDER BY id"]);
    assert!(stored.ok, "{}", stored.stderr);
    assert!(stored.stdout.contains("KAT-OPEN-DATABASE-PORT") && stored.stdout.contains("\"high\""), "findings are graph objects linked to their type: {}", stored.stdout);

    // The database stops listening: its port goes, and its finding with it.
    drop(database.take());
    let second = kat(dir.path(), &env, &["scan", "127.0.0.1"]);
    assert!(second.ok, "{}\n{}", second.stdout, second.stderr);
    expected.remove(0);
    assert_eq!(findings(&second.stdout), expected, "{}", second.stdout);
    let types = kat(dir.path(), &[], &["query", "MATCH (t:KATFindingType) RETURN t.kat_id AS id ORDER BY id"]);
    assert!(types.ok && types.stdout.contains("KAT-OPEN-SYSADMIN-PORT") && !types.stdout.contains("KAT-OPEN-DATABASE-PORT"), "a finding type no finding uses goes too: {}", types.stdout);
    drop((rdp, vnc, other));
}

/// The pages of a test website: `/` with `headers`, and a security.txt when `security_txt`.
fn site(headers: &[(&str, &str)], security_txt: bool) -> std::collections::BTreeMap<String, kat_tests::web_server::Page> {
    use kat_tests::web_server::Page;
    let mut pages = std::collections::BTreeMap::from([("/".to_string(), Page::ok(headers, "<html><body>test site</body></html>"))]);
    if security_txt {
        pages.insert("/.well-known/security.txt".into(), Page::ok(&[("Content-Type", "text/plain")], "Contact: mailto:security@web.test\nExpires: 2030-01-01T00:00:00.000Z\n"));
    }
    pages
}

#[test]
fn websites_are_found_fetched_and_checked_and_their_findings_follow_the_sites() {
    use kat_tests::web_server::start_web_server;
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    // Addresses of this test's own (no other test scans 127.0.80.x), port 80 so that the port scan calls it http.
    let (a, b) = ("127.0.80.1:80", "127.0.80.2:80");
    let dns = runtime.block_on(kat_tests::dns_server::start_dns_server_for(&[("www.web.test", [127, 0, 80, 1].into()), ("bare.web.test", [127, 0, 80, 2].into())]));
    let all_headers = [("Content-Type", "text/html"), ("Content-Security-Policy", "default-src 'self'"), ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Permissions-Policy", "camera=()"), ("Referrer-Policy", "no-referrer")];
    let start = |addr: &str, pages| runtime.block_on(start_web_server(addr, pages)).unwrap_or_else(|e| panic!("{e}"));
    // www: a security.txt, but no CSP, X-Content-Type-Options or Permissions-Policy; bare: every header, no security.txt.
    let www = start(a, site(&[("Content-Type", "text/html; charset=utf-8"), ("X-Frame-Options", "SAMEORIGIN"), ("Referrer-Policy", "no-referrer")], true));
    let bare = start(b, site(&all_headers, false));
    let ns = format!("127.0.0.1:{dns}");
    let env = [("BOEFJE_REMOTE_NS", ns.as_str()), ("BOEFJE_PORTS", "80"), ("BOEFJE_TIMEOUT_MS", "1000"), ("BOEFJE_RECORD_TYPES", "A")];

    let first = kat(dir.path(), &env, &["scan", "www.web.test", "bare.web.test"]);
    assert!(first.ok, "{}\n{}", first.stdout, first.stderr);
    let website = |host: &str, ip: &str| format!("Website|internet|{ip}|tcp|80|http|internet|{host}");
    let resource = |host: &str, ip: &str| format!("HTTPResource|internet|{ip}|tcp|80|http|internet|{host}|http|internet|{host}|80|/");
    for object in [website("www.web.test", "127.0.80.1"), website("bare.web.test", "127.0.80.2"), resource("www.web.test", "127.0.80.1"), format!("HTTPHeader|{}|x-frame-options", &resource("www.web.test", "127.0.80.1")["HTTPResource|".len()..]), format!("SecurityTXT|{}|internet|http://www.web.test/.well-known/security.txt", &website("www.web.test", "127.0.80.1")["Website|".len()..])] {
        assert!(first.stdout.contains(&object), "the scan shows {object}:\n{}", first.stdout);
    }
    let www_page = resource("www.web.test", "127.0.80.1");
    let expected = vec![
        ("medium".to_string(), "KAT-NO-CSP".to_string(), www_page.clone()),
        ("low".to_string(), "KAT-NO-X-CONTENT-TYPE-OPTIONS".to_string(), www_page.clone()),
        ("recommendation".to_string(), "KAT-NO-PERMISSIONS-POLICY".to_string(), www_page.clone()),
        ("recommendation".to_string(), "KAT-NO-SECURITY-TXT".to_string(), website("bare.web.test", "127.0.80.2")),
    ];
    assert_eq!(findings(&first.stdout), expected, "exactly the findings that hold:\n{}", first.stdout);

    // The sites are fixed: www sends every header, bare publishes a security.txt. The rescan clears the findings.
    www.set_pages(site(&all_headers, true));
    bare.set_pages(site(&all_headers, true));
    let second = kat(dir.path(), &env, &["scan", "www.web.test", "bare.web.test"]);
    assert!(second.ok, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(findings(&second.stdout), vec![], "no finding holds any more:\n{}", second.stdout);
    drop((www, bare));
}

#[test]
fn https_websites_show_their_certificates_and_the_certificate_findings_that_hold() {
    use kat_tests::web_server::{start_tls_web_server, test_certificate};
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let dns = runtime.block_on(kat_tests::dns_server::start_dns_server_for(&[("expired.web.test", [127, 0, 80, 3].into()), ("wrong.web.test", [127, 0, 80, 4].into())]));
    let day = time::Duration::days(1);
    let now = time::OffsetDateTime::now_utc();
    let expired = test_certificate(&["expired.web.test"], now - 30 * day, now - day, 1).expect("certificate");
    let misnamed = test_certificate(&["other.test"], now - day, now + 365 * day, 2).expect("certificate");
    let secure = [("Content-Type", "text/html"), ("Strict-Transport-Security", "max-age=63072000"), ("Content-Security-Policy", "default-src 'self'"), ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Permissions-Policy", "camera=()"), ("Referrer-Policy", "no-referrer")];
    let start = |addr: &str, headers: &[(&str, &str)], certificate| runtime.block_on(start_tls_web_server(addr, site(headers, true), certificate)).unwrap_or_else(|e| panic!("{e}"));
    // Both on 443, so that the port scan calls them https; one sends no Strict-Transport-Security.
    let servers = (start("127.0.80.3:443", &secure, &expired), start("127.0.80.4:443", &secure[..1].iter().chain(&secure[2..]).copied().collect::<Vec<_>>(), &misnamed));
    let ns = format!("127.0.0.1:{dns}");
    let env = [("BOEFJE_REMOTE_NS", ns.as_str()), ("BOEFJE_PORTS", "443"), ("BOEFJE_TIMEOUT_MS", "1000"), ("BOEFJE_RECORD_TYPES", "A")];

    let scan = kat(dir.path(), &env, &["scan", "expired.web.test", "wrong.web.test"]);
    assert!(scan.ok, "{}\n{}", scan.stdout, scan.stderr);
    for object in ["X509Certificate|CN=expired.web.test|1", "X509Certificate|CN=other.test|2", "Website|internet|127.0.80.3|tcp|443|https|internet|expired.web.test"] {
        assert!(scan.stdout.contains(object), "the scan shows {object}:\n{}", scan.stdout);
    }
    let wrong = "internet|127.0.80.4|tcp|443|https|internet|wrong.web.test";
    let expected = vec![
        ("high".to_string(), "KAT-CERTIFICATE-EXPIRED".to_string(), "X509Certificate|CN=expired.web.test|1".to_string()),
        ("high".to_string(), "KAT-SSL-CERT-HOSTNAME-MISMATCH".to_string(), format!("Website|{wrong}")),
        ("medium".to_string(), "KAT-NO-HSTS".to_string(), format!("HTTPResource|{wrong}|https|internet|wrong.web.test|443|/")),
    ];
    assert_eq!(findings(&scan.stdout), expected, "exactly the findings that hold:\n{}", scan.stdout);
    let linked = kat(dir.path(), &[], &["query", "MATCH (w:Website) RETURN w.certificate AS certificate ORDER BY certificate"]);
    assert!(linked.ok, "{}", linked.stderr);
    assert_eq!(linked.stdout, "certificate\n[\"X509Certificate|CN=expired.web.test|1\"]\n[\"X509Certificate|CN=other.test|2\"]\n", "each website knows the certificate it serves");
    drop(servers);
}

#[test]
fn a_profile_chooses_the_boefjes_and_settings_of_the_scan() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let dns = runtime.block_on(kat_tests::dns_server::start_dns_server_for(&[("profile.web.test", [127, 0, 80, 5].into())]));
    let complete = [("Content-Type", "text/html"), ("Content-Security-Policy", "default-src 'self'"), ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Permissions-Policy", "camera=()"), ("Referrer-Policy", "no-referrer")];
    let server = runtime.block_on(kat_tests::web_server::start_web_server("127.0.80.5:80", site(&complete, true))).unwrap_or_else(|e| panic!("{e}"));
    let ns = format!("127.0.0.1:{dns}");
    let env = [("BOEFJE_REMOTE_NS", ns.as_str()), ("BOEFJE_RECORD_TYPES", "A")];

    let quick = kat(dir.path(), &env, &["scan", "--profile", "quick", "profile.web.test"]);
    assert!(quick.ok, "{}\n{}", quick.stdout, quick.stderr);
    assert!(quick.stderr.contains("profile quick: enabled dns-records, port-scan; disabled webpage-analysis, security_txt_downloader, ssl-certificates, dns-zone (for organisation _dev)"), "{}", quick.stderr);
    assert!(quick.stdout.contains("IPService|internet|127.0.80.5|tcp|80|http") && quick.stdout.contains("2 boefje tasks"), "quick scans DNS and its ports only:\n{}", quick.stdout);

    let web = kat(dir.path(), &env, &["scan", "--profile", "web", "profile.web.test"]);
    assert!(web.ok, "{}\n{}", web.stdout, web.stderr);
    assert!(web.stderr.contains("profile web: enabled dns-records, port-scan, webpage-analysis, security_txt_downloader, ssl-certificates; disabled dns-zone"), "{}", web.stderr);
    assert!(web.stdout.contains("HTTPHeader|internet|127.0.80.5|tcp|80|http|internet|profile.web.test|http|internet|profile.web.test|80|/|x-frame-options"), "web fetches the site:\n{}", web.stdout);
    assert_eq!(findings(&web.stdout), vec![], "a complete site with a security.txt:\n{}", web.stdout);

    let unknown = kat(dir.path(), &env, &["scan", "--profile", "nope", "profile.web.test"]);
    assert!(!unknown.ok && unknown.stderr.contains("unknown profile \"nope\"; known: full, quick, web"), "{}", unknown.stderr);

    // A user's own profiles, from the plugin directory; one whose settings the boefje's schema refuses.
    let plugins = tempfile::tempdir().expect("plugin dir");
    std::fs::create_dir(plugins.path().join("profiles")).expect("profiles dir");
    std::fs::write(plugins.path().join("profiles/dns.json"), r#"{"name": "dns", "description": "DNS only", "boefjes": ["dns-records"]}"#).expect("write");
    std::fs::write(plugins.path().join("profiles/bad.json"), r#"{"name": "bad", "boefjes": ["port-scan"], "settings": {"port-scan": {"TIMEOUT_MS": "soon"}}}"#).expect("write");
    let plugin_dir = plugins.path().to_string_lossy().into_owned();
    let with_dir = [env[0], env[1], ("KATALOGUS_PLUGIN_DIR", plugin_dir.as_str())];
    let own = kat(dir.path(), &with_dir, &["scan", "--profile", "dns", "profile.web.test"]);
    assert!(own.ok && own.stderr.contains("profile dns: enabled dns-records; disabled port-scan,"), "{}\n{}", own.stdout, own.stderr);
    assert!(own.stdout.contains("1 boefje tasks"), "{}", own.stdout);
    let bad = kat(dir.path(), &with_dir, &["scan", "--profile", "bad", "profile.web.test"]);
    assert!(!bad.ok && bad.stderr.contains("profile bad: settings of port-scan:") && bad.stderr.contains("TIMEOUT_MS"), "{}", bad.stderr);
    drop(server);
}

#[test]
fn a_domain_without_a_dmarc_policy_is_a_finding_and_its_spf_record_counts() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    // The test zone example.test has an SOA record (it is a domain) and the TXT record v=spf1 -all, no _dmarc name.
    let dns = runtime.block_on(kat_tests::dns_server::start_dns_server());
    let ns = format!("127.0.0.1:{dns}");
    let closed = closed_port().to_string();
    let env = [("BOEFJE_REMOTE_NS", ns.as_str()), ("BOEFJE_RECORD_TYPES", "A,TXT,SOA"), ("BOEFJE_PORTS", closed.as_str()), ("BOEFJE_TIMEOUT_MS", "500")];
    let scan = kat(dir.path(), &env, &["scan", "example.test"]);
    assert!(scan.ok, "{}\n{}", scan.stdout, scan.stderr);
    let expected = vec![("medium".to_string(), "KAT-NO-DMARC".to_string(), "Hostname|internet|example.test".to_string())];
    assert_eq!(findings(&scan.stdout), expected, "DMARC missing, SPF present; the zone's other names are not domains:\n{}", scan.stdout);
}
