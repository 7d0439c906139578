//! The PostgreSQL store against a real server (see `tests/common/pg.rs`):
//! migrations, binary COPY, checkpoints across re-runs, growth, truncation,
//! rotation and compression, a held-back partial line, and kill -9.

mod common;

use common::dashboard::logtrack_stdin;
use common::pg::{count, logtrack, ok};
use std::io::Write;
use std::process::Command;

#[test]
fn migrations_apply_once_and_reset_needs_yes() {
    let url = db!("migrations");
    let o = logtrack(&url, &["db", "status"]);
    let pending = "0001_init\tpending\n0002_file_identity\tpending\n0003_alerts_per_job\tpending\n\
                   0004_runs_pending_detection\tpending\n0005_checkpoint_format\tpending\n0006_user_roles\tpending\n0007_dashboard\tpending\n0008_dashboard_at_scale\tpending\n0009_templates\tpending\n0010_incidents\tpending\n\
                   0011_distributable_keys\tpending\n0012_outbox_delivery\tpending\n0013_template_miner\tpending\n0014_inhibited\tpending\n0015_silences\tpending\n";
    assert_eq!(String::from_utf8_lossy(&o.stdout), pending);
    let err = ok(&logtrack(&url, &["db", "init"]));
    assert!(err.contains("applied migration 0001_init"), "{err}");
    assert!(err.contains("applied migration 0015_silences"), "{err}");
    assert!(ok(&logtrack(&url, &["db", "migrate"])).contains("schema is up to date"));
    let o = logtrack(&url, &["db", "status"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("0015_silences\tapplied\nlogs: 0 rows"));
    let o = logtrack(&url, &["db", "reset"]);
    assert_eq!(o.status.code(), Some(2));
    ok(&logtrack(&url, &["db", "reset", "--yes"]));
    assert_eq!(String::from_utf8_lossy(&logtrack(&url, &["db", "status"]).stdout), pending);
}

fn copy_stores_every_field_exactly_in(cluster: bool) {
    let Some(url) = common::fresh_db("copy_fields", cluster) else { return };
    ok(&logtrack(&url, &["ingest", "--format", "combined", "tests/fixtures/combined/awkward.log"]));
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 13);
    assert_eq!(count(&url, "SELECT count(*) FROM rejects"), 4);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let row = c
        .query_one(
            "SELECT ts::text, service, host, severity, message, user_name, fields::text, source_line, source_index
             FROM logs WHERE source_line = 3",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "2020-01-20 21:32:16+00");
    assert_eq!(row.get::<_, String>(3), "error");
    assert_eq!(row.get::<_, String>(4), "GET /v6 HTTP/2.0");
    assert_eq!(row.get::<_, Option<String>>(5), None);
    let fields: serde_json::Value = serde_json::from_str(&row.get::<_, String>(6)).unwrap();
    assert_eq!(fields["user_agent"], "Mozilla/5.0 (X11; \"quoted\" UA) \\ end");
    assert_eq!(fields["bytes"], serde_json::Value::Null);
    assert_eq!(row.get::<_, i64>(7), 3);
    assert_eq!(row.get::<_, Option<i64>>(8), None);
    // Fractional seconds survive.
    let t: String =
        c.query_one("SELECT ts::text FROM logs WHERE source_line = 17", &[]).unwrap().get(0);
    assert_eq!(t, "2020-01-20 16:02:28.123+00");
    let reason: String =
        c.query_one("SELECT reason FROM rejects WHERE source_line = 12", &[]).unwrap().get(0);
    assert_eq!(reason, "status \"2x0\" is not a number");
}

on_both!(
    copy_stores_every_field_exactly,
    copy_stores_every_field_exactly_on_a_cluster,
    copy_stores_every_field_exactly_in
);

fn rerun_skips_growth_resumes_truncation_restarts_in(cluster: bool) {
    let Some(url) = common::fresh_db("checkpoints", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let lines: Vec<String> = std::fs::read_to_string("samples/web/access.log")
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    std::fs::write(&log, lines[..300].join("\n") + "\n").unwrap();
    let p = log.to_str().unwrap();
    assert!(ok(&logtrack(&url, &["ingest", "--format", "combined", p])).contains("300 rows loaded"));
    assert!(ok(&logtrack(&url, &["ingest", "--format", "combined", p])).contains("nothing new"));
    // The file grows, the last line still being written.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    write!(f, "{}\n{}", lines[300..400].join("\n"), &lines[400][..40]).unwrap();
    drop(f);
    let err = ok(&logtrack(&url, &["ingest", "--format", "combined", p]));
    assert!(err.contains("100 rows loaded"), "{err}");
    assert!(err.contains("line 401 has no line end yet"), "{err}");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(f, "{}", &lines[400][40..]).unwrap();
    drop(f);
    assert!(ok(&logtrack(&url, &["ingest", "--format", "combined", p])).contains("1 rows loaded"));
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 401);
    assert_eq!(count(&url, "SELECT count(DISTINCT source_line) FROM logs"), 401);
    assert_eq!(count(&url, "SELECT max(source_line) FROM logs"), 401);
    // Truncated and rewritten (copytruncate): a new file.
    std::fs::write(&log, lines[500..510].join("\n") + "\n").unwrap();
    assert!(ok(&logtrack(&url, &["ingest", "--format", "combined", p])).contains("10 rows loaded"));
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 411);
}

on_both!(
    rerun_skips_growth_resumes_truncation_restarts,
    rerun_skips_growth_resumes_truncation_restarts_on_a_cluster,
    rerun_skips_growth_resumes_truncation_restarts_in
);

fn rotated_then_compressed_file_is_not_loaded_twice_in(cluster: bool) {
    let Some(url) = common::fresh_db("rotation", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read("samples/web/access.log").unwrap();
    let live = dir.path().join("access.log");
    std::fs::write(&live, &text).unwrap();
    ok(&logtrack(&url, &["ingest", "--format", "combined", live.to_str().unwrap()]));
    // logrotate: access.log -> access.log.1, later gzipped to access.log.1.gz
    let rotated = dir.path().join("access.log.1");
    std::fs::rename(&live, &rotated).unwrap();
    std::fs::write(&live, b"").unwrap();
    let glob = format!("{}/access.log*", dir.path().display());
    let err = ok(&logtrack(&url, &["ingest", "--format", "combined", &glob]));
    assert!(err.contains("access.log.1: nothing new"), "{err}");
    let gz = dir.path().join("access.log.1.gz");
    let mut e =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    e.write_all(&text).unwrap();
    e.finish().unwrap();
    std::fs::remove_file(&rotated).unwrap();
    let err = ok(&logtrack(&url, &["ingest", "--format", "combined", &glob]));
    assert!(err.contains("access.log.1.gz: nothing new"), "{err}");
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 624);
}

on_both!(
    rotated_then_compressed_file_is_not_loaded_twice,
    rotated_then_compressed_file_is_not_loaded_twice_on_a_cluster,
    rotated_then_compressed_file_is_not_loaded_twice_in
);

fn kill_9_mid_copy_loses_and_doubles_nothing_in(cluster: bool) {
    // With one COPY stream, and with the file cut into three parts loaded
    // by three streams (committed in file order).
    let streams: [&[(&str, &str)]; 2] = [
        &[("LOGTRACK_COPY_STREAMS", "1")],
        &[("LOGTRACK_COPY_STREAMS", "3"), ("LOGTRACK_COPY_PART_BYTES", "65536")],
    ];
    for (name, env) in ["kill9", "kill9_parts"].into_iter().zip(streams) {
        let Some(url) = &common::fresh_db(name, cluster) else { return };
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.log");
        // ~60 MB: long enough to kill the loader mid-COPY.
        let sample = std::fs::read("samples/web/access.log").unwrap();
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        for _ in 0..770 {
            f.write_all(&sample).unwrap();
        }
        drop(f);
        let p = big.to_str().unwrap();
        ok(&logtrack(url, &["db", "init"]));
        let ingest = |env: &[(&str, &str)]| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_logtrack"));
            c.args(["ingest", "--format", "combined", p])
                .env("LOGTRACK_DATABASE_URL", url)
                .env("LOGTRACK_HOST", "test-host")
                .envs(env.iter().copied())
                .stderr(std::process::Stdio::null());
            c
        };
        let mut child = ingest(env).spawn().unwrap();
        // Wait until the COPY is running, then kill -9.
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        let start = std::time::Instant::now();
        loop {
            let copying: i64 = c
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY logs%'",
                    &[],
                )
                .unwrap()
                .get(0);
            if copying > 0 || start.elapsed().as_secs() > 30 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the loader finished before it could be killed");
        // What is visible is exactly what the checkpoint says was loaded.
        let visible = count(url, "SELECT count(*) FROM logs");
        assert_eq!(
            visible,
            count(url, "SELECT coalesce(sum(records), 0)::bigint FROM checkpoints")
        );
        assert!(visible < 624 * 770);
        if env.len() == 1 {
            assert_eq!(visible, 0, "a killed load leaves nothing visible");
        }
        assert_eq!(
            count(url, "SELECT coalesce(sum(records), 0)::bigint FROM log_minutes"),
            visible,
            "the per-minute counts commit with the rows"
        );
        assert!(ingest(env).status().unwrap().success());
        let rows = count(url, "SELECT count(*) FROM logs");
        assert_eq!(rows, 624 * 770);
        assert_eq!(count(url, "SELECT sum(records)::bigint FROM log_minutes"), rows);
        assert_eq!(count(url, "SELECT count(DISTINCT source_line) FROM logs"), rows);
    }
}

on_both!(
    kill_9_mid_copy_loses_and_doubles_nothing,
    kill_9_mid_copy_loses_and_doubles_nothing_on_a_cluster,
    kill_9_mid_copy_loses_and_doubles_nothing_in
);

#[test]
fn database_errors_hide_the_password() {
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["db", "status", "--database-url", "postgres://lt:s3cret@127.0.0.1:1/lt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot connect to postgres://lt:***@127.0.0.1:1/lt"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

fn logs_filters_and_prune_drops_old_days_in(cluster: bool) {
    let Some(url) = common::fresh_db("logs_prune", cluster) else { return };
    ok(&logtrack(&url, &["ingest", "--format", "combined", "tests/fixtures/combined/awkward.log"]));
    ok(&logtrack(&url, &["ingest", "samples/web/access.log"]));
    let o = logtrack(&url, &["logs", "--service", "apache", "--severity", "error", "--grep", "V6"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].starts_with("2020-01-20T21:32:16Z  apache"), "{out}");
    assert!(lines[1].ends_with("tests/fixtures/combined/awkward.log:3  GET /v6 HTTP/2.0"), "{out}");
    let o = logtrack(
        &url,
        &[
            "logs",
            "--since",
            "2026-03-14T10:59:00Z",
            "--limit",
            "2",
            "--now",
            "2026-03-14T11:00:00Z",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 3, "the newest two, oldest first: {out}");
    assert!(out.lines().nth(2).unwrap().contains("samples/web/access.log:624"), "{out}");
    let o = logtrack(
        &url,
        &["logs", "--since", "1h", "--now", "2026-03-14T11:00:00Z", "--limit", "1000"],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 625);
    // Loading keeps the per-minute counts exact: they equal a count of the rows.
    // Rows of `table` that differ from a count of the stored records per
    // `secs` seconds, service and severity (either way).
    let differ = |url: &str, table: &str, column: &str, secs: i64| {
        let counted = format!(
            "SELECT 'epoch'::timestamptz + floor(extract(epoch FROM ts) / {secs}) * {secs} * interval '1 second',
                    service, coalesce(severity, 'none'), count(*) FROM logs GROUP BY 1, 2, 3"
        );
        let kept = format!("SELECT {column}, service, severity, records FROM {table}");
        count(
            url,
            &format!("SELECT count(*) FROM (({kept} EXCEPT {counted}) UNION ALL ({counted} EXCEPT {kept})) d"),
        )
    };
    let rollup_matches = |url: &str| {
        differ(url, "log_minutes", "minute", 60) + differ(url, "log_hours", "hour", 3600)
    };
    assert_eq!(rollup_matches(&url), 0);
    assert_eq!(
        count(&url, "SELECT sum(records)::bigint FROM log_minutes"),
        count(&url, "SELECT count(*) FROM logs")
    );
    // A re-run loads nothing and counts nothing twice.
    ok(&logtrack(&url, &["ingest", "samples/web/access.log"]));
    assert_eq!(rollup_matches(&url), 0);
    // The 2020 days go, 2026 stays.
    let err = ok(&logtrack(
        &url,
        &["db", "prune", "--older-than", "30d", "--now", "2026-03-15T00:00:00Z"],
    ));
    assert!(
        err.contains("dropped logs_20200120") && err.contains("dropped logs_20200121"),
        "{err}"
    );
    assert!(err.contains("2 partition(s) dropped"), "{err}");
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 624);
    assert_eq!(rollup_matches(&url), 0, "the dropped days' minutes go with them");
    assert!(count(&url, "SELECT count(*) FROM log_minutes") > 0);
    // A database of the version before the counts: migrating counts what is stored.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(
        "DROP TABLE log_minutes, log_hours; DROP INDEX IF EXISTS users_name_folded;
         DELETE FROM schema_migrations WHERE version = 8",
    )
    .unwrap();
    ok(&logtrack(&url, &["ingest", "--format", "combined", "tests/fixtures/combined/awkward.log"]));
    assert_eq!(rollup_matches(&url), 0, "the migration counts the rows stored before it");
    // The text index is made and dropped on request only.
    let text_index = |url: &str| {
        count(url, "SELECT count(*) FROM pg_indexes WHERE indexname = 'logs_message_trgm'")
    };
    assert_eq!(text_index(&url), 0, "no migration makes it: loading would pay for it");
    ok(&logtrack(&url, &["db", "text-index"]));
    assert_eq!(text_index(&url), 1);
    let o = logtrack(&url, &["db", "status"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("text index: yes"));
    ok(&logtrack(&url, &["db", "text-index", "--drop"]));
    assert_eq!(text_index(&url), 0);
}

on_both!(
    logs_filters_and_prune_drops_old_days,
    logs_filters_and_prune_drops_old_days_on_a_cluster,
    logs_filters_and_prune_drops_old_days_in
);

fn run_with_a_database_matches_memory_and_never_doubles_alerts_in(cluster: bool) {
    let Some(url) = common::fresh_db("run_db", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (mem, db1, db2) = (dir.path().join("mem"), dir.path().join("db1"), dir.path().join("db2"));
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", "jobs/quickstart.toml", "--no-db", "--report-dir", mem.to_str().unwrap()])
        .env("LOGTRACK_DATABASE_URL", &url)
        .output()
        .unwrap();
    ok(&o);
    ok(&logtrack(&url, &["run", "jobs/quickstart.toml", "--report-dir", db1.to_str().unwrap()]));
    assert_eq!(common::alert_keys(&db1), common::alert_keys(&mem));
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 1863);
    // Nothing new: no rows, no new alerts, nothing doubled.
    let err = ok(&logtrack(
        &url,
        &["run", "jobs/quickstart.toml", "--report-dir", db2.to_str().unwrap()],
    ));
    assert!(err.contains("0 records, 0 rejected, 0 alert(s)"), "{err}");
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 1863);
    assert_eq!(count(&url, "SELECT count(*) FROM alerts"), 17);
    assert_eq!(count(&url, "SELECT count(*) FROM runs WHERE status = 'ok'"), 2);
}

on_both!(
    run_with_a_database_matches_memory_and_never_doubles_alerts,
    run_with_a_database_matches_memory_and_never_doubles_alerts_on_a_cluster,
    run_with_a_database_matches_memory_and_never_doubles_alerts_in
);

fn an_episode_split_across_runs_is_one_alert_in(cluster: bool) {
    let Some(url) = common::fresh_db("split_runs", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let text = std::fs::read_to_string("samples/web/access.log").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The 5xx burst runs from line 107 to 145: cut it in the middle.
    std::fs::write(&log, lines[..125].join("\n") + "\n").unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"split\"\nnow = \"end-of-data\"\n[[sources]]\npath = \"{}\"\nformat = \"combined\"\n\
             [[rules]]\nid = \"e\"\ntype = \"keyword_threshold\"\nkeyword = \"error\"\nthreshold = 5\nwindow = \"2m\"\n\
             [report]\ndir = \"{}\"\n",
            log.display(),
            dir.path().join("r").display()
        ),
    )
    .unwrap();
    let job = job.to_str().unwrap();
    ok(&logtrack(&url, &["run", job]));
    let first = count(&url, "SELECT count FROM alerts WHERE rule_id = 'e'");
    assert!(first > 5 && first < 24, "{first}");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    ok(&logtrack(&url, &["run", job]));
    assert_eq!(count(&url, "SELECT count(*) FROM alerts WHERE rule_id = 'e'"), 1);
    assert_eq!(count(&url, "SELECT count FROM alerts WHERE rule_id = 'e'"), 24);
}

on_both!(
    an_episode_split_across_runs_is_one_alert,
    an_episode_split_across_runs_is_one_alert_on_a_cluster,
    an_episode_split_across_runs_is_one_alert_in
);

#[test]
fn a_second_concurrent_run_of_a_job_is_refused() {
    let url = db!("lock");
    ok(&logtrack(&url, &["db", "init"]));
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let key = logtrack::store::lock_key("job", "quickstart");
    c.execute("SELECT pg_advisory_lock($1)", &[&key]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let o = logtrack(
        &url,
        &["run", "jobs/quickstart.toml", "--report-dir", dir.path().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(75), "a locked job is EX_TEMPFAIL, not a failure");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("job \"quickstart\" is already running"), "{err}");
    // Another job runs meanwhile.
    ok(&logtrack(&url, &["run", "jobs/legacy.toml", "--report-dir", dir.path().to_str().unwrap()]));
}

fn detect_report_and_alerts_over_a_range_in(cluster: bool) {
    let Some(url) = common::fresh_db("detect_range", cluster) else { return };
    ok(&logtrack(
        &url,
        &["ingest", "--format", "combined", "--service", "apache", "samples/web/access.log"],
    ));
    ok(&logtrack(&url, &["ingest", "--format", "hdfs", "samples/hdfs/hdfs.log"]));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let err = ok(&logtrack(
        &url,
        &[
            "detect",
            "jobs/quickstart.toml",
            "--since",
            "2026-03-14T10:20:00Z",
            "--until",
            "2026-03-14T10:45:00Z",
            "--report-dir",
            d,
        ],
    ));
    assert!(err.contains("6 alert(s) (6 new)"), "{err}");
    let err = ok(&logtrack(&url, &["detect", "jobs/quickstart.toml", "--report-dir", d]));
    assert!(err.contains("9 alert(s) (3 new)"), "{err}");
    assert_eq!(count(&url, "SELECT count(*) FROM alerts"), 9);
    let err = ok(&logtrack(
        &url,
        &["report", "jobs/quickstart.toml", "--since", "2026-03-14T10:30:00Z", "--report-dir", d],
    ));
    assert!(err.contains("6 alert(s)"), "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(r["alerts"][0]["rule_id"], "hdfs_new_message");
    assert_eq!(r["alerts"][0]["evidence"][0]["path"], "samples/hdfs/hdfs.log");
    let o = logtrack(&url, &["alerts", "--rule", "scanner"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.lines().nth(1).unwrap().starts_with("2026-03-14T10:40:00Z  medium    scanner"),
        "{out}"
    );
}

on_both!(
    detect_report_and_alerts_over_a_range,
    detect_report_and_alerts_over_a_range_on_a_cluster,
    detect_report_and_alerts_over_a_range_in
);

#[test]
fn sslmode_require_encrypts_the_connection() {
    let url = db!("tls");
    let ssl = |u: &str| -> Result<bool, String> {
        let mut c = logtrack::store::connect(u).map_err(|e| format!("{e:#}"))?;
        Ok(c.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .unwrap()
            .get(0))
    };
    match ssl(&format!("{url}?sslmode=require")) {
        Ok(on) => assert!(on, "sslmode=require gave a plain connection"),
        Err(e) if e.contains("TLS") && std::env::var("LOGTRACK_TEST_DATABASE_URL").is_ok() => {
            eprintln!("notice: the test server does not offer TLS: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    }
    assert_eq!(ssl(&format!("{url}?sslmode=disable")), Ok(false));
    assert_eq!(ssl(&format!("{url}?sslmode=prefer")), Ok(true));
    // The test server's certificate is self-signed: checking it must fail.
    for mode in ["verify-ca", "verify-full"] {
        let err = ssl(&format!("{url}?sslmode={mode}")).unwrap_err();
        assert!(err.contains("certificate") || err.contains("UnknownIssuer"), "{mode}: {err}");
    }
    // The CLI works over TLS too.
    ok(&logtrack(&format!("{url}?sslmode=require"), &["db", "init"]));
}

fn a_silence_that_began_in_an_earlier_run_is_found_in(cluster: bool) {
    let Some(url) = common::fresh_db("silence_runs", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let text = std::fs::read_to_string("samples/web/access.log").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Line 606 is the last request before the 13-minute outage.
    std::fs::write(&log, lines[..606].join("\n") + "\n").unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"idle\"\n[[sources]]\npath = \"{}\"\nformat = \"combined\"\nservice = \"apache\"\n\
             [[rules]]\nid = \"down\"\ntype = \"inactivity\"\nservice = \"apache\"\nmax_idle = \"10m\"\n\
             [report]\ndir = \"{}\"\n",
            log.display(),
            dir.path().join("r").display()
        ),
    )
    .unwrap();
    let job = job.to_str().unwrap();
    ok(&logtrack(&url, &["run", job, "--now", "2026-03-14T10:50:00Z"]));
    assert_eq!(
        count(&url, "SELECT count(*) FROM alerts"),
        0,
        "5 minutes of silence is not yet one"
    );
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    ok(&logtrack(&url, &["run", job, "--now", "end-of-data"]));
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let row = c.query_one("SELECT window_start::text, window_end::text FROM alerts", &[]).unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        ("2026-03-14 10:45:06+00".to_string(), "2026-03-14 10:58:04+00".to_string())
    );
}

on_both!(
    a_silence_that_began_in_an_earlier_run_is_found,
    a_silence_that_began_in_an_earlier_run_is_found_on_a_cluster,
    a_silence_that_began_in_an_earlier_run_is_found_in
);

fn alerts_stay_new_until_a_report_shows_them_in(cluster: bool) {
    let Some(url) = common::fresh_db("report_fails", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let o = logtrack(&url, &["run", "jobs/quickstart.toml", "--report-dir", "/dev/null/r"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("report dir /dev/null/r"), "{err}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 17);
    assert_eq!(count(&url, "SELECT count(*) FROM alerts"), 0);
    assert_eq!(count(&url, "SELECT count(*) FROM runs WHERE status = 'failed'"), 1);
    // The records are loaded; the alerts are raised again, as new.
    let r = dir.path().join("r");
    let err =
        ok(&logtrack(&url, &["run", "jobs/quickstart.toml", "--report-dir", r.to_str().unwrap()]));
    assert!(err.contains("0 records"), "{err}");
    assert_eq!(common::alert_keys(&r).len(), 17);
    assert_eq!(count(&url, "SELECT count(*) FROM alerts"), 17);
    assert_eq!(count(&url, "SELECT count(*) FROM runs WHERE status = 'ok'"), 1);
}

on_both!(
    alerts_stay_new_until_a_report_shows_them,
    alerts_stay_new_until_a_report_shows_them_on_a_cluster,
    alerts_stay_new_until_a_report_shows_them_in
);

fn a_killed_run_does_not_stay_running_in(cluster: bool) {
    let Some(url) = common::fresh_db("stale_run", cluster) else { return };
    ok(&logtrack(&url, &["db", "init"]));
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.execute(
        "INSERT INTO runs (job, ingest_host, started_at, status) VALUES ('quickstart', 'h', now(), 'running')",
        &[],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    ok(&logtrack(
        &url,
        &["run", "jobs/quickstart.toml", "--report-dir", dir.path().to_str().unwrap()],
    ));
    assert_eq!(count(&url, "SELECT count(*) FROM runs WHERE status = 'running'"), 0);
    assert_eq!(count(&url, "SELECT count(*) FROM runs WHERE status = 'failed'"), 1);
}

on_both!(
    a_killed_run_does_not_stay_running,
    a_killed_run_does_not_stay_running_on_a_cluster,
    a_killed_run_does_not_stay_running_in
);

fn two_jobs_with_one_rule_id_keep_their_own_alerts_in(cluster: bool) {
    let Some(url) = common::fresh_db("alerts_per_job", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let quick = std::fs::read_to_string("jobs/quickstart.toml").unwrap();
    let other = dir.path().join("other.toml");
    let root = env!("CARGO_MANIFEST_DIR");
    let quick = quick.replace("path = \"../samples/", &format!("path = \"{root}/samples/"));
    std::fs::write(&other, quick.replace("name = \"quickstart\"", "name = \"other\"")).unwrap();
    let d = dir.path().join("r");
    let d = d.to_str().unwrap();
    ok(&logtrack(&url, &["run", "jobs/quickstart.toml", "--report-dir", d]));
    assert_eq!(common::alert_keys(std::path::Path::new(d)).len(), 17);
    // The other job detects over the same stored records.
    let err = ok(&logtrack(&url, &["detect", other.to_str().unwrap(), "--report-dir", d]));
    assert!(err.contains("17 alert(s) (17 new)"), "{err}");
    assert_eq!(count(&url, "SELECT count(*) FROM alerts WHERE job = 'quickstart'"), 17);
    assert_eq!(count(&url, "SELECT count(*) FROM alerts WHERE job = 'other'"), 17);
}

on_both!(
    two_jobs_with_one_rule_id_keep_their_own_alerts,
    two_jobs_with_one_rule_id_keep_their_own_alerts_on_a_cluster,
    two_jobs_with_one_rule_id_keep_their_own_alerts_in
);

#[test]
fn checkpoints_of_version_1_still_hold_after_the_upgrade() {
    let url = db!("upgrade_v1");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let text = std::fs::read_to_string("samples/web/access.log").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let loaded = lines[..300].join("\n") + "\n";
    // A partial line after the loaded part, as a live file has.
    std::fs::write(&log, format!("{loaded}{}", &lines[300][..30])).unwrap();
    let p = log.to_str().unwrap();
    // The schema and a checkpoint as version 1 wrote them.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(include_str!("../migrations/0001_init.sql")).unwrap();
    c.batch_execute(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                                         applied_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO schema_migrations (version, name) VALUES (1, 'init');",
    )
    .unwrap();
    let head = &std::fs::read(&log).unwrap()[..1024];
    let fp = format!("{:016x}", logtrack::source::identity::hash(head) as u64);
    c.execute(
        "INSERT INTO checkpoints (ingest_host, fingerprint, fp_len, path, byte_offset, lines, records, rejected)
         VALUES ('test-host', $1, 1024, $2, $3, 300, 300, 0)",
        &[&fp, &p, &(loaded.len() as i64)],
    )
    .unwrap();
    let err = ok(&logtrack(&url, &["ingest", "--format", "combined", p]));
    assert!(err.contains("access.log: nothing new"), "{err}");
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 0, "{err}");
    std::fs::write(&log, lines[..310].join("\n") + "\n").unwrap();
    let err = ok(&logtrack(&url, &["ingest", "--format", "combined", p]));
    assert!(err.contains("10 rows loaded"), "{err}");
    assert_eq!(count(&url, "SELECT min(source_line) FROM logs"), 301);
}

fn report_from_the_database_counts_every_reject_per_source_in(cluster: bool) {
    let Some(url) = common::fresh_db("honest_report", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    // 150 bad lines among 20 good ones, in a file read as `combined`; a
    // second file, all good, read as `common`.
    let good = |i: u32| {
        format!("10.0.0.{i} - - [14/Mar/2026:10:00:{:02} +0000] \"GET /{i} HTTP/1.1\" 200 5 \"-\" \"x\"\n", i % 60)
    };
    let mut mixed = String::new();
    for i in 0..170 {
        if i % 17 == 0 || i % 17 == 1 {
            mixed.push_str(&good(i));
        } else {
            mixed.push_str(&format!("not a log line {i}\n"));
        }
    }
    let mixed_path = dir.path().join("mixed.log");
    std::fs::write(&mixed_path, &mixed).unwrap();
    let common_path = dir.path().join("common.log");
    std::fs::write(
        &common_path,
        "10.0.0.1 - - [14/Mar/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5\n",
    )
    .unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"honest\"\n[[sources]]\npath = {:?}\nformat = \"combined\"\nservice = \"web\"\nmax_reject_ratio = 1.0\n\
             [[sources]]\npath = {:?}\nformat = \"common\"\nservice = \"web\"\n\
             [[rules]]\nid = \"errors\"\ntype = \"keyword_threshold\"\nkeyword = \"error\"\nthreshold = 5\nwindow = \"1m\"\n",
            mixed_path.to_str().unwrap(),
            common_path.to_str().unwrap()
        ),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let d = reports.to_str().unwrap();
    ok(&logtrack(&url, &["run", job.to_str().unwrap(), "--report-dir", d, "--now", "end-of-data"]));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(run["totals"]["rejected"], 150);

    ok(&logtrack(&url, &["report", job.to_str().unwrap(), "--report-dir", d]));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("report.json")).unwrap())
            .unwrap();
    // Every reject counted, though the report lists only the first 100.
    assert_eq!(r["totals"]["rejected"], 150, "{r}");
    // The page too, with the range's volume counted by PostgreSQL.
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(html.contains("Record volume per service") && html.contains("class=\"series\""));
    assert_eq!(
        r["overview"]["volume"]["web"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        21
    );
    assert_eq!(r["overview"]["top"]["status"]["values"][0], serde_json::json!(["200", 21]));
    assert_eq!(r["totals"]["records"], 21, "{r}");
    assert_eq!(r["rejects"].as_array().unwrap().len(), 100);
    let sources = r["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{r}");
    let by_path = |p: &std::path::Path| {
        sources.iter().find(|s| s["path"] == p.to_str().unwrap()).cloned().unwrap()
    };
    let m = by_path(&mixed_path);
    assert_eq!(
        (m["format"].as_str(), m["records"].as_u64(), m["rejected"].as_u64()),
        (Some("combined"), Some(20), Some(150))
    );
    assert_eq!(m["lines"], 170);
    let c = by_path(&common_path);
    assert_eq!(
        (c["format"].as_str(), c["records"].as_u64(), c["rejected"].as_u64()),
        (Some("common"), Some(1), Some(0))
    );

    // The rule is stored as JSON with the job file's keys.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let def: String = client
        .query_one(
            "SELECT definition::text FROM rules WHERE job = 'honest' AND rule_id = 'errors'",
            &[],
        )
        .unwrap()
        .get(0);
    let def: serde_json::Value = serde_json::from_str(&def).unwrap();
    assert_eq!(def["keyword"], "error");
    assert_eq!(def["window"], "1m");
    assert_eq!(def["threshold"], 5);
    assert_eq!(def["type"], "keyword_threshold");
}

on_both!(
    report_from_the_database_counts_every_reject_per_source,
    report_from_the_database_counts_every_reject_per_source_on_a_cluster,
    report_from_the_database_counts_every_reject_per_source_in
);

fn runs_lists_the_history_of_a_job_in(cluster: bool) {
    let Some(url) = common::fresh_db("runs_history", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    ok(&logtrack(&url, &["run", "jobs/quickstart.toml", "--report-dir", d]));
    ok(&logtrack(&url, &["run", "jobs/quickstart.toml", "--report-dir", d]));
    let o = logtrack(&url, &["runs", "--job", "quickstart"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<Vec<&str>> =
        out.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    // run, job, started, finished, status, records, rejected, alerts, seconds, host
    assert_eq!(&rows[0][1..2], ["quickstart"]);
    assert_eq!((rows[0][4], rows[0][5], rows[0][7]), ("ok", "1863", "17"), "{out}");
    assert_eq!(
        (rows[1][4], rows[1][5], rows[1][7]),
        ("ok", "0", "0"),
        "the second run found nothing new: {out}"
    );
    assert_eq!(rows[0][9], "test-host");
    let o = logtrack(&url, &["runs", "--job", "nope"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no runs recorded"));
}

on_both!(
    runs_lists_the_history_of_a_job,
    runs_lists_the_history_of_a_job_on_a_cluster,
    runs_lists_the_history_of_a_job_in
);

/// `logtrack` with `input` on standard input.
#[test]
fn users_are_added_listed_changed_and_removed_with_argon2id() {
    let url = db!("users");
    let secret = "correct horse battery staple";
    let o = logtrack_stdin(
        &url,
        &["user", "add", "alice", "--role", "admin", "--password-stdin"],
        &format!("{secret}\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    ok(&logtrack_stdin(
        &url,
        &["user", "add", "bob", "--password-stdin"],
        "another long password\n",
    ));
    // A taken name, a short password, no terminal and no --password-stdin.
    let o = logtrack_stdin(
        &url,
        &["user", "add", "alice", "--password-stdin"],
        "yet another password\n",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("user \"alice\" exists already"));
    let o = logtrack_stdin(&url, &["user", "add", "carol", "--password-stdin"], "short\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("too short: at least 12 characters"));
    let o = logtrack_stdin(&url, &["user", "add", "carol"], "");
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass --password-stdin"));

    let o = logtrack(&url, &["user", "list"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<Vec<&str>> =
        out.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows.iter().map(|r| (r[0], r[1])).collect::<Vec<_>>(),
        [("alice", "admin"), ("bob", "viewer")]
    );

    // Stored as an argon2id PHC string that verifies; never the password.
    let hash = |name: &str| -> String {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query_one("SELECT password_hash FROM users WHERE username = $1", &[&name]).unwrap().get(0)
    };
    let h = hash("alice");
    assert!(h.starts_with("$argon2id$") && !h.contains(secret), "{h}");
    assert!(logtrack::store::users::verify_password(secret, &h));
    ok(&logtrack_stdin(
        &url,
        &["user", "passwd", "alice", "--password-stdin"],
        "a brand new passphrase\n",
    ));
    assert!(logtrack::store::users::verify_password("a brand new passphrase", &hash("alice")));
    assert!(!logtrack::store::users::verify_password(secret, &hash("alice")));
    let o = logtrack_stdin(
        &url,
        &["user", "passwd", "nobody", "--password-stdin"],
        "whatever long one\n",
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no user \"nobody\""));

    ok(&logtrack(&url, &["user", "remove", "bob"]));
    assert_eq!(count(&url, "SELECT count(*) FROM users"), 1);
    let o = logtrack(&url, &["user", "remove", "bob"]);
    assert_eq!(o.status.code(), Some(2));
    // The role constraint follows the new names.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    assert!(c
        .execute("INSERT INTO users (username, password_hash, role) VALUES ('x', 'h', 'user')", &[])
        .is_err());
}

#[test]
fn a_file_loaded_over_several_streams_draws_one_bar_per_stream_on_a_terminal() {
    let url = db!("progress_pty");
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("notice: no `script` to make a pseudo-terminal: progress bars not checked");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.log");
    let sample = std::fs::read("samples/web/access.log").unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    for _ in 0..200 {
        f.write_all(&sample).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    // `script` runs the loader on a pseudo-terminal and copies what it drew.
    let cmd =
        format!("{} ingest --format combined {}", env!("CARGO_BIN_EXE_logtrack"), big.display());
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("LOGTRACK_DATABASE_URL", &url)
        .env("LOGTRACK_COPY_STREAMS", "3")
        .env("LOGTRACK_COPY_PART_BYTES", "65536")
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let drawn = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{drawn}");
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 624 * 200);
    let name = big.file_name().unwrap().to_str().unwrap();
    assert!(drawn.contains(name) && drawn.contains("records"), "no bar was drawn: {drawn:?}");
    // Several bars at once, each on its own line: the drawing moves the
    // cursor up over the lines of the bars it redraws (one bar redrawn on
    // its own line only returns to the line's start).
    let moves_up = (1..=4).any(|n| drawn.contains(&format!("\x1b[{n}A")));
    assert!(moves_up, "the streams' bars were drawn over each other: {drawn:?}");
    // Finished bars are cleared: what is left after the last erase is the
    // file's summary line alone.
    let last = drawn.rsplit("\x1b[").next().unwrap();
    assert!(last.contains("rows loaded") && last.contains("3 COPY streams"), "{last:?}");
    assert!(!last.contains("ETA"), "{last:?}");
}

/// `logtrack logs | head -1` and `logtrack runs | head -1`: a closed stdout
/// ends the command quietly (status 0, nothing on stderr).
#[test]
fn listing_into_a_closed_pipe_exits_quietly() {
    let url = db!("closed_pipe");
    ok(&logtrack(&url, &["db", "init"]));
    ok(&logtrack(&url, &["ingest", "--format", "combined", "tests/fixtures/combined/awkward.log"]));
    for args in [&["logs"][..], &["runs"], &["alerts"]] {
        // The reading end is closed before the command starts: its first
        // line meets a broken pipe, whatever the timing.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
            .args(args)
            .env("LOGTRACK_DATABASE_URL", &*url)
            .stdout(writer)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}");
    }
}

/// An sshd session split over two loads of a growing file: the second
/// load looks back on the first's lines, so the failure that names no
/// address gets the one its process logged before.
#[test]
fn sshd_sessions_join_across_loads() {
    let url = db!("sessions_across_loads");
    ok(&logtrack(&url, &["db", "init"]));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    // Other processes' lines after the session's start: more than the
    // checkpoint keeps of a file's tail, less than sessions look back on.
    let mut first = "2026-03-14T10:00:00+00:00 h sshd[77]: Connection from 203.0.113.9 port 40000 on 10.0.0.1 port 22\n".to_string();
    for i in 0..300 {
        first += &format!(
            "2026-03-14T10:00:01+00:00 h cron[{}]: (root) CMD (run-parts /etc/cron.hourly) {i}\n",
            1000 + i
        );
    }
    std::fs::write(&log, first).unwrap();
    common::rest(&log);
    let p = log.to_str().unwrap();
    ok(&logtrack(&url, &["ingest", "--format", "syslog", p]));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"2026-03-14T10:00:05+00:00 h sshd[77]: Disconnecting: Too many authentication failures for root [preauth]\n")
        .unwrap();
    common::rest(&log);
    ok(&logtrack(&url, &["ingest", "--format", "syslog", p]));
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 302);
    let failed = "SELECT count(*) FROM logs WHERE fields->>'outcome' = 'failure' AND fields->>'client_ip' = '203.0.113.9' AND source_line = 302";
    assert_eq!(count(&url, failed), 1);
}
