//! A small HTTP/1.1 client for webhooks: one POST per connection, the
//! answer's status read, nothing else (no redirects, no proxies).

use super::tls::{self, Conn};
use std::io::{Read, Write};
use std::time::Duration;

/// An `http://` or `https://` address. Errors never quote it: a webhook's
/// address often holds its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub target: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err("expected an http:// or https:// address".into());
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let target = target.split('#').next().unwrap_or("/").to_string();
        if authority.contains('@') {
            return Err("user names and passwords in the address are not supported: use headers (Authorization)".into());
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (h, after) = v6.split_once(']').ok_or("an IPv6 address without its ']'")?;
                (h, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            },
        };
        let port = match port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => p.parse().map_err(|_| "the address has an invalid port".to_string())?,
        };
        if host.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err("the address has no host, or spaces or control characters".into());
        }
        Ok(Url { https, host: host.to_string(), port, target })
    }

    /// `scheme://host:port`, for messages (no path: it may hold a token).
    pub fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// POSTs `body` to `url`; returns the answer's status code and reason.
pub fn post(
    url: &Url,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
    ca_file: Option<&std::path::Path>,
) -> Result<(u16, String), String> {
    let tcp = tls::connect(&url.host, url.port, timeout)?;
    let mut conn = if url.https {
        tls::wrap(tcp, &url.host, tls::client_config(ca_file)?)?
    } else {
        Conn::Plain(tcp)
    };
    let host = if url.host.contains(':') { format!("[{}]", url.host) } else { url.host.clone() };
    let default_port = if url.https { 443 } else { 80 };
    let host = if url.port == default_port { host } else { format!("{host}:{}", url.port) };
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: logtrack/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        url.target,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("{}: timed out after {}s", url.origin(), timeout.as_secs())
        }
        _ => format!("{}: {e}", url.origin()),
    };
    conn.write_all(head.as_bytes()).map_err(io)?;
    conn.write_all(body).map_err(io)?;
    conn.flush().map_err(io)?;
    // The status line is all that is needed.
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(2).any(|w| w == b"\r\n") && got.len() < 8192 {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Err(io(e)),
        }
    }
    let line = got.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().splitn(3, ' ');
    match (parts.next(), parts.next().and_then(|s| s.parse::<u16>().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => {
            let reason: String = parts.next().unwrap_or("").chars().take(80).collect();
            Ok((code, reason))
        }
        _ if got.is_empty() => {
            Err(format!("{}: closed the connection without answering", url.origin()))
        }
        _ => Err(format!("{}: answered something that is not HTTP", url.origin())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        let u = Url::parse("https://hooks.example.com/services/T0/B0/XYZ?x=1#f").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port), (true, "hooks.example.com", 443));
        assert_eq!(u.target, "/services/T0/B0/XYZ?x=1");
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.port, u.target.as_str()), (8080, "/"));
        let u = Url::parse("http://[::1]:9/h?q").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.target.as_str()), ("::1", 9, "/h?q"));
        assert_eq!(u.origin(), "http://[::1]:9");
        for bad in ["ftp://x/", "http://", "http://u:p@h/", "http://h:99999/", "http://h/a b"] {
            let e = Url::parse(bad).unwrap_err();
            assert!(!e.contains(bad), "{e}");
        }
    }
}
