//! LogTrack on a Citus cluster (see `tests/common/citus.rs`), beyond what
//! the single-server suites also run there (`_on_a_cluster`): the layout
//! `db init --distributed` makes, TLS to a node's own certificate, four
//! hosts loading at once, and a worker stopped mid-COPY.

mod common;

use common::pg::{self, count, logtrack, ok};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn text(url: &str, sql: &str) -> String {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.query_one(sql, &[]).unwrap().get(0)
}

/// `copies` copies of the web sample, each line tagged with `tag`.
fn web_log(path: &Path, copies: usize, tag: &str) {
    let sample = std::fs::read_to_string("samples/web/access.log").unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for k in 0..copies {
        for line in sample.lines() {
            // The request path makes every line of every host distinct.
            writeln!(f, "{}", line.replacen("HTTP/1.1\"", &format!("?{tag}={k} HTTP/1.1\""), 1))
                .unwrap();
        }
    }
}

fn ingest_as(url: &str, host: &str, path: &str, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logtrack"));
    c.args(["ingest", "--format", "combined", path])
        .env("LOGTRACK_DATABASE_URL", url)
        .env("LOGTRACK_HOST", host)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    c
}

#[test]
fn db_init_distributed_spreads_every_table_as_the_migration_says() {
    let Some(url) = common::fresh_db("layout", true) else { return };
    let layout = text(
        &url,
        "SELECT string_agg(logicalrelid::text || ' by ' || column_to_column_name(logicalrelid, partkey)
                           || ' in ' || colocationid, ', ' ORDER BY logicalrelid::text)
         FROM pg_dist_partition",
    );
    let by = |t: &str| {
        let at = layout.find(&format!("{t} by ")).unwrap_or_else(|| panic!("{t}: {layout}"));
        let rest = &layout[at + t.len() + 4..];
        rest[..rest.find(',').unwrap_or(rest.len())].to_string()
    };
    for (t, col) in [
        ("logs", "ingest_host"),
        ("checkpoints", "ingest_host"),
        ("rejects", "ingest_host"),
        ("log_minutes", "service"),
        ("log_hours", "service"),
        ("templates", "service"),
        ("incidents", "job"),
        ("alerts", "job"),
        ("outbox", "job"),
        ("known_values", "job"),
    ] {
        assert!(by(t).starts_with(&format!("{col} in ")), "{t}: {layout}");
    }
    // A file's rows, its checkpoint and its rejects are co-located; so are
    // a job's alerts, incidents and notifications.
    let group = |t: &str| by(t).split_once(" in ").unwrap().1.to_string();
    assert_eq!(group("logs"), group("checkpoints"));
    assert_eq!(group("logs"), group("rejects"));
    assert_eq!(group("incidents"), group("alerts"));
    assert_eq!(group("incidents"), group("outbox"));
    // The small tables stay ordinary tables on the coordinator.
    for t in ["users", "sessions", "rules", "runs", "schema_migrations"] {
        assert!(!layout.contains(&format!("{t} by")), "{t}: {layout}");
    }
    // Again: nothing to do, and said so.
    let err = ok(&logtrack(&url, &["db", "init", "--distributed"]));
    assert!(err.contains("schema is up to date"), "{err}");
    // A server without the extension: a clear refusal.
    let Some(single) = pg::database("layout_single") else { return };
    let o = logtrack(&single, &["db", "init", "--distributed"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--distributed needs the citus extension"), "{err}");
}

#[test]
fn sslmode_require_connects_to_a_node_with_its_version_1_certificate() {
    let Some(url) = common::fresh_db("tls", true) else { return };
    // CREATE EXTENSION citus turned TLS on with a self-signed X.509 v1
    // certificate: `require` encrypts without verifying, as libpq does.
    assert_eq!(text(&url, "SHOW ssl"), "on");
    let certificate = text(&url, "SELECT pg_read_file(current_setting('ssl_cert_file'))");
    let mut openssl = Command::new("openssl")
        .args(["x509", "-noout", "-text"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    openssl.stdin.take().unwrap().write_all(certificate.as_bytes()).unwrap();
    let described = String::from_utf8(openssl.wait_with_output().unwrap().stdout).unwrap();
    assert!(described.contains("Version: 1 (0x0)"), "{described}");
    let with = |mode: &str| format!("{}?sslmode={mode}", *url);
    let o = logtrack(&with("require"), &["db", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("0012_outbox_delivery\tapplied"));
    ok(&logtrack(&with("prefer"), &["db", "status"]));
    // `verify-full` verifies, and this certificate is nobody's.
    let o = logtrack(&with("verify-full"), &["db", "status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("certificate"), "{o:?}");
}

#[test]
fn four_hosts_loading_at_once_then_one_run_store_every_line_once() {
    let Some(url) = common::fresh_db("four_hosts", true) else { return };
    let dir = tempfile::tempdir().unwrap();
    let hosts = ["web-1", "web-2", "web-3", "web-4"];
    for h in hosts {
        web_log(&dir.path().join(format!("{h}.log")), 40, h);
    }
    // Each host loads its file twice at once (cron overlapping itself), in
    // three parts, while the three other hosts load theirs.
    let mut running = Vec::new();
    for h in hosts {
        let p = dir.path().join(format!("{h}.log"));
        let env = [("LOGTRACK_COPY_STREAMS", "3"), ("LOGTRACK_COPY_PART_BYTES", "262144")];
        for _ in 0..2 {
            running.push(ingest_as(&url, h, p.to_str().unwrap(), &env).spawn().unwrap());
        }
    }
    for c in running {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{o:?}");
    }
    // Then one run, on the first host, of a job over its file: nothing
    // is loaded twice, and detection reads every host's rows.
    let job = dir.path().join("all.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"all\"\nnow = \"end-of-data\"\n[[sources]]\npath = \"{}/web-1.log\"\nformat = \"combined\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", job.to_str().unwrap(), "--report-dir", dir.path().to_str().unwrap(), "-q"])
        .env("LOGTRACK_DATABASE_URL", &*url)
        .env("LOGTRACK_HOST", "web-1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let per_host = 624 * 40;
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 4 * per_host);
    for h in hosts {
        let sql = format!(
            "SELECT count(DISTINCT source_line) FROM logs WHERE ingest_host = '{h}'
               AND source_path LIKE '%/{h}.log'"
        );
        assert_eq!(count(&url, &sql), per_host, "{h}");
    }
    assert_eq!(count(&url, "SELECT sum(records)::bigint FROM log_minutes"), 4 * per_host);
    // The rows are spread: the four hosts' rows lie on more than one shard.
    let shards = count(
        &url,
        "SELECT count(DISTINCT get_shard_id_for_distribution_column('logs', ingest_host))::bigint
         FROM (SELECT DISTINCT ingest_host FROM logs) h",
    );
    assert!(shards >= 2, "{shards}");
}

/// What is visible is what the checkpoints say was loaded, and the
/// per-minute counts agree with it.
fn consistent(url: &str) -> i64 {
    let visible = count(url, "SELECT count(*) FROM logs");
    assert_eq!(visible, count(url, "SELECT coalesce(sum(records), 0)::bigint FROM checkpoints"));
    assert_eq!(visible, count(url, "SELECT coalesce(sum(records), 0)::bigint FROM log_minutes"));
    visible
}

#[test]
fn a_worker_stopped_or_the_connection_killed_mid_copy_fails_cleanly_then_converges() {
    if !common::citus::available("worker_stopped") {
        return;
    }
    // A cluster of its own: a worker of the shared one cannot be stopped
    // under the other tests.
    let conf: String =
        common::citus::NODE_SETTINGS.iter().map(|(k, v)| format!("{k} = '{v}'\n")).collect();
    let start = |name: &str| pg::OwnServer::start_with(name, &conf);
    let (Some(coordinator), Some(w1), Some(w2)) =
        (start("citus_coordinator"), start("citus_worker_1"), start("citus_worker_2"))
    else {
        return;
    };
    common::citus::form(&coordinator.url, &[&w1.url, &w2.url]);
    let url = coordinator.url.clone();
    ok(&logtrack(&url, &["db", "init", "--distributed"]));
    // The worker that holds this host's rows.
    let port = count(
        &url,
        "SELECT nodeport::bigint FROM pg_dist_shard_placement
         WHERE shardid = get_shard_id_for_distribution_column('logs', 'test-host')",
    );
    let worker = [&w1, &w2].into_iter().find(|w| common::citus::port(&w.url) as i64 == port);
    let worker = worker.expect("the shard is on a worker");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    web_log(&path, 770, "w");
    let p = path.to_str().unwrap();
    let rows = 624 * 770;
    let streams: [&[(&str, &str)]; 2] = [
        &[("LOGTRACK_COPY_STREAMS", "1")],
        &[("LOGTRACK_COPY_STREAMS", "3"), ("LOGTRACK_COPY_PART_BYTES", "8388608")],
    ];
    let faults = ["worker stopped", "connection terminated"];
    for (fault, env) in faults.iter().flat_map(|f| streams.iter().map(move |e| (*f, *e))) {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute("TRUNCATE logs, checkpoints, rejects, log_minutes, log_hours, templates")
            .unwrap();
        let child = ingest_as(&url, "test-host", p, env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let copying = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY logs%'";
        let t = std::time::Instant::now();
        while count(&url, copying) == 0 && t.elapsed().as_secs() < 60 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        if fault == "worker stopped" {
            worker.down("immediate");
        } else {
            count(&url, &copying.replace("count(*)", "count(pg_terminate_backend(pid))"));
        }
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{fault}, {env:?}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{fault}, {env:?}: {err}");
        assert!(errors[0].contains(p), "{fault}, {env:?}: {err}");
        if fault == "worker stopped" {
            worker.up().unwrap();
        }
        let visible = consistent(&url);
        assert!(visible < rows, "{fault}, {env:?}: the stop came after the last commit");
        let o = ingest_as(&url, "test-host", p, env).output().unwrap();
        assert!(o.status.success(), "{fault}, {env:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(consistent(&url), rows, "{fault}, {env:?}");
        assert_eq!(
            count(&url, "SELECT count(DISTINCT source_line) FROM logs"),
            rows,
            "{fault}, {env:?}"
        );
    }
}

#[test]
fn a_database_loaded_on_the_coordinator_is_distributed_later_with_its_rows() {
    let Some(url) = common::citus::database("distributed_later") else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let job = dir.path().join("quickstart.toml");
    std::fs::write(
        &job,
        std::fs::read_to_string("jobs/quickstart.toml")
            .unwrap()
            .replace("path = \"../samples/", &format!("path = \"{root}/samples/")),
    )
    .unwrap();
    // A plain `db init` on a coordinator says the tables are not spread.
    let err = ok(&logtrack(&url, &["db", "init"]));
    assert!(err.contains("db init --distributed"), "{err}");
    let run = |out: &str| {
        let out = dir.path().join(out);
        let o = logtrack(
            &url,
            &["run", job.to_str().unwrap(), "-q", "--report-dir", out.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run("before");
    let rows = count(&url, "SELECT count(*) FROM logs");
    let alerts = count(&url, "SELECT count(*) FROM alerts");
    assert!(rows > 1000 && alerts > 10, "{rows} rows, {alerts} alerts");
    ok(&logtrack(&url, &["db", "init", "--distributed"]));
    // The ten tables, and the day partition of `logs` with them.
    let spread =
        "SELECT count(*) FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid
                  WHERE NOT c.relispartition";
    assert_eq!(count(&url, spread), 10);
    assert_eq!(count(&url, "SELECT count(*) FROM pg_dist_partition"), 11);
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), rows);
    assert_eq!(count(&url, "SELECT count(*) FROM alerts"), alerts);
    // The next run finds its files loaded and its alerts known.
    run("after");
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), rows);
    assert_eq!(count(&url, "SELECT count(*) FROM alerts"), alerts);
    assert_eq!(count(&url, "SELECT sum(records)::bigint FROM log_minutes"), rows);
}
