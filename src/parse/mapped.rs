//! Key-value lines from applications: `json` (one JSON object per line) and
//! `logfmt` (`time=... level=warn msg="quoted value" key=value`).
//!
//! The record's parts are found by key. With no configuration the common
//! conventions are recognised: ECS (`@timestamp`, `message`, `log.level`,
//! `service.name`, `host.name`, `user.name`, `client.ip`/`source.ip`),
//! pino/bunyan (`time` in ms, numeric `level`, `msg`, `name`, `hostname`),
//! zap (`ts` in float seconds, `level`, `msg`, `logger`), logrus/slog
//! (`time`, `level`, `msg`), Docker's json-file driver (`log`, `stream`,
//! `time`), Google Cloud (`severity`, `timestamp`, `textPayload`/`message`)
//! and log15/go-kit logfmt (`t`/`ts`, `lvl`). A source's `[sources.mapping]`
//! names its own keys (dotted paths into nested objects), and `ts_format`
//! (strftime) reads times that are neither RFC 3339 nor epoch numbers.
//!
//! The keys used are taken out of `fields`; every other key stays there
//! (the client address as `client_ip`). A line without a time is a reject
//! (it cannot be placed in time); a line without a message keeps the whole
//! line as its message.

use super::flat::{self, Collector, Fields};
use super::time::{self, Timestamp, Tz};
use super::{
    closing_quote, excerpt, line_outcome, text, unescape, Outcome, Parser, Record, Severity, Value,
};
use std::borrow::Cow;

/// `[sources.mapping]`: the key of each part of the record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapping {
    pub ts: Option<String>,
    pub message: Option<String>,
    pub severity: Option<String>,
    pub user: Option<String>,
    pub client_ip: Option<String>,
    pub service: Option<String>,
    pub host: Option<String>,
}

impl Mapping {
    pub const KEYS: [&'static str; 7] =
        ["ts", "message", "severity", "user", "client_ip", "service", "host"];

    /// Sets the key of a part (`name` one of [`Mapping::KEYS`]).
    pub fn set(&mut self, name: &str, key: String) -> bool {
        let slot = match name {
            "ts" => &mut self.ts,
            "message" => &mut self.message,
            "severity" => &mut self.severity,
            "user" => &mut self.user,
            "client_ip" => &mut self.client_ip,
            "service" => &mut self.service,
            "host" => &mut self.host,
            _ => return false,
        };
        *slot = Some(key);
        true
    }

    fn get(&self, part: Part) -> Option<&str> {
        match part {
            Part::Ts => self.ts.as_deref(),
            Part::Message => self.message.as_deref(),
            Part::Severity => self.severity.as_deref(),
            Part::User => self.user.as_deref(),
            Part::ClientIp => self.client_ip.as_deref(),
            Part::Service => self.service.as_deref(),
            Part::Host => self.host.as_deref(),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Mapping::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Ts,
    Message,
    Severity,
    User,
    ClientIp,
    Service,
    Host,
}

const PARTS: [Part; 7] = [
    Part::Ts,
    Part::Message,
    Part::Severity,
    Part::User,
    Part::ClientIp,
    Part::Service,
    Part::Host,
];

/// The conventional keys, most specific first (a lower rank wins).
fn default_role(key: &str) -> Option<(Part, u8)> {
    Some(match key {
        "@timestamp" => (Part::Ts, 0),
        "timestamp" => (Part::Ts, 1),
        "time" => (Part::Ts, 2),
        "ts" => (Part::Ts, 3),
        "datetime" => (Part::Ts, 4),
        "eventTime" => (Part::Ts, 5),
        "asctime" => (Part::Ts, 6),
        "t" => (Part::Ts, 7),
        "date" => (Part::Ts, 8),
        "message" => (Part::Message, 0),
        "msg" => (Part::Message, 1),
        "@message" => (Part::Message, 2),
        "log" => (Part::Message, 3),
        "textPayload" => (Part::Message, 4),
        "jsonPayload.message" => (Part::Message, 5),
        "event" => (Part::Message, 6),
        "event.original" => (Part::Message, 7),
        "log.level" => (Part::Severity, 0),
        "level" => (Part::Severity, 1),
        "severity" => (Part::Severity, 2),
        "lvl" => (Part::Severity, 3),
        "levelname" => (Part::Severity, 4),
        "loglevel" => (Part::Severity, 5),
        "log_level" => (Part::Severity, 6),
        "level_name" => (Part::Severity, 7),
        "@level" => (Part::Severity, 8),
        "service.name" => (Part::Service, 0),
        "service" => (Part::Service, 1),
        "serviceContext.service" => (Part::Service, 2),
        "name" => (Part::Service, 3),
        "logger" => (Part::Service, 4),
        "logger_name" => (Part::Service, 5),
        "app" => (Part::Service, 6),
        "application" => (Part::Service, 7),
        "host.name" => (Part::Host, 0),
        "hostname" => (Part::Host, 1),
        "host.hostname" => (Part::Host, 2),
        "host" => (Part::Host, 3),
        "user.name" => (Part::User, 0),
        "user" => (Part::User, 1),
        "username" => (Part::User, 2),
        "user_name" => (Part::User, 3),
        "user.id" => (Part::User, 4),
        "userId" => (Part::User, 5),
        "client.ip" => (Part::ClientIp, 0),
        "source.ip" => (Part::ClientIp, 1),
        "client_ip" => (Part::ClientIp, 2),
        "clientIp" => (Part::ClientIp, 3),
        "remote_addr" => (Part::ClientIp, 4),
        "remote_ip" => (Part::ClientIp, 5),
        "httpRequest.remoteIp" => (Part::ClientIp, 6),
        "ip" => (Part::ClientIp, 7),
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Logfmt,
}

/// A strftime format, parsed once.
#[derive(Clone, Debug)]
pub struct TsFormat {
    pub text: String,
    items: std::sync::Arc<[chrono::format::Item<'static>]>,
}

impl TsFormat {
    pub fn new(text: &str) -> Result<TsFormat, String> {
        check_strftime(text)?;
        let items = chrono::format::StrftimeItems::new(text)
            .parse_to_owned()
            .map_err(|e| format!("{text:?} is not a strftime format: {e}"))?;
        Ok(TsFormat { text: text.to_string(), items: items.into() })
    }
}

/// How times given as text are read.
#[derive(Clone, Debug)]
pub struct TimeRead {
    pub tz: Tz,
    /// strftime, when the time is neither RFC 3339 nor an epoch number.
    pub format: Option<TsFormat>,
    /// For times without a year (see [`time::without_year`]).
    pub year_ref: i64,
}

pub struct MappedParser {
    syntax: Syntax,
    mapping: Mapping,
    service: String,
    time: TimeRead,
}

impl MappedParser {
    pub fn new(syntax: Syntax, mapping: Mapping, service: String, time: TimeRead) -> Self {
        MappedParser { syntax, mapping, service, time }
    }

    /// The part a key plays, and its rank among the candidates.
    fn role(&self, key: &str) -> Option<(Part, u8)> {
        for part in PARTS {
            if self.mapping.get(part) == Some(key) {
                return Some((part, 0));
            }
        }
        let (part, rank) = default_role(key)?;
        // A part the mapping names is found only under that name.
        if self.mapping.get(part).is_some() {
            return None;
        }
        Some((part, rank + 1))
    }

    fn parse_line<'a>(&'a self, line: &'a [u8]) -> Result<Record<'a>, String> {
        let mut fields: Fields<'a> = Vec::with_capacity(16);
        match self.syntax {
            Syntax::Json => flat::object(line, &mut fields)?,
            Syntax::Logfmt => logfmt(line, &mut fields)?,
        }
        // One pass: the best candidate of each part.
        let mut best: [Option<(u8, usize)>; 7] = [None; 7];
        for (i, (k, v)) in fields.iter().enumerate() {
            if let Some((part, rank)) = self.role(k) {
                if !usable(part, v) {
                    continue;
                }
                let slot = &mut best[part as usize];
                if slot.is_none_or(|(r, _)| rank < r) {
                    *slot = Some((rank, i));
                }
            }
        }
        // Take them out, last index first so that the others stay valid
        // (on the stack: this runs for every line).
        let mut order = [(0usize, Part::Ts); 7];
        let mut n = 0;
        for p in PARTS {
            if let Some((_, i)) = best[p as usize] {
                order[n] = (i, p);
                n += 1;
            }
        }
        order[..n].sort_unstable_by_key(|o| std::cmp::Reverse(o.0));
        let mut taken: [Option<(Cow<'a, str>, Value<'a>)>; 7] = Default::default();
        for &(i, part) in &order[..n] {
            taken[part as usize] = Some(fields.remove(i));
        }
        let [ts, message, severity, user, client_ip, service, host] = taken;

        let ts = match ts {
            Some((k, v)) => value_time(&v, &self.time).map_err(|e| format!("{k}: {e}"))?,
            None => {
                return Err(match self.mapping.ts.as_deref() {
                    Some(k) => format!("no time stamp: key {k:?} is missing"),
                    None => "no time stamp: none of @timestamp, timestamp, time, ts, ... (name it with [sources.mapping] ts)".into(),
                })
            }
        };
        let message = match message {
            Some((_, v)) => trim_newline(into_text(v)),
            None => text(line.trim_ascii()),
        };
        let mut sev = None;
        if let Some((k, v)) = severity {
            sev = value_severity(&v);
            if sev.is_none() {
                fields.push((k, v));
            }
        }
        let service = service.map_or(Cow::Borrowed(self.service.as_str()), |(_, v)| into_text(v));
        if let Some((_, v)) = client_ip {
            fields.insert(0, (Cow::Borrowed("client_ip"), v));
        }
        Ok(Record {
            auth_role: None,
            ts: Some(ts),
            service,
            host: host.map(|(_, v)| into_text(v)),
            severity: sev,
            message,
            user: user.map(|(_, v)| into_text(v)),
            fields,
        })
    }
}

impl Parser for MappedParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        line_outcome(line, || self.parse_line(line))
    }
}

/// Whether a value can play a part: text for names, a number or text for
/// times and levels.
fn usable(part: Part, v: &Value<'_>) -> bool {
    match part {
        Part::Ts | Part::Severity => matches!(v, Value::Str(_) | Value::Int(_) | Value::Float(_)),
        Part::User => matches!(v, Value::Str(s) if !s.is_empty()) || matches!(v, Value::Int(_)),
        Part::Message => !matches!(v, Value::Null),
        // Heroku's router logs `service=3ms`: a name does not start with a digit.
        Part::Service => {
            matches!(v, Value::Str(s) if s.bytes().next().is_some_and(|c| !c.is_ascii_digit()))
        }
        Part::ClientIp | Part::Host => matches!(v, Value::Str(s) if !s.is_empty()),
    }
}

fn into_text<'a>(v: Value<'a>) -> Cow<'a, str> {
    match v {
        Value::Str(s) => s,
        other => Cow::Owned(other.to_text().map(Cow::into_owned).unwrap_or_default()),
    }
}

/// Docker's json-file keeps the line end in `log`.
fn trim_newline(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim_end_matches(['\n', '\r'])),
        Cow::Owned(o) if o.ends_with(['\n', '\r']) => {
            Cow::Owned(o.trim_end_matches(['\n', '\r']).to_string())
        }
        o => o,
    }
}

/// A level as text (`warn`, `WARNING`, `eror`...) or a number: pino/bunyan's
/// 10-60, or a syslog severity 0-7.
pub fn value_severity(v: &Value<'_>) -> Option<Severity> {
    match v {
        Value::Str(s) => Severity::from_level(s.trim().as_bytes())
            .or_else(|| s.trim().parse::<i64>().ok().and_then(number_severity)),
        Value::Int(n) => number_severity(*n),
        Value::Float(f) if f.fract() == 0.0 => number_severity(*f as i64),
        _ => None,
    }
}

fn number_severity(n: i64) -> Option<Severity> {
    match n {
        0..=7 => Severity::from_syslog(n as u8),
        _ => Severity::from_number(n),
    }
}

/// The instant of a time value: RFC 3339 text, an epoch number (seconds,
/// milliseconds, microseconds or nanoseconds, told apart by size), a CLF or
/// syslog time, or text in the source's `ts_format`.
pub fn value_time(v: &Value<'_>, how: &TimeRead) -> Result<Timestamp, String> {
    match v {
        Value::Int(n) => epoch_int(*n),
        Value::Float(f) => epoch_float(*f),
        Value::Str(s) => text_time(s, how),
        other => Err(format!("time {} is not a time", other.to_text().unwrap_or_default())),
    }
}

/// Epoch values below this are seconds (year 5138), then milliseconds,
/// microseconds and nanoseconds.
const SECS_BELOW: i64 = 100_000_000_000;

pub fn epoch_int(n: i64) -> Result<Timestamp, String> {
    if n < 0 {
        return Err(format!("epoch time {n} is negative"));
    }
    let (div, digits) = if n < SECS_BELOW {
        (1, 0)
    } else if n < SECS_BELOW * 1000 {
        (1_000, 3)
    } else if n < SECS_BELOW * 1_000_000 {
        (1_000_000, 6)
    } else {
        (1_000_000_000, 9)
    };
    let nanos = ((n % div) * (1_000_000_000 / div)) as u32;
    Ok(Timestamp { secs: n / div, nanos, frac_digits: if nanos == 0 { 0 } else { digits } })
}

pub fn epoch_float(f: f64) -> Result<Timestamp, String> {
    if !f.is_finite() || f < 0.0 {
        return Err(format!("epoch time {f} is negative or not a number"));
    }
    if f >= 9.0e18 {
        return Err(format!("epoch time {f:e} is out of range"));
    }
    let scale = if f < SECS_BELOW as f64 {
        1.0
    } else if f < SECS_BELOW as f64 * 1e3 {
        1e3
    } else if f < SECS_BELOW as f64 * 1e6 {
        1e6
    } else {
        1e9
    };
    let secs_f = f / scale;
    let secs = secs_f.floor() as i64;
    let micros = ((secs_f - secs as f64) * 1e6).round() as u32;
    let (secs, micros) = if micros >= 1_000_000 { (secs + 1, 0) } else { (secs, micros) };
    Ok(Timestamp { secs, nanos: micros * 1000, frac_digits: if micros == 0 { 0 } else { 6 } })
}

fn text_time(s: &str, how: &TimeRead) -> Result<Timestamp, String> {
    let t = s.trim();
    if let Some(fmt) = &how.format {
        return strftime_time(t, fmt, how).ok_or_else(|| {
            format!("time {} does not match ts_format {:?}", excerpt(t.as_bytes()), fmt.text)
        });
    }
    if let Some(ts) = Timestamp::parse_rfc3339(t, &how.tz) {
        return Ok(ts);
    }
    if !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return match t.parse::<i64>() {
            Ok(n) => epoch_int(n),
            Err(_) => t
                .parse::<f64>()
                .map_err(|_| format!("time {t:?} is not a number"))
                .and_then(epoch_float),
        };
    }
    if let Some(ts) = time::parse_clf_time(t.as_bytes(), &how.tz) {
        return Ok(ts);
    }
    if let Some(b) = time::parse_bsd_time(t.as_bytes()) {
        if b.len == t.len() {
            if let Some(secs) = time::without_year(b.mo, b.d, b.h, b.mi, b.s, &how.tz, how.year_ref)
            {
                return Ok(Timestamp { secs, nanos: b.nanos, frac_digits: b.frac_digits });
            }
        }
    }
    Err(format!(
        "time {} is not RFC 3339, an epoch number or a CLF/syslog time (set the source's ts_format)",
        excerpt(t.as_bytes())
    ))
}

/// Checks a strftime format (for the job file).
pub fn check_strftime(fmt: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(fmt).any(|i| matches!(i, Item::Error)) {
        return Err(format!("{fmt:?} is not a strftime format"));
    }
    Ok(())
}

/// Text in a strftime format. Without a year in the format, the year comes
/// from the reference time; without an offset, the source's time zone applies.
pub fn strftime_time(s: &str, fmt: &TsFormat, how: &TimeRead) -> Option<Timestamp> {
    use chrono::format::{parse, Parsed};
    use chrono::{Datelike, Timelike};
    let mut p = Parsed::new();
    parse(&mut p, s, fmt.items.iter()).ok()?;
    if let Some(secs) = p.timestamp() {
        let nanos = p.nanosecond().unwrap_or(0);
        return Some(Timestamp { secs, nanos, frac_digits: frac_digits(nanos) });
    }
    let no_year = p.year().is_none() && p.year_div_100().is_none() && p.isoyear().is_none();
    if no_year {
        // A leap year, so that Feb 29 parses; the year is chosen below.
        p.set_year(2000).ok()?;
        let n = p.to_naive_datetime_with_offset(0).ok()?;
        let tz = match p.offset() {
            Some(off) => Tz::Fixed(off),
            None => how.tz.clone(),
        };
        let secs = time::without_year(
            n.month(),
            n.day(),
            n.hour(),
            n.minute(),
            n.second(),
            &tz,
            how.year_ref,
        )?;
        let nanos = n.nanosecond();
        return Some(Timestamp { secs, nanos, frac_digits: frac_digits(nanos) });
    }
    let n = p.to_naive_datetime_with_offset(0).ok()?;
    let local = n.and_utc().timestamp();
    let secs = match p.offset() {
        Some(off) => local - off as i64,
        None => how.tz.local_to_utc(local),
    };
    let nanos = n.nanosecond();
    Some(Timestamp { secs, nanos, frac_digits: frac_digits(nanos) })
}

fn frac_digits(nanos: u32) -> u8 {
    match nanos {
        0 => 0,
        n if n % 1_000_000 == 0 => 3,
        n if n % 1_000 == 0 => 6,
        _ => 9,
    }
}

/// logfmt pairs: `key=value`, `key="quoted \"value\""`, and a bare `key`
/// (true). A line with no `key=value` pair at all is not logfmt.
pub fn logfmt<'a>(line: &'a [u8], out: &mut Fields<'a>) -> Result<(), String> {
    let mut c = Collector::new(out);
    let lt = super::LineText::new(line);
    let mut i = 0;
    let mut pairs = 0;
    while i < line.len() {
        if line[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() && !line[i].is_ascii_whitespace() && line[i] != b'=' {
            if line[i] == b'"' {
                return Err(format!(
                    "a quote inside the key at byte {}: {}",
                    i + 1,
                    excerpt(&line[start..])
                ));
            }
            i += 1;
        }
        let key = &line[start..i];
        if key.is_empty() {
            return Err(format!(
                "a value without a key at byte {}: {}",
                i + 1,
                excerpt(&line[i..])
            ));
        }
        if line.get(i) != Some(&b'=') {
            c.push(lt.text(key), Value::Bool(true));
            continue;
        }
        i += 1;
        pairs += 1;
        if line.get(i) == Some(&b'"') {
            let vstart = i + 1;
            let (len, escaped) = closing_quote(&line[vstart..])
                .ok_or_else(|| format!("unterminated quoted value of key {}", excerpt(key)))?;
            let j = vstart + len;
            let raw = &line[vstart..j];
            let value = if escaped { unescape(raw, LOGFMT_ESCAPES) } else { lt.text(raw) };
            c.push(lt.text(key), Value::Str(value));
            i = j + 1;
        } else {
            let vstart = i;
            while i < line.len() && !line[i].is_ascii_whitespace() {
                i += 1;
            }
            c.push(lt.text(key), Value::Str(lt.text(&line[vstart..i])));
        }
    }
    c.finish();
    if pairs == 0 {
        return Err(format!("no key=value pair in {}", excerpt(line)));
    }
    Ok(())
}

/// logfmt's escapes inside quoted values (Go's `%q` ones that appear).
const LOGFMT_ESCAPES: &[(u8, u8)] =
    &[(b'"', b'"'), (b'\\', b'\\'), (b'n', b'\n'), (b't', b'\t'), (b'r', b'\r')];

/// Whether a line reads as logfmt for `auto`: it starts with a `key=value`
/// pair and has at least two of them, and nothing else.
pub fn looks_like_logfmt(line: &[u8]) -> bool {
    let first = line.trim_ascii_start();
    let key_len = first
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'@'))
        .count();
    if key_len == 0 || first.get(key_len) != Some(&b'=') {
        return false;
    }
    let mut out = Vec::new();
    logfmt(line, &mut out).is_ok()
        && out.iter().filter(|(_, v)| !matches!(v, Value::Bool(true))).count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(syntax: Syntax, mapping: Mapping, format: Option<&str>) -> MappedParser {
        let time = TimeRead {
            tz: Tz::default(),
            format: format.map(|f| crate::parse::mapped::TsFormat::new(f).unwrap()),
            year_ref: 1_735_689_600,
        };
        MappedParser::new(syntax, mapping, "app".into(), time)
    }

    fn rec<'a>(p: &'a MappedParser, line: &'a str) -> Record<'a> {
        match p.parse(line.as_bytes()) {
            Outcome::Record(r) => r,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn reject(p: &MappedParser, line: &str) -> String {
        match p.parse(line.as_bytes()) {
            Outcome::Reject(r) => r,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn conventions_without_configuration() {
        let p = parser(Syntax::Json, Mapping::default(), None);
        let r = rec(
            &p,
            r#"{"@timestamp":"2024-05-01T12:00:00.5Z","log":{"level":"warn"},"message":"disk","service":{"name":"api"},"host":{"name":"h1"},"user":{"name":"ann"},"client":{"ip":"10.0.0.1"},"x":1}"#,
        );
        assert_eq!(
            (r.ts.unwrap().to_rfc3339().as_str(), &*r.service, r.host.as_deref(), r.severity),
            ("2024-05-01T12:00:00.5Z", "api", Some("h1"), Some(Severity::Warn))
        );
        assert_eq!((r.user.as_deref(), &*r.message), (Some("ann"), "disk"));
        assert_eq!(
            r.fields,
            vec![
                (Cow::Borrowed("client_ip"), Value::str("10.0.0.1")),
                (Cow::Borrowed("x"), Value::Int(1))
            ]
        );
        // pino
        let r = rec(
            &p,
            r#"{"level":50,"time":1714564800123,"pid":7,"hostname":"h","name":"svc","msg":"boom"}"#,
        );
        assert_eq!(
            (r.ts.unwrap().to_rfc3339().as_str(), r.severity, &*r.service),
            ("2024-05-01T12:00:00.123Z", Some(Severity::Error), "svc")
        );
        // zap
        let r = rec(&p, r#"{"level":"dpanic","ts":1714564800.25,"logger":"db","msg":"x"}"#);
        assert_eq!(
            (r.ts.unwrap().to_rfc3339().as_str(), r.severity, &*r.service),
            ("2024-05-01T12:00:00.250000Z", Some(Severity::Fatal), "db")
        );
        // Docker json-file
        let r = rec(
            &p,
            r#"{"log":"hello\n","stream":"stderr","time":"2024-05-01T12:00:00.123456789Z"}"#,
        );
        assert_eq!((&*r.message, r.field("stream")), ("hello", Some(&Value::str("stderr"))));
        // Google Cloud
        let r = rec(
            &p,
            r#"{"severity":"WARNING","timestamp":"2024-05-01T12:00:00Z","textPayload":"slow"}"#,
        );
        assert_eq!((r.severity, &*r.message), (Some(Severity::Warn), "slow"));
        // An unknown level stays in the fields.
        let r = rec(&p, r#"{"time":"2024-05-01T12:00:00Z","level":"verbose","msg":"m"}"#);
        assert_eq!((r.severity, r.field("level")), (None, Some(&Value::str("verbose"))));
    }

    #[test]
    fn mapping_and_ts_format() {
        let mut m = Mapping::default();
        m.set("ts", "event.created".into());
        m.set("message", "text".into());
        m.set("severity", "lvl".into());
        m.set("client_ip", "peer.addr".into());
        let p = parser(Syntax::Json, m, Some("%d/%m/%Y %H:%M:%S"));
        let r = rec(
            &p,
            r#"{"event":{"created":"01/05/2024 12:00:00"},"text":"t","lvl":"ERROR","peer":{"addr":"::1"},"time":"ignored"}"#,
        );
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2024-05-01T12:00:00Z");
        assert_eq!((&*r.message, r.severity), ("t", Some(Severity::Error)));
        assert_eq!(r.field("client_ip"), Some(&Value::str("::1")));
        assert_eq!(r.field("time"), Some(&Value::str("ignored")));
        assert!(reject(&p, r#"{"text":"t"}"#).contains("key \"event.created\" is missing"));
        assert!(reject(&p, r#"{"event":{"created":"2024-05-01"}}"#)
            .contains("does not match ts_format"));
        // A format without a year takes the reference's (2025-01-01).
        let p = parser(Syntax::Json, Mapping::default(), Some("%b %d %H:%M:%S"));
        let r = rec(&p, r#"{"time":"Dec 31 23:00:00","msg":"m"}"#);
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2024-12-31T23:00:00Z");
    }

    #[test]
    fn epochs_and_hostile_times() {
        let p = parser(Syntax::Json, Mapping::default(), None);
        for (t, want) in [
            ("1714564800", "2024-05-01T12:00:00Z"),
            ("1714564800123456", "2024-05-01T12:00:00.123456Z"),
            ("1714564800123456789", "2024-05-01T12:00:00.123456789Z"),
            ("\"1714564800\"", "2024-05-01T12:00:00Z"),
        ] {
            let line = format!(r#"{{"ts":{t},"msg":"m"}}"#);
            assert_eq!(rec(&p, &line).ts.unwrap().to_rfc3339(), want, "{t}");
        }
        assert!(reject(&p, r#"{"ts":-5,"msg":"m"}"#).contains("negative"));
        assert!(reject(&p, r#"{"ts":1e300,"msg":"m"}"#).contains("out of range"));
        assert!(reject(&p, r#"{"ts":"2024-02-30T00:00:00Z","msg":"m"}"#).contains("ts: time"));
        assert!(reject(&p, r#"{"msg":"m"}"#).contains("no time stamp"));
        assert!(reject(&p, r#"{"ts":1714564800,"msg":"m""#).contains("not valid JSON"));
    }

    #[test]
    fn logfmt_lines() {
        let p = parser(Syntax::Logfmt, Mapping::default(), None);
        let r = rec(
            &p,
            r#"time=2024-05-01T12:00:00Z level=warn msg="disk \"almost\" full" path=/var dry"#,
        );
        assert_eq!((&*r.message, r.severity), ("disk \"almost\" full", Some(Severity::Warn)));
        assert_eq!(r.field("path"), Some(&Value::str("/var")));
        assert_eq!(r.field("dry"), Some(&Value::Bool(true)));
        // log15
        let r = rec(&p, r#"t=2024-05-01T12:00:00+0200 lvl=eror msg=x"#);
        assert_eq!(
            (r.ts.unwrap().to_rfc3339().as_str(), r.severity),
            ("2024-05-01T10:00:00Z", Some(Severity::Error))
        );
        // Heroku's router: no message key, the line is the message.
        let line = "at=info method=GET path=/ host=x.herokuapp.com fwd=\"1.2.3.4\" status=200 time=2024-05-01T12:00:00Z";
        assert_eq!(rec(&p, line).message, line);
        assert!(reject(&p, r#"msg="unterminated time=1"#).contains("unterminated"));
        assert!(reject(&p, "just words").contains("no key=value"));
        assert!(looks_like_logfmt(b"ts=1 level=info msg=x"));
        assert!(!looks_like_logfmt(b"Dec 10 06:55:46 host a=b c=d"));
    }
}
