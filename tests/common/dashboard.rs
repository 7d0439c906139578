//! A `logtrack serve` process for tests, over a test database, and the
//! data and users the dashboard tests share.

use super::http::{Client, Response};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub const ADMIN: (&str, &str) = ("alice", "correct horse battery");
pub const VIEWER: (&str, &str) = ("victor", "viewer password 1");

/// A running dashboard; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// What the server printed after its first line.
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `logtrack serve` on a free port with `args`.
    pub fn start(url: &str, args: &[&str]) -> Server {
        Server::start_on(url, "127.0.0.1:0", args)
    }

    /// Starts `logtrack serve` on `bind` with `args`.
    pub fn start_on(url: &str, bind: &str, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_logtrack"))
            .args(["serve", "--bind", bind])
            .args(args)
            .env("LOGTRACK_DATABASE_URL", url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().expect("the server says where it listens").unwrap();
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|a| a.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&l);
                s.push('\n');
            }
        });
        Server { child, addr, log }
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM and waits (at most 30 s) for the exit: its status and
    /// everything the server printed.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(start.elapsed().as_secs() < 30, "the server did not stop on SIGTERM");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        // The reader thread ends with the pipe.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `logtrack` with `input` on standard input.
pub fn logtrack_stdin(url: &str, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(args)
        .env("LOGTRACK_DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub fn add_user(url: &str, (name, password): (&str, &str), role: &str) {
    let o = logtrack_stdin(
        url,
        &["user", "add", name, "--role", role, "--password-stdin"],
        &format!("{password}\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A job over the quickstart's samples and `extra` (path, format, service).
pub fn job(dir: &std::path::Path, extra: &[(&std::path::Path, &str, &str)]) -> std::path::PathBuf {
    let here = std::env::current_dir().unwrap();
    let mut job = std::fs::read_to_string("jobs/quickstart.toml")
        .unwrap()
        .replace("path = \"../samples/", &format!("path = \"{}/samples/", here.display()));
    for (path, format, service) in extra {
        job.push_str(&format!(
            "\n[[sources]]\npath = {:?}\nformat = \"{format}\"\nservice = \"{service}\"\n",
            path.to_str().unwrap()
        ));
    }
    let file = dir.join("job.toml");
    std::fs::write(&file, job).unwrap();
    file
}

/// The quickstart (and `extra`) run into the database, with an admin and a viewer.
pub fn load(url: &str, dir: &std::path::Path, extra: &[(&std::path::Path, &str, &str)]) {
    let job = job(dir, extra);
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", job.to_str().unwrap(), "-q", "--report-dir"])
        .arg(dir.join("reports"))
        .env("LOGTRACK_DATABASE_URL", url)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    add_user(url, ADMIN, "admin");
    add_user(url, VIEWER, "viewer");
}

/// Signs in through the form; returns the answer to the POST.
pub fn sign_in(c: &mut Client, (name, password): (&str, &str), next: &str) -> Response {
    let form = c.get(&format!("/signin?next={}", super::http::encode(next)));
    assert_eq!(form.status, 200);
    let token = form.input("csrf").expect("a form token");
    c.post(
        "/signin",
        &[("username", name), ("password", password), ("csrf", &token), ("next", next)],
    )
}
