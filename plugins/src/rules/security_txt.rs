//! `missing-security-txt`: a `Website` without a `SecurityTXT` gives
//! `KAT-NO-SECURITY-TXT` (as OpenKAT's bit does). Until
//! `security_txt_downloader` has looked, a website counts as having none;
//! the finding goes when a security.txt is stored for it.

use kat_core::builtin::Step;
use kat_core::{CoreError, Ooi};

use super::finding_types::NO_SECURITY_TXT;
use super::{finding, Rule};

/// The missing security.txt rule.
#[derive(Debug, Default)]
pub struct MissingSecurityTxt;

const TO_SECURITY_TXT: &[Step] = &[Step::ReferencedBy { object_type: "SecurityTXT", field: "website" }];

impl Rule for MissingSecurityTxt {
    fn id(&self) -> &'static str {
        "missing-security-txt"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["Website"]
    }

    fn parameters(&self) -> &'static [&'static [Step]] {
        &[TO_SECURITY_TXT]
    }

    fn evaluate(&self, website: &Ooi, security_txts: &[Ooi]) -> Result<Vec<Ooi>, CoreError> {
        if !security_txts.is_empty() {
            return Ok(Vec::new());
        }
        Ok(finding(website.reference(), &NO_SECURITY_TXT, "This website has no security.txt.".into())?.into())
    }
}
