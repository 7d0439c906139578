//! Parsing: one unit of input (a line, or one CloudTrail event) in, one
//! normalized [`Record`] out, borrowing from the input wherever it can.
//!
//! A [`Parser`] never fails a whole file: a unit it cannot read becomes an
//! [`Outcome::Reject`] carrying the reason, and the caller records the reject
//! with its provenance and moves on. Framing (finding the units) is the
//! `source` module's job; parsers see one unit at a time.

pub mod auth;
pub mod auto;
pub mod clf;
pub mod cloudtrail;
pub mod custom;
pub mod errorlog;
pub mod flat;
pub mod hdfs;
pub mod journald;
pub mod mapped;
pub mod pattern;
pub mod sessions;
pub mod syslog;
pub mod time;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

pub use crate::source::{Framing, Provenance};
pub use time::{Timestamp, Tz};

/// Severity levels of the normalized record, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Trace,
        Severity::Debug,
        Severity::Info,
        Severity::Warn,
        Severity::Error,
        Severity::Fatal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Trace => "trace",
            Severity::Debug => "debug",
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Error => "error",
            Severity::Fatal => "fatal",
        }
    }

    /// Reads a level as logged (`INFO`, `WARNING`, `err`, `CRITICAL`,
    /// `EMERGENCY`, zap's `dpanic`...).
    pub fn from_level(b: &[u8]) -> Option<Severity> {
        let mut k = [0u8; 9];
        if b.len() > k.len() {
            return None;
        }
        for (d, s) in k.iter_mut().zip(b) {
            *d = s.to_ascii_lowercase();
        }
        Some(match &k[..b.len()] {
            b"trace" | b"trc" | b"finest" | b"finer" => Severity::Trace,
            b"debug" | b"dbg" | b"fine" => Severity::Debug,
            b"info" | b"inf" | b"notice" | b"config" | b"default" => Severity::Info,
            b"warn" | b"wrn" | b"warning" => Severity::Warn,
            b"error" | b"err" | b"eror" | b"severe" => Severity::Error,
            b"fatal" | b"crit" | b"critical" | b"alert" | b"emerg" | b"emergency" | b"panic"
            | b"dpanic" => Severity::Fatal,
            _ => return None,
        })
    }

    /// A syslog severity (RFC 5424 numbers 0-7): emerg/alert/crit are
    /// `fatal`, err `error`, warning `warn`, notice/info `info`, debug `debug`.
    pub fn from_syslog(n: u8) -> Option<Severity> {
        Some(match n {
            0..=2 => Severity::Fatal,
            3 => Severity::Error,
            4 => Severity::Warn,
            5 | 6 => Severity::Info,
            7 => Severity::Debug,
            _ => return None,
        })
    }

    /// pino/bunyan numeric levels: 10 trace, 20 debug, 30 info, 40 warn,
    /// 50 error, 60 fatal (values in between round down).
    pub fn from_number(n: i64) -> Option<Severity> {
        Some(match n {
            10..=19 => Severity::Trace,
            20..=29 => Severity::Debug,
            30..=39 => Severity::Info,
            40..=49 => Severity::Warn,
            50..=59 => Severity::Error,
            60..=69 => Severity::Fatal,
            _ => return None,
        })
    }

    /// Access logs: 5xx is `error`, 4xx `warn`, anything else `info`.
    pub fn from_http_status(status: u16) -> Severity {
        match status {
            500..=599 => Severity::Error,
            400..=499 => Severity::Warn,
            _ => Severity::Info,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            format!("unknown severity {s:?} (expected trace, debug, info, warn, error or fatal)")
        })
    }
}

/// A field value of the normalized record.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    List(Vec<Value<'a>>),
}

impl<'a> Value<'a> {
    pub fn str(s: impl Into<Cow<'a, str>>) -> Self {
        Value::Str(s.into())
    }

    /// `None` becomes `Null`.
    pub fn opt_str(s: Option<Cow<'a, str>>) -> Self {
        s.map_or(Value::Null, Value::Str)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value with no borrow.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::List(items) => Value::List(items.into_iter().map(Value::into_owned).collect()),
        }
    }

    /// Appends the value as JSON (a float that is not finite is `null`).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Str(s) => crate::json::write_json_str(out, s),
            Value::Int(i) => crate::json::write_int(out, *i),
            Value::Float(f) if f.is_finite() => {
                let _ = std::io::Write::write_fmt(out, format_args!("{f}"));
            }
            Value::Float(_) => out.extend_from_slice(b"null"),
            Value::List(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_json(out);
                }
                out.push(b']');
            }
        }
    }

    /// The value as text, for grouping and matching (`None` for null).
    pub fn to_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Null => None,
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Int(i) => Some(Cow::Owned(i.to_string())),
            Value::Float(f) => Some(Cow::Owned(f.to_string())),
            Value::List(_) => {
                let mut out = Vec::new();
                self.write_json(&mut out);
                Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
            }
        }
    }
}

/// One normalized log record (DESIGN.md, "The normalized record").
#[derive(Clone, Debug, PartialEq)]
pub struct Record<'a> {
    pub ts: Option<Timestamp>,
    pub service: Cow<'a, str>,
    pub host: Option<Cow<'a, str>>,
    pub severity: Option<Severity>,
    pub message: Cow<'a, str>,
    pub user: Option<Cow<'a, str>>,
    /// Format-specific fields, in a fixed order per format.
    pub fields: Vec<(Cow<'a, str>, Value<'a>)>,
    /// How an authentication line takes part in its process's session, for
    /// [`sessions`] (not written out).
    pub auth_role: Option<auth::Role>,
}

impl<'a> Record<'a> {
    pub fn field(&self, key: &str) -> Option<&Value<'a>> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// What a parser makes of one unit.
#[derive(Debug)]
pub enum Outcome<'a> {
    Record(Record<'a>),
    /// Not a record and not a problem: a blank line, a CSV header.
    Skip,
    /// The unit could not be read; the reason names what was wrong.
    Reject(String),
}

/// The usual shape of a line parser: a blank line is skipped, an error is
/// a reject with its reason.
pub fn line_outcome<'a>(
    line: &[u8],
    parse: impl FnOnce() -> Result<Record<'a>, String>,
) -> Outcome<'a> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Outcome::Skip;
    }
    match parse() {
        Ok(r) => Outcome::Record(r),
        Err(reason) => Outcome::Reject(reason),
    }
}

/// Turns one unit of input into a record. Implementations must not panic on
/// any input; everything they cannot read is an [`Outcome::Reject`].
pub trait Parser: Send + Sync {
    fn parse<'a>(&'a self, unit: &'a [u8]) -> Outcome<'a>;
    /// For a format whose records are joined into sessions (see
    /// [`sessions`]): the text every line of a session holds, so that the
    /// lines before a chunk can be found cheaply. `None`: each line alone.
    fn session_needle(&self) -> Option<&'static [u8]> {
        None
    }
}

/// The formats of DESIGN.md's table.
#[derive(Clone, Debug, PartialEq)]
pub enum Format {
    Common,
    Combined,
    /// `nginx`: combined, with `nginx` as the default service.
    Nginx,
    Clf,
    /// `apache:<LogFormat>`
    Apache(String),
    /// `nginx:<log_format>`
    NginxCustom(String),
    Hdfs,
    HdfsCsv,
    Cloudtrail,
    Syslog,
    Journald,
    Json,
    Logfmt,
    ApacheError,
    NginxError,
    /// `regex:<pattern>`
    Regex(String),
    Auto,
}

impl Format {
    pub const NAMES: &'static str = "common, combined, nginx, clf, apache:<LogFormat>, nginx:<log_format>, hdfs, hdfs-csv, cloudtrail, syslog, journald, json, logfmt, apache-error, nginx-error, regex:<pattern>, auto";

    /// Whether `[sources.mapping]` applies (keys name the record's parts).
    pub fn takes_mapping(&self) -> bool {
        matches!(self, Format::Json | Format::Logfmt | Format::Auto)
    }

    /// Whether `ts_format` applies (times given as text in any form).
    pub fn takes_ts_format(&self) -> bool {
        matches!(self, Format::Json | Format::Logfmt | Format::Regex(_) | Format::Auto)
    }

    /// How the format's multi-line records join when the source says
    /// nothing: syslog's indented continuations (a line that starts with a
    /// space or tab is no syslog line of its own). Other formats join only
    /// when asked: a line that does not start as their lines do may as well
    /// be garbage, which must stay a reject.
    pub fn default_multiline(&self) -> Option<crate::source::multiline::Multiline> {
        match self {
            Format::Syslog => crate::source::multiline::Multiline::preset("indented"),
            _ => None,
        }
    }

    /// Whether the format's records are joined into sessions (see
    /// [`sessions`]): a reader of part of a file then needs the bytes before it.
    pub fn joins_sessions(&self) -> bool {
        matches!(self, Format::Syslog)
    }

    pub fn framing(&self) -> Framing {
        match self {
            // Not `json`: JSON lines are cut at line ends, so that a broken
            // line is one reject and cannot swallow the lines after it.
            Format::Cloudtrail => Framing::Json,
            Format::HdfsCsv => Framing::CsvRecords,
            _ => Framing::Lines,
        }
    }

    /// The service records get when neither the format nor the source names one.
    pub fn default_service(&self) -> &'static str {
        match self {
            Format::Nginx | Format::NginxCustom(_) => "nginx",
            Format::Hdfs | Format::HdfsCsv => "hdfs",
            Format::Cloudtrail => "cloudtrail",
            Format::Syslog => "syslog",
            Format::Journald => "journald",
            Format::Json | Format::Logfmt | Format::Regex(_) => "app",
            Format::NginxError => "nginx",
            _ => "apache",
        }
    }

    /// Builds the parser. `Auto` must be resolved first (see [`auto::sniff`]).
    pub fn parser(&self, opts: &ParserOptions) -> crate::error::Result<Box<dyn Parser>> {
        let bad = |reason: String| crate::error::Error::Format { format: self.to_string(), reason };
        let service = opts.service.clone().unwrap_or_else(|| self.default_service().to_string());
        let tz = opts.timezone.clone();
        Ok(match self {
            Format::Common => {
                Box::new(clf::ClfParser::new(clf::Mode::Common, service, tz).detail(opts.detail))
            }
            Format::Combined | Format::Nginx => {
                Box::new(clf::ClfParser::new(clf::Mode::Combined, service, tz).detail(opts.detail))
            }
            Format::Clf => {
                Box::new(clf::ClfParser::new(clf::Mode::Either, service, tz).detail(opts.detail))
            }
            Format::Apache(f) => {
                Box::new(custom::CustomParser::apache(f, service, tz).map_err(bad)?)
            }
            Format::NginxCustom(f) => {
                Box::new(custom::CustomParser::nginx(f, service, tz).map_err(bad)?)
            }
            Format::Hdfs => Box::new(hdfs::HdfsParser::new(service, tz)),
            Format::HdfsCsv => Box::new(hdfs::HdfsCsvParser::new(service, tz)),
            Format::Cloudtrail => Box::new(cloudtrail::CloudtrailParser::new(opts.service.clone())),
            Format::Syslog => Box::new(syslog::SyslogParser::new(service, tz, opts.year_ref())),
            Format::Journald => Box::new(journald::JournaldParser::new(service)),
            Format::Json | Format::Logfmt => {
                let syntax = if *self == Format::Json {
                    mapped::Syntax::Json
                } else {
                    mapped::Syntax::Logfmt
                };
                let time = opts.time_read().map_err(bad)?;
                Box::new(mapped::MappedParser::new(syntax, opts.mapping.clone(), service, time))
            }
            Format::ApacheError => Box::new(errorlog::ApacheErrorParser::new(service, tz)),
            Format::NginxError => Box::new(errorlog::NginxErrorParser::new(service, tz)),
            Format::Regex(p) => {
                let time = opts.time_read().map_err(bad)?;
                Box::new(pattern::PatternParser::new(p, service, time).map_err(bad)?)
            }
            Format::Auto => return Err(bad("it must be resolved from the input first".into())),
        })
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(f) = s.strip_prefix("apache:") {
            custom::CustomParser::apache(f, String::new(), Tz::default())?;
            return Ok(Format::Apache(f.to_string()));
        }
        if let Some(f) = s.strip_prefix("nginx:") {
            custom::CustomParser::nginx(f, String::new(), Tz::default())?;
            return Ok(Format::NginxCustom(f.to_string()));
        }
        if let Some(p) = s.strip_prefix("regex:") {
            pattern::compile(p)?;
            return Ok(Format::Regex(p.to_string()));
        }
        Ok(match s {
            "common" => Format::Common,
            "combined" => Format::Combined,
            "nginx" => Format::Nginx,
            "clf" => Format::Clf,
            "hdfs" => Format::Hdfs,
            "hdfs-csv" => Format::HdfsCsv,
            "cloudtrail" => Format::Cloudtrail,
            "syslog" => Format::Syslog,
            "journald" => Format::Journald,
            "json" => Format::Json,
            "logfmt" => Format::Logfmt,
            "apache-error" => Format::ApacheError,
            "nginx-error" => Format::NginxError,
            "auto" => Format::Auto,
            _ => return Err(format!("unknown format {s:?} (expected one of: {})", Format::NAMES)),
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Common => f.write_str("common"),
            Format::Combined => f.write_str("combined"),
            Format::Nginx => f.write_str("nginx"),
            Format::Clf => f.write_str("clf"),
            Format::Apache(s) => write!(f, "apache:{s}"),
            Format::NginxCustom(s) => write!(f, "nginx:{s}"),
            Format::Hdfs => f.write_str("hdfs"),
            Format::HdfsCsv => f.write_str("hdfs-csv"),
            Format::Cloudtrail => f.write_str("cloudtrail"),
            Format::Syslog => f.write_str("syslog"),
            Format::Journald => f.write_str("journald"),
            Format::Json => f.write_str("json"),
            Format::Logfmt => f.write_str("logfmt"),
            Format::ApacheError => f.write_str("apache-error"),
            Format::NginxError => f.write_str("nginx-error"),
            Format::Regex(p) => write!(f, "regex:{p}"),
            Format::Auto => f.write_str("auto"),
        }
    }
}

/// Settings a source passes to its parser.
/// How much of an access line's detail a parser keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Detail {
    /// Every field.
    #[default]
    Full,
    /// Every field but `referer` and `user_agent` (null): the longest,
    /// and the ones rules rarely read.
    NoAgents,
    /// `client_ip` and `status` only (the other fields are checked but
    /// not kept).
    Lean,
}

#[derive(Clone, Debug, Default)]
pub struct ParserOptions {
    pub service: Option<String>,
    pub timezone: Tz,
    /// How much of an access log's detail fields to build: for `run`,
    /// whose rules may read none of them. Same records otherwise, same
    /// rejects.
    pub detail: Detail,
    /// `json`/`logfmt`: the keys of the record's parts.
    pub mapping: mapped::Mapping,
    /// strftime for times given as text (`json`, `logfmt`, `regex:`).
    pub ts_format: Option<String>,
    /// Seconds: lines without a year (syslog) are placed at or before this
    /// time. Set from the file's modification time when it is opened
    /// (see `read`); unset, the wall clock.
    pub year_ref: Option<i64>,
    /// Join multi-line records (see [`crate::source::multiline`]).
    pub multiline: Option<crate::source::multiline::Multiline>,
}

impl ParserOptions {
    pub fn year_ref(&self) -> i64 {
        self.year_ref.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
    }

    /// How `json`, `logfmt` and `regex:` read times given as text.
    pub fn time_read(&self) -> Result<mapped::TimeRead, String> {
        Ok(mapped::TimeRead {
            tz: self.timezone.clone(),
            format: self.ts_format.as_deref().map(mapped::TsFormat::new).transpose()?,
            year_ref: self.year_ref(),
        })
    }
}

/// Bytes to text: borrowed when valid UTF-8, else lossily repaired.
#[inline]
pub fn text(b: &[u8]) -> Cow<'_, str> {
    // `from_utf8` has a word-at-a-time ASCII fast path; the lossy decoder does not.
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// The text of parts of one line, checked as UTF-8 once for the whole
/// line rather than part by part (a line is mostly valid, and one check of
/// it is cheaper than many of its pieces).
#[derive(Clone, Copy)]
pub struct LineText<'a> {
    line: &'a [u8],
    valid: Option<&'a str>,
}

impl<'a> LineText<'a> {
    pub fn new(line: &'a [u8]) -> LineText<'a> {
        LineText { line, valid: std::str::from_utf8(line).ok() }
    }

    /// `part`, a slice of the line, as text if it is valid UTF-8 (checked
    /// again only when the whole line is not).
    pub fn str(&self, part: &'a [u8]) -> Option<&'a str> {
        if let Some(s) = self.valid {
            let off = (part.as_ptr() as usize).wrapping_sub(self.line.as_ptr() as usize);
            if let Some(t) = off.checked_add(part.len()).and_then(|end| s.get(off..end)) {
                return Some(t);
            }
        }
        std::str::from_utf8(part).ok()
    }

    /// [`text`] of `part`, a slice of the line.
    pub fn text(&self, part: &'a [u8]) -> Cow<'a, str> {
        match self.str(part) {
            Some(s) => Cow::Borrowed(s),
            None => String::from_utf8_lossy(part),
        }
    }

    /// [`opt_text`] of `part`, a slice of the line.
    pub fn opt_text(&self, part: &'a [u8]) -> Option<Cow<'a, str>> {
        if part.is_empty() || part == b"-" {
            None
        } else {
            Some(self.text(part))
        }
    }
}

/// Like [`text`], but `-` and empty become `None`.
#[inline]
pub fn opt_text(b: &[u8]) -> Option<Cow<'_, str>> {
    if b.is_empty() || b == b"-" {
        None
    } else {
        Some(text(b))
    }
}

/// Where a quoted string ends: `b` starts just after its opening quote; the
/// result is the index of the first quote not escaped by a backslash, and
/// whether a backslash was seen (so whether [`unescape`] has work to do).
/// Where the two bytes `a b` first are in `hay` (`": "`, `", "`): the
/// first byte found by memchr, the second checked (a searcher built for
/// two bytes would cost more than the search).
pub(crate) fn find2(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    memchr::memchr_iter(a, hay).find(|&i| hay.get(i + 1) == Some(&b))
}

pub(crate) fn closing_quote(b: &[u8]) -> Option<(usize, bool)> {
    let mut i = 0;
    let mut escaped = false;
    while let Some(j) = memchr::memchr2(b'"', b'\\', &b[i..]) {
        let k = i + j;
        if b[k] == b'"' {
            return Some((k, escaped));
        }
        escaped = true;
        i = k + 2;
        if i > b.len() {
            return None;
        }
    }
    None
}

/// Undoes backslash escapes: `\c` becomes what `escapes` maps `c` to;
/// other escapes stay as logged. Borrowed when there is no backslash.
pub(crate) fn unescape<'a>(b: &'a [u8], escapes: &[(u8, u8)]) -> Cow<'a, str> {
    if memchr::memchr(b'\\', b).is_none() {
        return text(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let mapped = (b[i] == b'\\')
            .then(|| b.get(i + 1))
            .flatten()
            .and_then(|c| escapes.iter().find(|(from, _)| from == c));
        match mapped {
            Some((_, to)) => {
                out.push(*to);
                i += 2;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// A short, printable excerpt of bad input for a reject reason.
pub fn excerpt(b: &[u8]) -> String {
    const MAX: usize = 40;
    let s = String::from_utf8_lossy(&b[..b.len().min(MAX)]);
    if b.len() > MAX {
        format!("{s:?}...")
    } else {
        format!("{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings_and_escapes() {
        assert_eq!(closing_quote(br#"a \"b\" c" rest"#), Some((9, true)));
        assert_eq!(closing_quote(br#"plain" x"#), Some((5, false)));
        assert_eq!(closing_quote(br#"open \"#), None);
        assert_eq!(closing_quote(b"open"), None);
        let e = [(b'"', b'"'), (b'\\', b'\\')];
        assert_eq!(unescape(br#"a \"b\" \\ \x16"#, &e), r#"a "b" \ \x16"#);
        assert!(matches!(unescape(b"no escapes", &e), Cow::Borrowed("no escapes")));
    }
}
