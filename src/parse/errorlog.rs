//! Web server error logs.
//!
//! `apache-error`: Apache 2.0/2.2 (`[Sun Dec 04 04:47:44 2005] [error]
//! [client 1.2.3.4] message`) and 2.4 (`[Fri Sep 09 10:42:29.902022 2011]
//! [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:2145]
//! AH00128: File does not exist: ...`).
//!
//! `nginx-error`: `2024/05/01 12:00:00 [error] 123#0: *45 open() "/x"
//! failed (2: No such file or directory), client: 1.2.3.4, server: x,
//! request: "GET /x HTTP/1.1", host: "x"`.
//!
//! Both log local time without an offset: the source's `timezone` applies.
//! Severity comes from the level; `fields` keep the client address, the
//! module, pid and thread, and nginx's `server`, `request`, `upstream`,
//! `host` and `referrer` pieces.

use super::time::{civil_to_secs, month_abbr, num, parse_fraction, Timestamp, Tz};
use super::{excerpt, find2, line_outcome, LineText, Outcome, Parser, Record, Severity, Value};
use memchr::memmem;
use std::borrow::Cow;

pub struct ApacheErrorParser {
    service: String,
    tz: Tz,
}

pub struct NginxErrorParser {
    service: String,
    tz: Tz,
}

impl ApacheErrorParser {
    pub fn new(service: String, tz: Tz) -> Self {
        ApacheErrorParser { service, tz }
    }
}

impl NginxErrorParser {
    pub fn new(service: String, tz: Tz) -> Self {
        NginxErrorParser { service, tz }
    }
}

/// A level as the servers write it (`error`, `warn`, `trace3`...).
fn level(b: &[u8]) -> Option<Severity> {
    if b.len() == 6 && b.starts_with(b"trace") && b[5].is_ascii_digit() {
        return Some(Severity::Trace);
    }
    Severity::from_level(b)
}

/// `Www Mmm dd hh:mm:ss[.ffffff] yyyy`.
fn apache_time(b: &[u8], tz: &Tz) -> Option<Timestamp> {
    if b.len() < 24 || b[3] != b' ' || b[7] != b' ' || b[10] != b' ' {
        return None;
    }
    let mo = month_abbr(&b[4..7])?;
    let d = match b[8] {
        b' ' => num(&b[9..10])?,
        _ => num(&b[8..10])?,
    };
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let mut i = 19;
    let (nanos, frac_digits) = parse_fraction(b, &mut i)?;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    let year = b.get(i + 1..)?;
    if year.len() != 4 {
        return None;
    }
    let y = num(year)? as i64;
    let local = civil_to_secs(y, mo, d, h, mi, s)?;
    Some(Timestamp { secs: tz.local_to_utc(local), nanos, frac_digits })
}

/// The `]` that closes a group opened just before `b`, passing over one
/// nested `[...]` (`[client [2001:db8::1]:5678]`).
fn closing(b: &[u8]) -> Option<usize> {
    let mut depth = 0u32;
    for (i, c) in b.iter().enumerate() {
        match c {
            b'[' => depth += 1,
            b']' if depth == 0 => return Some(i),
            b']' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// `1.2.3.4:5678`, `[::1]:5678`, `::1` or `1.2.3.4` into address and port.
fn addr_port(b: &[u8]) -> (&[u8], Option<i64>) {
    if let Some(rest) = b.strip_prefix(b"[") {
        if let Some(j) = memchr::memchr(b']', rest) {
            let port = rest.get(j + 2..).and_then(num).map(i64::from);
            return (&rest[..j], port);
        }
    }
    let colons = b.iter().filter(|c| **c == b':').count();
    if colons == 1 {
        let i = memchr::memchr(b':', b).unwrap_or(b.len());
        if let Some(p) = num(&b[i + 1..]) {
            return (&b[..i], Some(p as i64));
        }
    }
    (b, None)
}

impl Parser for ApacheErrorParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        line_outcome(line, || self.parse_line(line))
    }
}

impl ApacheErrorParser {
    fn parse_line<'a>(&'a self, line: &'a [u8]) -> Result<Record<'a>, String> {
        let t = LineText::new(line);
        let shape = || {
            format!(
                "expected \"[Www Mmm dd hh:mm:ss yyyy] [level] message\", found {}",
                excerpt(line)
            )
        };
        let rest = line.strip_prefix(b"[").ok_or_else(shape)?;
        let close = memchr::memchr(b']', rest).ok_or_else(shape)?;
        let ts = apache_time(&rest[..close], &self.tz).ok_or_else(|| {
            format!("time {} is not \"Www Mmm dd hh:mm:ss yyyy\"", excerpt(&rest[..close]))
        })?;
        let mut rest = &rest[close + 1..];
        let (mut severity, mut module, mut pid, mut tid, mut client, mut port) =
            (None, None, None, None, None, None);
        let mut seen_level = false;
        // The bracketed groups after the time: level, pid, client.
        while let Some(r) = rest.strip_prefix(b" [") {
            let Some(j) = closing(r) else { break };
            let group = &r[..j];
            if !seen_level {
                seen_level = true;
                let (m, lvl) = match memchr::memchr(b':', group) {
                    Some(k) => (Some(&group[..k]), &group[k + 1..]),
                    None => (None, group),
                };
                severity = Some(
                    level(lvl)
                        .ok_or_else(|| format!("level {} is not a log level", excerpt(group)))?,
                );
                module = m;
            } else if let Some(p) = group.strip_prefix(b"pid ") {
                let (p, tpart) = match memchr::memchr(b':', p) {
                    Some(k) => (&p[..k], p[k + 1..].strip_prefix(b"tid ")),
                    None => (p, None),
                };
                pid = num(p).map(i64::from);
                tid = tpart.map(|x| t.text(x));
            } else if let Some(c) =
                group.strip_prefix(b"client ").or_else(|| group.strip_prefix(b"remote "))
            {
                let (a, p) = addr_port(c);
                if client.is_none() {
                    client = Some(a);
                    port = p;
                }
            } else {
                break;
            }
            rest = &r[j + 1..];
        }
        if !seen_level {
            return Err(format!("no [level] after the time in {}", excerpt(line)));
        }
        let message = rest.strip_prefix(b" ").unwrap_or(rest);
        // Apache 2.4's message codes: "AH00128: ...".
        let code = (message.len() > 8
            && message.starts_with(b"AH")
            && message[2..7].iter().all(u8::is_ascii_digit)
            && message[7] == b':')
            .then(|| t.text(&message[..7]));
        let opt = |v: Option<&'a [u8]>| v.map_or(Value::Null, |b| Value::Str(t.text(b)));
        Ok(Record {
            auth_role: None,
            ts: Some(ts),
            service: Cow::Borrowed(&self.service),
            host: None,
            severity,
            message: t.text(message),
            user: None,
            fields: vec![
                (Cow::Borrowed("client_ip"), opt(client)),
                (Cow::Borrowed("client_port"), port.map_or(Value::Null, Value::Int)),
                (Cow::Borrowed("module"), opt(module)),
                (Cow::Borrowed("pid"), pid.map_or(Value::Null, Value::Int)),
                (Cow::Borrowed("tid"), tid.map_or(Value::Null, Value::Str)),
                (Cow::Borrowed("code"), code.map_or(Value::Null, Value::Str)),
            ],
        })
    }
}

impl Parser for NginxErrorParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        line_outcome(line, || self.parse_line(line))
    }
}

/// `yyyy/mm/dd hh:mm:ss`.
fn nginx_time(b: &[u8], tz: &Tz) -> Option<Timestamp> {
    if b.len() != 19
        || b[4] != b'/'
        || b[7] != b'/'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let local = civil_to_secs(
        num(&b[0..4])? as i64,
        num(&b[5..7])?,
        num(&b[8..10])?,
        num(&b[11..13])?,
        num(&b[14..16])?,
        num(&b[17..19])?,
    )?;
    Some(Timestamp::from_secs(tz.local_to_utc(local)))
}

/// The `key: value` pairs nginx appends to a message, quoted or not.
const NGINX_KEYS: [(&[u8], &str); 6] = [
    (b"client", "client_ip"),
    (b"server", "server"),
    (b"request", "request"),
    (b"upstream", "upstream"),
    (b"host", "http_host"),
    (b"referrer", "referrer"),
];

impl NginxErrorParser {
    fn parse_line<'a>(&'a self, line: &'a [u8]) -> Result<Record<'a>, String> {
        let t = LineText::new(line);
        let shape = || {
            format!(
                "expected \"yyyy/mm/dd hh:mm:ss [level] pid#tid: message\", found {}",
                excerpt(line)
            )
        };
        if line.len() < 21 {
            return Err(shape());
        }
        let ts = nginx_time(&line[..19], &self.tz).ok_or_else(|| {
            format!("time {} is not \"yyyy/mm/dd hh:mm:ss\"", excerpt(&line[..19]))
        })?;
        let rest = line[19..].strip_prefix(b" [").ok_or_else(shape)?;
        let close = memchr::memchr(b']', rest).ok_or_else(shape)?;
        let severity = level(&rest[..close])
            .ok_or_else(|| format!("level {} is not a log level", excerpt(&rest[..close])))?;
        let rest = rest[close + 1..].strip_prefix(b" ").unwrap_or(&rest[close + 1..]);
        // "123#0: " then an optional "*45 " connection number.
        let pid_tid =
            find2(rest, b':', b' ').and_then(|k| Some((k, memchr::memchr(b'#', &rest[..k])?)));
        let (pid, tid, rest) = match pid_tid {
            Some((k, h)) => (
                num(&rest[..h]).map(i64::from),
                num(&rest[h + 1..k]).map(i64::from),
                &rest[k + 2..],
            ),
            None => (None, None, rest),
        };
        let (conn, rest) = match rest.strip_prefix(b"*") {
            Some(r) => {
                let d = r.iter().take_while(|c| c.is_ascii_digit()).count();
                if d > 0 && r.get(d) == Some(&b' ') {
                    (num(&r[..d]).map(i64::from), &r[d + 1..])
                } else {
                    (None, rest)
                }
            }
            None => (None, rest),
        };
        let mut found: [Option<&'a [u8]>; 6] = [None; 6];
        // Built once: a searcher costs more to make than most lines take.
        static CLIENT: std::sync::LazyLock<memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memmem::Finder::new(b", client: "));
        let message = match CLIENT.find(rest) {
            Some(k) => {
                pairs(&rest[k + 2..], &mut found);
                &rest[..k]
            }
            None => rest,
        };
        let mut fields = Vec::with_capacity(10);
        let (client, port) = match found[0] {
            Some(c) => {
                let (a, p) = addr_port(c);
                (Value::Str(t.text(a)), p.map_or(Value::Null, Value::Int))
            }
            None => (Value::Null, Value::Null),
        };
        fields.push((Cow::Borrowed("client_ip"), client));
        fields.push((Cow::Borrowed("client_port"), port));
        fields.push((Cow::Borrowed("pid"), pid.map_or(Value::Null, Value::Int)));
        fields.push((Cow::Borrowed("tid"), tid.map_or(Value::Null, Value::Int)));
        fields.push((Cow::Borrowed("connection"), conn.map_or(Value::Null, Value::Int)));
        for (i, (_, name)) in NGINX_KEYS.iter().enumerate().skip(1) {
            fields.push((
                Cow::Borrowed(*name),
                found[i].map_or(Value::Null, |v| Value::Str(t.text(v))),
            ));
        }
        Ok(Record {
            auth_role: None,
            ts: Some(ts),
            service: Cow::Borrowed(&self.service),
            host: None,
            severity: Some(severity),
            message: t.text(message),
            user: None,
            fields,
        })
    }
}

/// `client: 1.2.3.4, server: x, request: "GET / HTTP/1.1", host: "x"`.
fn pairs<'a>(mut b: &'a [u8], found: &mut [Option<&'a [u8]>; 6]) {
    while !b.is_empty() {
        let Some(k) = find2(b, b':', b' ') else { return };
        let key = &b[..k];
        let rest = &b[k + 2..];
        let (value, next) = if let Some(q) = rest.strip_prefix(b"\"") {
            // nginx escapes quotes inside as \x22: the next quote ends it.
            match memchr::memchr(b'"', q) {
                Some(e) => (&q[..e], &q[e + 1..]),
                None => (q, &b""[..]),
            }
        } else {
            match find2(rest, b',', b' ') {
                Some(e) => (&rest[..e], &rest[e..]),
                None => (rest, &b""[..]),
            }
        };
        if let Some(i) = NGINX_KEYS.iter().position(|(n, _)| *n == key) {
            found[i].get_or_insert(value);
        }
        b = next.strip_prefix(b", ").unwrap_or(next);
        if !next.is_empty() && !next.starts_with(b", ") {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_22_and_24() {
        let p = ApacheErrorParser::new("apache".into(), Tz::default());
        let Outcome::Record(r) = p.parse(b"[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] Directory index forbidden by rule: /var/www/html/") else { panic!() };
        assert_eq!(
            (r.ts.unwrap().to_rfc3339().as_str(), r.severity),
            ("2005-12-04T04:47:44Z", Some(Severity::Error))
        );
        assert_eq!(r.field("client_ip"), Some(&Value::str("1.2.3.4")));
        assert_eq!(r.message, "Directory index forbidden by rule: /var/www/html/");
        let Outcome::Record(r) = p.parse(b"[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:2145] AH00128: File does not exist: /x") else { panic!() };
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2011-09-09T10:42:29.902022Z");
        assert_eq!(
            (r.field("module"), r.field("pid"), r.field("client_port"), r.field("code")),
            (
                Some(&Value::str("core")),
                Some(&Value::Int(35708)),
                Some(&Value::Int(2145)),
                Some(&Value::str("AH00128"))
            )
        );
        assert_eq!(r.field("tid"), Some(&Value::str("4328636416")));
        for bad in [
            &b"[Sun Dec 04 04:47:44 2005]"[..],
            b"[Sun Feb 30 04:47:44 2005] [error] x",
            b"[Sun Dec 04 04:47:44 2005] [bogus] x",
            b"hello",
        ] {
            assert!(matches!(p.parse(bad), Outcome::Reject(_)), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn nginx() {
        let p = NginxErrorParser::new("nginx".into(), Tz::default());
        let line = br#"2024/05/01 12:00:00 [error] 123#0: *45 open() "/usr/share/nginx/html/x" failed (2: No such file or directory), client: 1.2.3.4, server: example.com, request: "GET /x HTTP/1.1", upstream: "http://127.0.0.1:8080/x", host: "example.com", referrer: "http://a/""#;
        let Outcome::Record(r) = p.parse(line) else { panic!() };
        assert_eq!(
            r.message,
            r#"open() "/usr/share/nginx/html/x" failed (2: No such file or directory)"#
        );
        assert_eq!(
            (r.severity, r.field("client_ip"), r.field("connection")),
            (Some(Severity::Error), Some(&Value::str("1.2.3.4")), Some(&Value::Int(45)))
        );
        assert_eq!(r.field("request"), Some(&Value::str("GET /x HTTP/1.1")));
        assert_eq!(r.field("upstream"), Some(&Value::str("http://127.0.0.1:8080/x")));
        assert_eq!(r.field("http_host"), Some(&Value::str("example.com")));
        assert_eq!(r.field("referrer"), Some(&Value::str("http://a/")));
        let Outcome::Record(r) =
            p.parse(b"2024/05/01 12:00:00 [notice] 1#1: signal process started")
        else {
            panic!()
        };
        assert_eq!(
            (r.severity, &*r.message, r.field("pid")),
            (Some(Severity::Info), "signal process started", Some(&Value::Int(1)))
        );
        assert!(matches!(p.parse(b"2024/05/01 12:00:00"), Outcome::Reject(_)));
        assert!(matches!(p.parse(b"2024/02/30 12:00:00 [error] 1#1: x"), Outcome::Reject(_)));
    }
}
