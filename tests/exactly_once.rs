//! Every line once, under the conditions cron really creates, against a
//! real PostgreSQL (see `tests/common/pg.rs`): files that grow from a few
//! bytes, small files rotated then compressed, files with equal heads,
//! copytruncate, loaders started at the same moment, two jobs sharing a
//! source, hostile time stamps, and database faults mid-COPY — with one
//! COPY stream and with a file cut into parts loaded by several streams.
//! Each test counts the rows stored (lost 0, doubled 0). Most run twice:
//! on one server and on a Citus cluster (`_on_a_cluster`, see
//! `tests/common/citus.rs`); the faults made with a trigger on `logs` run on
//! one server (Citus refuses triggers on distributed tables), and
//! `tests/citus.rs` makes the cluster's own faults.

mod common;

use common::pg::{self, count, logtrack, ok};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn ingest(url: &str, path: &str) -> String {
    ok(&logtrack(url, &["ingest", "--format", "combined", path]))
}

/// One COPY stream whatever the file's size.
const ONE_STREAM: &[(&str, &str)] = &[("LOGTRACK_COPY_STREAMS", "1")];
/// Files cut into up to three parts of at least 64 KiB, one stream each.
const THREE_STREAMS: &[(&str, &str)] =
    &[("LOGTRACK_COPY_STREAMS", "3"), ("LOGTRACK_COPY_PART_BYTES", "65536")];

fn loader(url: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logtrack"));
    c.args(args)
        .env("LOGTRACK_DATABASE_URL", url)
        .env("LOGTRACK_HOST", "test-host")
        .envs(env.iter().copied())
        .stderr(Stdio::piped());
    c
}

fn ingest_with(url: &str, path: &str, env: &[(&str, &str)]) -> String {
    ok(&loader(url, &["ingest", "--format", "combined", path], env).output().unwrap())
}

/// One value of a query, as text.
fn text(url: &str, sql: &str) -> String {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.query_one(sql, &[]).unwrap().get(0)
}

/// What a load stored, in a form two databases can be compared by: the
/// rows (line, time, message, fields), the rejects and the checkpoint.
fn stored(url: &str) -> [String; 3] {
    [
        text(url, "SELECT count(*) || ' ' || md5(string_agg(source_line || '|' || ts || '|' || message || '|' || fields::text, ',' ORDER BY source_line)) FROM logs"),
        text(url, "SELECT count(*) || ' ' || coalesce(md5(string_agg(source_line || '|' || byte_offset || '|' || reason, ',' ORDER BY source_line)), '') FROM rejects"),
        text(url, "SELECT string_agg(concat_ws(' ', byte_offset, lines, records, rejected, head_len, head_hash, tail_hash), ',') FROM checkpoints"),
    ]
}

/// Rows stored, and distinct messages among them (every line [`lines`]
/// makes has its own): equal when nothing is doubled.
fn rows(url: &str) -> (i64, i64) {
    (
        count(url, "SELECT count(*) FROM logs"),
        count(url, "SELECT count(DISTINCT message) FROM logs"),
    )
}

/// `n` distinct access-log lines, from number `from`; `tag` goes in the path.
fn lines(from: usize, n: usize, tag: &str) -> String {
    (from..from + n)
        .map(|i| {
            format!(
                "10.0.{}.{} - - [14/Mar/2026:10:{:02}:{:02} +0000] \"GET /{tag}/{i} HTTP/1.1\" 200 {} \"-\" \"curl\"\n",
                i / 250,
                i % 250,
                (i / 60) % 60,
                i % 60,
                100 + i
            )
        })
        .collect()
}

/// Appends `text` to `path`, which is then at rest (see `common::rest`):
/// the tests of a record still being written say so themselves.
fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    common::rest(path);
}

fn gzip(from: &Path, to: &Path) {
    let mut e =
        flate2::write::GzEncoder::new(std::fs::File::create(to).unwrap(), Default::default());
    e.write_all(&std::fs::read(from).unwrap()).unwrap();
    e.finish().unwrap();
}

fn a_tiny_log_that_grows_is_loaded_once_in(cluster: bool) {
    let Some(url) = common::fresh_db("tiny_grows", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, lines(0, 3, "a")).unwrap();
    let p = log.to_str().unwrap();
    assert!(ingest(&url, p).contains("3 rows loaded"));
    append(&log, &lines(3, 40, "a"));
    let err = ingest(&url, p);
    assert!(err.contains("40 rows loaded"), "{err}");
    assert_eq!(rows(&url), (43, 43));
    // One byte at a time through the first KiB and beyond.
    let log2 = dir.path().join("bytes.log");
    let text = lines(0, 20, "b");
    std::fs::write(&log2, "").unwrap();
    for piece in text.as_bytes().chunks(97) {
        append(&log2, std::str::from_utf8(piece).unwrap());
        ingest(&url, log2.to_str().unwrap());
    }
    assert_eq!(rows(&url), (63, 63));
}

on_both!(
    a_tiny_log_that_grows_is_loaded_once,
    a_tiny_log_that_grows_is_loaded_once_on_a_cluster,
    a_tiny_log_that_grows_is_loaded_once_in
);

fn a_small_file_renamed_then_gzipped_is_loaded_once_in(cluster: bool) {
    let Some(url) = common::fresh_db("small_rotate", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let rotated = dir.path().join("app.log.1");
    let gz = dir.path().join("app.log.1.gz");
    let glob = format!("{}/app.log*", dir.path().display());
    std::fs::write(&live, lines(0, 4, "r")).unwrap();
    ingest(&url, &glob);
    std::fs::rename(&live, &rotated).unwrap();
    std::fs::write(&live, "").unwrap();
    ingest(&url, &glob);
    // delaycompress: for a moment both the file and its compressed copy exist.
    gzip(&rotated, &gz);
    ingest(&url, &glob);
    std::fs::remove_file(&rotated).unwrap();
    ingest(&url, &glob);
    assert_eq!(rows(&url), (4, 4));
    // The new live file is its own file.
    append(&live, &lines(4, 2, "r"));
    ingest(&url, &glob);
    assert_eq!(rows(&url), (6, 6));
}

on_both!(
    a_small_file_renamed_then_gzipped_is_loaded_once,
    a_small_file_renamed_then_gzipped_is_loaded_once_on_a_cluster,
    a_small_file_renamed_then_gzipped_is_loaded_once_in
);

#[test]
fn a_file_loaded_in_parts_stores_what_one_stream_stores() {
    let (one, three) = (db!("parts_one"), db!("parts_three"));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("parts.log");
    // Lines of many lengths, CRLF ends, lines that are rejects, and a last
    // line still being written.
    let mut text = String::new();
    for k in 0..40 {
        text += &lines(k * 100, 100, &"p".repeat(k % 7 + 1));
        text += "not an access log line\n";
        if k % 4 == 0 {
            text += &lines(10_000 + k, 1, "crlf").replace('\n', "\r\n");
        }
    }
    let cut = text.len() - 30;
    std::fs::write(&log, &text[..cut]).unwrap();
    let p = log.to_str().unwrap();
    // Parts commit one after another, each moving the checkpoint another
    // part moved while it copied: that must hold whatever the server's
    // default isolation.
    let mut c = postgres::Client::connect(&three, postgres::NoTls).unwrap();
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    c.batch_execute(&format!(
        "ALTER DATABASE \"{db}\" SET default_transaction_isolation = 'repeatable read'"
    ))
    .unwrap();
    let err_one = ingest_with(&one, p, ONE_STREAM);
    let err_three = ingest_with(&three, p, THREE_STREAMS);
    assert!(err_one.contains("4009 rows loaded, 39 rejected, 4048 lines"), "{err_one}");
    assert!(err_three.contains("4009 rows loaded, 39 rejected, 4048 lines"), "{err_three}");
    assert!(!err_one.contains("COPY streams"), "{err_one}");
    assert!(err_three.contains("(combined; 3 COPY streams)"), "{err_three}");
    assert_eq!(stored(&three), stored(&one));
    // The file grows (the last line finished, more appended): both go on.
    append(&log, &text[cut..]);
    append(&log, &lines(20_000, 3_000, "grown"));
    let err_one = ingest_with(&one, p, ONE_STREAM);
    let err_three = ingest_with(&three, p, THREE_STREAMS);
    assert!(err_one.contains("3001 rows loaded, 1 rejected"), "{err_one}");
    assert!(err_three.contains("3001 rows loaded, 1 rejected"), "{err_three}");
    assert_eq!(stored(&three), stored(&one));
    assert_eq!(rows(&three), (7_010, 7_010));
    assert!(ingest_with(&three, p, THREE_STREAMS).contains("nothing new"));
}

fn two_files_with_equal_heads_are_two_files_in(cluster: bool) {
    let Some(url) = common::fresh_db("equal_heads", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    // b starts with every byte of a (well past the first KiB).
    std::fs::write(&a, lines(0, 55, "same")).unwrap();
    std::fs::write(&b, lines(0, 65, "same")).unwrap();
    let (c, d) = (dir.path().join("c.log"), dir.path().join("d.log"));
    // c and d share their first KiB only.
    std::fs::write(&c, lines(0, 15, "same") + &lines(15, 40, "c")).unwrap();
    std::fs::write(&d, lines(0, 15, "same") + &lines(15, 50, "d")).unwrap();
    for _ in 0..2 {
        for f in [&a, &b, &c, &d] {
            ingest(&url, f.to_str().unwrap());
        }
    }
    let per_file = "SELECT count(*) FROM (SELECT DISTINCT source_path, source_line FROM logs) d";
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 55 + 65 + 55 + 65);
    assert_eq!(count(&url, per_file), 55 + 65 + 55 + 65);
}

on_both!(
    two_files_with_equal_heads_are_two_files,
    two_files_with_equal_heads_are_two_files_on_a_cluster,
    two_files_with_equal_heads_are_two_files_in
);

fn copytruncate_loses_and_doubles_nothing_in(cluster: bool) {
    let Some(url) = common::fresh_db("copytruncate", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let copy = dir.path().join("app.log.1");
    let glob = format!("{}/app.log*", dir.path().display());
    std::fs::write(&live, lines(0, 40, "t")).unwrap();
    ingest(&url, &glob);
    append(&live, &lines(40, 10, "t"));
    std::fs::copy(&live, &copy).unwrap();
    std::fs::OpenOptions::new().write(true).open(&live).unwrap().set_len(0).unwrap();
    append(&live, &lines(50, 5, "t"));
    ingest(&url, &glob);
    ingest(&url, &glob);
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 55);
    assert_eq!(count(&url, "SELECT count(DISTINCT message) FROM logs"), 55);
}

on_both!(
    copytruncate_loses_and_doubles_nothing,
    copytruncate_loses_and_doubles_nothing_on_a_cluster,
    copytruncate_loses_and_doubles_nothing_in
);

fn a_file_replaced_by_a_shorter_one_is_new_in(cluster: bool) {
    let Some(url) = common::fresh_db("replaced", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, lines(0, 30, "old")).unwrap();
    ingest(&url, log.to_str().unwrap());
    std::fs::remove_file(&log).unwrap();
    std::fs::write(&log, lines(0, 5, "new")).unwrap();
    ingest(&url, log.to_str().unwrap());
    ingest(&url, log.to_str().unwrap());
    assert_eq!(count(&url, "SELECT count(DISTINCT message) FROM logs"), 35);
    assert_eq!(count(&url, "SELECT count(*) FROM logs"), 35);
}

on_both!(
    a_file_replaced_by_a_shorter_one_is_new,
    a_file_replaced_by_a_shorter_one_is_new_on_a_cluster,
    a_file_replaced_by_a_shorter_one_is_new_in
);

/// The rows a loader said it loaded ("N rows loaded"), 0 for "nothing new".
fn said_loaded(err: &str) -> i64 {
    err.lines()
        .filter_map(|l| l.split(" rows loaded").next().filter(|_| l.contains(" rows loaded")))
        .map(|head| head.rsplit(' ').next().unwrap().parse::<i64>().unwrap())
        .sum()
}

fn loaders_started_at_the_same_moment_store_each_line_once_in(cluster: bool) {
    for (name, env) in ["overlap", "overlap_parts"].into_iter().zip(STREAMS) {
        let Some(url) = &common::fresh_db(name, cluster) else { return };
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.log");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        for k in 0..30 {
            f.write_all(lines(k * 10_000, 10_000, "big").as_bytes()).unwrap();
        }
        drop(f);
        ok(&logtrack(url, &["db", "init"]));
        let p = big.to_str().unwrap();
        let children: Vec<_> = (0..3)
            .map(|_| loader(url, &["ingest", "--format", "combined", p], env).spawn().unwrap())
            .collect();
        let outs: Vec<Output> =
            children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let errs: Vec<String> = outs.iter().map(ok).collect();
        assert_eq!(rows(url), (300_000, 300_000), "{errs:?}");
        // What the loaders say they loaded adds up to the file, each part
        // counted by the loader whose commit kept it.
        assert_eq!(errs.iter().map(|e| said_loaded(e)).sum::<i64>(), 300_000, "{errs:?}");
        if env == ONE_STREAM {
            assert_eq!(
                errs.iter().filter(|e| e.contains("300000 rows loaded")).count(),
                1,
                "{errs:?}"
            );
        }
        assert_eq!(count(url, "SELECT sum(records)::bigint FROM checkpoints"), 300_000);
    }
}

on_both!(
    loaders_started_at_the_same_moment_store_each_line_once,
    loaders_started_at_the_same_moment_store_each_line_once_on_a_cluster,
    loaders_started_at_the_same_moment_store_each_line_once_in
);

/// Runs `cmd`, failing the test if it has not ended within a minute (a
/// loader waiting on a lock it holds itself would never end).
fn finishes(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > 60 {
            child.kill().unwrap();
            panic!("{what}: still running after a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_file_that_reaches_a_new_day_mid_load_is_loaded() {
    // 8 MB from 23:50 to 00:10: the new day's partition is made while this
    // loader's COPY into the old day is open (and, with three streams,
    // while other parts copy).
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("midnight.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    for i in 0..60_000u32 {
        let s = 23 * 3600 + 50 * 60 + i / 50;
        let (day, s) = (14 + s / 86_400, s % 86_400);
        writeln!(
            f,
            "10.0.0.{} - - [{day}/Mar/2026:{:02}:{:02}:{:02} +0000] \"GET /night/{i} HTTP/1.1\" 200 {i} \"-\" \"curl/8.0 with a long enough agent\"",
            i % 250,
            s / 3600,
            s / 60 % 60,
            s % 60
        )
        .unwrap();
    }
    drop(f);
    let p = log.to_str().unwrap();
    for (name, env) in ["midnight", "midnight_parts"].into_iter().zip(STREAMS) {
        let url = &db!(name);
        ok(&logtrack(url, &["db", "init"]));
        let o = finishes(loader(url, &["ingest", "--format", "combined", p], env), "ingest");
        let err = ok(&o);
        assert!(err.contains("60000 rows loaded"), "{err}");
        assert_eq!(rows(url), (60_000, 60_000));
        let per_day = "SELECT count(DISTINCT tableoid) FROM logs";
        assert_eq!(count(url, per_day), 2);
        assert_eq!(count(url, "SELECT count(*) FROM logs WHERE ts >= '2026-03-15'"), 30_000);
    }
}

fn two_jobs_sharing_a_source_at_the_same_moment_store_it_once_in(cluster: bool) {
    let Some(url) = common::fresh_db("two_jobs", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("shared.log");
    let mut text = String::new();
    for k in 0..10 {
        text += &lines(k * 5_000, 5_000, "shared");
    }
    std::fs::write(&log, text).unwrap();
    ok(&logtrack(&url, &["db", "init"]));
    let children: Vec<_> = ["one", "two"]
        .iter()
        .map(|name| {
            let job = dir.path().join(format!("{name}.toml"));
            // The second job names the file through a glob.
            let path = if *name == "one" {
                log.display().to_string()
            } else {
                format!("{}/shared.l?g", dir.path().display())
            };
            std::fs::write(
                &job,
                format!(
                    "name = \"{name}\"\nnow = \"end-of-data\"\n[[sources]]\npath = \"{path}\"\nformat = \"combined\"\n\
                     [[rules]]\nid = \"busy\"\ntype = \"rate_spike\"\nthreshold = 100000\nwindow = \"1m\"\n\
                     [report]\ndir = \"{}\"\n",
                    dir.path().join(name).display()
                ),
            )
            .unwrap();
            Command::new(env!("CARGO_BIN_EXE_logtrack"))
                .args(["run", job.to_str().unwrap()])
                .env("LOGTRACK_DATABASE_URL", &url)
                .env("LOGTRACK_HOST", "test-host")
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        ok(&c.wait_with_output().unwrap());
    }
    assert_eq!(rows(&url), (50_000, 50_000));
}

on_both!(
    two_jobs_sharing_a_source_at_the_same_moment_store_it_once,
    two_jobs_sharing_a_source_at_the_same_moment_store_it_once_on_a_cluster,
    two_jobs_sharing_a_source_at_the_same_moment_store_it_once_in
);

fn records_outside_the_supported_years_are_rejects_and_later_runs_work_in(cluster: bool) {
    let Some(url) = common::fresh_db("years", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let good = lines(0, 2, "y");
    let text = format!(
        "{good}1.2.3.4 - - [01/Jan/0001:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n\
         1.2.3.4 - - [31/Dec/9999:23:59:59 +0000] \"GET / HTTP/1.1\" 200 1\n"
    );
    std::fs::write(&log, text).unwrap();
    let err = ok(&logtrack(&url, &["ingest", "-v", "--format", "combined", log.to_str().unwrap()]));
    assert!(err.contains("2 rows loaded, 2 rejected"), "{err}");
    let want = format!(
        ":3 (byte {}): time stamp 0001-01-01T00:00:00Z is outside the supported range",
        good.len()
    );
    assert!(err.contains(&want), "{err}");
    append(&log, &lines(2, 3, "y"));
    assert!(ingest(&url, log.to_str().unwrap()).contains("3 rows loaded"));
    assert_eq!(rows(&url), (5, 5));
    assert_eq!(count(&url, "SELECT count(*) FROM rejects"), 2);
}

on_both!(
    records_outside_the_supported_years_are_rejects_and_later_runs_work,
    records_outside_the_supported_years_are_rejects_and_later_runs_work_on_a_cluster,
    records_outside_the_supported_years_are_rejects_and_later_runs_work_in
);

/// A 60 MB log (624 sample lines × 1,540) for the fault tests.
fn big_log(dir: &Path) -> String {
    let big = dir.join("big.log");
    let sample = std::fs::read("samples/web/access.log").unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    for _ in 0..1540 {
        f.write_all(&sample).unwrap();
    }
    big.display().to_string()
}

const BIG_ROWS: i64 = 624 * 1540;

/// The loader failed with exit 2 and one clear error line naming the file;
/// what is visible is what the checkpoint says was loaded — nothing with one
/// stream, the committed leading parts with several; the next run
/// converges to exactly once.
fn assert_failed_cleanly_then_converges(
    url: &str,
    path: &str,
    o: &Output,
    what: &str,
    env: &[(&str, &str)],
) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("logtrack: error:")).collect();
    assert_eq!(errors.len(), 1, "{what}: {err}");
    assert!(errors[0].contains(path), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    let visible = count(url, "SELECT count(*) FROM logs");
    let checkpointed = count(url, "SELECT coalesce(sum(records), 0)::bigint FROM checkpoints");
    assert_eq!(visible, checkpointed, "{what}");
    if env == ONE_STREAM {
        assert_eq!(visible, 0, "{what}");
    }
    assert!(visible < BIG_ROWS, "{what}: the fault came after the last commit");
    let beyond =
        "SELECT count(*) FROM logs WHERE source_line > (SELECT max(lines) FROM checkpoints)";
    assert_eq!(count(url, beyond), 0, "{what}");
    ingest_with(url, path, env);
    ingest_with(url, path, env);
    assert_eq!(count(url, "SELECT count(*) FROM logs"), BIG_ROWS, "{what}");
    assert_eq!(count(url, "SELECT count(DISTINCT source_line) FROM logs"), BIG_ROWS, "{what}");
}

/// Starts an ingest of `path` and returns once its COPY sleeps in the
/// trigger [`fault_at_row`] made (`pg_sleep`).
fn ingest_until_the_fault(url: &str, path: &str, env: &[(&str, &str)]) -> std::process::Child {
    let child = loader(url, &["ingest", "--format", "combined", path], env).spawn().unwrap();
    let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'";
    let start = std::time::Instant::now();
    while count(url, sleeping) == 0 && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

/// A trigger on `logs` that runs `action` (PL/pgSQL) when the `n`th row
/// arrives, to make a fault happen mid-COPY; `drop_fault` removes it.
fn fault_at_row(url: &str, n: i64, action: &str) {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "CREATE SEQUENCE written;
         CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF nextval('written') = {n} THEN {action}; END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER fault BEFORE INSERT ON logs FOR EACH ROW EXECUTE FUNCTION fault();"
    ))
    .unwrap();
}

fn drop_fault(url: &str) {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute("DROP TRIGGER fault ON logs; DROP FUNCTION fault(); DROP SEQUENCE written")
        .unwrap();
}

/// Each fault, with one stream and with three; the 100,000th row to
/// arrive falls in one of the three parts, whichever stream is quicker.
const STREAMS: [&[(&str, &str)]; 2] = [ONE_STREAM, THREE_STREAMS];

#[test]
fn a_connection_killed_mid_copy_loses_and_doubles_nothing() {
    for (name, env) in ["terminated", "terminated_parts"].into_iter().zip(STREAMS) {
        let url = &db!(name);
        let dir = tempfile::tempdir().unwrap();
        let p = big_log(dir.path());
        ok(&logtrack(url, &["db", "init"]));
        fault_at_row(url, 100_000, "PERFORM pg_sleep(30)");
        let child = ingest_until_the_fault(url, &p, env);
        count(url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'PgSleep'");
        let o = child.wait_with_output().unwrap();
        drop_fault(url);
        assert_failed_cleanly_then_converges(url, &p, &o, "pg_terminate_backend", env);
    }
}

#[test]
fn a_statement_timeout_mid_copy_loses_and_doubles_nothing() {
    for (name, env) in ["timeout", "timeout_parts"].into_iter().zip(STREAMS) {
        let url = &db!(name);
        let dir = tempfile::tempdir().unwrap();
        let p = big_log(dir.path());
        ok(&logtrack(url, &["db", "init"]));
        fault_at_row(url, 100_000, "PERFORM pg_sleep(5)");
        let timeout = format!("{url}?options=-c%20statement_timeout%3D1000");
        let o = loader(&timeout, &["ingest", "--format", "combined", &p], env).output().unwrap();
        drop_fault(url);
        assert!(String::from_utf8_lossy(&o.stderr).contains("statement timeout"), "{o:?}");
        assert_failed_cleanly_then_converges(url, &p, &o, "statement_timeout", env);
    }
}

#[test]
fn a_failing_write_mid_copy_loses_and_doubles_nothing() {
    for (name, env) in ["disk_full", "disk_full_parts"].into_iter().zip(STREAMS) {
        let url = &db!(name);
        let dir = tempfile::tempdir().unwrap();
        let p = big_log(dir.path());
        ok(&logtrack(url, &["db", "init"]));
        // Stands in for a full disk.
        fault_at_row(
            url,
            100_000,
            "RAISE EXCEPTION 'could not extend file: No space left on device'",
        );
        let o = loader(url, &["ingest", "--format", "combined", &p], env).output().unwrap();
        drop_fault(url);
        assert!(String::from_utf8_lossy(&o.stderr).contains("No space left on device"), "{o:?}");
        assert_failed_cleanly_then_converges(url, &p, &o, "failing trigger", env);
    }
}

#[test]
fn the_server_stopped_mid_copy_loses_and_doubles_nothing() {
    let Some(server) = pg::OwnServer::start("stopped") else { return };
    let url = server.url.clone();
    for env in STREAMS {
        let dir = tempfile::tempdir().unwrap();
        let p = big_log(dir.path());
        ok(&logtrack(&url, &["db", "reset", "--yes"]));
        ok(&logtrack(&url, &["db", "init"]));
        fault_at_row(&url, 100_000, "PERFORM pg_sleep(30)");
        let child = ingest_until_the_fault(&url, &p, env);
        server.down("immediate");
        let o = child.wait_with_output().unwrap();
        server.up().unwrap();
        drop_fault(&url);
        assert_failed_cleanly_then_converges(&url, &p, &o, "server stopped", env);
    }
}

fn a_json_lines_file_being_written_loses_no_event_in(cluster: bool) {
    let Some(url) = common::fresh_db("json_lines_live", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trail.jsonl");
    let event = |i: usize| {
        format!(
            "{{\"eventVersion\":\"1.08\",\"eventTime\":\"2023-07-10T11:00:{:02}Z\",\"eventSource\":\"s3.amazonaws.com\",\
             \"eventName\":\"GetObject{i}\",\"awsRegion\":\"us-east-1\",\"userIdentity\":{{\"type\":\"Root\"}}}}\n",
            i % 60
        )
    };
    let text: String = (0..5).map(event).collect();
    // The fifth event is cut in the middle.
    let cut = text.len() - 40;
    std::fs::write(&log, &text[..cut]).unwrap();
    let p = log.to_str().unwrap();
    let err = ok(&logtrack(&url, &["ingest", "--format", "cloudtrail", p]));
    assert!(err.contains("4 rows loaded, 0 rejected"), "{err}");
    assert!(err.contains("the event at line 5 is not finished yet"), "{err}");
    append(&log, &text[cut..]);
    append(&log, &event(5));
    let err = ok(&logtrack(&url, &["ingest", "--format", "cloudtrail", p]));
    assert!(err.contains("2 rows loaded, 0 rejected"), "{err}");
    assert_eq!(rows(&url), (6, 6));
    assert_eq!(count(&url, "SELECT count(*) FROM rejects"), 0);
    assert_eq!(count(&url, "SELECT max(source_line) FROM logs"), 6);
}

on_both!(
    a_json_lines_file_being_written_loses_no_event,
    a_json_lines_file_being_written_loses_no_event_on_a_cluster,
    a_json_lines_file_being_written_loses_no_event_in
);

/// Line `i` of a log in `format`, with its own message and second.
fn format_line(format: &str, i: usize, tag: &str) -> String {
    let (m, s) = (i / 60, i % 60);
    let secs = 1_773_482_400 + i as i64;
    match format {
        "syslog" => format!("2026-03-14T10:{m:02}:{s:02}+00:00 h app[1]: line {tag} {i}\n"),
        "journald" => format!(
            "{{\"__REALTIME_TIMESTAMP\":\"{}\",\"SYSLOG_IDENTIFIER\":\"app\",\"MESSAGE\":\"line {tag} {i}\"}}\n",
            secs * 1_000_000
        ),
        "json" => format!("{{\"time\":\"2026-03-14T10:{m:02}:{s:02}Z\",\"level\":\"info\",\"msg\":\"line {tag} {i}\"}}\n"),
        "logfmt" => format!("time=2026-03-14T10:{m:02}:{s:02}Z level=info msg=\"line {tag} {i}\"\n"),
        "apache-error" => format!("[Sat Mar 14 10:{m:02}:{s:02} 2026] [error] [client 10.0.0.1] line {tag} {i}\n"),
        "nginx-error" => format!("2026/03/14 10:{m:02}:{s:02} [error] 1#0: *{i} line {tag} {i}, client: 10.0.0.1\n"),
        _ => format!("2026-03-14T10:{m:02}:{s:02}Z line {tag} {i}\n"),
    }
}

/// The new formats keep the same guarantees: a log that grows from a few
/// lines, is renamed and compressed, is read by three loaders at once, is
/// copytruncated, and has a twin with the same first KiB is stored once,
/// line for line.
fn every_new_format_is_stored_once_as_it_grows_rotates_and_races_in(cluster: bool) {
    let Some(url) = common::fresh_db("new_formats_once", cluster) else { return };
    ok(&logtrack(&url, &["db", "init"]));
    let formats = [
        "syslog",
        "journald",
        "json",
        "logfmt",
        "apache-error",
        "nginx-error",
        r"regex:^(?P<ts>\S+) (?P<message>.*)$",
    ];
    let mut total = 0;
    // Twins repeat 40 messages of their log: rows, minus those, are distinct.
    let mut twins = 0;
    for (k, format) in formats.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        let tag = format!("f{k}");
        let text = |from: usize, to: usize| -> String {
            (from..to).map(|i| format_line(format, i, &tag)).collect()
        };
        let run = |path: &str| loader(&url, &["ingest", "--format", format, path], &[]);
        let glob = format!("{}/app.log*", dir.path().display());
        std::fs::write(&live, text(0, 3)).unwrap();
        common::rest(&live);
        ok(&run(&glob).output().unwrap());
        append(&live, &text(3, 200));
        ok(&run(&glob).output().unwrap());
        // Rotated and compressed, a new live file started.
        let rotated = dir.path().join("app.log.1");
        std::fs::rename(&live, &rotated).unwrap();
        gzip(&rotated, &dir.path().join("app.log.1.gz"));
        std::fs::remove_file(&rotated).unwrap();
        std::fs::write(&live, text(200, 300)).unwrap();
        common::rest(&live);
        ok(&run(&glob).output().unwrap());
        // It grows, and three loaders start on it at once.
        append(&live, &text(300, 2300));
        let children =
            [run(&glob).spawn().unwrap(), run(&glob).spawn().unwrap(), run(&glob).spawn().unwrap()];
        for c in children {
            ok(&c.wait_with_output().unwrap());
        }
        total += 2300;
        assert_eq!(rows(&url), (total, total - twins), "{format}");
        // copytruncate: lines not yet loaded go to the copy, new ones to the
        // emptied live file.
        append(&live, &text(2300, 2350));
        std::fs::copy(&live, &rotated).unwrap();
        common::rest(&rotated);
        std::fs::OpenOptions::new().write(true).open(&live).unwrap().set_len(0).unwrap();
        append(&live, &text(2350, 2400));
        ok(&run(&glob).output().unwrap());
        ok(&run(&glob).output().unwrap());
        total += 100;
        assert_eq!(rows(&url), (total, total - twins), "{format}");
        // Another file whose first KiB (and more) is this log's: a file of its own.
        let twin = dir.path().join("twin.log");
        let other_tag = format!("twin{k}");
        let tail: String = (3000..3020).map(|i| format_line(format, i, &other_tag)).collect();
        std::fs::write(&twin, text(0, 40) + &tail).unwrap();
        common::rest(&twin);
        ok(&run(twin.to_str().unwrap()).output().unwrap());
        ok(&run(twin.to_str().unwrap()).output().unwrap());
        total += 60;
        let twin_rows = format!(
            "SELECT count(DISTINCT source_line) FROM logs WHERE source_path = '{}'",
            twin.display()
        );
        assert_eq!(count(&url, "SELECT count(*) FROM logs"), total, "{format}");
        assert_eq!(count(&url, &twin_rows), 60, "{format}");
        twins += 40;
        assert_eq!(count(&url, "SELECT count(*) FROM rejects"), 0, "{format}");
    }
}

on_both!(
    every_new_format_is_stored_once_as_it_grows_rotates_and_races,
    every_new_format_is_stored_once_as_it_grows_rotates_and_races_on_a_cluster,
    every_new_format_is_stored_once_as_it_grows_rotates_and_races_in
);

/// Multi-line records in a growing, rotating file: a record whose lines
/// are still being written is held back (its first line is where the next
/// load starts), then stored whole, once; a rotated file, at rest, gives up
/// its last record; nothing is a reject.
fn multiline_records_are_stored_whole_and_once_in(cluster: bool) {
    let Some(url) = common::fresh_db("multiline_once", cluster) else { return };
    ok(&logtrack(&url, &["db", "init"]));
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let format = r"regex:^(?P<ts>\S+) (?P<severity>\w+) (?P<message>.*)$";
    let run = |path: &str| {
        ok(&logtrack(&url, &["ingest", "--format", format, "--multiline", "java", path]));
    };
    let record = |i: usize, frames: usize| -> String {
        let mut r = format!("2026-03-14T10:00:{i:02}Z ERROR order {i} failed\njava.lang.IllegalStateException: boom {i}\n");
        for f in 0..frames {
            r.push_str(&format!("\tat com.example.Orders.place(Orders.java:{f})\n"));
        }
        r
    };
    let stored = |url: &str| count(url, "SELECT count(*) FROM logs");
    let glob = format!("{}/app.log*", dir.path().display());
    // Record 0 whole, record 1 half written: 1 stored, 1 held.
    std::fs::write(&live, record(0, 3) + &record(1, 2)).unwrap();
    run(&glob);
    assert_eq!(stored(&url), 1);
    // The rest of record 1 and record 2's first line: record 1 whole.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&live)
        .unwrap()
        .write_all(
            b"\tat com.example.Orders.place(Orders.java:2)\n2026-03-14T10:00:02Z INFO next\n",
        )
        .unwrap();
    run(&glob);
    assert_eq!(stored(&url), 2);
    let lines = "SELECT (fields->>'lines')::bigint FROM logs WHERE message LIKE 'order 1 failed%'";
    assert_eq!(count(&url, lines), 5, "record 1 has all its lines");
    // Rotated: the old file rests and gives up its last record; the new one
    // starts.
    let rotated = dir.path().join("app.log.1");
    std::fs::rename(&live, &rotated).unwrap();
    common::rest(&rotated);
    std::fs::write(&live, record(3, 1)).unwrap();
    run(&glob);
    assert_eq!(stored(&url), 3, "record 2 from the rotated file");
    common::rest(&live);
    let said = ok(&logtrack(&url, &["ingest", "--format", format, "--multiline", "java", &glob]));
    assert_eq!(stored(&url), 4, "{said}");
    run(&glob);
    assert_eq!(count(&url, "SELECT count(*) FROM rejects"), 0);
    // Each record once (the new app.log's line 1 is the old one's too).
    assert_eq!(count(&url, "SELECT count(DISTINCT message) FROM logs"), 4);
}

on_both!(
    multiline_records_are_stored_whole_and_once,
    multiline_records_are_stored_whole_and_once_on_a_cluster,
    multiline_records_are_stored_whole_and_once_in
);

/// A loader killed (kill -9) in the middle of a file of multi-line records,
/// then run again: every record stored once, whole.
#[test]
fn a_loader_killed_mid_multiline_file_loses_and_doubles_nothing() {
    let url = &db!("multiline_kill");
    ok(&logtrack(url, &["db", "init"]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut text = String::new();
    for i in 0..20_000 {
        let (m, s) = ((i / 60) % 60, i % 60);
        text.push_str(&format!("2026-03-14T10:{m:02}:{s:02}Z ERROR order {i} failed\n"));
        if i % 3 == 0 {
            text.push_str(&format!(
                "java.lang.IllegalStateException: boom {i}\n\tat a.B.c(B.java:{i})\n\t... 7 more\n"
            ));
        }
    }
    std::fs::write(&path, text).unwrap();
    common::rest(&path);
    let p = path.to_str().unwrap();
    let format = r"regex:^(?P<ts>\S+) (?P<severity>\w+) (?P<message>.*)$";
    let args = ["ingest", "--format", format, "--multiline", "java", p];
    fault_at_row(url, 10_000, "PERFORM pg_sleep(30)");
    let mut child = loader(url, &args, &[]).spawn().unwrap();
    let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'";
    let start = std::time::Instant::now();
    while count(url, sleeping) == 0 && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    count(url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'PgSleep'");
    drop_fault(url);
    ok(&loader(url, &args, &[]).output().unwrap());
    ok(&loader(url, &args, &[]).output().unwrap());
    assert_eq!(count(url, "SELECT count(*) FROM logs"), 20_000);
    assert_eq!(count(url, "SELECT count(DISTINCT source_line) FROM logs"), 20_000);
    assert_eq!(count(url, "SELECT count(*) FROM logs WHERE (fields->>'lines')::int = 4"), 6_667);
    assert_eq!(count(url, "SELECT count(*) FROM rejects"), 0);
}

/// Multi-line records under copytruncate (the live file copied away, then
/// cut to nothing and written on, a record written half before and half
/// after), then three loaders started together on the copy and the live
/// file: each record stored once, whole.
#[test]
fn multiline_records_survive_copytruncate_and_three_loaders() {
    let url = &db!("multiline_race");
    ok(&logtrack(url, &["db", "init"]));
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("app.log");
    let copy = dir.path().join("app.log.1");
    let glob = format!("{}/app.log*", dir.path().display());
    let format = r"regex:^(?P<ts>\S+) (?P<severity>\w+) (?P<message>.*)$";
    let args = ["ingest", "--format", format, "--multiline", "java", &glob];
    // Record i: its first line, and for every other one a trace of i % 7 + 1
    // frames.
    let record = |i: usize| -> String {
        let (m, s) = ((i / 60) % 60, i % 60);
        let mut r = format!("2026-03-14T11:{m:02}:{s:02}Z ERROR order {i} failed\n");
        if i.is_multiple_of(2) {
            r.push_str(&format!("java.lang.IllegalStateException: boom {i}\n"));
            for f in 0..i % 7 + 1 {
                r.push_str(&format!("\tat a.B.c(B.java:{f})\n"));
            }
        }
        r
    };
    let records = |from: usize, to: usize| (from..to).map(record).collect::<String>();
    std::fs::write(&live, records(0, 100)).unwrap();
    common::rest(&live);
    ok(&loader(url, &args, &[]).output().unwrap());
    // Record 148 half written when the file is copied and cut: the copy
    // ends mid-record, the live file goes on with the rest of it.
    let half = record(148);
    let (head, tail) = half.split_at(half.find("\tat").unwrap());
    append(&live, &(records(100, 148) + head));
    std::fs::copy(&live, &copy).unwrap();
    std::fs::OpenOptions::new().write(true).open(&live).unwrap().set_len(0).unwrap();
    append(&live, &(tail.to_string() + &records(149, 30_000)));
    common::rest(&copy);
    common::rest(&live);
    let children: Vec<_> = (0..3).map(|_| loader(url, &args, &[]).spawn().unwrap()).collect();
    let errs: Vec<String> =
        children.into_iter().map(|c| ok(&c.wait_with_output().unwrap())).collect();
    ok(&loader(url, &args, &[]).output().unwrap());
    assert_eq!(count(url, "SELECT count(*) FROM logs"), 30_000, "{errs:?}");
    assert_eq!(count(url, "SELECT count(DISTINCT message) FROM logs"), 30_000);
    // The copy's last record ends where the copy ends (its rest went to the
    // live file); the rest starts the live file with continuation lines,
    // which join nothing there and are one reject, lines and all.
    let lines_of = |i: usize| {
        format!(
            "SELECT (fields->>'lines')::bigint FROM logs WHERE message LIKE 'order {i} failed%'"
        )
    };
    assert_eq!(count(url, &lines_of(148)), 2);
    assert_eq!(count(url, &lines_of(150)), 6);
    assert_eq!(count(url, "SELECT count(*) FROM rejects"), 1);
    // Every other line of both files is in exactly one record.
    let in_file = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count() as i64;
    let rest = tail.lines().count() as i64;
    let stored = "SELECT sum(coalesce((fields->>'lines')::bigint, 1))::bigint FROM logs";
    assert_eq!(count(url, stored), in_file(&copy) + in_file(&live) - rest);
}
