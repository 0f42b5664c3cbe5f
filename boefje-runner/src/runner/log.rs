//! The job log of a local run: the plugin's standard error, one record a
//! line. A line starting `DEBUG:`, `INFO:`, `WARNING:` or `ERROR:` has that
//! level (Stalker's job log levels); any other line is `INFO`.
//!
//! The log is stored as a raw file tagged `boefje/log` and its lines are
//! repeated in the runner's own log at their level. Before either, the values
//! of the boefje's secret settings are replaced by `***`, so a plugin that
//! prints its token does not put it into Bytes or the runner's log.

use std::fmt;

/// The level of one job log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `DEBUG:`
    Debug,
    /// `INFO:`, and lines without a level.
    Info,
    /// `WARNING:`
    Warning,
    /// `ERROR:`
    Error,
}

impl LogLevel {
    /// The prefix as a plugin writes it, without the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a job log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: LogLevel,
    /// The text after the level prefix (the whole line when it has none).
    pub text: String,
}

const LEVELS: [LogLevel; 4] = [LogLevel::Debug, LogLevel::Info, LogLevel::Warning, LogLevel::Error];

/// Split a job log into lines with their levels (invalid UTF-8 is replaced, a final empty line dropped).
pub fn parse(log: &[u8]) -> Vec<LogLine> {
    String::from_utf8_lossy(log).lines().map(parse_line).collect()
}

/// The level and text of one line.
pub fn parse_line(line: &str) -> LogLine {
    for level in LEVELS {
        if let Some(rest) = line.strip_prefix(level.as_str()).and_then(|r| r.strip_prefix(':')) {
            return LogLine { level, text: rest.strip_prefix(' ').unwrap_or(rest).to_string() };
        }
    }
    LogLine { level: LogLevel::Info, text: line.to_string() }
}

/// `log` with every occurrence of each non-empty `secret` replaced by `***`.
pub fn redact(log: &[u8], secrets: &[&str]) -> Vec<u8> {
    let mut out = log.to_vec();
    for secret in secrets.iter().map(|s| s.as_bytes()).filter(|s| !s.is_empty()) {
        let mut replaced = Vec::with_capacity(out.len());
        let mut at = 0;
        while at < out.len() {
            if out[at..].starts_with(secret) {
                replaced.extend_from_slice(b"***");
                at += secret.len();
            } else {
                replaced.push(out[at]);
                at += 1;
            }
        }
        out = replaced;
    }
    out
}

/// Repeat a job's log lines in the runner's log at their levels.
pub fn emit(boefje: &str, task: &uuid::Uuid, lines: &[LogLine]) {
    for line in lines {
        let text = line.text.as_str();
        match line.level {
            LogLevel::Debug => tracing::debug!(boefje, %task, "job log: {text}"),
            LogLevel::Info => tracing::info!(boefje, %task, "job log: {text}"),
            LogLevel::Warning => tracing::warn!(boefje, %task, "job log: {text}"),
            LogLevel::Error => tracing::error!(boefje, %task, "job log: {text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_give_levels() {
        let lines = parse(b"DEBUG: a\nINFO:b\nWARNING: c\r\nERROR: d\nplain\nERRORS: not a level\n\xff\n");
        let levels: Vec<(LogLevel, &str)> = lines.iter().map(|l| (l.level, l.text.as_str())).collect();
        assert_eq!(levels, [
            (LogLevel::Debug, "a"),
            (LogLevel::Info, "b"),
            (LogLevel::Warning, "c"),
            (LogLevel::Error, "d"),
            (LogLevel::Info, "plain"),
            (LogLevel::Info, "ERRORS: not a level"),
            (LogLevel::Info, "\u{FFFD}"),
        ]);
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact(b"token=s3cret and s3cret again", &["s3cret", ""]), b"token=*** and *** again");
        assert_eq!(redact(b"nothing", &[]), b"nothing");
    }
}
