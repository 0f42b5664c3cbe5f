//! The plugin folders of `plugin-dir/` that wrap real tools, run as a user
//! runs them (`KATALOGUS_PLUGIN_DIR`, `kat run-boefje`, `kat
//! run-normalizer`) against servers this test starts on a loopback address
//! of its own (127.0.80.6). The tools come from Debian: `scripts/services.sh`
//! installs them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn kat(data: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kat")).args(args).env("KAT_DATA_DIR", data).envs(env.iter().copied()).output().expect("kat runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect("127.0.80.6:8081").is_err() {
        assert!(std::time::Instant::now() < deadline, "python3 -m http.server did not listen on 127.0.80.6:8081");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins = plugin_dir();
    let plugins = plugins.to_str().expect("utf-8 path");
    let env = [("KATALOGUS_PLUGIN_DIR", plugins), ("BOEFJE_PORTS", "8081,8082")];

    let (ok, stdout, stderr) = kat(dir.path(), &env, &["run-boefje", "_dev", "nmap", "IPAddressV4|internet|127.0.80.6"]);
    assert!(ok, "{stdout}\n{stderr}");
    let raw_id = stdout.lines().next().unwrap_or_default().trim().to_string();
    let (_, meta, _) = kat(dir.path(), &[], &["show-raw", "--meta", &raw_id]);
    assert!(meta.contains("\"boefje/nmap\""), "{meta}");
    let (_, xml, _) = kat(dir.path(), &[], &["show-raw", &raw_id]);
    assert!(xml.contains("<nmaprun") && xml.contains("portid=\"8081\""), "nmap's own XML: {xml}");

    let (ok, objects, stderr) = kat(dir.path(), &[], &["run-normalizer", "kat_nmap_normalize", &raw_id]);
    assert!(ok, "{stderr}");
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
    let raw_id = stdout.lines().next().unwrap_or_default().trim().to_string();
    let (ok, objects, stderr) = kat(dir.path(), &[], &["run-normalizer", "kat_nuclei_normalize", &raw_id]);
    assert!(ok, "{stderr}");
    assert!(objects.contains(&format!("\"Finding|{website}|git-config\"")) && objects.contains("\"KATFindingType|git-config\""), "{objects}");

    // Without a binary in the folder or on PATH the run fails and says why in its log.
    std::fs::remove_file(folder.join("nuclei")).expect("remove the stand-in");
    let (ok, _, _) = kat(dir.path(), &env, &["run-boefje", "_dev", "nuclei", website]);
    assert!(!ok, "a run without nuclei fails");
}
