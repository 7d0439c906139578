//! PostgreSQL for tests: `LOGTRACK_TEST_DATABASE_URL` when set, else a
//! throwaway server started from the machine's own `initdb`/`postgres`
//! (as the `postgres` user when running as root: PostgreSQL refuses root),
//! on its own port and socket directory, stopped by a watchdog when the test
//! process exits. Every test gets a database of its own.
//!
//! With neither possible a test is skipped with a notice, unless
//! `LOGTRACK_REQUIRE_PG=1` (set by CI), which makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// An admin URL (connects to the `postgres` database), or why there is none.
fn server() -> &'static Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("LOGTRACK_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => start_server(),
    })
}

/// A test's own database: derefs to its URL, and is dropped (with its
/// files) when the test is done, so a whole test binary never holds every
/// test's rows on disk at once.
pub struct TestDb {
    url: String,
    admin: String,
    name: String,
    /// Admin URLs of other servers holding a database of this name.
    also: Vec<String>,
}

impl std::ops::Deref for TestDb {
    type Target = String;
    fn deref(&self) -> &String {
        &self.url
    }
}

impl AsRef<std::ffi::OsStr> for TestDb {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.url.as_ref()
    }
}

impl std::fmt::Display for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // FORCE ends the sessions a test left open (a server it started,
        // a child it killed). A failure only costs disk space.
        for admin in std::iter::once(&self.admin).chain(&self.also) {
            if let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls) {
                let _ =
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
            }
        }
    }
}

/// A fresh, empty database for one test, or `None` (test skipped).
pub fn database(test: &str) -> Option<TestDb> {
    let admin = match server() {
        Ok(url) => url.clone(),
        Err(why) => {
            if std::env::var("LOGTRACK_REQUIRE_PG").as_deref() == Ok("1") {
                panic!("PostgreSQL is required (LOGTRACK_REQUIRE_PG=1) but unavailable: {why}");
            }
            eprintln!(
                "notice: skipping {test}: no PostgreSQL ({why}); set LOGTRACK_TEST_DATABASE_URL"
            );
            return None;
        }
    };
    let name = database_name(test);
    let mut client =
        postgres::Client::connect(&admin, postgres::NoTls).expect("connect to test server");
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
    client.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    Some(TestDb { url: replace_db(&admin, &name), admin, name, also: Vec::new() })
}

/// A database name unique to this process and call.
pub fn database_name(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("lt_{}_{}_{}", test, std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

impl TestDb {
    /// A database `name` on the server of `admin` (made already), and on
    /// the servers of `also` (a cluster's workers), dropped on drop.
    pub fn new(admin: &str, name: &str, also: Vec<String>) -> TestDb {
        TestDb {
            url: replace_db(admin, name),
            admin: admin.to_string(),
            name: name.to_string(),
            also,
        }
    }
}

pub fn replace_db(url: &str, db: &str) -> String {
    // postgres://user@host:port/dbname?params
    let (base, params) = match url.split_once('?') {
        Some((b, p)) => (b, format!("?{p}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{db}{params}")
}

pub fn pg_bin_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("LOGTRACK_PG_BIN") {
        return Some(PathBuf::from(d));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().or_else(|| {
        let out = Command::new("pg_config").arg("--bindir").output().ok()?;
        Some(PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()))
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Runs a shell script as the user PostgreSQL will run as.
fn sh(script: &str) -> Command {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    };
    c.env_remove("PGDATA");
    c
}

fn start_server() -> Result<String, String> {
    start_server_with("", true)
}

/// Starts a throwaway server with `extra` server options (`-c name=value
/// ...`), with TLS on (a certificate of the test's making) or left as
/// initdb leaves it; returns its admin URL. Stopped and removed when this
/// test process is gone.
pub fn start_server_with(extra: &str, tls: bool) -> Result<String, String> {
    let bin = pg_bin_dir().ok_or("no initdb found (install PostgreSQL server binaries)")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let dir = std::env::temp_dir().join(format!("logtrack-test-pg-{}-{port}", std::process::id()));
    let d = dir.display();
    let b = bin.display();
    // A self-signed certificate, so that TLS (sslmode=require) can be tested.
    let certificate = format!(
        "&& openssl req -new -x509 -days 2 -nodes -subj /CN=localhost -keyout {d}/data/server.key \
              -out {d}/data/server.crt >>{d}/initdb.log 2>&1 && chmod 600 {d}/data/server.key \
         && echo 'ssl = on' >> {d}/data/postgresql.conf"
    );
    let certificate = if tls { certificate.as_str() } else { "" };
    let init = sh(&format!(
        "rm -rf {d} && mkdir -p {d} && {b}/initdb -D {d}/data -U postgres -A trust -E UTF8 --no-sync >{d}/initdb.log 2>&1 \
         {certificate}"
    ))
    .status()
    .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !init.success() {
        let log = std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default();
        return Err(format!("initdb failed: {}", log.lines().last().unwrap_or("")));
    }
    // The watchdog stops the server (and removes its files) when this test
    // process is gone, so no server outlives the test run.
    // Small WAL limits: the tests load millions of rows, and the default
    // (1 GB) would keep that much WAL on disk for nothing.
    let me = std::process::id();
    sh(&format!(
        "{b}/postgres -D {d}/data -k {d} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=160MB \
         -c min_wal_size=32MB {extra} >{d}/server.log 2>&1 & pg=$!; \
         while [ -d /proc/{me} ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done; \
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf {d}"
    ))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .map_err(|e| format!("cannot start postgres: {e}"))?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match postgres::Client::connect(&url, postgres::NoTls) {
            Ok(_) => return Ok(url),
            Err(e) if Instant::now() > deadline => {
                let log =
                    std::fs::read_to_string(Path::new(&dir).join("server.log")).unwrap_or_default();
                return Err(format!(
                    "server did not start: {e}; {}",
                    log.lines().last().unwrap_or("")
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Runs the binary against the database `url`, as host `test-host`.
pub fn logtrack(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(args)
        .env("LOGTRACK_DATABASE_URL", url)
        .env("LOGTRACK_HOST", "test-host")
        .output()
        .unwrap()
}

/// Asserts exit 0 and returns stderr.
pub fn ok(o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    err
}

/// One `bigint` from a query.
pub fn count(url: &str, sql: &str) -> i64 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.query_one(sql, &[]).unwrap().get(0)
}

/// A server of a test's own, which the test may stop and start again (the
/// shared one cannot be stopped under the other tests). Stopped and removed
/// on drop.
pub struct OwnServer {
    dir: PathBuf,
    bin: PathBuf,
    pub url: String,
}

impl OwnServer {
    /// `None` (test skipped) as for [`database`].
    pub fn start(test: &str) -> Option<OwnServer> {
        OwnServer::start_with(test, "")
    }

    /// As [`OwnServer::start`], with `conf` (lines of `postgresql.conf`).
    pub fn start_with(test: &str, conf: &str) -> Option<OwnServer> {
        let made = (|| -> Result<OwnServer, String> {
            let bin = pg_bin_dir().ok_or("no initdb found")?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let dir = std::env::temp_dir().join(format!("logtrack-own-pg-{test}-{port}"));
            let s = OwnServer {
                url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                dir,
                bin,
            };
            let (d, b) = (s.dir.display(), s.bin.display());
            let ok = sh(&format!(
                "rm -rf {d} && mkdir -p {d} && {b}/initdb -D {d}/data -U postgres -A trust -E UTF8 --no-sync >{d}/initdb.log 2>&1 \
                 && echo \"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{d}'\nfsync = off\nmax_wal_size = 160MB\nmin_wal_size = 32MB\n{conf}\" >> {d}/data/postgresql.conf"
            ))
            .status()
            .map_err(|e| e.to_string())?;
            if !ok.success() {
                return Err("initdb failed".into());
            }
            s.up()?;
            Ok(s)
        })();
        match made {
            Ok(s) => Some(s),
            Err(why) => {
                if std::env::var("LOGTRACK_REQUIRE_PG").as_deref() == Ok("1") {
                    panic!("PostgreSQL is required (LOGTRACK_REQUIRE_PG=1) but unavailable: {why}");
                }
                eprintln!("notice: skipping {test}: no PostgreSQL ({why})");
                None
            }
        }
    }

    /// Starts the server and waits until it takes connections.
    pub fn up(&self) -> Result<(), String> {
        let (d, b) = (self.dir.display(), self.bin.display());
        let ok = sh(&format!("{b}/pg_ctl -D {d}/data -l {d}/server.log -w start >/dev/null"))
            .status()
            .map_err(|e| e.to_string())?;
        if !ok.success() {
            return Err("pg_ctl start failed".into());
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while postgres::Client::connect(&self.url, postgres::NoTls).is_err() {
            if Instant::now() > deadline {
                return Err("the server did not come up".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Stops the server the way a crash or an operator would: `immediate`
    /// (no shutdown checkpoint) or `fast` (sessions terminated).
    pub fn down(&self, mode: &str) {
        let (d, b) = (self.dir.display(), self.bin.display());
        let _ = sh(&format!("{b}/pg_ctl -D {d}/data -m {mode} -w stop >/dev/null 2>&1")).status();
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.down("immediate");
        let _ = sh(&format!("rm -rf {}", self.dir.display())).status();
    }
}
