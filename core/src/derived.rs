//! Derived raw files (stoQ's extracted payloads): a normalizer may return
//! raw files besides objects, such as a certificate found in a response or
//! a file inside an archive. They are stored in Bytes as raw files of the
//! same boefje run and re-enter the pipeline by mime type. What the
//! pipeline must know about them travels as marker mime types, so Bytes,
//! its events and OpenKAT's clients carry them unchanged:
//!
//! - `kat/derived-from:<parent raw id>#<n>`: the raw file it came from, and
//!   its place among that file's derived files;
//! - `kat/derive-depth:<n>`: how many derivations deep it is (the depth
//!   limit, `KAT_MAX_DERIVE_DEPTH`, default 3, stops loops);
//! - `kat/dispatch-to:<normalizer id>`: only these normalizers read it
//!   (otherwise every normalizer that consumes one of its mime types);
//! - `kat/no-dispatch`: no normalizer reads it (`should_scan: false`).

use uuid::Uuid;

/// The marker of the parent raw file.
pub const DERIVED_FROM: &str = "kat/derived-from:";
/// The marker of the derivation depth.
pub const DERIVE_DEPTH: &str = "kat/derive-depth:";
/// The marker of a normalizer a derived file is meant for.
pub const DISPATCH_TO: &str = "kat/dispatch-to:";
/// The marker of a derived file no normalizer reads.
pub const NO_DISPATCH: &str = "kat/no-dispatch";
/// The variable that sets the depth limit.
pub const ENV_MAX_DEPTH: &str = "KAT_MAX_DERIVE_DEPTH";
/// The depth limit without `KAT_MAX_DERIVE_DEPTH`.
pub const DEFAULT_MAX_DEPTH: u32 = 3;

/// How many derivations deep a raw file with these mime types is (0: a boefje's own output).
pub fn depth<'a>(mime_types: impl IntoIterator<Item = &'a str>) -> u32 {
    mime_types.into_iter().filter_map(|m| m.strip_prefix(DERIVE_DEPTH)?.parse().ok()).max().unwrap_or(0)
}

/// The parent raw file and the place among its derived files of a raw file with these mime types (`None`: a
/// boefje's own output, or a marker that does not parse).
pub fn parent<'a>(mime_types: impl IntoIterator<Item = &'a str>) -> Option<(Uuid, usize)> {
    mime_types.into_iter().find_map(|m| {
        let (id, index) = m.strip_prefix(DERIVED_FROM)?.split_once('#')?;
        Some((Uuid::parse_str(id).ok()?, index.parse().ok()?))
    })
}

/// Whether normalizer `normalizer_id`, which consumes one of these mime types, may read the raw file.
pub fn dispatch_allows(mime_types: &[&str], normalizer_id: &str) -> bool {
    if mime_types.contains(&NO_DISPATCH) {
        return false;
    }
    let named: Vec<&str> = mime_types.iter().filter_map(|m| m.strip_prefix(DISPATCH_TO)).collect();
    named.is_empty() || named.contains(&normalizer_id)
}

/// The marker mime types of the `index`-th file derived from raw file `parent` at `depth`.
pub fn markers(parent: Uuid, index: usize, depth: u32, dispatch_to: &[String], should_scan: bool) -> Vec<String> {
    let mut out = vec![format!("{DERIVED_FROM}{parent}#{index}"), format!("{DERIVE_DEPTH}{depth}")];
    if should_scan {
        out.extend(dispatch_to.iter().map(|id| format!("{DISPATCH_TO}{id}")));
    } else {
        out.push(NO_DISPATCH.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_reads_back_from_the_markers() {
        let id = Uuid::now_v7();
        let marks = markers(id, 2, 1, &[], true);
        assert_eq!(parent(marks.iter().map(String::as_str)), Some((id, 2)));
        assert_eq!(parent(["boefje/dns-records", "kat/derived-from:nope#1"]), None);
    }

    #[test]
    fn markers_round_trip_into_depth_and_dispatch() {
        let parent = Uuid::nil();
        let m = markers(parent, 2, 1, &["cert-normalizer".to_string()], true);
        assert_eq!(m[0], "kat/derived-from:00000000-0000-0000-0000-000000000000#2");
        let all: Vec<&str> = m.iter().map(String::as_str).chain(["application/x-pem-file"]).collect();
        assert_eq!(depth(all.iter().copied()), 1);
        assert!(dispatch_allows(&all, "cert-normalizer") && !dispatch_allows(&all, "other"));
        let quiet = markers(parent, 0, 2, &["cert-normalizer".to_string()], false);
        let quiet: Vec<&str> = quiet.iter().map(String::as_str).collect();
        assert!(!dispatch_allows(&quiet, "cert-normalizer"));
        assert!(dispatch_allows(&["text/plain"], "any") && depth(["text/plain"]) == 0);
    }
}
