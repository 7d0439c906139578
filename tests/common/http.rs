//! A small HTTP/1.1 client for tests: one connection per request
//! (`Connection: close`), a cookie jar, form and JSON bodies. Enough for
//! the dashboard and for a WebDriver server; not a general client.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.as_str()).collect()
    }

    /// The `value` of the first `name="..." value="..."` hidden input.
    pub fn input(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\" value=\""))?;
        let rest = &self.body[at + name.len() + 15..];
        Some(rest[..rest.find('"')?].to_string())
    }
}

/// Percent-encodes a form value.
pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// HTML text back to plain text (the entities maud writes).
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// A client with a cookie jar, talking to one server.
pub struct Client {
    pub addr: SocketAddr,
    pub jar: BTreeMap<String, String>,
    /// Extra headers sent with every request.
    pub extra: Vec<(String, String)>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr, jar: BTreeMap::new(), extra: Vec::new() }
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, None, &[])
    }

    /// POSTs a form.
    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        self.request("POST", path, Some(("application/x-www-form-urlencoded", body.join("&"))), &[])
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, String)>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if !self.jar.is_empty() {
            let c: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req.push_str(&format!("Cookie: {}\r\n", c.join("; ")));
        }
        for (k, v) in
            self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(headers.iter().copied())
        {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = match body {
            Some((ty, b)) => {
                req.push_str(&format!("Content-Type: {ty}\r\nContent-Length: {}\r\n", b.len()));
                b
            }
            None => String::new(),
        };
        req.push_str("\r\n");
        req.push_str(&body);
        let mut s = TcpStream::connect(self.addr).expect("connect to the server");
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        // A server may answer a request it refuses (too large) and close
        // before reading all of it: the write then fails, and the answer,
        // if the reset did not discard it, is still there to read. A
        // connection closed with no answer is status 0.
        let cut = |e: &std::io::Error| {
            matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
        };
        if let Err(e) = s.write_all(req.as_bytes()) {
            assert!(cut(&e), "writing the request: {e}");
        }
        let raw = match read_response(&mut s) {
            Ok(raw) if raw.windows(4).any(|w| w == b"\r\n\r\n") => raw,
            Ok(_) => return Response { status: 0, headers: Vec::new(), body: String::new() },
            Err(e) if cut(&e) => {
                return Response { status: 0, headers: Vec::new(), body: e.to_string() }
            }
            Err(e) => panic!("reading the response: {e}"),
        };
        let res = parse(&raw);
        for c in res.set_cookies() {
            let pair = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.jar.remove(k);
                } else {
                    self.jar.insert(k.to_string(), v.to_string());
                }
            }
        }
        res
    }
}

/// One response's bytes: up to its `Content-Length`, its last chunk, or
/// the end of the connection (servers may keep it open despite `close`).
fn read_response(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            match length {
                Some(n) if raw.len() >= end + 4 + n => return Ok(raw),
                None if head.contains("transfer-encoding: chunked")
                    && raw[end..].windows(5).any(|w| w == b"0\r\n\r\n") =>
                {
                    return Ok(raw)
                }
                _ => {}
            }
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

fn parse(raw: &[u8]) -> Response {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole response");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
            rest = &rest[eol + 2 + n + 2..];
        }
        body = out;
    }
    Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}
