//! A throwaway Citus cluster for tests: a coordinator and two workers on
//! 127.0.0.1, each a server as `pg` starts them with the `citus` library
//! preloaded (built by `scripts/citus.sh`). Every test gets a database of
//! its own on all three, with the extension created and the workers added.
//!
//! Without the extension installed a test is skipped with a notice, unless
//! `LOGTRACK_REQUIRE_CITUS=1` (set by CI), which makes that a failure.

use super::pg::{self, TestDb};
use std::sync::OnceLock;

/// The admin URLs of the coordinator and the two workers.
struct Cluster {
    coordinator: String,
    workers: Vec<String>,
}

/// Server settings of every node. Small shard counts keep a test database
/// quick to make; 4 per table still spreads every table over both workers.
pub const NODE_SETTINGS: [(&str, &str); 3] = [
    ("shared_preload_libraries", "citus"),
    ("max_prepared_transactions", "100"),
    ("citus.shard_count", "4"),
];

/// Why there can be no cluster here (the extension is not installed).
fn missing() -> Option<String> {
    let Some(bin) = pg::pg_bin_dir() else { return Some("no PostgreSQL server binaries".into()) };
    let lib = std::process::Command::new(bin.join("pg_config"))
        .arg("--pkglibdir")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let lib = if lib.is_empty() { "/usr/lib/postgresql/15/lib".to_string() } else { lib };
    (!std::path::Path::new(&lib).join("citus.so").exists())
        .then(|| format!("the citus extension is not installed in {lib} (scripts/citus.sh)"))
}

/// Whether a test can have a cluster; if not, says so (a notice, or a
/// failure under `LOGTRACK_REQUIRE_CITUS=1`).
pub fn available(test: &str) -> bool {
    let Some(why) = missing() else { return true };
    skip(test, &why);
    false
}

fn skip(test: &str, why: &str) {
    if std::env::var("LOGTRACK_REQUIRE_CITUS").as_deref() == Ok("1") {
        panic!("Citus is required (LOGTRACK_REQUIRE_CITUS=1) but unavailable: {why}");
    }
    eprintln!("notice: skipping {test}: no Citus cluster ({why})");
}

/// The port of a URL.
pub fn port(url: &str) -> u16 {
    let rest = &url[url.rfind(':').expect("a URL with a port") + 1..];
    rest[..rest.find('/').unwrap_or(rest.len())].parse().expect("a port")
}

/// Makes the server of `coordinator` (a URL naming a database that exists
/// on every node) the coordinator of `workers` (URLs of that database):
/// the extension is created on every node, then the workers are added.
pub fn form(coordinator: &str, workers: &[&str]) {
    for node in std::iter::once(&coordinator).chain(workers) {
        extension_and_tls(node);
    }
    let mut c = postgres::Client::connect(coordinator, postgres::NoTls).unwrap();
    let me = i32::from(port(coordinator));
    c.execute("SELECT citus_set_coordinator_host('127.0.0.1', $1)", &[&me]).unwrap();
    for w in workers {
        // Adding a node opens connections to it that a busy worker has
        // been seen to drop once ("failure on connection marked as
        // essential"): a few tries, then the error.
        let add = "SELECT citus_add_node('127.0.0.1', $1)";
        let mut tries = 0;
        while let Err(e) = c.execute(add, &[&i32::from(port(w))]) {
            tries += 1;
            assert!(tries < 5, "citus_add_node {w}: {e:?}");
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
}

/// Creates the extension in `node`'s database. On a server without TLS
/// that turns it on with a certificate of Citus's own (self-signed, X.509
/// version 1) and reloads the configuration: waits for that, since the
/// coordinator connects to workers with `sslmode=require`.
fn extension_and_tls(node: &str) {
    let mut c = postgres::Client::connect(node, postgres::NoTls).expect("connect to a node");
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS citus").unwrap();
    let t = std::time::Instant::now();
    loop {
        let mut c = postgres::Client::connect(node, postgres::NoTls).expect("connect to a node");
        if c.query_one("SHOW ssl", &[]).unwrap().get::<_, String>(0) == "on" {
            break;
        }
        assert!(t.elapsed().as_secs() < 30, "TLS did not come on after CREATE EXTENSION citus");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn cluster() -> &'static Result<Cluster, String> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        if let Some(why) = missing() {
            return Err(why);
        }
        let opts: Vec<String> = NODE_SETTINGS.iter().map(|(k, v)| format!("-c {k}={v}")).collect();
        let start = || pg::start_server_with(&opts.join(" "), false);
        let (coordinator, w1, w2) = (start()?, start()?, start()?);
        // As an operator would: the extension created once on each node,
        // before the tests' databases connect to one another.
        for node in [&coordinator, &w1, &w2] {
            extension_and_tls(node);
        }
        Ok(Cluster { coordinator, workers: vec![w1, w2] })
    })
}

/// A fresh database on the cluster (the coordinator's URL), or `None`
/// (test skipped).
pub fn database(test: &str) -> Option<TestDb> {
    let cluster = match cluster() {
        Ok(c) => c,
        Err(why) => {
            skip(test, why);
            return None;
        }
    };
    // One test database made at a time: the tests of a binary run in
    // parallel, and every database adds the same workers.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let name = pg::database_name(test);
    for admin in std::iter::once(&cluster.coordinator).chain(&cluster.workers) {
        let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connect to a node");
        // CREATE DATABASE copies template1, and fails while another session
        // is connected to it (Citus's maintenance daemon, briefly): retry.
        let mut tries = 0;
        while let Err(e) = c.batch_execute(&format!("CREATE DATABASE {name}")) {
            tries += 1;
            assert!(tries < 100, "CREATE DATABASE {name}: {e:?}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let db = TestDb::new(&cluster.coordinator, &name, cluster.workers.clone());
    let workers: Vec<String> = cluster.workers.iter().map(|w| pg::replace_db(w, &name)).collect();
    form(&db, &workers.iter().map(String::as_str).collect::<Vec<_>>());
    Some(db)
}
