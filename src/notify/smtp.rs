//! A small SMTP client: one message, STARTTLS or implicit TLS through
//! rustls (the server's certificate verified), AUTH PLAIN or LOGIN when a
//! password is given. Each recipient is taken or refused on its own.

use super::tls::{self, Conn};
use crate::config::notify::SmtpTls;
use base64::Engine as _;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// A message to send.
pub struct Mail<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// Without the angle brackets; also the idempotency key.
    pub message_id: &'a str,
}

/// Where and how to send.
pub struct Server<'a> {
    pub smtp: &'a str,
    pub tls: SmtpTls,
    pub ca_file: Option<&'a Path>,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    pub timeout: Duration,
}

/// Why a send failed, with the server's reply code when it gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpError {
    pub text: String,
    pub code: Option<u16>,
}

impl SmtpError {
    /// A 5xx reply is final (the same message will be refused again); a
    /// 4xx reply, a refused or broken connection, a timeout may pass.
    pub fn failure(&self) -> super::Failure {
        match self.code {
            Some(500..=599) => super::Failure::Permanent,
            _ => super::Failure::Transient { retry_after: None },
        }
    }
}

impl From<String> for SmtpError {
    fn from(text: String) -> SmtpError {
        SmtpError { text, code: None }
    }
}

struct Session {
    conn: Option<Conn>,
    buf: Vec<u8>,
    at: String,
}

impl Session {
    fn conn(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("a connection is always put back")
    }

    fn io(&self, e: std::io::Error) -> String {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("{}: timed out", self.at)
            }
            _ => format!("{}: {e}", self.at),
        }
    }

    /// One reply: its code and its lines' text.
    fn reply(&mut self) -> Result<(u16, Vec<String>), String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line()?;
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let Some(code) = code else {
                return Err(format!("{}: not an SMTP reply: {:?}", self.at, truncate(&line)));
            };
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more || lines.len() > 100 {
                return Ok((code, lines));
            }
        }
    }

    fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            if self.buf.len() > 64 * 1024 {
                return Err(format!("{}: a reply line is too long", self.at));
            }
            let mut chunk = [0u8; 4096];
            let n = match self.conn().read(&mut chunk) {
                Ok(n) => n,
                Err(e) => return Err(self.io(e)),
            };
            if n == 0 {
                return Err(format!("{}: the server closed the connection", self.at));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self.conn().write_all(bytes).and_then(|()| self.conn().flush()) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Sends `command` (shown as `shown` in errors) and expects a reply in `ok`.
    fn command(
        &mut self,
        command: &str,
        shown: &str,
        ok: &[u16],
    ) -> Result<Vec<String>, SmtpError> {
        self.send(format!("{command}\r\n").as_bytes())?;
        self.expect(shown, ok)
    }

    fn expect(&mut self, shown: &str, ok: &[u16]) -> Result<Vec<String>, SmtpError> {
        let (code, lines) = self.reply()?;
        if ok.contains(&code) {
            Ok(lines)
        } else {
            let text = format!("{}: {shown}: {code} {}", self.at, truncate(&lines.join(" ")));
            Err(SmtpError { text, code: Some(code) })
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The mechanisms of the EHLO answer's `AUTH` line (`AUTH PLAIN LOGIN`,
/// or the old `AUTH=LOGIN`), upper case.
fn mechanisms(ext: &[String]) -> Vec<String> {
    ext.iter()
        .filter_map(|l| {
            let u = l.to_ascii_uppercase();
            u.strip_prefix("AUTH ").or_else(|| u.strip_prefix("AUTH=")).map(str::to_string)
        })
        .flat_map(|m| m.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// Signs in with `PLAIN` when the server offers it, else `LOGIN` (which many
/// hosted services offer alone).
fn authenticate(
    s: &mut Session,
    ext: &[String],
    user: &str,
    password: &str,
) -> Result<(), SmtpError> {
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t.as_bytes());
    let offered = mechanisms(ext);
    if offered.iter().any(|m| m == "PLAIN") {
        s.command(
            &format!("AUTH PLAIN {}", b64(&format!("\0{user}\0{password}"))),
            "AUTH PLAIN",
            &[235],
        )?;
    } else if offered.iter().any(|m| m == "LOGIN") {
        s.command("AUTH LOGIN", "AUTH LOGIN", &[334])?;
        s.command(&b64(user), "AUTH LOGIN (user name)", &[334])?;
        s.command(&b64(password), "AUTH LOGIN (password)", &[235])?;
    } else if offered.is_empty() {
        return Err(format!("{}: the server offers no authentication (AUTH)", s.at).into());
    } else {
        return Err(format!(
            "{}: the server offers AUTH {} only (LogTrack signs in with PLAIN or LOGIN)",
            s.at,
            offered.join(" ")
        )
        .into());
    }
    Ok(())
}

/// What each refused recipient was answered.
pub type Refused = Vec<(String, SmtpError)>;

/// Sends `mail` through `server`, within its `timeout` as a whole. The
/// message goes to the recipients the server takes; those it refuses are
/// returned with its answer (an error when it takes none).
pub fn send(server: &Server<'_>, mail: &Mail<'_>) -> Result<Refused, SmtpError> {
    let until = std::time::Instant::now() + server.timeout;
    let (host, port) = crate::config::notify::split_host_port(server.smtp)
        .ok_or_else(|| format!("smtp {:?}: expected host:port", server.smtp))?;
    let tcp = tls::connect(host, port, server.timeout)?;
    let dog = tls::Watchdog::start(&tcp, until);
    match session(server, mail, tcp, (host, port)) {
        Err(_) if dog.fired() => {
            Err(format!("smtp {host}:{port}: not done within {}s", server.timeout.as_secs()).into())
        }
        result => result,
    }
}

fn session(
    server: &Server<'_>,
    mail: &Mail<'_>,
    tcp: std::net::TcpStream,
    (host, port): (&str, u16),
) -> Result<Refused, SmtpError> {
    let conn = match server.tls {
        SmtpTls::Tls => tls::wrap(tcp, host, tls::client_config(server.ca_file)?)?,
        _ => Conn::Plain(tcp),
    };
    let mut s = Session { conn: Some(conn), buf: Vec::new(), at: format!("smtp {host}:{port}") };
    s.expect("greeting", &[220])?;
    let mut ext = s.command("EHLO logtrack", "EHLO", &[250])?;
    if server.tls == SmtpTls::StartTls {
        if !ext.iter().any(|l| l.eq_ignore_ascii_case("STARTTLS")) {
            return Err(format!("{}: the server does not offer STARTTLS (set tls = \"tls\" for port 465, or \"none\" for a relay on this host)", s.at).into());
        }
        s.command("STARTTLS", "STARTTLS", &[220])?;
        if !s.buf.is_empty() {
            return Err(format!("{}: the server sent data before the TLS handshake", s.at).into());
        }
        let Some(Conn::Plain(tcp)) = s.conn.take() else { unreachable!("plain before STARTTLS") };
        s.conn = Some(tls::wrap(tcp, host, tls::client_config(server.ca_file)?)?);
        ext = s.command("EHLO logtrack", "EHLO", &[250])?;
    }
    if let Some(password) = server.password {
        let user = server.username.unwrap_or(mail.from);
        authenticate(&mut s, &ext, user, password)?;
    }
    s.command(&format!("MAIL FROM:<{}>", mail.from), "MAIL FROM", &[250])?;
    let mut refused = Vec::new();
    for to in mail.to {
        match s.command(&format!("RCPT TO:<{to}>"), &format!("RCPT TO {to}"), &[250, 251]) {
            Ok(_) => {}
            Err(e) if e.code.is_some() => refused.push((to.clone(), e)),
            Err(e) => return Err(e),
        }
    }
    if refused.len() == mail.to.len() {
        let _ = s.command("QUIT", "QUIT", &[221]);
        // None taken: the message failed, finally only if every refusal was.
        let permanent = refused.iter().all(|(_, e)| e.failure() == super::Failure::Permanent);
        let text = refused.iter().map(|(_, e)| e.text.as_str()).collect::<Vec<_>>().join("; ");
        let code = if permanent { Some(550) } else { Some(450) };
        return Err(SmtpError { text, code });
    }
    s.command("DATA", "DATA", &[354])?;
    let mut body = message(mail).into_bytes();
    body.extend_from_slice(b".\r\n");
    s.send(&body)?;
    s.expect("the message", &[250])?;
    let _ = s.command("QUIT", "QUIT", &[221]);
    Ok(refused)
}

/// The message: headers, then a plain text and an HTML part (base64, so
/// that no line is too long and dots need no stuffing).
pub fn message(mail: &Mail<'_>) -> String {
    let boundary = format!("=_logtrack_{}", mail.message_id.split('@').next().unwrap_or(""));
    let mut m = String::new();
    m.push_str(&format!("From: <{}>\r\n", mail.from));
    let to: Vec<String> = mail.to.iter().map(|t| format!("<{t}>")).collect();
    m.push_str(&format!("To: {}\r\n", to.join(", ")));
    m.push_str(&format!("Subject: {}\r\n", header_text(mail.subject)));
    m.push_str(&format!("Date: {}\r\n", chrono::Utc::now().to_rfc2822()));
    m.push_str(&format!("Message-ID: <{}>\r\n", mail.message_id));
    m.push_str(&format!("X-LogTrack-Id: {}\r\n", mail.message_id.split('@').next().unwrap_or("")));
    m.push_str("Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n");
    m.push_str(&format!("Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"));
    for (kind, body) in [("plain", mail.text), ("html", mail.html)] {
        m.push_str(&format!("--{boundary}\r\n"));
        m.push_str(&format!("Content-Type: text/{kind}; charset=utf-8\r\n"));
        m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
        for chunk in encoded.as_bytes().chunks(76) {
            m.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            m.push_str("\r\n");
        }
    }
    m.push_str(&format!("--{boundary}--\r\n"));
    m
}

/// A header value: as it is when printable ASCII and short, else RFC 2047
/// encoded words of at most 75 characters (45 bytes of text each, cut
/// between characters), folded one to a line.
fn header_text(s: &str) -> String {
    let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.len() <= MAX_PLAIN_HEADER && s.bytes().all(|b| (b' '..0x7f).contains(&b)) {
        return s;
    }
    let encode = |t: &str| {
        format!("=?utf-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(t.as_bytes()))
    };
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(encode(&chunk));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(encode(&chunk));
    }
    words.join("\r\n ")
}

/// A plain header value longer than this is encoded (and so folded): with
/// its name, a header line stays far below RFC 5322's 998 characters.
const MAX_PLAIN_HEADER: usize = 900;

#[cfg(test)]
mod tests {
    use super::*;

    fn subject_of(message: &str) -> Vec<&str> {
        let mut lines = message.split("\r\n").skip_while(|l| !l.starts_with("Subject: "));
        let first = lines.next().unwrap().trim_start_matches("Subject: ");
        std::iter::once(first)
            .chain(lines.take_while(|l| l.starts_with(' ')).map(str::trim))
            .collect()
    }

    #[test]
    fn long_subjects_are_folded_encoded_words_of_at_most_75_characters() {
        let to = ["oncall@example.com".to_string()];
        let long = format!("[LogTrack] {}: 2 new (critical) ✓", "ünïcödé-job ".repeat(80));
        let mail = Mail {
            from: "lt@example.com",
            to: &to,
            subject: &long,
            text: "t",
            html: "h",
            message_id: "k@x",
        };
        let m = message(&mail);
        assert!(m.split("\r\n").all(|l| l.len() <= 998), "a header line over 998");
        let words = subject_of(&m);
        assert!(words.len() > 10);
        let mut decoded = Vec::new();
        for w in &words {
            assert!(w.len() <= 75, "{w}");
            let b64 = w.strip_prefix("=?utf-8?B?").and_then(|w| w.strip_suffix("?=")).unwrap();
            decoded.extend(base64::engine::general_purpose::STANDARD.decode(b64).unwrap());
        }
        assert_eq!(String::from_utf8(decoded).unwrap(), long);
        // A short ASCII subject stays as it is.
        let mail = Mail { subject: "[LogTrack] web: 1 new", ..mail };
        assert_eq!(subject_of(&message(&mail)), ["[LogTrack] web: 1 new"]);
    }

    #[test]
    fn auth_mechanisms_are_read_from_either_form() {
        let ext: Vec<String> =
            ["test", "AUTH PLAIN login", "AUTH=CRAM-MD5", "8BITMIME"].map(String::from).into();
        assert_eq!(mechanisms(&ext), ["PLAIN", "LOGIN", "CRAM-MD5"]);
        assert!(mechanisms(&["STARTTLS".to_string()]).is_empty());
    }
}
