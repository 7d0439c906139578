//! Apache/Nginx Common and Combined Log Format, hand-split with `memchr`.
//!
//! ```text
//! [vhost[:port] ]client[, client...] ident user [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 2326 ["referer" "user-agent" [extra...]]
//! ```
//!
//! The part before the time stamp follows Filebeat's nginx pattern: an
//! optional `vhost[:port]`, then one address or an X-Forwarded-For list
//! (comma separated, possibly quoted, possibly followed by one more address),
//! then `ident` and `user`. The client is the first public IP of the list,
//! else its first entry; a hostname or `unix:` is kept as logged.

use super::time::{parse_clf_time, Tz};
use super::{
    excerpt, line_outcome, text, Detail, LineText, Outcome, Parser, Record, Severity, Value,
};
use memchr::{memchr, memchr2};
use std::borrow::Cow;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `%h %l %u %t "%r" %>s %b`; anything after is kept in `extra`.
    Common,
    /// Common plus `"referer" "user-agent"` (missing ones are null).
    Combined,
    /// Either, line by line (same as `Combined`, which accepts both).
    Either,
}

pub struct ClfParser {
    mode: Mode,
    service: String,
    tz: Tz,
    detail: Detail,
}

impl ClfParser {
    pub fn new(mode: Mode, service: String, tz: Tz) -> Self {
        ClfParser { mode, service, tz, detail: Detail::Full }
    }

    /// See [`super::ParserOptions::detail`].
    pub fn detail(mut self, detail: Detail) -> Self {
        self.detail = detail;
        self
    }
}

/// At most this many whitespace-separated tokens before the time stamp.
const MAX_PREFIX_TOKENS: usize = 16;

impl Parser for ClfParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        line_outcome(line, || parse_line(self, line))
    }
}

fn parse_line<'a>(p: &'a ClfParser, line: &'a [u8]) -> Result<Record<'a>, String> {
    // The time stamp: the first '[' preceded by a space.
    let mut search = 0;
    let open = loop {
        let Some(i) = memchr(b'[', &line[search..]).map(|i| i + search) else {
            return Err(format!("no [time] field in {}", excerpt(line)));
        };
        if i > 0 && line[i - 1] == b' ' {
            break i;
        }
        search = i + 1;
    };
    let close = memchr(b']', &line[open..])
        .map(|i| i + open)
        .ok_or_else(|| "unterminated [time] field".to_string())?;
    let time_raw = &line[open + 1..close];
    let ts = parse_clf_time(time_raw, &p.tz).ok_or_else(|| {
        format!("time {} is not a CLF time (dd/Mon/yyyy:HH:MM:SS +zzzz)", excerpt(time_raw))
    })?;

    let lt = LineText::new(line);
    let prefix = Prefix::split(&line[..open], lt)?;

    // "request"
    let mut rest = &line[close + 1..];
    rest = skip_spaces(rest);
    let (request, after) = match rest.first() {
        Some(b'"') => scan_quoted(&rest[1..]).ok_or("unterminated quoted request line")?,
        _ => return Err("missing quoted request line after the time".into()),
    };
    let request = unescape_in(request, lt);
    rest = skip_spaces(after);

    // status and bytes
    let (status_raw, r) = next_token(rest);
    if status_raw.is_empty() {
        return Err("missing status after the request line".into());
    }
    let status = parse_status(status_raw)?;
    let (bytes_raw, r) = next_token(skip_spaces(r));
    let bytes = parse_count(bytes_raw, "bytes")?;
    rest = skip_spaces(r);

    let (mut referer, mut user_agent) = (None, None);
    if p.mode != Mode::Common && rest.first() == Some(&b'"') {
        let (v, r) = scan_quoted(&rest[1..]).ok_or("unterminated quoted referer")?;
        let agents = p.detail == Detail::Full;
        referer = agents.then(|| opt_cow(unescape_in(v, lt))).flatten();
        rest = skip_spaces(r);
        if rest.first() == Some(&b'"') {
            let (v, r) = scan_quoted(&rest[1..]).ok_or("unterminated quoted user agent")?;
            user_agent = agents.then(|| opt_cow(unescape_in(v, lt))).flatten();
            rest = skip_spaces(r);
        }
    }
    let extra = split_extra(rest, lt)?;

    let status_value = status.map_or(Value::Null, |s| Value::Int(s as i64));
    let fields = if p.detail == Detail::Lean {
        // The same checks were made; keep only what a detector can use
        // without a `fields.*` group key.
        vec![
            (Cow::Borrowed("client_ip"), Value::str(prefix.client)),
            (Cow::Borrowed("status"), status_value),
        ]
    } else {
        let (method, path, protocol) = request_parts(&request);
        let mut fields = AccessFields {
            client_ip: Some(prefix.client),
            ident: lt.opt_text(prefix.ident),
            method,
            path,
            protocol,
            status,
            bytes,
            referer,
            user_agent,
        }
        .into_fields(3);
        if prefix.list_len > 1 {
            let list =
                prefix.list[..prefix.list_len].iter().map(|a| Value::str(lt.text(a))).collect();
            fields.push((Cow::Borrowed("client_list"), Value::List(list)));
        }
        if let Some(port) = prefix.vhost_port {
            fields.push((Cow::Borrowed("port"), Value::str(lt.text(port))));
        }
        if !extra.is_empty() {
            fields.push((Cow::Borrowed("extra"), Value::List(extra)));
        }
        fields
    };
    Ok(Record {
        auth_role: None,
        ts: Some(ts),
        service: Cow::Borrowed(&p.service),
        host: prefix.vhost.map(text),
        severity: status.map(Severity::from_http_status),
        message: request,
        user: lt.opt_text(prefix.user),
        fields,
    })
}

/// The fields every access-log record has, in their fixed order (the
/// `combined` formats and custom Apache/nginx formats alike).
pub(crate) struct AccessFields<'a> {
    pub client_ip: Option<Cow<'a, str>>,
    pub ident: Option<Cow<'a, str>>,
    pub method: Option<Cow<'a, str>>,
    pub path: Option<Cow<'a, str>>,
    pub protocol: Option<Cow<'a, str>>,
    pub status: Option<u16>,
    pub bytes: Option<i64>,
    pub referer: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
}

impl<'a> AccessFields<'a> {
    /// The nine fields, with room for `more`.
    pub fn into_fields(self, more: usize) -> Vec<(Cow<'a, str>, Value<'a>)> {
        let mut f = Vec::with_capacity(9 + more);
        f.push((Cow::Borrowed("client_ip"), Value::opt_str(self.client_ip)));
        f.push((Cow::Borrowed("ident"), Value::opt_str(self.ident)));
        f.push((Cow::Borrowed("method"), Value::opt_str(self.method)));
        f.push((Cow::Borrowed("path"), Value::opt_str(self.path)));
        f.push((Cow::Borrowed("protocol"), Value::opt_str(self.protocol)));
        f.push((
            Cow::Borrowed("status"),
            self.status.map_or(Value::Null, |s| Value::Int(s as i64)),
        ));
        f.push((Cow::Borrowed("bytes"), self.bytes.map_or(Value::Null, Value::Int)));
        f.push((Cow::Borrowed("referer"), Value::opt_str(self.referer)));
        f.push((Cow::Borrowed("user_agent"), Value::opt_str(self.user_agent)));
        f
    }
}

/// The tokens before the time stamp.
struct Prefix<'a> {
    vhost: Option<&'a [u8]>,
    vhost_port: Option<&'a [u8]>,
    /// The client address list (no allocation: most lines hold one).
    list: [&'a [u8]; MAX_PREFIX_TOKENS],
    list_len: usize,
    client: Cow<'a, str>,
    ident: &'a [u8],
    user: &'a [u8],
}

impl<'a> Prefix<'a> {
    fn split(b: &'a [u8], lt: LineText<'a>) -> Result<Prefix<'a>, String> {
        let mut toks: [&[u8]; MAX_PREFIX_TOKENS] = [&[]; MAX_PREFIX_TOKENS];
        let mut n = 0;
        for t in b.split(|c| *c == b' ' || *c == b'\t').filter(|t| !t.is_empty()) {
            if n == MAX_PREFIX_TOKENS {
                return Err(format!("too many fields before the time stamp in {}", excerpt(b)));
            }
            toks[n] = t;
            n += 1;
        }
        if n < 3 {
            return Err(format!(
                "expected client, ident and user before the time stamp, found {}",
                excerpt(b)
            ));
        }
        let (ident, user) = (toks[n - 2], toks[n - 1]);
        let mut addrs = &toks[..n - 2];
        let (mut vhost, mut vhost_port) = (None, None);
        if addrs.len() >= 2 && addrs[0][0] != b'"' && !addrs[0].ends_with(b",") {
            let (h, port) = split_host_port(addrs[0]);
            vhost = Some(h);
            vhost_port = port;
            addrs = &addrs[1..];
        }
        let mut list: [&[u8]; MAX_PREFIX_TOKENS] = [&[]; MAX_PREFIX_TOKENS];
        let mut list_len = 0;
        for a in addrs.iter().map(|a| trim_list_punct(a)).filter(|a| !a.is_empty()) {
            list[list_len] = a;
            list_len += 1;
        }
        let client = match &list[..list_len] {
            [] => return Err("empty client address".into()),
            [one] => lt.text(one),
            many => lt.text(many.iter().find(|a| is_public_ip(a)).copied().unwrap_or(many[0])),
        };
        Ok(Prefix { vhost, vhost_port, list, list_len, client, ident, user })
    }
}

/// Strips the quotes and commas around an entry of an address list.
fn trim_list_punct(a: &[u8]) -> &[u8] {
    let start = a.iter().position(|c| *c != b'"' && *c != b',').unwrap_or(a.len());
    let end = a.iter().rposition(|c| *c != b'"' && *c != b',').map_or(start, |i| i + 1);
    &a[start..end.max(start)]
}

/// `example.com:80` → (`example.com`, `80`); an IPv6 address stays whole.
fn split_host_port(b: &[u8]) -> (&[u8], Option<&[u8]>) {
    if let Some(i) = b.iter().rposition(|c| *c == b':') {
        let port = &b[i + 1..];
        let host = &b[..i];
        if !port.is_empty() && port.iter().all(u8::is_ascii_digit) && !host.contains(&b':') {
            return (host, Some(port));
        }
    }
    (b, None)
}

fn is_public_ip(b: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(b) else {
        return false;
    };
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            let o = ip.octets();
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_documentation()
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        Ok(IpAddr::V6(ip)) => {
            let s0 = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || (s0 & 0xfe00) == 0xfc00
                || (s0 & 0xffc0) == 0xfe80)
        }
        Err(_) => false,
    }
}

#[inline]
pub(crate) fn skip_spaces(b: &[u8]) -> &[u8] {
    let i = b.iter().position(|c| *c != b' ' && *c != b'\t').unwrap_or(b.len());
    &b[i..]
}

#[inline]
fn next_token(b: &[u8]) -> (&[u8], &[u8]) {
    let i = memchr2(b' ', b'\t', b).unwrap_or(b.len());
    (&b[..i], &b[i..])
}

/// Scans a quoted value whose opening quote is already consumed. Returns the
/// raw inside (escapes intact) and what follows the closing quote. A quote
/// counts as closing when it is not backslash-escaped and is followed by a
/// space or the end of the line; this tolerates a bare `"` inside a junk
/// request line.
pub(crate) fn scan_quoted(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut i = 0;
    while let Some(j) = memchr2(b'"', b'\\', &b[i..]) {
        let k = i + j;
        if b[k] == b'\\' {
            i = k + 2;
            if i > b.len() {
                return None;
            }
            continue;
        }
        if k + 1 == b.len() || b[k + 1] == b' ' || b[k + 1] == b'\t' {
            return Some((&b[..k], &b[k + 1..]));
        }
        i = k + 1;
    }
    None
}

/// Undoes Apache's `\"` and `\\` escapes; other escapes (`\x16`) stay as logged.
pub(crate) fn unescape(b: &[u8]) -> Cow<'_, str> {
    super::unescape(b, &[(b'"', b'"'), (b'\\', b'\\')])
}

/// [`unescape`] of `b`, a slice of the line `lt` reads.
fn unescape_in<'a>(b: &'a [u8], lt: LineText<'a>) -> Cow<'a, str> {
    if memchr(b'\\', b).is_none() {
        lt.text(b)
    } else {
        unescape(b)
    }
}

pub(crate) fn opt_cow(s: Cow<'_, str>) -> Option<Cow<'_, str>> {
    if s.is_empty() || s == "-" {
        None
    } else {
        Some(s)
    }
}

/// A status code: three digits, or `-` (unknown).
pub(crate) fn parse_status(b: &[u8]) -> Result<Option<u16>, String> {
    if b == b"-" {
        return Ok(None);
    }
    match super::time::num(b) {
        Some(n) if b.len() == 3 && (100..=999).contains(&n) => Ok(Some(n as u16)),
        _ => Err(format!("status {} is not a number", excerpt(b))),
    }
}

/// A byte count: digits, or `-` (none sent).
pub(crate) fn parse_count(b: &[u8], what: &str) -> Result<Option<i64>, String> {
    if b == b"-" {
        return Ok(None);
    }
    if b.is_empty() {
        return Err(format!("missing {what}"));
    }
    if b.len() <= 18 && b.iter().all(u8::is_ascii_digit) {
        Ok(Some(b.iter().fold(0i64, |n, c| n * 10 + (c - b'0') as i64)))
    } else {
        Err(format!("{what} {} is not a number", excerpt(b)))
    }
}

/// Trailing fields after the user agent: quoted or bare tokens, kept as text.
fn split_extra<'a>(mut rest: &'a [u8], lt: LineText<'a>) -> Result<Vec<Value<'a>>, String> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest[0] == b'"' {
            let (v, r) = scan_quoted(&rest[1..]).ok_or("unterminated quoted trailing field")?;
            out.push(Value::opt_str(opt_cow(unescape_in(v, lt))));
            rest = skip_spaces(r);
        } else {
            let (v, r) = next_token(rest);
            out.push(Value::opt_str(lt.opt_text(v)));
            rest = skip_spaces(r);
        }
    }
    Ok(out)
}

/// Method, target and protocol of a request line.
pub(crate) type RequestParts<'a> =
    (Option<Cow<'a, str>>, Option<Cow<'a, str>>, Option<Cow<'a, str>>);

/// Splits a request line into method, target and protocol. All three are
/// `None` when the line is `-`, empty or junk (no upper-case method followed
/// by a target); the line itself is still the record's message.
pub(crate) fn request_parts<'a>(req: &Cow<'a, str>) -> RequestParts<'a> {
    let s: &str = req;
    let Some(sp) = s.find(' ') else {
        return (None, None, None);
    };
    let method = &s[..sp];
    let valid_method = !method.is_empty()
        && method.len() <= 20
        && method.bytes().all(|c| c.is_ascii_uppercase() || c == b'-' || c == b'_');
    let after = s[sp + 1..].trim_start_matches(' ');
    if !valid_method || after.is_empty() {
        return (None, None, None);
    }
    let (target, protocol) = match after.rfind(' ') {
        Some(i) if after[i + 1..].starts_with("HTTP/") => {
            (after[..i].trim_end_matches(' '), Some(&after[i + 1..]))
        }
        _ => (after, None),
    };
    if target.is_empty() {
        return (None, None, None);
    }
    let sub = |part: &str| -> Cow<'a, str> {
        match req {
            Cow::Borrowed(b) => {
                let start = part.as_ptr() as usize - b.as_ptr() as usize;
                Cow::Borrowed(&b[start..start + part.len()])
            }
            Cow::Owned(_) => Cow::Owned(part.to_string()),
        }
    };
    (Some(sub(method)), Some(sub(target)), protocol.map(sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lean_records_agree_with_full_ones() {
        let text = std::fs::read("tests/fixtures/combined/awkward.log").unwrap();
        let full = ClfParser::new(Mode::Combined, "apache".into(), Tz::default());
        let lean =
            ClfParser::new(Mode::Combined, "apache".into(), Tz::default()).detail(Detail::Lean);
        let no_agents =
            ClfParser::new(Mode::Combined, "apache".into(), Tz::default()).detail(Detail::NoAgents);
        for line in text.split(|c| *c == b'\n' || *c == b'\r') {
            // Without the referer and user agent: the same record otherwise.
            match (full.parse(line), no_agents.parse(line)) {
                (Outcome::Record(mut f), Outcome::Record(n)) => {
                    for (k, v) in f.fields.iter_mut() {
                        if k == "referer" || k == "user_agent" {
                            *v = crate::parse::Value::Null;
                        }
                    }
                    assert_eq!(format!("{f:?}"), format!("{n:?}"));
                }
                (Outcome::Reject(a), Outcome::Reject(b)) => assert_eq!(a, b),
                (Outcome::Skip, Outcome::Skip) => {}
                (a, b) => panic!("{a:?} vs {b:?}"),
            }
            match (full.parse(line), lean.parse(line)) {
                (Outcome::Record(f), Outcome::Record(l)) => {
                    assert_eq!(
                        (&f.ts, &f.service, &f.host, &f.severity),
                        (&l.ts, &l.service, &l.host, &l.severity)
                    );
                    assert_eq!((&f.message, &f.user), (&l.message, &l.user));
                    assert_eq!(f.field("client_ip"), l.field("client_ip"));
                }
                (Outcome::Reject(a), Outcome::Reject(b)) => assert_eq!(a, b),
                (Outcome::Skip, Outcome::Skip) => {}
                (a, b) => panic!("{a:?} vs {b:?}"),
            }
        }
    }

    fn parse(line: &str) -> Result<Record<'_>, String> {
        let p = Box::leak(Box::new(ClfParser::new(Mode::Combined, "apache".into(), Tz::default())));
        match p.parse(line.as_bytes()) {
            Outcome::Record(r) => Ok(r),
            Outcome::Reject(e) => Err(e),
            Outcome::Skip => Err("skip".into()),
        }
    }

    fn field(r: &Record<'_>, k: &str) -> Option<String> {
        r.field(k).and_then(|v| v.to_text()).map(|s| s.into_owned())
    }

    #[test]
    fn log_line_valid() {
        let r = parse(
            r#"127.0.0.1 - john [20/Jan/2020:21:32:14 -0700] "GET /index.html HTTP/1.1" 200 1024"#,
        )
        .unwrap();
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2020-01-21T04:32:14Z");
        assert_eq!(r.user.as_deref(), Some("john"));
        assert_eq!(r.message, "GET /index.html HTTP/1.1");
        assert_eq!(field(&r, "path").as_deref(), Some("/index.html"));
        assert_eq!(field(&r, "status").as_deref(), Some("200"));
        assert_eq!(r.severity, Some(Severity::Info));
    }

    #[test]
    fn log_line_invalid_status() {
        let e = parse(r#"1.2.3.4 - - [20/Jan/2020:21:32:14 -0700] "GET / HTTP/1.1" 2x0 1024"#)
            .unwrap_err();
        assert_eq!(e, r#"status "2x0" is not a number"#);
    }

    #[test]
    fn log_line_invalid_timestamp() {
        let e = parse(r#"1.2.3.4 - - [20/Jan/2020 21:32:14] "GET / HTTP/1.1" 200 1"#).unwrap_err();
        assert_eq!(
            e,
            r#"time "20/Jan/2020 21:32:14" is not a CLF time (dd/Mon/yyyy:HH:MM:SS +zzzz)"#
        );
    }

    #[test]
    fn escaped_quotes_in_user_agent() {
        let r = parse(r#"::1 - - [20/Jan/2020:21:32:14 +0000] "GET /a HTTP/1.1" 404 - "-" "Mozilla \"X\" \\ 1""#)
            .unwrap();
        assert_eq!(field(&r, "user_agent").as_deref(), Some(r#"Mozilla "X" \ 1"#));
        assert_eq!(field(&r, "client_ip").as_deref(), Some("::1"));
        assert_eq!(field(&r, "bytes"), None);
        assert_eq!(r.severity, Some(Severity::Warn));
    }

    #[test]
    fn junk_request_is_kept() {
        let r =
            parse(r#"1.2.3.4 - - [20/Jan/2020:21:32:14 +0000] "\x16\x03\x01\x00" 400 0"#).unwrap();
        assert_eq!(r.message, r"\x16\x03\x01\x00");
        assert_eq!(field(&r, "method"), None);
        let r = parse(r#"1.2.3.4 - - [20/Jan/2020:21:32:14 +0000] "-" 408 -"#).unwrap();
        assert_eq!(r.message, "-");
        assert_eq!(field(&r, "path"), None);
        let r = parse(r#"1.2.3.4 - - [20/Jan/2020:21:32:14 +0000] "" 400 0 "-" "-""#).unwrap();
        assert_eq!(r.message, "");
    }

    #[test]
    fn forwarded_lists_pick_first_public() {
        let r = parse(r#""10.5.102.222, 199.96.1.1, 204.246.1.1" 10.2.1.185 - - [22/Jan/2016:13:18:29 +0000] "GET / HTTP/1.1" 200 1 "-" "-""#).unwrap();
        assert_eq!(field(&r, "client_ip").as_deref(), Some("199.96.1.1"));
        assert_eq!(r.host, None);
        let r = parse(
            r#"example.com:80 unix: - - [26/Feb/2019:15:39:42 +0100] "hello" 400 173 "-" "-""#,
        )
        .unwrap();
        assert_eq!(field(&r, "client_ip").as_deref(), Some("unix:"));
        assert_eq!(r.host.as_deref(), Some("example.com"));
        assert_eq!(field(&r, "port").as_deref(), Some("80"));
    }

    #[test]
    fn truncated_user_agent_is_rejected() {
        let e = parse(r#"1.2.3.4 - - [20/Jan/2020:21:32:14 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0 (compatible"#).unwrap_err();
        assert_eq!(e, "unterminated quoted user agent");
    }

    #[test]
    fn trailing_fields_are_kept() {
        let r = parse(
            r#"1.2.3.4 - - [20/Jan/2020:21:32:14 +0000] "GET / HTTP/1.1" 200 1 "-" "UA" "-" 0.003"#,
        )
        .unwrap();
        assert_eq!(field(&r, "extra").as_deref(), Some(r#"[null,"0.003"]"#));
    }
}
