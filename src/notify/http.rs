//! A small HTTP/1.1 client for webhooks: one POST per connection, the
//! answer's status read, nothing else (no redirects). It goes through the
//! proxy of `HTTPS_PROXY`/`HTTP_PROXY` (a CONNECT tunnel for https),
//! except to the hosts of `NO_PROXY` and to loopback addresses.

use super::tls::{self, Conn};
pub use crate::net::Url;
use std::io::{Read, Write};
use std::time::Duration;

/// A proxy: its address and its `Proxy-Authorization`, if it has a user.
struct Proxy {
    url: Url,
    auth: Option<String>,
}

/// The proxy for `url` from the environment, if any.
fn proxy_for(url: &Url) -> Result<Option<Proxy>, String> {
    let names: [&str; 2] =
        if url.https { ["HTTPS_PROXY", "https_proxy"] } else { ["HTTP_PROXY", "http_proxy"] };
    let Some((name, value)) =
        names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()).map(|v| (*n, v)))
    else {
        return Ok(None);
    };
    if bypass(&url.host) {
        return Ok(None);
    }
    // http://user:password@proxy:3128 (a scheme is optional).
    let value = if value.contains("://") { value } else { format!("http://{value}") };
    let with_user = value.split_once("://").and_then(|(scheme, rest)| {
        let (user, host) = rest.rsplit_once('@')?;
        Some((format!("{scheme}://{host}"), user.to_string()))
    });
    let (value, auth) = match with_user {
        Some((v, user)) => {
            use base64::Engine as _;
            let user = percent_encoding::percent_decode_str(&user).decode_utf8_lossy().into_owned();
            (v, Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user))))
        }
        None => (value, None),
    };
    match Url::parse(&value) {
        Ok(u) if !u.https => Ok(Some(Proxy { url: u, auth })),
        Ok(_) => Err(format!("{name}: only http:// proxies are supported")),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// Whether `host` is reached without the proxy: loopback addresses, and
/// the hosts and domains of `NO_PROXY` (`*` for all).
fn bypass(host: &str) -> bool {
    if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return true;
    }
    let list = std::env::var("NO_PROXY").or_else(|_| std::env::var("no_proxy")).unwrap_or_default();
    let host = host.to_ascii_lowercase();
    list.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()).any(|e| {
        let domain = e.trim_start_matches("*.").trim_start_matches('.');
        e == "*" || host == domain || host.ends_with(&format!(".{domain}"))
    })
}

/// Reads an answer's head (up to its blank line, at most 16 KiB) and
/// returns its status code and reason.
fn read_head(conn: &mut impl Read, at: &str) -> Result<(u16, String), String> {
    read_answer(conn, at, false).map(|a| (a.code, a.reason))
}

/// A receiver's answer: its status, what it said of a refusal, and when it
/// asked to be tried again (`Retry-After`, in seconds, at most a day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: u16,
    pub reason: String,
    /// The start of a refusal's body ([`BODY_SHOWN`] characters at most).
    pub said: String,
    pub retry_after: Option<i64>,
}

/// The longest `Retry-After` honoured: a receiver cannot park a
/// notification for longer than a day this way.
pub const MAX_RETRY_AFTER: i64 = 86_400;

/// `Retry-After`'s value: seconds, or an HTTP date (then the seconds from
/// `now` until it), at most [`MAX_RETRY_AFTER`].
pub fn retry_after(value: &str, now: i64) -> Option<i64> {
    let v = value.trim();
    let secs = match v.parse::<i64>() {
        Ok(s) => s,
        Err(_) => chrono::DateTime::parse_from_rfc2822(v).ok()?.timestamp() - now,
    };
    Some(secs.clamp(0, MAX_RETRY_AFTER))
}

/// The answer's status code and reason, and with `body` the start of its
/// body (at most [`BODY_SHOWN`] bytes: what a receiver says of a refusal,
/// such as Slack's `invalid_blocks`).
fn read_answer(conn: &mut impl Read, at: &str, body: bool) -> Result<Answer, String> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") && got.len() < 16 * 1024 {
        match conn.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => got.push(byte[0]),
            // The status line is all that is needed.
            Err(_) if got.contains(&b'\n') => break,
            Err(e) => return Err(io_text(at, e)),
        }
    }
    let line = got.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().splitn(3, ' ');
    let (code, reason) = match (parts.next(), parts.next().and_then(|s| s.parse::<u16>().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => {
            (code, parts.next().unwrap_or("").chars().take(80).collect::<String>())
        }
        _ if got.is_empty() => {
            return Err(format!("{at}: closed the connection without answering"))
        }
        _ => return Err(format!("{at}: answered something that is not HTTP")),
    };
    let mut said = String::new();
    let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
    let retry_after = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after:"))
        .and_then(|v| retry_after(v, chrono::Utc::now().timestamp()));
    // Only a refusal's body is read (a 2xx answer's is not needed), and no
    // more of it than the answer says it has.
    if body && !(200..300).contains(&code) && got.ends_with(b"\r\n\r\n") {
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut start = Vec::new();
        let want = length.unwrap_or(u64::MAX).min(BODY_SHOWN as u64 + 16);
        let _ = conn.take(want).read_to_end(&mut start);
        if head.contains("transfer-encoding: chunked") {
            // The first chunk's text, without its size line.
            if let Some(i) = start.windows(2).position(|w| w == b"\r\n") {
                start.drain(..i + 2);
            }
        }
        said = String::from_utf8_lossy(&start)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(BODY_SHOWN)
            .collect();
    }
    Ok(Answer { code, reason, said, retry_after })
}

/// How much of a refusal's body an error quotes.
const BODY_SHOWN: usize = 200;

fn io_text(at: &str, e: std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!("{at}: timed out"),
        _ => format!("{at}: {e}"),
    }
}

/// POSTs `body` to `url`; returns the answer's status code, reason, and
/// the start of its body. `timeout` bounds the whole send: connecting,
/// TLS, the request and the answer.
pub fn post(
    url: &Url,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
    ca_file: Option<&std::path::Path>,
) -> Result<Answer, String> {
    let until = std::time::Instant::now() + timeout;
    let mut dog = None;
    let result = send(url, headers, body, timeout, ca_file, |tcp| {
        dog = Some(tls::Watchdog::start(tcp, until));
    });
    match (result, dog.as_ref().is_some_and(tls::Watchdog::fired)) {
        (Err(_), true) => {
            Err(format!("{}: no whole answer within {}s", url.origin(), timeout.as_secs()))
        }
        (result, _) => result,
    }
}

fn send(
    url: &Url,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
    ca_file: Option<&std::path::Path>,
    mut watch: impl FnMut(&std::net::TcpStream),
) -> Result<Answer, String> {
    let host = if url.host.contains(':') { format!("[{}]", url.host) } else { url.host.clone() };
    let authority = format!("{host}:{}", url.port);
    let proxy = proxy_for(url)?;
    let (mut tcp, at) = match &proxy {
        Some(p) => (
            tls::connect(&p.url.host, p.url.port, timeout)?,
            format!("{} (through the proxy {})", url.origin(), p.url.origin()),
        ),
        None => (tls::connect(&url.host, url.port, timeout)?, url.origin()),
    };
    watch(&tcp);
    let proxy_auth = |p: &Proxy| {
        p.auth.as_ref().map(|a| format!("Proxy-Authorization: {a}\r\n")).unwrap_or_default()
    };
    if let (Some(p), true) = (&proxy, url.https) {
        // A tunnel to the receiver: TLS end to end.
        let auth = proxy_auth(p);
        write!(tcp, "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{auth}\r\n")
            .map_err(|e| io_text(&at, e))?;
        match read_head(&mut tcp, &at)? {
            (200..=299, _) => {}
            (code, reason) => return Err(format!("{at}: the proxy answered {code} {reason}")),
        }
    }
    let mut conn = if url.https {
        tls::wrap(tcp, &url.host, tls::client_config(ca_file)?)?
    } else {
        Conn::Plain(tcp)
    };
    let default_port = if url.https { 443 } else { 80 };
    let host = if url.port == default_port { host } else { authority };
    // Through a proxy, plain http names the whole address.
    let (target, auth) = match &proxy {
        Some(p) if !url.https => (format!("http://{host}{}", url.target), proxy_auth(p)),
        _ => (url.target.clone(), String::new()),
    };
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: logtrack/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{auth}",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("{at}: timed out after {}s", timeout.as_secs())
        }
        _ => format!("{at}: {e}"),
    };
    conn.write_all(head.as_bytes()).map_err(io)?;
    conn.write_all(body).map_err(io)?;
    conn.flush().map_err(io)?;
    read_answer(&mut conn, &at, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_no_proxy_hosts_go_direct() {
        assert!(bypass("localhost") && bypass("127.0.0.1") && bypass("::1"));
        // NO_PROXY is read from the environment; with none, others go through.
        if std::env::var_os("NO_PROXY").is_none() && std::env::var_os("no_proxy").is_none() {
            assert!(!bypass("hooks.slack.com"));
        }
    }

    /// A local receiver: reads the request, then runs `answer` on the
    /// connection.
    fn receiver(answer: impl FnOnce(std::net::TcpStream) + Send + 'static) -> Url {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            answer(conn);
        });
        Url::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap()
    }

    #[test]
    fn the_timeout_bounds_the_whole_answer_not_each_read() {
        // A byte every 200 ms: no read ever waits a whole second.
        let url = receiver(|mut c| {
            for b in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
                if c.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let started = std::time::Instant::now();
        let got = post(&url, &[], b"{}", Duration::from_secs(1), None);
        assert!(started.elapsed() < Duration::from_millis(1900), "{:?}", started.elapsed());
        let e = got.unwrap_err();
        assert!(e.contains("no whole answer within 1s"), "{e}");
    }

    #[test]
    fn a_refusal_quotes_the_start_of_its_body() {
        let url = receiver(|mut c| {
            let body = format!("invalid_blocks\n\u{7}{}", "x".repeat(500));
            let _ = write!(
                c,
                "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        });
        let a = post(&url, &[], b"{}", Duration::from_secs(5), None).unwrap();
        assert_eq!((a.code, a.reason.as_str()), (400, "Bad Request"));
        assert!(a.said.starts_with("invalid_blocks x"), "{}", a.said);
        assert_eq!(a.said.chars().count(), BODY_SHOWN);
        // Chunked, the size line is not part of what it said.
        let url = receiver(|mut c| {
            let _ = c.write_all(
                b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\nc\r\nno_such_hook\r\n0\r\n\r\n",
            );
        });
        let a = post(&url, &[], b"{}", Duration::from_secs(5), None).unwrap();
        assert_eq!(a.code, 404);
        assert!(a.said.starts_with("no_such_hook"), "{}", a.said);
    }

    #[test]
    fn retry_after_is_seconds_or_a_date_and_at_most_a_day() {
        assert_eq!(retry_after(" 120 ", 0), Some(120));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1_445_412_380), Some(100));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1_445_412_580), Some(0));
        assert_eq!(retry_after("999999", 0), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("soon", 0), None);
        let url = receiver(|mut c| {
            let _ = c.write_all(
                b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n",
            );
        });
        let a = post(&url, &[], b"{}", Duration::from_secs(5), None).unwrap();
        assert_eq!((a.code, a.retry_after), (429, Some(120)));
    }
}
