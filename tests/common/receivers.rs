//! Real receivers on 127.0.0.1 for the notification tests: an HTTP server
//! that can fail its first deliveries, and an SMTP server with STARTTLS.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the HTTP receiver answers a delivery.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// Closes the connection without answering.
    Close,
    /// Reads the request and never answers (the sender times out).
    Hang,
    /// Answers with this status.
    Status(u16),
    /// Answers 400 (`invalid_blocks`) when the body holds this text, else 200.
    RefuseIf(&'static str),
    /// Answers 429 with `Retry-After: N`.
    TooMany(u32),
}

/// A request the HTTP receiver read.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The request target (`/hook/…`).
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: serde_json::Value,
    /// The status it was answered (0: closed or left hanging).
    pub status: u16,
}

/// An HTTP receiver: answers `script` in order, then 200.
pub struct HttpReceiver {
    pub url: String,
    pub port: u16,
    pub got: Arc<Mutex<Vec<Delivery>>>,
}

impl HttpReceiver {
    pub fn start(script: Vec<Answer>) -> HttpReceiver {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    /// On a port chosen beforehand (see [`free_port`]).
    pub fn start_on(port: u16, script: Vec<Answer>) -> HttpReceiver {
        Self::on(TcpListener::bind(("127.0.0.1", port)).unwrap(), script)
    }

    /// HTTPS with the test certificate (`tests/data/tls`).
    pub fn start_tls(script: Vec<Answer>) -> HttpReceiver {
        Self::start_tls_as("server", script)
    }

    /// HTTPS with the certificate `tests/data/tls/{name}.pem` and its key.
    pub fn start_tls_as(name: &str, script: Vec<Answer>) -> HttpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut r = Self::serve_on(listener, script, Some(Arc::new(server_config_as(name))));
        r.url = r.url.replace("http://127.0.0.1", "https://localhost");
        r
    }

    /// Answers every delivery as `answer`.
    pub fn always(answer: Answer) -> HttpReceiver {
        Self::start(vec![answer; 1000])
    }

    fn on(listener: TcpListener, script: Vec<Answer>) -> HttpReceiver {
        Self::serve_on(listener, script, None)
    }

    fn serve_on(
        listener: TcpListener,
        script: Vec<Answer>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> HttpReceiver {
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = got.clone();
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let answer = script.next().unwrap_or(Answer::Status(200));
                let (seen, tls) = (seen.clone(), tls.clone());
                std::thread::spawn(move || {
                    if let Answer::Close = answer {
                        return;
                    }
                    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let stream: Box<dyn Stream> = match tls {
                        Some(config) => {
                            let server = rustls::ServerConnection::new(config).unwrap();
                            Box::new(rustls::StreamOwned::new(server, conn))
                        }
                        None => Box::new(conn),
                    };
                    let _ = serve(stream, answer, &seen);
                });
            }
        });
        HttpReceiver { url: format!("http://127.0.0.1:{port}/hook/T0KEN-SECRET"), port, got }
    }

    /// The deliveries answered 2xx.
    pub fn accepted(&self) -> Vec<Delivery> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|d| (200..300).contains(&d.status))
            .cloned()
            .collect()
    }

    /// Every request read, answered or not.
    pub fn attempts(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

fn serve(
    mut conn: Box<dyn Stream>,
    answer: Answer,
    seen: &Mutex<Vec<Delivery>>,
) -> std::io::Result<()> {
    let mut headers = BTreeMap::new();
    let request = read_line(&mut conn)?;
    let path = request.split(' ').nth(1).unwrap_or("").to_string();
    loop {
        let line = read_line(&mut conn)?;
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut raw = vec![0; len];
    conn.read_exact(&mut raw)?;
    let body = serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
    let (status, said) = match answer {
        Answer::Status(s) => (s, ""),
        Answer::RefuseIf(needle) if String::from_utf8_lossy(&raw).contains(needle) => {
            (400, "invalid_blocks")
        }
        Answer::RefuseIf(_) => (200, ""),
        Answer::TooMany(_) => (429, ""),
        _ => (0, ""),
    };
    let extra = match answer {
        Answer::TooMany(n) => format!("Retry-After: {n}\r\n"),
        _ => String::new(),
    };
    seen.lock().unwrap().push(Delivery { path, headers, body, status });
    match answer {
        Answer::Hang => std::thread::sleep(Duration::from_secs(30)),
        _ => {
            write!(
                conn,
                "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{said}",
                said.len()
            )?;
            conn.flush()?;
        }
    }
    Ok(())
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A message the SMTP server took.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, CRLF lines).
    pub data: String,
    /// Whether it came over TLS.
    pub tls: bool,
    /// The AUTH PLAIN credentials, decoded (user, password).
    pub auth: Option<(String, String)>,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The decoded body of the `text/<kind>` part.
    pub fn part(&self, kind: &str) -> Option<String> {
        use base64::Engine as _;
        let marker = format!("Content-Type: text/{kind}");
        let start = self.data.find(&marker)?;
        let rest = &self.data[start..];
        let body = rest.split("\r\n\r\n").nth(1)?;
        let encoded: String = body.lines().take_while(|l| !l.starts_with("--")).collect();
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        String::from_utf8(bytes).ok()
    }
}

/// An SMTP server with the test certificate: STARTTLS offered, or TLS
/// from the first byte (`implicit`). It answers 451 to the first
/// `refuse` messages. It offers AUTH PLAIN, or AUTH LOGIN alone
/// (`login_only`). It refuses the recipients `nobody@…` (550) and
/// `full@…` (452), and, `rejecting_data`, every message after DATA (554).
pub struct SmtpServer {
    pub addr: String,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    /// Messages answered 451.
    pub refused: Arc<Mutex<usize>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        Self::with(false, 0)
    }

    pub fn with(implicit: bool, refuse: usize) -> SmtpServer {
        Self::serve(implicit, refuse, (false, false))
    }

    /// A server that offers only AUTH LOGIN, as many hosted services do.
    pub fn login_only() -> SmtpServer {
        Self::serve(false, 0, (true, false))
    }

    /// A server that refuses every message after DATA with 554.
    pub fn rejecting_data() -> SmtpServer {
        Self::serve(false, 0, (false, true))
    }

    fn serve(implicit: bool, refuse: usize, (login_only, reject): (bool, bool)) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("localhost:{}", listener.local_addr().unwrap().port());
        let mails = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(0));
        let (keep, count) = (mails.clone(), refused.clone());
        let config = Arc::new(server_config());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (keep, config, count) = (keep.clone(), config.clone(), count.clone());
                std::thread::spawn(move || {
                    let _ = smtp_session(
                        conn,
                        config,
                        &keep,
                        (implicit, login_only, reject),
                        (&count, refuse),
                    );
                });
            }
        });
        SmtpServer { addr, mails, refused }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

fn server_config() -> rustls::ServerConfig {
    server_config_as("server")
}

fn server_config_as(name: &str) -> rustls::ServerConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls");
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(format!("{dir}/{name}.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/{name}.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap()
}

/// Reads one CRLF line from `s`, byte by byte (no read-ahead, so the TLS
/// handshake after STARTTLS finds its bytes on the socket).
fn read_line(s: &mut dyn Read) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if s.read(&mut b)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.push(b[0]);
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
    }
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn smtp_session(
    conn: TcpStream,
    config: Arc<rustls::ServerConfig>,
    keep: &Mutex<Vec<Mail>>,
    (implicit, login_only, reject): (bool, bool, bool),
    (refused, refuse): (&Mutex<usize>, usize),
) -> std::io::Result<()> {
    use base64::Engine as _;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut s: Box<dyn Stream> = if implicit {
        let server = rustls::ServerConnection::new(config.clone()).unwrap();
        Box::new(rustls::StreamOwned::new(server, conn.try_clone()?))
    } else {
        Box::new(conn.try_clone()?)
    };
    let mut tls = implicit;
    let (mut from, mut to, mut auth) = (String::new(), Vec::new(), None);
    s.write_all(b"220 test ESMTP\r\n")?;
    loop {
        let line = read_line(&mut s)?;
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            let offer = match (tls, login_only) {
                (false, _) => "250-STARTTLS\r\n",
                (true, false) => "250-AUTH PLAIN\r\n",
                (true, true) => "250-AUTH LOGIN\r\n",
            };
            s.write_all(format!("250-test\r\n{offer}250 8BITMIME\r\n").as_bytes())?;
        } else if upper == "STARTTLS" && !tls {
            s.write_all(b"220 go ahead\r\n")?;
            let server = rustls::ServerConnection::new(config.clone()).unwrap();
            let stream = rustls::StreamOwned::new(server, conn.try_clone()?);
            s = Box::new(stream);
            tls = true;
        } else if upper == "AUTH LOGIN" && login_only {
            let decode = |l: String| {
                let raw = base64::engine::general_purpose::STANDARD.decode(l).unwrap_or_default();
                String::from_utf8_lossy(&raw).into_owned()
            };
            s.write_all(b"334 VXNlcm5hbWU6\r\n")?;
            let user = decode(read_line(&mut s)?);
            s.write_all(b"334 UGFzc3dvcmQ6\r\n")?;
            let password = decode(read_line(&mut s)?);
            auth = Some((user, password));
            s.write_all(b"235 ok\r\n")?;
        } else if upper.starts_with("AUTH PLAIN ") && login_only {
            s.write_all(b"504 unrecognized authentication type\r\n")?;
        } else if upper.starts_with("AUTH PLAIN ") {
            let raw =
                base64::engine::general_purpose::STANDARD.decode(&line[11..]).unwrap_or_default();
            let parts: Vec<String> =
                raw.split(|&b| b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            auth = Some((
                parts.get(1).cloned().unwrap_or_default(),
                parts.get(2).cloned().unwrap_or_default(),
            ));
            s.write_all(b"235 ok\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim_matches(['<', '>', ' ']).to_string();
            s.write_all(b"250 ok\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = line[8..].trim_matches(['<', '>', ' ']).to_string();
            if rcpt.starts_with("nobody@") {
                s.write_all(b"550 5.1.1 no such user here\r\n")?;
            } else if rcpt.starts_with("full@") {
                s.write_all(b"452 4.2.2 mailbox full\r\n")?;
            } else {
                to.push(rcpt);
                s.write_all(b"250 ok\r\n")?;
            }
        } else if upper == "DATA" {
            s.write_all(b"354 go\r\n")?;
            let mut data = String::new();
            loop {
                let l = read_line(&mut s)?;
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push_str("\r\n");
            }
            if reject {
                to.clear();
                s.write_all(b"554 5.7.1 message content rejected\r\n")?;
                continue;
            }
            let mut n = refused.lock().unwrap();
            if *n < refuse {
                *n += 1;
                s.write_all(b"451 try again later\r\n")?;
                continue;
            }
            drop(n);
            keep.lock().unwrap().push(Mail {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
                tls,
                auth: auth.clone(),
            });
            s.write_all(b"250 queued\r\n")?;
        } else if upper == "QUIT" {
            s.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            s.write_all(b"502 no\r\n")?;
        }
    }
}

/// An HTTP proxy that sends every request, whatever host it names, to
/// 127.0.0.1:`to`: CONNECT tunnels, and plain requests in absolute form.
pub struct Proxy {
    pub addr: String,
    /// The heads of the requests it took (request line and headers).
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    pub fn start(to: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let keep = keep.clone();
                std::thread::spawn(move || {
                    let mut head = String::new();
                    while let Ok(line) = read_line(&mut conn) {
                        if line.is_empty() {
                            break;
                        }
                        head.push_str(&line);
                        head.push('\n');
                    }
                    keep.lock().unwrap().push(head.clone());
                    let mut target = TcpStream::connect(("127.0.0.1", to)).unwrap();
                    if head.starts_with("CONNECT ") {
                        conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").unwrap();
                    } else {
                        target.write_all(head.replace('\n', "\r\n").as_bytes()).unwrap();
                        target.write_all(b"\r\n").unwrap();
                    }
                    let (mut up_from, mut up_to) =
                        (conn.try_clone().unwrap(), target.try_clone().unwrap());
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut up_from, &mut up_to);
                        let _ = up_to.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut target, &mut conn);
                    let _ = conn.shutdown(std::net::Shutdown::Write);
                    let _ = up.join();
                });
            }
        });
        Proxy { addr, seen }
    }
}
