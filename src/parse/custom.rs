//! Custom access-log layouts: `apache:<LogFormat>` and `nginx:<log_format>`.
//!
//! A format string compiles once into literals and directives. A line is
//! matched left to right: a directive's value runs up to the next literal
//! (for a quoted directive, up to the next unescaped quote that starts that
//! literal; for Apache's `%t`, through the closing `]`). Known directives
//! fill the same fields as `combined`; unknown ones are kept as fields named
//! after the directive (`%{X-Request-Id}i` → `x_request_id`, `$ssl_protocol`
//! → `ssl_protocol`). Text after the last directive is kept in `extra`.

use super::clf::{opt_cow, parse_count, parse_status, request_parts, unescape};
use super::time::{parse_clf_time, Timestamp, Tz};
use super::{excerpt, line_outcome, text, Outcome, Parser, Record, Severity, Value};
use memchr::memmem;
use std::borrow::Cow;

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Str,
    Int,
    Float,
}

#[derive(Clone, Debug, PartialEq)]
enum Directive {
    ClientIp,
    Ident,
    User,
    /// `%t`: `[10/Oct/2000:13:55:36 -0700]`, brackets optional.
    ClfTime,
    /// `$time_iso8601`
    IsoTime,
    Request,
    Status,
    Bytes,
    Referer,
    UserAgent,
    Vhost,
    Method,
    UrlPath,
    Query,
    Protocol,
    Named(String, Kind),
}

#[derive(Clone, Debug)]
enum Piece {
    Lit(Vec<u8>),
    Field(Directive),
}

pub struct CustomParser {
    pieces: Vec<Piece>,
    service: String,
    tz: Tz,
}

fn named(name: &str, kind: Kind) -> Directive {
    Directive::Named(name.to_string(), kind)
}

/// `X-Forwarded-For` → `x_forwarded_for`.
fn key_of(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect()
}

fn apache_directive(arg: Option<&str>, letter: char) -> Result<Directive, String> {
    use Directive::*;
    Ok(match (letter, arg) {
        ('h', _) => ClientIp,
        ('a', _) => named("remote_ip", Kind::Str),
        ('A', _) => named("local_ip", Kind::Str),
        ('b' | 'B', _) => Bytes,
        ('D', _) => named("duration_us", Kind::Int),
        ('T', Some("ms")) => named("duration_ms", Kind::Int),
        ('T', Some("us")) => named("duration_us", Kind::Int),
        ('T', _) => named("duration_s", Kind::Int),
        ('f', _) => named("filename", Kind::Str),
        ('H', _) => Protocol,
        ('k', _) => named("keepalive", Kind::Int),
        ('l', _) => Ident,
        ('L', _) => named("log_id", Kind::Str),
        ('m', _) => Method,
        ('p', _) => named("port", Kind::Str),
        ('P', _) => named("pid", Kind::Str),
        ('q', _) => Query,
        ('r', _) => Request,
        ('R', _) => named("handler", Kind::Str),
        ('s', _) => Status,
        ('t', None) => ClfTime,
        ('t', Some(f)) => named(&format!("time_{}", key_of(f)), Kind::Str),
        ('u', _) => User,
        ('U', _) => UrlPath,
        ('v' | 'V', _) => Vhost,
        ('X', _) => named("connection_status", Kind::Str),
        ('I', _) => named("bytes_in", Kind::Int),
        ('O', _) => named("bytes_out", Kind::Int),
        ('S', _) => named("bytes_total", Kind::Int),
        ('i', Some(h)) if h.eq_ignore_ascii_case("referer") => Referer,
        ('i', Some(h)) if h.eq_ignore_ascii_case("user-agent") => UserAgent,
        ('i', Some(h)) => named(&key_of(h), Kind::Str),
        ('o', Some(h)) => named(&format!("response_{}", key_of(h)), Kind::Str),
        ('e', Some(h)) => named(&format!("env_{}", key_of(h)), Kind::Str),
        ('n', Some(h)) => named(&format!("note_{}", key_of(h)), Kind::Str),
        ('C', Some(h)) => named(&format!("cookie_{}", key_of(h)), Kind::Str),
        ('c' | 'x' | '^', Some(h)) => named(&key_of(h), Kind::Str),
        (c, _) if c.is_ascii_alphabetic() => named(&format!("{c}"), Kind::Str),
        (c, _) => return Err(format!("unknown LogFormat directive %{c}")),
    })
}

fn nginx_directive(name: &str) -> Directive {
    use Directive::*;
    match name {
        "remote_addr" | "realip_remote_addr" | "binary_remote_addr" => ClientIp,
        "remote_user" => User,
        "time_local" => ClfTime,
        "time_iso8601" => IsoTime,
        "request" => Request,
        "status" => Status,
        "body_bytes_sent" => Bytes,
        "http_referer" => Referer,
        "http_user_agent" => UserAgent,
        "host" | "server_name" | "http_host" => Vhost,
        "request_method" => Method,
        "uri" | "document_uri" => UrlPath,
        "args" | "query_string" => Query,
        "server_protocol" => Protocol,
        "request_time" => named("request_time", Kind::Float),
        "bytes_sent" | "request_length" | "connection" | "connection_requests" => {
            named(name, Kind::Int)
        }
        "server_port" => named("port", Kind::Str),
        _ => match name.strip_prefix("http_") {
            Some(h) => named(&key_of(h), Kind::Str),
            None => named(&key_of(name), Kind::Str),
        },
    }
}

fn push_lit(pieces: &mut Vec<Piece>, bytes: &[u8]) {
    if let Some(Piece::Lit(l)) = pieces.last_mut() {
        l.extend_from_slice(bytes);
    } else {
        pieces.push(Piece::Lit(bytes.to_vec()));
    }
}

/// Undoes the escaping of a format string pasted from a config file.
fn unescape_format(f: &str) -> String {
    f.replace("\\\"", "\"").replace("\\t", "\t")
}

impl CustomParser {
    pub fn apache(format: &str, service: String, tz: Tz) -> Result<Self, String> {
        let f = unescape_format(format);
        let mut pieces = Vec::new();
        let mut chars = f.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '%' {
                push_lit(&mut pieces, &f.as_bytes()[i..i + c.len_utf8()]);
                continue;
            }
            // Modifiers: status conditions (!200,304), < and >.
            while let Some((_, m)) = chars.peek() {
                if matches!(m, '<' | '>' | '!' | ',') || m.is_ascii_digit() {
                    chars.next();
                } else {
                    break;
                }
            }
            let mut arg = None;
            if let Some((_, '{')) = chars.peek() {
                chars.next();
                let mut a = String::new();
                loop {
                    match chars.next() {
                        Some((_, '}')) => break,
                        Some((_, ch)) => a.push(ch),
                        None => return Err(format!("unterminated %{{ in LogFormat {format:?}")),
                    }
                }
                arg = Some(a);
            }
            match chars.next() {
                Some((_, '%')) => push_lit(&mut pieces, b"%"),
                Some((_, l)) => pieces.push(Piece::Field(apache_directive(arg.as_deref(), l)?)),
                None => return Err(format!("LogFormat {format:?} ends with a lone %")),
            }
        }
        Self::build(pieces, format, service, tz)
    }

    pub fn nginx(format: &str, service: String, tz: Tz) -> Result<Self, String> {
        let f = unescape_format(format);
        let b = f.as_bytes();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' {
                push_lit(&mut pieces, &b[i..i + 1]);
                i += 1;
                continue;
            }
            let (name, next) = if b.get(i + 1) == Some(&b'{') {
                let end = f[i + 2..]
                    .find('}')
                    .ok_or_else(|| format!("unterminated ${{ in log_format {format:?}"))?;
                (&f[i + 2..i + 2 + end], i + 3 + end)
            } else {
                let len = b[i + 1..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .unwrap_or(b.len() - i - 1);
                (&f[i + 1..i + 1 + len], i + 1 + len)
            };
            if name.is_empty() {
                push_lit(&mut pieces, b"$");
                i += 1;
                continue;
            }
            pieces.push(Piece::Field(nginx_directive(name)));
            i = next;
        }
        Self::build(pieces, format, service, tz)
    }

    fn build(pieces: Vec<Piece>, format: &str, service: String, tz: Tz) -> Result<Self, String> {
        if !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
            return Err(format!("format {format:?} has no directives"));
        }
        Ok(CustomParser { pieces, service, tz })
    }
}

/// Finds the end of a directive's value starting at `pos`.
fn value_end(line: &[u8], pos: usize, quoted: bool, next_lit: Option<&[u8]>) -> Option<usize> {
    let rest = &line[pos..];
    match next_lit {
        None => Some(line.len()),
        Some(lit) if quoted && lit[0] == b'"' => {
            // The next unescaped quote followed by the rest of the literal.
            let mut i = 0;
            while i < rest.len() {
                match rest[i] {
                    b'\\' => i += 2,
                    b'"' if rest[i..].starts_with(lit) => return Some(pos + i),
                    _ => i += 1,
                }
            }
            None
        }
        Some(lit) => memmem::find(rest, lit).map(|i| pos + i),
    }
}

impl Parser for CustomParser {
    fn parse<'a>(&'a self, line: &'a [u8]) -> Outcome<'a> {
        line_outcome(line, || self.parse_line(line))
    }
}

#[derive(Default)]
struct Parts<'a> {
    client: Option<Cow<'a, str>>,
    ident: Option<Cow<'a, str>>,
    user: Option<Cow<'a, str>>,
    ts: Option<Timestamp>,
    request: Option<Cow<'a, str>>,
    status: Option<u16>,
    bytes: Option<i64>,
    referer: Option<Cow<'a, str>>,
    user_agent: Option<Cow<'a, str>>,
    vhost: Option<Cow<'a, str>>,
    method: Option<Cow<'a, str>>,
    url_path: Option<Cow<'a, str>>,
    query: Option<Cow<'a, str>>,
    protocol: Option<Cow<'a, str>>,
    named: Vec<(Cow<'a, str>, Value<'a>)>,
}

impl CustomParser {
    fn parse_line<'a>(&'a self, line: &'a [u8]) -> Result<Record<'a>, String> {
        let mut parts = Parts::default();
        let mut pos = 0;
        for (k, piece) in self.pieces.iter().enumerate() {
            match piece {
                Piece::Lit(lit) => {
                    if !line[pos..].starts_with(lit) {
                        return Err(format!(
                            "expected {} at byte {} of the line, found {}",
                            excerpt(lit),
                            pos + 1,
                            excerpt(&line[pos..])
                        ));
                    }
                    pos += lit.len();
                }
                Piece::Field(d) => {
                    let quoted = pos > 0 && line[pos - 1] == b'"';
                    let next = match self.pieces.get(k + 1) {
                        Some(Piece::Lit(l)) => Some(l.as_slice()),
                        // Two directives back to back: the first is one token.
                        Some(Piece::Field(_)) => Some(&b" "[..]),
                        None => None,
                    };
                    let end = if *d == Directive::ClfTime && line.get(pos) == Some(&b'[') {
                        memchr::memchr(b']', &line[pos..]).map(|i| pos + i + 1)
                    } else {
                        value_end(line, pos, quoted, next)
                    };
                    let end = end.ok_or_else(|| match next {
                        Some(lit) => format!(
                            "expected {} after the {}, not found",
                            excerpt(lit),
                            describe(d)
                        ),
                        None => format!("the line ends inside the {}", describe(d)),
                    })?;
                    self.assign(&mut parts, d, &line[pos..end], quoted)?;
                    pos = end;
                }
            }
        }
        let extra = line[pos..].trim_ascii();
        if !extra.is_empty() {
            parts.named.push((Cow::Borrowed("extra"), Value::str(text(extra))));
        }
        Ok(self.finish(parts, line))
    }

    fn assign<'a>(
        &'a self,
        p: &mut Parts<'a>,
        d: &'a Directive,
        raw: &'a [u8],
        quoted: bool,
    ) -> Result<(), String> {
        let val = || if quoted { unescape(raw) } else { text(raw) };
        match d {
            Directive::ClientIp => p.client = opt_cow(val()),
            Directive::Ident => p.ident = opt_cow(val()),
            Directive::User => p.user = opt_cow(val()),
            Directive::ClfTime => {
                let inner = raw.strip_prefix(b"[").unwrap_or(raw);
                let inner = inner.strip_suffix(b"]").unwrap_or(inner);
                p.ts = Some(parse_clf_time(inner, &self.tz).ok_or_else(|| {
                    format!("time {} is not a CLF time (dd/Mon/yyyy:HH:MM:SS +zzzz)", excerpt(raw))
                })?);
            }
            Directive::IsoTime => {
                let s = text(raw);
                p.ts = Some(
                    Timestamp::parse_rfc3339(&s, &self.tz)
                        .ok_or_else(|| format!("time {} is not an ISO 8601 time", excerpt(raw)))?,
                );
            }
            Directive::Request => p.request = Some(val()),
            Directive::Status => p.status = parse_status(raw)?,
            Directive::Bytes => p.bytes = parse_count(raw, "bytes")?,
            Directive::Referer => p.referer = opt_cow(val()),
            Directive::UserAgent => p.user_agent = opt_cow(val()),
            Directive::Vhost => p.vhost = opt_cow(val()),
            Directive::Method => p.method = opt_cow(val()),
            Directive::UrlPath => p.url_path = opt_cow(val()),
            Directive::Query => p.query = opt_cow(val()),
            Directive::Protocol => p.protocol = opt_cow(val()),
            Directive::Named(name, kind) => {
                let v = match opt_cow(val()) {
                    None => Value::Null,
                    Some(s) => match kind {
                        Kind::Int => s.parse().map(Value::Int).unwrap_or(Value::Str(s)),
                        Kind::Float => s.parse().map(Value::Float).unwrap_or(Value::Str(s)),
                        Kind::Str => Value::Str(s),
                    },
                };
                p.named.push((Cow::Borrowed(name.as_str()), v));
            }
        }
        Ok(())
    }

    fn finish<'a>(&'a self, p: Parts<'a>, line: &'a [u8]) -> Record<'a> {
        let (method, path, protocol, message) = match p.request {
            Some(req) => {
                let (m, pa, pr) = request_parts(&req);
                (m, pa, pr, req)
            }
            None => {
                let path = match (p.url_path, p.query) {
                    (Some(u), Some(q)) if q.starts_with('?') => Some(Cow::Owned(format!("{u}{q}"))),
                    (Some(u), Some(q)) => Some(Cow::Owned(format!("{u}?{q}"))),
                    (u, _) => u,
                };
                let message = match (&p.method, &path) {
                    (Some(m), Some(pa)) => {
                        let mut s = format!("{m} {pa}");
                        if let Some(pr) = &p.protocol {
                            s.push(' ');
                            s.push_str(pr);
                        }
                        Cow::Owned(s)
                    }
                    _ => text(line.trim_ascii()),
                };
                (p.method, path, p.protocol, message)
            }
        };
        let mut fields = super::clf::AccessFields {
            client_ip: p.client,
            ident: p.ident,
            method,
            path,
            protocol,
            status: p.status,
            bytes: p.bytes,
            referer: p.referer,
            user_agent: p.user_agent,
        }
        .into_fields(p.named.len());
        fields.extend(p.named);
        Record {
            auth_role: None,
            ts: p.ts,
            service: Cow::Borrowed(&self.service),
            host: p.vhost,
            severity: p.status.map(Severity::from_http_status),
            message,
            user: p.user,
            fields,
        }
    }
}

fn describe(d: &Directive) -> &str {
    match d {
        Directive::ClientIp => "client address",
        Directive::Ident => "ident",
        Directive::User => "user",
        Directive::ClfTime | Directive::IsoTime => "time",
        Directive::Request => "request line",
        Directive::Status => "status",
        Directive::Bytes => "bytes",
        Directive::Referer => "referer",
        Directive::UserAgent => "user agent",
        Directive::Vhost => "virtual host",
        Directive::Method => "method",
        Directive::UrlPath => "URL path",
        Directive::Query => "query string",
        Directive::Protocol => "protocol",
        Directive::Named(n, _) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(p: &'a CustomParser, line: &'a str) -> Result<Record<'a>, String> {
        match p.parse(line.as_bytes()) {
            Outcome::Record(r) => Ok(r),
            Outcome::Reject(e) => Err(e),
            Outcome::Skip => Err("skip".into()),
        }
    }

    #[test]
    fn apache_with_duration() {
        let p =
            CustomParser::apache(r#"%h %l %u %t \"%r\" %>s %b %D"#, "apache".into(), Tz::default())
                .unwrap();
        let r = rec(
            &p,
            r#"10.0.0.1 - bob [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.0" 200 2326 5123"#,
        )
        .unwrap();
        assert_eq!(r.ts.unwrap().to_rfc3339(), "2000-10-10T20:55:36Z");
        assert_eq!(r.field("path").and_then(Value::as_str), Some("/a?b=1"));
        assert_eq!(r.field("duration_us"), Some(&Value::Int(5123)));
        assert_eq!(r.user.as_deref(), Some("bob"));
    }

    #[test]
    fn nginx_with_request_time_and_unknown_variable() {
        let f = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time $ssl_protocol"#;
        let p = CustomParser::nginx(f, "nginx".into(), Tz::default()).unwrap();
        let r = rec(
            &p,
            r#"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "POST /login HTTP/2.0" 401 12 "-" "curl/8 \"x\"" 0.004 0.003 TLSv1.3"#,
        );
        let r = r.unwrap();
        assert_eq!(r.field("request_time"), Some(&Value::Float(0.004)));
        assert_eq!(r.field("upstream_response_time").and_then(Value::as_str), Some("0.003"));
        assert_eq!(r.field("ssl_protocol").and_then(Value::as_str), Some("TLSv1.3"));
        assert_eq!(r.field("user_agent").and_then(Value::as_str), Some(r#"curl/8 "x""#));
        assert_eq!(r.severity, Some(Severity::Warn));
    }

    #[test]
    fn apache_method_and_url_compose_message() {
        let p =
            CustomParser::apache("%v %h %t %m %U%q %>s", "apache".into(), Tz::default()).unwrap();
        let r = rec(&p, "shop.example 1.2.3.4 [10/Oct/2000:13:55:36 +0000] GET /cart?id=3 503")
            .unwrap();
        assert_eq!(r.message, "GET /cart?id=3");
        assert_eq!(r.host.as_deref(), Some("shop.example"));
        assert_eq!(r.severity, Some(Severity::Error));
    }

    #[test]
    fn mismatched_line_names_what_was_expected() {
        let p = CustomParser::apache(r#"%h [%{%d}t] %s"#, "apache".into(), Tz::default()).unwrap();
        let e = rec(&p, "1.2.3.4 10 200").unwrap_err();
        assert_eq!(e, r#"expected " [" after the client address, not found"#);
        let e = rec(&p, "1.2.3.4 [10/Oct/2000:13:55:36 +0000] x 200").unwrap_err();
        assert_eq!(e, r#"status "x 200" is not a number"#);
        let p = CustomParser::apache(r#"%h "%r" %s"#, "apache".into(), Tz::default()).unwrap();
        let e = rec(&p, "1.2.3.4 GET / 200").unwrap_err();
        assert_eq!(e, r#"expected " \"" after the client address, not found"#);
    }

    #[test]
    fn format_without_directives_is_an_error() {
        assert!(CustomParser::apache("just text", String::new(), Tz::default()).is_err());
        assert!(CustomParser::apache("%h %{Foo", String::new(), Tz::default()).is_err());
    }
}
