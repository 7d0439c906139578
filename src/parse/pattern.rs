//! `regex:<pattern>`: any line format, described by a regular expression
//! with named captures. `ts`, `message`, `severity`, `user`, `client_ip`,
//! `host` and `service` fill the record; every other name becomes a field.
//! `ts` is read as in JSON lines (RFC 3339, epoch numbers, CLF and syslog
//! times) or with the source's `ts_format` (strftime).
//!
//! Matching is the `regex` crate's: linear in the line's length whatever
//! the pattern, so a hostile line cannot make it backtrack for ever (and
//! look-around and back-references, which would need that, are refused).

use super::mapped::{value_severity, value_time, TimeRead};
use super::{excerpt, line_outcome, LineText, Outcome, Parser, Record, Value};
use regex::bytes::{CaptureLocations, Regex, RegexBuilder};
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Capture groups a pattern may have (the spans of one match are kept on
/// the stack).
const MAX_GROUPS: usize = 64;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The capture slots of the last pattern this thread matched, reused
    /// line after line (tagged with the parser's id).
    static LOCATIONS: RefCell<Option<(u64, CaptureLocations)>> = const { RefCell::new(None) };
}

const PARTS: [&str; 7] = ["ts", "message", "severity", "user", "client_ip", "host", "service"];

pub struct PatternParser {
    id: u64,
    re: Regex,
    /// For each capture group (by index): the part it fills, or `None` for a field.
    roles: Vec<Option<usize>>,
    names: Vec<Option<String>>,
    service: String,
    time: TimeRead,
}

/// Compiles a pattern, checking that it names a `ts` capture.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let re = RegexBuilder::new(pattern)
        .size_limit(8 << 20)
        .build()
        .map_err(|e| format!("regex: {e}"))?;
    if !re.capture_names().any(|n| n == Some("ts")) {
        return Err(
            "regex: the pattern needs a named capture (?P<ts>...) for the time stamp".into()
        );
    }
    if re.captures_len() > MAX_GROUPS {
        return Err(format!("regex: more than {} capture groups", MAX_GROUPS - 1));
    }
    Ok(re)
}

impl PatternParser {
    pub fn new(pattern: &str, service: String, time: TimeRead) -> Result<Self, String> {
        let re = compile(pattern)?;
        let names: Vec<Option<String>> =
            re.capture_names().map(|n| n.map(str::to_string)).collect();
        let roles = names
            .iter()
            .map(|n| n.as_deref().and_then(|n| PARTS.iter().position(|p| *p == n)))
            .collect();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Ok(PatternParser { id, re, roles, names, service, time })
    }

    fn parse_line<'a>(&'a self, line: &'a [u8]) -> Result<Record<'a>, String> {
        let t = LineText::new(line);
        let mut parts: [Option<Cow<'a, str>>; 7] = Default::default();
        let mut fields = Vec::with_capacity(self.names.len());
        self.with_match(line, |locs| {
            for (i, name) in self.names.iter().enumerate().skip(1) {
                let Some(name) = name else { continue };
                let value = locs.get(i).map(|(a, b)| t.text(&line[a..b]));
                match self.roles[i] {
                    Some(p) => {
                        if parts[p].is_none() {
                            parts[p] = value;
                        }
                    }
                    None => fields.push((
                        Cow::Borrowed(name.as_str()),
                        value.map_or(Value::Null, Value::Str),
                    )),
                }
            }
        })
        .ok_or_else(|| format!("does not match the pattern: {}", excerpt(line)))?;
        let [ts, message, severity, user, client_ip, host, service] = parts;
        let ts = ts.ok_or("capture ts matched nothing")?;
        let ts = value_time(&Value::Str(ts), &self.time).map_err(|e| format!("ts: {e}"))?;
        let sev = severity.as_ref().and_then(|s| value_severity(&Value::Str(Cow::Borrowed(s))));
        if let (None, Some(s)) = (sev, severity) {
            fields.push((Cow::Borrowed("severity"), Value::Str(s)));
        }
        let blank = |s: Option<Cow<'a, str>>| s.filter(|s| !s.is_empty() && s != "-");
        if let Some(ip) = blank(client_ip) {
            fields.insert(0, (Cow::Borrowed("client_ip"), Value::Str(ip)));
        }
        Ok(Record {
            auth_role: None,
            ts: Some(ts),
            service: blank(service).unwrap_or(Cow::Borrowed(self.service.as_str())),
            host: blank(host),
            severity: sev,
            message: message.unwrap_or_else(|| t.text(line)),
            user: blank(user),
            fields,
        })
    }
}

impl PatternParser {
    /// Calls `f` with the groups of the first match in `line`, if it matches.
    fn with_match<R>(&self, line: &[u8], f: impl FnOnce(&CaptureLocations) -> R) -> Option<R> {
        LOCATIONS.with_borrow_mut(|slot| {
            if slot.as_ref().is_none_or(|(id, _)| *id != self.id) {
                *slot = Some((self.id, self.re.capture_locations()));
            }
            let (_, locs) = slot.as_mut()?;
            self.re.captures_read(locs, line)?;
            Some(f(locs))
        })
    }
}

impl Parser for PatternParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        line_outcome(line, || self.parse_line(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Severity, Tz};

    fn parser(p: &str, format: Option<&str>) -> PatternParser {
        let time = TimeRead {
            tz: Tz::default(),
            format: format.map(|f| crate::parse::mapped::TsFormat::new(f).unwrap()),
            year_ref: 1_735_689_600,
        };
        PatternParser::new(p, "app".into(), time).unwrap()
    }

    #[test]
    fn captures_fill_the_record() {
        let p = parser(
            r"^(?P<ts>\S+ \S+) \[(?P<severity>\w+)\] (?P<user>\S+)@(?P<client_ip>\S+) req=(?P<req>\d+) (?P<message>.*)$",
            Some("%Y-%m-%d %H:%M:%S%.f"),
        );
        let Outcome::Record(r) =
            p.parse(b"2024-05-01 12:00:00.250 [WARN] ann@10.0.0.9 req=17 slow query")
        else {
            panic!()
        };
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2024-05-01T12:00:00.250Z");
        assert_eq!(
            (r.severity, r.user.as_deref(), &*r.message),
            (Some(Severity::Warn), Some("ann"), "slow query")
        );
        assert_eq!(
            r.fields,
            vec![
                (Cow::Borrowed("client_ip"), Value::str("10.0.0.9")),
                (Cow::Borrowed("req"), Value::str("17"))
            ]
        );
        assert!(
            matches!(p.parse(b"something else"), Outcome::Reject(r) if r.contains("does not match"))
        );
        assert!(
            matches!(p.parse(b"2024-13-01 12:00:00 [WARN] a@b req=1 x"), Outcome::Reject(r) if r.contains("ts:"))
        );
    }

    #[test]
    fn bad_patterns_are_refused_and_matching_is_linear() {
        assert!(compile("(?P<ts>").unwrap_err().starts_with("regex:"));
        assert!(compile("(?P<msg>.*)").unwrap_err().contains("(?P<ts>"));
        assert!(compile(r"(?P<ts>\d+)(?=x)").is_err(), "look-around needs backtracking");
        // The classic catastrophic pattern for backtracking engines.
        let p = parser(r"^(?P<ts>\d+) (a+)+$", None);
        let mut line = b"1714564800 ".to_vec();
        line.extend(std::iter::repeat_n(b'a', 100_000));
        line.push(b'!');
        assert!(matches!(p.parse(&line), Outcome::Reject(_)));
    }
}
