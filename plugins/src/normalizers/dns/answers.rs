//! Parser for the answer text inside OpenKAT's `boefje/dns-records` raw file.
//!
//! The `dns_records` field holds dnspython's `Message.to_text()` of each
//! answer, separated by blank lines, each headed `RESOLVER: <ip>`. Only the
//! `;ANSWER` section matters to the normalizer; the header lines give the
//! response code (`rcode NXDOMAIN`). Nothing here panics on any input.
//! Records borrow from the text (a raw file holds tens of thousands).

use std::borrow::Cow;

/// One resource record of an answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLine<'a> {
    /// Owner name as written, with its trailing dot.
    pub name: &'a str,
    /// Time to live in seconds.
    pub ttl: u32,
    /// Record type in upper case, e.g. `A`.
    pub rtype: Cow<'a, str>,
    /// The record data as written after the type (single spaces, except TXT which is kept as is).
    pub rdata: Cow<'a, str>,
}

/// One answer message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsResponse<'a> {
    /// The resolver that answered, from the `RESOLVER:` line.
    pub resolver: Option<&'a str>,
    /// The response code, e.g. `NOERROR` or `NXDOMAIN`.
    pub rcode: Option<&'a str>,
    /// The answer records.
    pub answer: Vec<RecordLine<'a>>,
}

/// Why the answer text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DnsTextError {
    /// 1-based line number within the whole text.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

#[derive(PartialEq)]
enum Section {
    Header,
    Question,
    Answer,
    Other,
}

/// Parse the whole `dns_records` text into its messages (empty blocks are skipped).
pub fn parse_responses(text: &str) -> Result<Vec<DnsResponse<'_>>, DnsTextError> {
    let mut out = Vec::new();
    let mut current = DnsResponse::default();
    let mut section = Section::Header;
    let mut has_content = false;
    for (index, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() {
            if has_content {
                out.push(std::mem::take(&mut current));
            }
            has_content = false;
            section = Section::Header;
            continue;
        }
        has_content = true;
        if let Some(resolver) = line.strip_prefix("RESOLVER:") {
            current.resolver = Some(resolver.trim());
            continue;
        }
        if line.starts_with(';') {
            section = match line {
                ";QUESTION" => Section::Question,
                ";ANSWER" => Section::Answer,
                ";AUTHORITY" | ";ADDITIONAL" => Section::Other,
                _ => section,
            };
            continue;
        }
        match section {
            Section::Header => {
                if let Some(rcode) = line.strip_prefix("rcode ") {
                    current.rcode = Some(rcode.trim());
                }
            }
            Section::Answer => current.answer.push(parse_record(line, index + 1)?),
            Section::Question | Section::Other => {}
        }
    }
    if has_content {
        out.push(current);
    }
    Ok(out)
}

fn parse_record(line: &str, number: usize) -> Result<RecordLine<'_>, DnsTextError> {
    let error = |message: String| DnsTextError { line: number, message };
    let mut tokens = line.split_whitespace();
    let (Some(name), Some(ttl), Some(class), Some(rtype)) = (tokens.next(), tokens.next(), tokens.next(), tokens.next()) else {
        return Err(error(format!("expected 'name ttl class type data', found {line:?}")));
    };
    let ttl = ttl.parse::<u32>().map_err(|_| error(format!("invalid TTL {ttl:?}")))?;
    if class != "IN" && class != "CH" && class != "HS" {
        return Err(error(format!("invalid class {class:?}")));
    }
    // Everything after the type token, as written.
    let rest = line.get(end_in(line, rtype)..).unwrap_or("").trim();
    let rtype: Cow<'_, str> = match rtype.bytes().any(|b| b.is_ascii_lowercase()) {
        true => rtype.to_ascii_uppercase().into(),
        false => rtype.into(),
    };
    let rdata: Cow<'_, str> = if rtype == "TXT" || single_spaced(rest) {
        rest.into()
    } else {
        tokens.collect::<Vec<_>>().join(" ").into()
    };
    if rdata.is_empty() {
        return Err(error(format!("{rtype} record without data")));
    }
    Ok(RecordLine { name, ttl, rtype, rdata })
}

/// Where `token`, a slice of `line` (as `split_whitespace` gives), ends in `line`.
fn end_in(line: &str, token: &str) -> usize {
    (token.as_ptr() as usize).saturating_sub(line.as_ptr() as usize) + token.len()
}

/// Whether `text` separates its words with single spaces only (no runs of spaces, no other whitespace).
fn single_spaced(text: &str) -> bool {
    if !text.is_ascii() {
        return !text.contains("  ") && !text.contains(|c: char| c.is_whitespace() && c != ' ');
    }
    let mut previous = 0u8;
    for &byte in text.as_bytes() {
        // `char::is_whitespace` on ASCII: space, tab, newline, vertical tab, form feed, carriage return.
        let other_whitespace = byte != b' ' && (byte.is_ascii_whitespace() || byte == 0x0b);
        if other_whitespace || byte == b' ' && previous == b' ' {
            return false;
        }
        previous = byte;
    }
    true
}

/// The fields of SOA record data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoaData {
    /// Primary name server.
    pub mname: String,
    /// Responsible mailbox.
    pub rname: String,
    /// Serial number.
    pub serial: u64,
    /// Refresh interval.
    pub refresh: u64,
    /// Retry interval.
    pub retry: u64,
    /// Expiry limit.
    pub expire: u64,
    /// Minimum (negative caching) TTL.
    pub minimum: u64,
}

/// Parse SOA data: `mname rname serial refresh retry expire minimum`.
pub fn parse_soa(rdata: &str) -> Option<SoaData> {
    let t: Vec<&str> = rdata.split_whitespace().collect();
    let [mname, rname, serial, refresh, retry, expire, minimum] = t.as_slice() else { return None };
    Some(SoaData {
        mname: mname.to_string(),
        rname: rname.to_string(),
        serial: serial.parse().ok()?,
        refresh: refresh.parse().ok()?,
        retry: retry.parse().ok()?,
        expire: expire.parse().ok()?,
        minimum: minimum.parse().ok()?,
    })
}

/// Parse MX data: `(preference, exchange)`.
pub fn parse_mx(rdata: &str) -> Option<(u16, String)> {
    let mut t = rdata.split_whitespace();
    let preference = t.next()?.parse().ok()?;
    let exchange = t.next()?.to_string();
    t.next().is_none().then_some((preference, exchange))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "RESOLVER: 2001:500:8f::53\nid 53153\nopcode QUERY\nrcode NOERROR\nflags QR RD RA\n;QUESTION\nwww.example.nl. IN A\n;ANSWER\nwww.example.nl. 10800 IN CNAME webredir.examplenl.nl.\nwebredir.examplenl.nl. 10800 IN A 94.198.159.35\n;AUTHORITY\n;ADDITIONAL\n";

    #[test]
    fn parses_blocks() {
        let text = format!("{BLOCK}\nRESOLVER: 1.1.1.1\nrcode NXDOMAIN\n;ANSWER\n;AUTHORITY\nx. 5 IN SOA a. b. 1 2 3 4 5\n");
        let r = parse_responses(&text).expect("parses");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].resolver, Some("2001:500:8f::53"));
        assert_eq!(r[0].answer.len(), 2);
        assert_eq!(r[0].answer[1], RecordLine { name: "webredir.examplenl.nl.", ttl: 10800, rtype: "A".into(), rdata: "94.198.159.35".into() });
        assert_eq!(r[1].rcode, Some("NXDOMAIN"));
        assert!(r[1].answer.is_empty(), "authority records are not answers");
    }

    #[test]
    fn single_spacing_is_judged_as_char_whitespace_says() {
        let by_chars = |text: &str| !text.contains("  ") && !text.contains(|c: char| c.is_whitespace() && c != ' ');
        for text in ["10 mx.a.nl.", "10  mx.a.nl.", "10\tmx", "a\u{0b}b", "a\u{0c}b", "a\rb", "a\u{a0}b", "é é", "é  é", "", " ", "a "] {
            assert_eq!(single_spaced(text), by_chars(text), "{text:?}");
        }
        let r = parse_responses(";ANSWER\nx.\t5 IN\tMX\t10   mx.a.nl.\n").expect("parses");
        assert_eq!((r[0].answer[0].rtype.as_ref(), r[0].answer[0].rdata.as_ref()), ("MX", "10 mx.a.nl."), "tabs between the tokens, spaces in the data");
        let r = parse_responses(";ANSWER\nx. 5 IN a 1.2.3.4\n").expect("parses");
        assert_eq!((r[0].answer[0].rtype.as_ref(), r[0].answer[0].rdata.as_ref()), ("A", "1.2.3.4"), "a type in lower case");
    }

    #[test]
    fn keeps_txt_data_as_written() {
        let r = parse_responses(";ANSWER\nx. 5 IN TXT \"a  b\" \"c\\\"d\"\n").expect("parses");
        assert_eq!(r[0].answer[0].rdata, "\"a  b\" \"c\\\"d\"");
    }

    #[test]
    fn bad_lines_name_their_number() {
        let err = parse_responses("RESOLVER: x\n;ANSWER\nx. soon IN A 1.2.3.4\n").expect_err("bad ttl");
        assert_eq!(err.line, 3);
        assert!(err.message.contains("TTL"));
        assert!(parse_responses(";ANSWER\nx. 5 IN\n").is_err());
        assert!(parse_responses(";ANSWER\nx. 5 IN A\n").is_err());
    }

    #[test]
    fn soa_and_mx() {
        let soa = parse_soa("ns1.examplenl.nl. hostmaster.sidn.nl. 2021111101 14400 7200 1209600 86400").expect("soa");
        assert_eq!((soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum), (2021111101, 14400, 7200, 1209600, 86400));
        assert_eq!(parse_mx("10 mail.example.nl."), Some((10, "mail.example.nl.".into())));
        assert_eq!(parse_mx("x mail."), None);
        assert_eq!(parse_soa("a. b. 1 2"), None);
    }

    #[test]
    fn odd_input_never_panics() {
        for text in ["", "\n\n\n", ";ANSWER", ";ANSWER\n\u{0}", "RESOLVER:", "rcode", ";ANSWER\n. 4294967296 IN A x", "é ;ANSWER é"] {
            let _ = parse_responses(text);
        }
        assert_eq!(parse_responses("\n\n").map(|r| r.len()), Ok(0));
    }
}
