//! `kat_nuclei_normalize` on Nuclei's JSON lines output. `data/nuclei.jsonl`
//! is written by hand in the shape `nuclei -jsonl` prints (Nuclei itself is
//! not available here): two templates matching on one port, one of them on
//! two URLs, a CVE template with extracted results, and a blank line.

use kat_core::{Ooi, Reference};
use kat_plugins::normalizers::by_id;
use serde_json::Value;

const INPUT: &str = "IPPort|internet|127.0.0.1|tcp|8080";

fn normalize(raw: &[u8]) -> Result<Vec<Ooi>, String> {
    let input = Reference::parse(INPUT).expect("valid");
    by_id("kat_nuclei_normalize").expect("built-in").normalize(&input, raw).map_err(|e| e.to_string())
}

fn field<'a>(ooi: &'a Ooi, name: &str) -> &'a str {
    ooi.fields().get(name).and_then(Value::as_str).unwrap_or_default()
}

#[test]
fn each_matched_template_is_one_finding_on_the_scanned_object() {
    let objects = normalize(include_bytes!("data/nuclei.jsonl")).expect("parses");
    let keys: Vec<&str> = objects.iter().map(|o| o.reference().as_str()).collect();
    assert_eq!(
        keys,
        [
            "CVEFindingType|CVE-2021-41773",
            "Finding|IPPort|internet|127.0.0.1|tcp|8080|CVE-2021-41773",
            "KATFindingType|git-config",
            "Finding|IPPort|internet|127.0.0.1|tcp|8080|git-config",
            "KATFindingType|tech-detect",
            "Finding|IPPort|internet|127.0.0.1|tcp|8080|tech-detect",
        ]
    );
    let risks: Vec<&str> = objects.iter().filter(|o| o.object_type().ends_with("FindingType")).map(|o| field(o, "risk_severity")).collect();
    assert_eq!(risks, ["critical", "medium", "recommendation"], "Nuclei's severities, info as a recommendation");
    let git = objects.iter().find(|o| o.reference().as_str().ends_with("|git-config") && o.object_type() == "Finding").expect("git finding");
    assert_eq!(field(git, "description"), "Nuclei template matched at http://127.0.0.1:8080/.git/config; http://127.0.0.1:8081/.git/config");
    let cve = objects.iter().find(|o| o.reference().as_str() == "Finding|IPPort|internet|127.0.0.1|tcp|8080|CVE-2021-41773").expect("cve finding");
    assert!(field(cve, "description").ends_with("(extracted: root:x:0:0)"), "{}", field(cve, "description"));
    let git_type = objects.iter().find(|o| o.reference().as_str() == "KATFindingType|git-config").expect("type");
    assert!(field(git_type, "description").starts_with("Git Configuration - Detect: Git configuration was detected"), "{}", field(git_type, "description"));
}

#[test]
fn no_results_no_findings_and_a_bad_line_is_named() {
    assert_eq!(normalize(b"").map(|o| o.len()), Ok(0));
    assert_eq!(normalize(b"\n\n").map(|o| o.len()), Ok(0));
    let err = normalize(b"{\"template-id\": \"a\"}\nnot json\n").expect_err("line 2 is not a result");
    assert!(err.contains("line 2"), "{err}");
    let err = normalize(b"{\"info\": {}}\n").expect_err("no template id");
    assert!(err.contains("line 1") && err.contains("template-id"), "{err}");
    let err = normalize(b"{\"template-id\": \"a|b\"}\n").expect_err("a bar would break the key");
    assert!(err.contains("not a Nuclei template id"), "{err}");
    assert!(normalize(&[0xff, 0xfe]).expect_err("bytes").contains("UTF-8"));
}
