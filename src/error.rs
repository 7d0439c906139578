//! Errors with their context (which file, rule, statement), exit codes
//! (they follow grep), and helpers for messages that must never show a
//! secret.
//!
//! A run's failures are [`Error`]s; the command line turns whatever error
//! ends a command into exit code 2 in one place (`main`), and
//! `run::exit_code` decides between 0, 1 and 2 for a run that finished.
//! A parser's reason for rejecting a line is not an error but data (a
//! `String` in the report), and a job file's problems are a list
//! (`config::Problems`), each naming its key.

use std::process::ExitCode;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file that could not be opened, read or written.
    #[error("{path}: {what}")]
    File {
        path: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A statement that failed, named by what it was for.
    #[error("{what}")]
    Db {
        what: String,
        #[source]
        source: postgres::Error,
    },
    /// A stream to or from the database (COPY) that failed.
    #[error("{what}")]
    DbStream {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The server sent what no PostgreSQL sends.
    #[error("{0}")]
    Protocol(String),
    /// One rule's detection failed.
    #[error("rule {rule:?}")]
    Rule {
        rule: String,
        #[source]
        source: Box<Error>,
    },
    /// A path pattern that cannot be used.
    #[error("{pattern}: {reason}")]
    Pattern { pattern: String, reason: String },
    /// A format that cannot be used (`apache:...` with a bad directive).
    #[error("format {format:?}: {reason}")]
    Format { format: String, reason: String },
    /// A run of the same job holds its lock.
    #[error("job {0:?} is already running (another logtrack run holds its lock)")]
    JobLocked(String),
    /// `user add` of a name that is taken.
    #[error("user {0:?} exists already")]
    UserExists(String),
    /// A user command named nobody.
    #[error("no user {0:?}")]
    NoSuchUser(String),
    /// A command needs a database and none is configured.
    #[error("this command reads the database: set [database] url in the job, LOGTRACK_DATABASE_URL, or --database-url")]
    NoDatabase,
}

impl Error {
    /// For `map_err`: a failed statement, named.
    pub fn db(what: impl Into<String>) -> impl FnOnce(postgres::Error) -> Error {
        let what = what.into();
        move |source| Error::Db { what, source }
    }

    /// For `map_err`: a failed COPY stream, named.
    pub fn db_io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::DbStream { what, source }
    }

    /// For `map_err`: a file operation that failed.
    pub fn file(
        path: impl Into<String>,
        what: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::File { path, what, source }
    }

    /// This error, as part of rule `rule`'s detection.
    pub fn in_rule(self, rule: &str) -> Error {
        Error::Rule { rule: rule.to_string(), source: Box::new(self) }
    }
}

/// `0`: the job ran. `1`: it ran and an alert at or above `--fail-on` fired.
/// `2`: it could not run or failed. `75`: another run of the job was
/// running (nothing was done; a scheduler may retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok,
    AlertFired,
    Failed,
    /// Another run of the job holds its lock: try again later (`EX_TEMPFAIL`).
    Locked,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::AlertFired => 1,
            Exit::Failed => 2,
            Exit::Locked => 75,
        }
    }

    pub fn from_code(code: u8) -> Exit {
        match code {
            0 => Exit::Ok,
            1 => Exit::AlertFired,
            75 => Exit::Locked,
            _ => Exit::Failed,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// A database URL or key=value connection string with every password
/// replaced by `***`, for messages.
///
/// It reads the string as the driver does (`tokio_postgres::Config`'s
/// parsers, which follow libpq), but errs towards hiding more: in a URL the
/// user information runs to the *last* `@` (a password may hold an `@`
/// that the driver would take as the end), and every `password` parameter
/// is masked, not only the one the driver keeps. A key=value string that
/// does not parse is masked from its first `password` on.
pub fn redact_url(url: &str) -> String {
    let mut out = match ["postgres://", "postgresql://"].iter().find(|s| url.starts_with(**s)) {
        Some(scheme) => format!("{scheme}{}", redact_url_rest(&url[scheme.len()..])),
        None => redact_key_values(url),
    };
    // And whatever password the driver itself reads from it, wherever it
    // still stands (a safety net under the rules above).
    let config: Result<postgres::Config, _> = url.parse();
    if let Some(pw) = config.ok().as_ref().and_then(|c| c.get_password()) {
        if let Ok(pw) = std::str::from_utf8(pw) {
            if pw.len() >= 3 {
                out = out.replace(pw, "***");
            }
        }
    }
    out
}

fn redact_url_rest(rest: &str) -> String {
    let mut out = rest.to_string();
    // user:password@host — to the last '@', wherever it is.
    if let Some(at) = out.rfind('@') {
        if let Some(colon) = out[..at].find(':') {
            out.replace_range(colon + 1..at, "***");
        }
    }
    // ?password=...&... (the key may be percent-encoded).
    let Some(q) = out.find('?') else { return out };
    let params: Vec<String> = out[q + 1..]
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _))
                if percent_encoding::percent_decode_str(k)
                    .decode_utf8_lossy()
                    .trim()
                    .eq_ignore_ascii_case("password") =>
            {
                format!("{k}=***")
            }
            _ => kv.to_string(),
        })
        .collect();
    format!("{}?{}", &out[..q], params.join("&"))
}

/// `host=db password = 'a b' user=x`: the driver's grammar (keyword, `=`
/// with optional spaces, a value that is 'quoted' or runs to white space,
/// backslash escapes in both).
fn redact_key_values(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let ws = |c: u8| c.is_ascii_whitespace();
    let fallback = || match s.to_ascii_lowercase().find("password") {
        Some(p) => format!("{}password ***", &s[..p]),
        None => s.to_string(),
    };
    loop {
        let start = i;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        let key_start = i;
        while i < b.len() && !ws(b[i]) && b[i] != b'=' {
            i += 1;
        }
        let key = &s[key_start..i];
        if key.is_empty() {
            out.push_str(&s[start..]);
            return out;
        }
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return fallback();
        }
        i += 1;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        let value_start = i;
        if b.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match b.get(i) {
                    None => return fallback(),
                    Some(b'\\') => i += 2,
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
        } else {
            while i < b.len() && !ws(b[i]) {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
        }
        if value_start == i {
            return fallback();
        }
        let i_end = i.min(b.len());
        out.push_str(&s[start..value_start]);
        if key.eq_ignore_ascii_case("password") {
            out.push_str("***");
        } else {
            out.push_str(&s[value_start..i_end]);
        }
        i = i_end;
    }
}

/// Any text that may quote a connection string (a driver's message, a
/// configuration file's syntax error with the offending line): URLs and
/// `password` parameters in it are masked, and a quoted source line that
/// holds either is left out.
pub fn redact_text(text: &str) -> String {
    let secret = |l: &str| l.contains("://") || l.to_ascii_lowercase().contains("password");
    let mut out = Vec::new();
    for line in text.lines() {
        let is_source = line.trim_start().split_once('|').is_some_and(|(n, _)| {
            let n = n.trim();
            !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())
        });
        if is_source && secret(line) {
            let (n, _) = line.split_once('|').expect("checked above");
            out.push(format!("{n}| (line not shown: it holds a database URL or password)"));
        } else if secret(line) {
            out.push(redact_words(line));
        } else {
            out.push(line.to_string());
        }
    }
    out.join("\n")
}

/// Masks each connection-string-like part of one line.
fn redact_words(line: &str) -> String {
    // A web address keeps its scheme and host: its path and query often
    // hold a token (webhooks).
    if let Some(p) = line.find("http://").or_else(|| line.find("https://")) {
        let start = p + line[p..].find("://").expect("found above") + 3;
        let end = line[start..].find(['"', '\'', ' ', '`', '>']).map_or(line.len(), |e| start + e);
        let host_end = line[start..end].find(['/', '?', '#']).map_or(end, |e| start + e);
        let host = &line[start..host_end];
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let masked = if host_end < end { "/***" } else { "" };
        return format!(
            "{}{}{host}{masked}{}",
            redact_words(&line[..p]),
            &line[p..start],
            redact_words(&line[end..])
        );
    }
    if let Some(p) = line.find("postgres") {
        let end = line[p..].find(['"', '\'', ' ', '`']).map_or(line.len(), |e| p + e);
        return format!(
            "{}{}{}",
            redact_words(&line[..p]),
            redact_url(&line[p..end]),
            redact_words(&line[end..])
        );
    }
    match line.to_ascii_lowercase().find("password") {
        Some(p) => format!("{}{}", &line[..p], redact_key_values(&line[p..])),
        None => line.to_string(),
    }
}

/// Writes one line to stderr. A stderr that is closed, full or a broken
/// pipe (some supervisors) must not stop a run, so write errors are ignored.
pub fn say(line: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes()).and_then(|()| err.write_all(b"\n"));
}

/// True when an error chain ends in a broken pipe (`logtrack parse | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Levenshtein distance, for "did you mean" hints in error messages.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://lt:s3cret@db:5432/x"), "postgres://lt:***@db:5432/x");
        assert_eq!(redact_url("postgres://lt@db/x"), "postgres://lt@db/x");
        assert_eq!(redact_url("host=db password=s3cret user=x"), "host=db password=*** user=x");
        assert_eq!(
            redact_url("postgres://db/x?password=s3cret&sslmode=require"),
            "postgres://db/x?password=***&sslmode=require"
        );
    }

    #[test]
    fn hostile_passwords_are_redacted() {
        let cases = [
            ("host=db password = s3cret user=x", "host=db password = *** user=x"),
            ("host=db password='s3 cret' user=x", "host=db password=*** user=x"),
            ("host=db password='it\\'s s3cret' user=x", "host=db password=*** user=x"),
            ("password=one host=db password=two", "password=*** host=db password=***"),
            ("postgres://lt:p@ss@db:5432/x", "postgres://lt:***@db:5432/x"),
            ("postgresql://lt:s3cret@db/x", "postgresql://lt:***@db/x"),
            (
                "postgres://db/x?password=a&sslmode=require&password=b",
                "postgres://db/x?password=***&sslmode=require&password=***",
            ),
            ("postgres://db/x?pass%77ord=s3cret", "postgres://db/x?pass%77ord=***"),
            ("host=db password='unterminated s3cret", "host=db password ***"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_url(input), want, "{input}");
        }
    }

    #[test]
    fn quoted_config_lines_with_secrets_are_hidden() {
        let msg = "TOML parse error at line 3, column 32\n  |\n3 | url = \"postgres://u:s3cret@h/db\n  |   ^\ninvalid basic string";
        let got = redact_text(msg);
        assert!(!got.contains("s3cret"), "{got}");
        assert!(got.contains("3 | (line not shown"), "{got}");
        assert!(got.contains("invalid basic string"), "{got}");
        let driver =
            "error connecting to server: invalid password=s3cret for postgres://u:s3cret@h/db";
        assert!(!redact_text(driver).contains("s3cret"), "{}", redact_text(driver));
    }

    #[test]
    fn web_addresses_keep_only_their_host() {
        let got = redact_text("POST to https://hooks.slack.com/services/T0/B0/S3CRET failed");
        assert_eq!(got, "POST to https://hooks.slack.com/*** failed");
        let got = redact_text("url = \"http://user:pw@h:8080/x?token=S3CRET\" and http://plain");
        assert_eq!(got, "url = \"http://h:8080/***\" and http://plain");
    }

    #[test]
    fn exit_codes_follow_grep() {
        assert_eq!(ExitCode::from(Exit::Ok), ExitCode::from(0));
        assert_eq!(ExitCode::from(Exit::AlertFired), ExitCode::from(1));
        assert_eq!(ExitCode::from(Exit::Failed), ExitCode::from(2));
    }
}
