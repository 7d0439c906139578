//! Syslog as written to files: BSD syslog (RFC 3164, `Mmm dd hh:mm:ss host
//! tag[pid]: message`, with or without a leading `<PRI>`), rsyslog's
//! high-precision format (`2024-05-01T12:00:00.123456+02:00 host tag[pid]:
//! message`), RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`)
//! and `journalctl -o short-iso` / `short-precise` text.
//!
//! `service` is the tag (the app of RFC 5424), `host` the host name,
//! `fields.pid` the process id; the PRI gives `fields.facility`,
//! `fields.syslog_severity` (as logged) and the record's severity. Lines
//! without a year take the year that puts them at or before the reference
//! time (see [`super::time::without_year`]). Authentication events are
//! extracted (see [`super::auth`]).

use super::auth::{self, Auth};
use super::time::{parse_bsd_time, without_year, Timestamp, Tz};
use super::{closing_quote, excerpt, unescape, LineText, Outcome, Parser, Record, Severity, Value};
use std::borrow::Cow;

pub struct SyslogParser {
    /// For lines without a tag.
    service: String,
    tz: Tz,
    year_ref: i64,
}

/// Syslog facility names by number (RFC 5424, with the usual names).
pub const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];
/// Syslog severity names by number, as rsyslog writes them.
pub const SEVERITIES: [&str; 8] =
    ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/// The longest tag read (rsyslog's default is 32; allow more).
const MAX_TAG: usize = 128;

impl SyslogParser {
    pub fn new(service: String, tz: Tz, year_ref: i64) -> Self {
        SyslogParser { service, tz, year_ref }
    }
}

impl Parser for SyslogParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return Outcome::Skip;
        }
        // journalctl's "-- Boot 3f2a... --", "-- No entries --".
        if trimmed.starts_with(b"-- ") && trimmed.ends_with(b" --") {
            return Outcome::Skip;
        }
        match self.parse_line(line) {
            Ok(r) => Outcome::Record(r),
            Err(reason) => Outcome::Reject(reason),
        }
    }

    fn session_needle(&self) -> Option<&'static [u8]> {
        Some(b"sshd")
    }
}

/// `<PRI>` at the start of a line: the value (0-191) and the rest.
pub fn pri(b: &[u8]) -> Result<(Option<u8>, &[u8]), String> {
    let Some(rest) = b.strip_prefix(b"<") else {
        return Ok((None, b));
    };
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 3 || rest.get(digits) != Some(&b'>') {
        return Err(format!("PRI {} is not <0> to <191>", excerpt(&b[..b.len().min(6)])));
    }
    let n: u32 =
        std::str::from_utf8(&rest[..digits]).ok().and_then(|s| s.parse().ok()).unwrap_or(999);
    if n > 191 {
        return Err(format!("PRI <{n}> is out of range (0 to 191)"));
    }
    Ok((Some(n as u8), &rest[digits + 1..]))
}

/// The fields a PRI gives (none without one), and its severity.
fn pri_fields<'a>(
    pri: Option<u8>,
    fields: &mut Vec<(Cow<'a, str>, Value<'a>)>,
) -> Option<Severity> {
    let p = pri?;
    fields.push((Cow::Borrowed("facility"), Value::str(FACILITIES[(p >> 3) as usize])));
    fields.push((Cow::Borrowed("syslog_severity"), Value::str(SEVERITIES[(p & 7) as usize])));
    Severity::from_syslog(p & 7)
}

/// Puts the authentication event of a record's message, if there is one,
/// into the record: `user`, and `fields` `client_ip` (an IP address;
/// `client_host` when sshd logged a host name), `port`, `outcome`,
/// `auth_method` (with sudo's `target_user` and `command`); a failure has
/// severity `warn`.
pub fn with_auth<'a>(r: &mut Record<'a>) {
    match r.message {
        Cow::Borrowed(m) => {
            if let Some(a) = auth::extract(&r.service, m) {
                apply_auth(r, &a, Cow::Borrowed);
            }
        }
        // A repaired message (rare): its parts are copied.
        Cow::Owned(ref m) => {
            let m = m.clone();
            if let Some(a) = auth::extract(&r.service, &m) {
                apply_auth(r, &a, |s| Cow::Owned(s.to_string()));
            }
        }
    }
}

fn apply_auth<'m, 'a>(r: &mut Record<'a>, a: &Auth<'m>, text: impl Fn(&'m str) -> Cow<'a, str>) {
    let s = |v: Option<&'m str>| v.map_or(Value::Null, |v| Value::Str(text(v)));
    // An IP address, or else a host name (`client_host`, only when there is one).
    match a.client_ip {
        Some(h) if !auth::is_ip(h) => {
            r.fields.push((Cow::Borrowed("client_ip"), Value::Null));
            r.fields.push((Cow::Borrowed("client_host"), Value::Str(text(h))));
        }
        ip => r.fields.push((Cow::Borrowed("client_ip"), s(ip))),
    }
    r.fields.push((Cow::Borrowed("port"), a.port.map_or(Value::Null, Value::Int)));
    r.fields.push((
        Cow::Borrowed("outcome"),
        a.outcome.map_or(Value::Null, |o| Value::str(o.as_str())),
    ));
    r.fields.push((Cow::Borrowed("auth_method"), s(a.method)));
    if a.target_user.is_some() || a.command.is_some() {
        r.fields.push((Cow::Borrowed("target_user"), s(a.target_user)));
        r.fields.push((Cow::Borrowed("command"), s(a.command)));
    }
    if let Some(u) = a.user {
        r.user = Some(text(u));
    }
    if a.outcome == Some(auth::AuthOutcome::Failure) {
        r.severity = Some(Severity::Warn);
    }
    r.auth_role = Some(a.role);
}

/// The next space-separated token of `b` and the rest after one space.
fn token(b: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b' ', b) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b""[..]),
    }
}

/// A process id: a number when it is one, else the text as logged.
fn pid_value<'a>(t: &LineText<'a>, b: &'a [u8]) -> Value<'a> {
    if b.is_empty() || b == b"-" {
        return Value::Null;
    }
    match super::time::num(b) {
        Some(n) => Value::Int(n as i64),
        None => Value::Str(t.text(b)),
    }
}

impl SyslogParser {
    fn parse_line<'a>(&'a self, line: &'a [u8]) -> Result<Record<'a>, String> {
        let t = LineText::new(line);
        let (pri, rest) = pri(line)?;
        if pri.is_some() && rest.starts_with(b"1 ") {
            return self.rfc5424(&t, pri, &rest[2..]);
        }
        // rsyslog and syslog-ng write "<13>Dec  4 ..." and "<13> Dec 4".
        let rest = if pri.is_some() { rest.trim_ascii_start() } else { rest };
        let (ts, rest) = self.time(&t, rest)?;
        let rest = match rest.strip_prefix(b" ") {
            Some(r) if !r.trim_ascii().is_empty() => r.trim_ascii_start(),
            _ => return Err(format!("nothing after the time stamp in {}", excerpt(line))),
        };
        let mut fields = Vec::with_capacity(10);
        let (host_tok, after_host) = token(rest);
        // No host name: the first token is already "tag[pid]:", "[tag]:" or
        // "[tag]"; macOS's "--- last message repeated 1 time ---" has neither.
        let no_host = (host_tok.ends_with(b":") && host_tok.len() > 1)
            || (host_tok.starts_with(b"[") && host_tok.ends_with(b"]"))
            || host_tok == b"---";
        let (host, body) = if no_host { (None, rest) } else { (t.opt_text(host_tok), after_host) };
        let (tag, pid, message) = split_tag(body);
        // "tag[pid]: [id name=\"value\"] message": RFC 5424 structured data
        // after an RFC 3164 header (rsyslog's templates, some daemons); one
        // parameter at least (a kernel's "[12345.678901]" is no such thing).
        let mut sd = Vec::new();
        let message = match message.first() {
            Some(b'[') if tag.is_some() => match structured_data(&t, message, &mut sd) {
                Ok(msg) if !sd.is_empty() => msg,
                _ => {
                    sd.clear();
                    message
                }
            },
            _ => message,
        };
        fields.push((Cow::Borrowed("pid"), pid.map_or(Value::Null, |p| pid_value(&t, p))));
        let severity = pri_fields(pri, &mut fields);
        fields.append(&mut sd);
        let service = match tag {
            Some(tag) => t.text(tag),
            None => Cow::Borrowed(self.service.as_str()),
        };
        let mut r = Record {
            auth_role: None,
            ts: Some(ts),
            service,
            host,
            severity,
            message: t.text(message),
            user: None,
            fields,
        };
        with_auth(&mut r);
        Ok(r)
    }

    /// An ISO 8601 time (rsyslog high precision, journalctl short-iso) or
    /// a BSD time without a year.
    fn time<'a>(&self, t: &LineText<'a>, b: &'a [u8]) -> Result<(Timestamp, &'a [u8]), String> {
        if b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
            let (tok, _) = token(b);
            let s = t.str(tok).ok_or_else(|| format!("time stamp {} is not text", excerpt(tok)))?;
            let ts = Timestamp::parse_rfc3339(s, &self.tz)
                .ok_or_else(|| format!("time stamp {} is not an ISO 8601 time", excerpt(tok)))?;
            return Ok((ts, &b[tok.len()..]));
        }
        let t = parse_bsd_time(b).ok_or_else(|| {
            format!(
                "expected \"Mmm dd hh:mm:ss host tag: message\" or an ISO 8601 time first, found {}",
                excerpt(b)
            )
        })?;
        let secs =
            without_year(t.mo, t.d, t.h, t.mi, t.s, &self.tz, self.year_ref).ok_or_else(|| {
                format!("date {} does not exist in any recent year", excerpt(&b[..6]))
            })?;
        Ok((Timestamp { secs, nanos: t.nanos, frac_digits: t.frac_digits }, &b[t.len..]))
    }

    /// `TIMESTAMP HOST APP PROCID MSGID SD [MSG]` after `<PRI>1 `.
    fn rfc5424<'a>(
        &'a self,
        t: &LineText<'a>,
        pri: Option<u8>,
        b: &'a [u8],
    ) -> Result<Record<'a>, String> {
        let (ts_tok, rest) = token(b);
        if ts_tok == b"-" {
            return Err("RFC 5424 line without a time stamp (\"-\")".into());
        }
        let ts = t
            .str(ts_tok)
            .and_then(|s| Timestamp::parse_rfc3339(s, &self.tz))
            .ok_or_else(|| format!("time stamp {} is not an RFC 5424 time", excerpt(ts_tok)))?;
        let (host, rest) = token(rest);
        let (app, rest) = token(rest);
        let (procid, rest) = token(rest);
        let (msgid, rest) = token(rest);
        if rest.is_empty() && msgid.is_empty() {
            return Err(format!("RFC 5424 line ends before its structured data: {}", excerpt(b)));
        }
        let mut fields = Vec::with_capacity(8);
        fields.push((Cow::Borrowed("pid"), pid_value(t, procid)));
        let severity = pri_fields(pri, &mut fields);
        fields.push((Cow::Borrowed("msgid"), t.opt_text(msgid).map_or(Value::Null, Value::Str)));
        // Structured data that does not parse ("[incorrect x] qwerty"): the
        // line is kept, all of it the message.
        let mut sd = Vec::new();
        let msg = match structured_data(t, rest, &mut sd) {
            Ok(msg) => {
                fields.append(&mut sd);
                msg
            }
            Err(_) => rest,
        };
        let msg = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
        let service = match t.opt_text(app) {
            Some(a) => a,
            None => Cow::Borrowed(self.service.as_str()),
        };
        let mut r = Record {
            auth_role: None,
            ts: Some(ts),
            service,
            host: t.opt_text(host),
            severity,
            message: t.text(msg),
            user: None,
            fields,
        };
        with_auth(&mut r);
        Ok(r)
    }
}

/// `tag[pid]: message`, `tag: message`, `[tag]: message`, `[tag] message`,
/// and macOS's process names with spaces (`Google Chrome[85294]: message`);
/// a body without a tag is all message.
fn split_tag(b: &[u8]) -> (Option<&[u8]>, Option<&[u8]>, &[u8]) {
    if let Some(inner) = b.strip_prefix(b"[") {
        if let Some(j) = inner.iter().take(MAX_TAG + 1).position(|c| *c == b']') {
            let tag = &inner[..j];
            let rest = &inner[j + 1..];
            let rest = rest.strip_prefix(b":").unwrap_or(rest);
            if !tag.is_empty() && rest.first().is_none_or(|c| *c == b' ') && !tag.contains(&b' ') {
                return (Some(tag), None, rest.strip_prefix(b" ").unwrap_or(rest));
            }
        }
        return (None, None, b);
    }
    let end = b.iter().take(MAX_TAG + 1).position(|c| matches!(c, b'[' | b':' | b' '));
    let Some(end) = end.filter(|&e| e > 0) else {
        return (None, None, b);
    };
    if b[end] == b' ' {
        // "Google Chrome[85294]: ": a name with spaces, then "[digits]: ".
        let head = &b[..b.len().min(MAX_TAG + 12)];
        if let Some(open) = memchr::memchr(b'[', head) {
            let digits = head[open + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            let close = open + 1 + digits;
            if digits > 0 && b[close..].starts_with(b"]: ") && !b[..open].contains(&b':') {
                return (Some(&b[..open]), Some(&b[open + 1..close]), &b[close + 3..]);
            }
        }
    }
    let tag = &b[..end];
    let (pid, rest) = if b[end] == b'[' {
        match memchr::memchr(b']', &b[end..]) {
            Some(j) => (Some(&b[end + 1..end + j]), &b[end + j + 1..]),
            None => return (None, None, b),
        }
    } else {
        (None, &b[end..])
    };
    match rest.strip_prefix(b":") {
        Some(msg) => (Some(tag), pid, msg.strip_prefix(b" ").unwrap_or(msg)),
        None => (None, None, b),
    }
}

/// RFC 5424 structured data (`-` or `[id name="value" ...]...`) into
/// `fields` as `sd.<id>.<name>`; returns the message after it.
fn structured_data<'a>(
    t: &LineText<'a>,
    b: &'a [u8],
    fields: &mut Vec<(Cow<'a, str>, Value<'a>)>,
) -> Result<&'a [u8], String> {
    const MAX_PARAMS: usize = 64;
    if let Some(rest) = b.strip_prefix(b"-") {
        return Ok(rest.strip_prefix(b" ").unwrap_or(rest));
    }
    let bad = || format!("structured data {} is not [id name=\"value\"...]", excerpt(b));
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let id_end = i + b[i..].iter().position(|c| matches!(c, b' ' | b']')).ok_or_else(bad)?;
        let id = t.text(&b[i..id_end]);
        i = id_end;
        loop {
            match b.get(i) {
                Some(b']') => {
                    i += 1;
                    break;
                }
                Some(b' ') => i += 1,
                _ => return Err(bad()),
            }
            let eq = i + b[i..].iter().position(|c| *c == b'=').ok_or_else(bad)?;
            let name = &b[i..eq];
            if name.is_empty()
                || name.iter().any(|c| matches!(c, b' ' | b']' | b'"'))
                || b.get(eq + 1) != Some(&b'"')
            {
                return Err(bad());
            }
            let start = eq + 2;
            let (len, _) = closing_quote(&b[start..]).ok_or_else(bad)?;
            let j = start + len;
            // RFC 5424 escapes exactly `"`, `\` and `]`.
            let value = unescape(&b[start..j], &[(b'"', b'"'), (b'\\', b'\\'), (b']', b']')]);
            if fields.len() < MAX_PARAMS {
                fields.push((
                    Cow::Owned(format!("sd.{id}.{}", String::from_utf8_lossy(name))),
                    Value::Str(value),
                ));
            }
            i = j + 1;
        }
    }
    if i == 0 {
        return Err(bad());
    }
    let rest = &b[i..];
    Ok(rest.strip_prefix(b" ").unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::time::civil_to_secs;

    fn parser(reference: &str) -> SyslogParser {
        let r = Timestamp::parse_rfc3339(reference, &Tz::default()).unwrap().secs;
        SyslogParser::new("syslog".into(), Tz::default(), r)
    }

    fn rec<'a>(p: &'a SyslogParser, line: &'a [u8]) -> Record<'a> {
        match p.parse(line) {
            Outcome::Record(r) => r,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(line)),
        }
    }

    fn reject(p: &SyslogParser, line: &[u8]) -> String {
        match p.parse(line) {
            Outcome::Reject(r) => r,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(line)),
        }
    }

    /// The long tail: an unpadded day, tags in brackets, no host, macOS's
    /// process names with spaces and its "last message repeated", and
    /// structured data after an RFC 3164 tag.
    #[test]
    fn syslog_variants() {
        let p = parser("2025-06-01T00:00:00Z");
        let r = rec(&p, b"Feb 7 16:01:07 linux-m899 sshd[5106]: User root from 192.51.100.54 not allowed because a group is listed in DenyGroups");
        assert_eq!((r.service.as_ref(), r.host.as_deref()), ("sshd", Some("linux-m899")));
        assert_eq!(r.field("client_ip"), Some(&Value::str("192.51.100.54")));
        for line in [
            &b"Mar  3 00:17:22 [sshd]: User root from 211.188.220.49 not allowed because not listed in AllowUsers"[..],
            b"Jun 25 23:53:34 [sshd] User root from 211.188.220.49 not allowed because not listed in AllowUsers",
        ] {
            let r = rec(&p, line);
            assert_eq!((r.service.as_ref(), r.host.as_deref()), ("sshd", None));
            assert_eq!(r.field("outcome"), Some(&Value::str("failure")));
        }
        let r = rec(&p, b"Apr 4 03:39:57 mbp Google Chrome[85294]: --handle=xyz: done");
        assert_eq!((r.service.as_ref(), r.host.as_deref()), ("Google Chrome", Some("mbp")));
        assert_eq!(
            (r.field("pid"), r.message.as_ref()),
            (Some(&Value::Int(85294)), "--handle=xyz: done")
        );
        let r = rec(&p, b"Apr  4 03:39:57 --- last message repeated 1 time ---");
        assert_eq!(
            (r.host.as_deref(), r.message.as_ref()),
            (None, "--- last message repeated 1 time ---")
        );
        let r = rec(&p, b"May  1 12:00:00 web app[7]: [meta sequenceId=\"5\"] started");
        assert_eq!(
            (r.message.as_ref(), r.field("sd.meta.sequenceId")),
            ("started", Some(&Value::str("5")))
        );
        let r = rec(&p, b"May  1 12:00:00 web app[7]: [not structured] data");
        assert_eq!(r.message, "[not structured] data");
        let r = rec(&p, b"May  1 12:00:00 web sshd[7]: Failed password for root from host.example.org port 22 ssh2");
        assert_eq!(
            (r.field("client_ip"), r.field("client_host")),
            (Some(&Value::Null), Some(&Value::str("host.example.org")))
        );
    }

    #[test]
    fn bsd_line_with_auth_event() {
        let p = parser("2025-01-02T00:00:00Z");
        let r = rec(&p, b"Dec 31 23:59:58 web1 sshd[811]: Failed password for root from 203.0.113.9 port 4711 ssh2");
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2024-12-31T23:59:58Z");
        assert_eq!((&*r.service, r.host.as_deref()), ("sshd", Some("web1")));
        assert_eq!(r.user.as_deref(), Some("root"));
        assert_eq!(r.severity, Some(Severity::Warn));
        assert_eq!(r.field("pid"), Some(&Value::Int(811)));
        assert_eq!(r.field("client_ip"), Some(&Value::str("203.0.113.9")));
        assert_eq!(r.field("port"), Some(&Value::Int(4711)));
        assert_eq!(r.field("outcome"), Some(&Value::str("failure")));
        let r = rec(&p, b"Jan  1 00:00:03 web1 CRON[9]: (root) CMD (true)");
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2025-01-01T00:00:03Z");
    }

    #[test]
    fn year_from_the_reference() {
        // Rotated in January: December lines are last year's.
        let p = parser("2025-01-05T06:25:00Z");
        assert_eq!(
            rec(&p, b"Dec 28 10:00:00 h k: m").ts.unwrap().secs,
            civil_to_secs(2024, 12, 28, 10, 0, 0).unwrap()
        );
        // A leap day read in a year without one is the last leap year's.
        let p = parser("2025-03-01T00:00:00Z");
        assert_eq!(
            rec(&p, b"Feb 29 12:00:00 h k: m").ts.unwrap().secs,
            civil_to_secs(2024, 2, 29, 12, 0, 0).unwrap()
        );
        assert!(reject(&p, b"Feb 30 12:00:00 h k: m").contains("does not exist"));
        // Named zones apply to lines without an offset.
        let p = SyslogParser::new(
            "s".into(),
            "Europe/Berlin".parse().unwrap(),
            civil_to_secs(2024, 7, 2, 0, 0, 0).unwrap(),
        );
        assert_eq!(
            rec(&p, b"Jul  1 12:00:00 h k: m").ts.unwrap().to_rfc3339(),
            "2024-07-01T10:00:00Z"
        );
    }

    #[test]
    fn pri_iso_and_rfc5424() {
        let p = parser("2024-06-01T00:00:00Z");
        let r = rec(
            &p,
            b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        );
        assert_eq!(r.severity, Some(Severity::Fatal));
        assert_eq!(r.field("facility"), Some(&Value::str("auth")));
        assert_eq!(r.field("syslog_severity"), Some(&Value::str("crit")));
        assert!(reject(&p, b"<192>Oct 11 22:14:15 h t: m").contains("out of range"));
        let r = rec(&p, b"2024-05-01T12:00:00.123456+02:00 db1 postgres[77]: ready");
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2024-05-01T10:00:00.123456Z");
        let r = rec(&p, b"2024-05-01T12:00:00+0200 db1 systemd[1]: Started x.");
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2024-05-01T10:00:00Z");
        let line = b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"lication\"][x@1 a=\"b\"] \xEF\xBB\xBFAn application event";
        let r = rec(&p, line);
        assert_eq!(&*r.service, "evntslog");
        assert_eq!(r.message, "An application event");
        assert_eq!(r.severity, Some(Severity::Info));
        assert_eq!(r.field("sd.exampleSDID@32473.eventSource"), Some(&Value::str("App\"lication")));
        assert_eq!(r.field("sd.x@1.a"), Some(&Value::str("b")));
        assert_eq!(r.field("msgid"), Some(&Value::str("ID47")));
        assert!(reject(&p, b"<165>1 - h a - - - m").contains("without a time stamp"));
        // Structured data that does not parse keeps the line, as message.
        let r = rec(&p, b"<165>1 2003-10-11T22:14:15Z h a - - [incorrect x] qwerty");
        assert_eq!(r.message, "[incorrect x] qwerty");
        assert_eq!(rec(&p, b"<165>1 2003-10-11T22:14:15Z h a - - [bad").message, "[bad");
    }

    #[test]
    fn hostile_lines() {
        let p = parser("2024-06-01T00:00:00Z");
        assert!(reject(&p, b"Dec 10 06:55:46").contains("nothing after"));
        assert!(reject(&p, b"Dec 10 06:55:46 ").contains("nothing after"));
        assert!(reject(&p, b"2024-05-01").contains("ISO 8601"));
        assert!(reject(&p, b"<>Dec 10 06:55:46 h t: m").contains("PRI"));
        assert!(reject(&p, b"hello world").contains("expected"));
        assert!(matches!(p.parse(b"-- Boot 0123456789abcdef --"), Outcome::Skip));
        // No tag: the whole body is the message.
        let r = rec(&p, b"Dec 10 06:55:46 host last message repeated 2 times");
        assert_eq!((&*r.service, &*r.message), ("syslog", "last message repeated 2 times"));
        // No host: the first token is the tag.
        let r = rec(&p, b"Dec 10 06:55:46 sshd[1]: hi");
        assert_eq!((&*r.service, r.host.as_deref(), &*r.message), ("sshd", None, "hi"));
        let r = rec(&p, b"Dec 10 06:55:46 host \xff\xfe[1]: \xff");
        assert_eq!(r.message, "\u{fffd}");
    }
}
