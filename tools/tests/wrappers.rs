//! The plugin folders of `plugin-dir/` that wrap real tools, run as a user
//! runs them (`KATALOGUS_PLUGIN_DIR`, `kat run-boefje`, `kat
//! run-normalizer`) against servers this test starts on a loopback address
//! of its own (127.0.80.6 TCP and UDP, 127.0.80.9; masscan in a private network
//! namespace). The tools come from Debian: `scripts/services.sh`
//! installs them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn kat(data: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    kat_tests::cli::run(env!("CARGO_BIN_EXE_kat"), data, env, args)
}

/// The first raw file a `run-boefje` printed (`stdout`): its id and contents, its metadata checked to carry each
/// of `tags`.
fn raw_file(data: &Path, stdout: &str, tags: &[&str]) -> (String, String) {
    let raw_id = stdout.lines().next().unwrap_or_default().trim().to_string();
    let (_, meta, _) = kat(data, &[], &["show-raw", "--meta", &raw_id]);
    for tag in tags {
        assert!(meta.contains(&format!("\"{tag}\"")), "tagged {tag}: {meta}");
    }
    let (_, contents, _) = kat(data, &[], &["show-raw", &raw_id]);
    (raw_id, contents)
}

/// The objects (JSON lines) `normalizer` gives for raw file `raw_id`; the run must succeed.
fn normalized(data: &Path, normalizer: &str, raw_id: &str) -> String {
    let (ok, objects, stderr) = kat(data, &[], &["run-normalizer", normalizer, raw_id]);
    assert!(ok, "{normalizer}: {stderr}");
    objects
}

fn plugin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-dir")
}

/// A child process killed when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require(tool: &str) {
    let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is not installed: run scripts/services.sh (it installs nmap, masscan and testssl.sh from Debian)");
}

#[test]
fn nmap_finds_a_web_server_on_an_unusual_port_and_its_normalizer_names_the_service() {
    require("nmap");
    // Python's own HTTP server: a real one, which nmap's service probes know.
    let site = tempfile::tempdir().expect("site dir");
    let server = Server(Command::new("python3").args(["-m", "http.server", "8081", "--bind", "127.0.80.6", "--directory"]).arg(site.path()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("python3 runs"));
    wait_for("127.0.80.6:8081", "python3 -m http.server");
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = plugin_dir();
    let plugins = plugins.to_str().expect("utf-8 path");
    let env = [("KATALOGUS_PLUGIN_DIR", plugins), ("BOEFJE_PORTS", "8081,8082")];

    let (ok, stdout, stderr) = kat(dir.path(), &env, &["run-boefje", "_dev", "nmap", "IPAddressV4|internet|127.0.80.6"]);
    assert!(ok, "{stdout}\n{stderr}");
    let (raw_id, xml) = raw_file(dir.path(), &stdout, &["boefje/nmap"]);
    assert!(xml.contains("<nmaprun") && xml.contains("portid=\"8081\""), "nmap's own XML: {xml}");

    let objects = normalized(dir.path(), "kat_nmap_normalize", &raw_id);
    assert!(objects.contains("\"IPService|internet|127.0.80.6|tcp|8081|http\""), "service detection names the web server: {objects}");
    assert!(!objects.contains("|8082"), "the closed port is not listed: {objects}");
    drop(server);

    let (ok, _, stderr) = kat(dir.path(), &[("KATALOGUS_PLUGIN_DIR", plugins), ("BOEFJE_PORTS", "80;rm")], &["run-boefje", "_dev", "nmap", "IPAddressV4|internet|127.0.80.6"]);
    assert!(!ok && stderr.contains("PORTS"), "a setting outside the schema's pattern never reaches nmap: {stderr}");
}

/// Copy a shipped plugin folder into `to`.
fn copy_folder(name: &str, to: &Path) -> PathBuf {
    let from = plugin_dir().join(name);
    let dest = to.join(name);
    std::fs::create_dir_all(&dest).expect("folder");
    for entry in std::fs::read_dir(&from).expect("shipped folder").flatten() {
        std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copy");
    }
    dest
}

#[test]
fn nuclei_runs_the_binary_in_its_folder_with_the_settings_and_its_output_becomes_findings() {
    // No nuclei binary is available here: a stand-in in the plugin folder records its arguments and answers
    // with recorded nuclei -jsonl output.
    let plugins = tempfile::tempdir().expect("plugin dir");
    let folder = copy_folder("kat_nuclei", plugins.path());
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/tests/data/nuclei.jsonl"), folder.join("recorded.jsonl")).expect("recorded output");
    let stub = "#!/usr/bin/env python3\nimport os, sys\nhere = os.path.dirname(os.path.abspath(__file__))\nopen(os.path.join(here, 'argv.txt'), 'w').write('\\n'.join(sys.argv[1:]))\nsys.stdout.write(open(os.path.join(here, 'recorded.jsonl')).read())\n";
    std::fs::write(folder.join("nuclei"), stub).expect("stub");
    let mut permissions = std::fs::metadata(folder.join("nuclei")).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(folder.join("nuclei"), permissions).expect("chmod");
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin_dir = plugins.path().to_str().expect("utf-8 path");
    let env = [("KATALOGUS_PLUGIN_DIR", plugin_dir), ("BOEFJE_TEMPLATES", "http/exposures/,http/technologies/"), ("BOEFJE_SEVERITY", "info,medium")];
    let website = "Website|internet|127.0.80.7|tcp|8443|https|internet|www.web.test";

    let (ok, stdout, stderr) = kat(dir.path(), &env, &["run-boefje", "_dev", "nuclei", website]);
    assert!(ok, "{stdout}\n{stderr}");
    let argv = std::fs::read_to_string(folder.join("argv.txt")).expect("the stand-in ran");
    let argv: Vec<&str> = argv.lines().collect();
    assert_eq!(argv, ["-u", "https://www.web.test:8443/", "-jsonl", "-silent", "-disable-update-check", "-no-color", "-rate-limit", "50", "-t", "http/exposures/,http/technologies/", "-severity", "info,medium"]);
    let (raw_id, _) = raw_file(dir.path(), &stdout, &["boefje/nuclei"]);
    let objects = normalized(dir.path(), "kat_nuclei_normalize", &raw_id);
    assert!(objects.contains(&format!("\"Finding|{website}|git-config\"")) && objects.contains("\"KATFindingType|git-config\""), "{objects}");

    // Without a binary in the folder or on PATH the run fails and says why in its log.
    std::fs::remove_file(folder.join("nuclei")).expect("remove the stand-in");
    let (ok, _, _) = kat(dir.path(), &env, &["run-boefje", "_dev", "nuclei", website]);
    assert!(!ok, "a run without nuclei fails");
}

/// Sets up a private network namespace for masscan and then runs the command given after the script:
/// masscan injects raw Ethernet frames, which the loopback interface does not take, so it sends on one end
/// of a veth pair (`ka`, source 10.99.0.1, an address no interface has) to the other (`kb`), where the
/// kernel delivers them to 127.0.0.1 (`route_localnet`) and routes its answers back through `kb`. The
/// namespace has no way out: nothing leaves this machine, or even the namespace.
const MASSCAN_NETNS: &str = r#"set -e
ip link set lo up
ip link add ka type veth peer name kb
ip link set ka address 02:00:00:00:00:0a
ip link set kb address 02:00:00:00:00:0b
ip link set ka up
ip link set kb up
ip addr add 10.99.0.2/24 dev kb
sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.kb.route_localnet=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.kb.rp_filter=0
python3 -m http.server 8099 --bind 127.0.0.1 >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
python3 -c 'import socket, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", 8099), 0.2).close(); break
    except OSError:
        time.sleep(0.05)'
"$@"
"#;

#[test]
fn masscan_finds_the_open_port_of_a_server_and_its_normalizer_gives_the_port() {
    require("masscan");
    require("unshare");
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = plugin_dir();
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", MASSCAN_NETNS, "netns", env!("CARGO_BIN_EXE_kat"), "run-boefje", "_dev", "masscan", "IPAddressV4|internet|127.0.0.1"])
        .env("KAT_DATA_DIR", dir.path())
        .env("KATALOGUS_PLUGIN_DIR", &plugins)
        .envs([("BOEFJE_PORTS", "8099,8100"), ("BOEFJE_WAIT", "1"), ("BOEFJE_ADAPTER", "ka"), ("BOEFJE_ADAPTER_IP", "10.99.0.1"), ("BOEFJE_ADAPTER_MAC", "02:00:00:00:00:0a"), ("BOEFJE_ROUTER_MAC", "02:00:00:00:00:0b")])
        .output()
        .expect("unshare runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "masscan in a private network namespace (needs root for unshare -n and raw sockets): {stdout}\n{stderr}");
    let (raw_id, json) = raw_file(dir.path(), &stdout, &["boefje/masscan"]);
    assert!(json.contains("\"ip\": \"127.0.0.1\"") && json.contains("\"port\": 8099"), "masscan's own JSON: {json}");

    let objects = normalized(dir.path(), "kat_masscan_normalize", &raw_id);
    assert!(objects.contains("\"IPPort|internet|127.0.0.1|tcp|8099\""), "the open port: {objects}");
    assert!(!objects.contains("|8100"), "the closed port is not listed: {objects}");

    let (ok, _, stderr) = kat(dir.path(), &[("KATALOGUS_PLUGIN_DIR", plugins.to_str().expect("utf-8")), ("BOEFJE_ADAPTER", "lo --ping")], &["run-boefje", "_dev", "masscan", "IPAddressV4|internet|127.0.0.1"]);
    assert!(!ok && stderr.contains("ADAPTER"), "a setting outside the schema's pattern never reaches masscan: {stderr}");

    let (ok, stdout, stderr) = kat(dir.path(), &[("KATALOGUS_PLUGIN_DIR", plugins.to_str().expect("utf-8"))], &["run-boefje", "_dev", "masscan", "IPAddressV4|internet|127.0.0.1"]);
    let mut said = stderr;
    for raw_id in stdout.split_whitespace() {
        said.push_str(&kat(dir.path(), &[], &["show-raw", raw_id]).1);
    }
    assert!(!ok && said.contains("cannot scan the loopback address"), "a loopback scan that would find nothing fails and says why: {said}");
}

fn wait_for(address: &str, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not listen on {address}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn testssl_lists_the_suites_a_server_offers_and_its_normalizer_gives_them_per_protocol() {
    require("testssl");
    require("openssl");
    let keys = tempfile::tempdir().expect("key dir");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tls.test", "-keyout", "key.pem", "-out", "cert.pem"])
        .current_dir(keys.path())
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // A real TLS server offering one suite without forward secrecy (AES256-SHA) beside a good one.
    let server = Server(
        Command::new("openssl")
            .args(["s_server", "-accept", "127.0.80.9:4433", "-cert", "cert.pem", "-key", "key.pem", "-www", "-quiet", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA:@SECLEVEL=0"])
            .current_dir(keys.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server runs"),
    );
    wait_for("127.0.80.9:4433", "openssl s_server");
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = plugin_dir();
    let env = [("KATALOGUS_PLUGIN_DIR", plugins.to_str().expect("utf-8 path")), ("BOEFJE_TIMEOUT", "10")];
    let service = "IPService|internet|127.0.80.9|tcp|4433|https";

    let (ok, stdout, stderr) = kat(dir.path(), &env, &["run-boefje", "_dev", "testssl-sh-ciphers", service]);
    assert!(ok, "{stdout}\n{stderr}");
    drop(server);
    let (raw_id, json) = raw_file(dir.path(), &stdout, &["boefje/testssl-sh-ciphers", "openkat/testssl-sh-ciphers-output"]);
    assert!(json.contains("\"cipher-tls1_2_x35\""), "testssl.sh's own JSON: {json}");

    let objects = normalized(dir.path(), "kat_ssl_test_ciphers_normalize", &raw_id);
    assert!(objects.contains("\"TLSCipher|internet|127.0.80.9|tcp|4433|https\""), "{objects}");
    assert!(objects.contains("AES256-SHA") && objects.contains("ECDHE-RSA-AES128-GCM-SHA256"), "both suites: {objects}");

    // A service that is not TLS is not scanned: the raw is an empty list.
    let (ok, stdout, stderr) = kat(dir.path(), &env, &["run-boefje", "_dev", "testssl-sh-ciphers", "IPService|internet|127.0.80.9|tcp|22|ssh"]);
    assert!(ok, "{stderr}");
    let (_, json) = raw_file(dir.path(), &stdout, &["boefje/testssl-sh-ciphers"]);
    assert_eq!(json.trim(), "[]");
}

#[test]
fn nmap_udp_runs_the_tcp_folders_program_with_a_udp_scan_and_finds_an_answering_port() {
    require("nmap");
    // A UDP service that answers whatever it gets (an echo server): nmap sees the answer, so the port is open.
    let socket = std::net::UdpSocket::bind("127.0.80.6:7007").expect("bind 127.0.80.6:7007/udp");
    socket.set_read_timeout(Some(std::time::Duration::from_millis(200))).expect("timeout");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let echo = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((n, peer)) = socket.recv_from(&mut buf) {
                    let _ = socket.send_to(if n == 0 { b"\n" } else { &buf[..n] }, peer);
                }
            }
        })
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = plugin_dir();
    let env = [("KATALOGUS_PLUGIN_DIR", plugins.to_str().expect("utf-8 path")), ("BOEFJE_PORTS", "7007,7008")];

    let (ok, stdout, stderr) = kat(dir.path(), &env, &["run-boefje", "_dev", "nmap-udp", "IPAddressV4|internet|127.0.80.6"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    echo.join().expect("echo server");
    assert!(ok, "{stdout}\n{stderr}");
    let (raw_id, xml) = raw_file(dir.path(), &stdout, &["boefje/nmap-udp"]);
    assert!(xml.contains("type=\"udp\""), "a UDP scan: {xml}");

    let objects = normalized(dir.path(), "kat_nmap_normalize", &raw_id);
    assert!(objects.contains("\"IPPort|internet|127.0.80.6|udp|7007\""), "the answering port: {objects}");
    assert!(!objects.contains("|7008"), "the closed port is not listed: {objects}");
}
