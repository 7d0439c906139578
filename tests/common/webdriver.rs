//! Headless Chromium driven over WebDriver (`chromedriver`, Debian's
//! `chromium-driver`), through the tests' HTTP client: enough to sign in,
//! click, read the page and take screenshots.

use super::http::Client;
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    child: Child,
    http: Client,
    session: String,
}

fn found(bin: &str) -> bool {
    Command::new(bin).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// The browser and its driver, if both are installed.
pub fn available() -> Option<(&'static str, &'static str)> {
    let browser =
        ["chromium", "chromium-browser", "google-chrome"].into_iter().find(|b| found(b))?;
    let driver = ["chromedriver"].into_iter().find(|b| found(b))?;
    Some((browser, driver))
}

impl Driver {
    pub fn start(browser: &str, driver: &str) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut d = Driver { child, http: Client::new(addr), session: String::new() };
        let binary = String::from_utf8(
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {browser}"))
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let v = d.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                "binary": binary.trim(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--window-size=1280,1400"]
            }}}}),
        );
        d.session = v["sessionId"].as_str().expect("a WebDriver session").to_string();
        d
    }

    fn call(&mut self, method: &str, path: &str, body: Value) -> Value {
        let path = if path.starts_with("/session/") || path == "/session" {
            path.to_string()
        } else {
            format!("/session/{}{path}", self.session)
        };
        let body = (method == "POST").then(|| ("application/json", body.to_string()));
        let r = self.http.request(method, &path, body, &[]);
        let v: Value = serde_json::from_str(&r.body)
            .unwrap_or_else(|_| panic!("{method} {path}: {} {}", r.status, r.body));
        assert_eq!(r.status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    pub fn goto(&mut self, url: &str) {
        self.call("POST", "/url", json!({ "url": url }));
    }

    pub fn url(&mut self) -> String {
        self.call("GET", "/url", Value::Null).as_str().unwrap().to_string()
    }

    pub fn title(&mut self) -> String {
        self.call("GET", "/title", Value::Null).as_str().unwrap().to_string()
    }

    pub fn source(&mut self) -> String {
        self.call("GET", "/source", Value::Null).as_str().unwrap().to_string()
    }

    /// Elements matching a CSS selector (or an XPath starting with `/`).
    pub fn find_all(&mut self, selector: &str) -> Vec<String> {
        let using = if selector.starts_with('/') { "xpath" } else { "css selector" };
        let v = self.call("POST", "/elements", json!({ "using": using, "value": selector }));
        v.as_array().unwrap().iter().map(|e| e[ELEMENT].as_str().unwrap().to_string()).collect()
    }

    /// Waits (up to 20 s) until `selector` matches, as after a click that
    /// loads a page: a click may return before the new page is there.
    pub fn wait_for(&mut self, selector: &str) {
        let started = Instant::now();
        while self.find_all(selector).is_empty() {
            assert!(started.elapsed() < Duration::from_secs(20), "{selector} never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn find(&mut self, selector: &str) -> String {
        self.find_all(selector).into_iter().next().unwrap_or_else(|| panic!("no {selector}"))
    }

    pub fn type_into(&mut self, selector: &str, text: &str) {
        let e = self.find(selector);
        self.call("POST", &format!("/element/{e}/value"), json!({ "text": text }));
    }

    pub fn click(&mut self, selector: &str) {
        let e = self.find(selector);
        self.call("POST", &format!("/element/{e}/click"), json!({}));
    }

    pub fn text(&mut self, selector: &str) -> String {
        let e = self.find(selector);
        self.call("GET", &format!("/element/{e}/text"), Value::Null).as_str().unwrap().to_string()
    }

    /// Runs `script` (a function body) in the page and returns its value:
    /// for measuring what was rendered. The page itself holds no script.
    pub fn execute(&mut self, script: &str) -> Value {
        self.call("POST", "/execute/sync", json!({ "script": script, "args": [] }))
    }

    /// A PNG of the window.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let b64 = self.call("GET", "/screenshot", Value::Null);
        base64(b64.as_str().unwrap())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = self.http.request("DELETE", &path, None, &[]);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> =
        s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()).map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n =
            chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}
