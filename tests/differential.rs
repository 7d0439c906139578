//! One definition of each rule: the same job run in memory (`--no-db`) and
//! through PostgreSQL (load, then detect over the stored rows) must raise
//! identical alerts — rule, group, window, count, message and evidence —
//! and count the same records and rejects. Run over every detector
//! scenario of the snapshots, the quickstart, the parser fixtures and real
//! logs, and text chosen to split the paths where they could differ:
//! non-ASCII case (`É`/`é`), Unicode white space around a message, CRLF line
//! ends, the group separator inside a value, `fields.*` groups of strings
//! and numbers; and the five-day shop log of the `where`, `ratio`,
//! `percentile` and seasonal z-score scenarios.

mod common;

#[path = "common/scenarios.rs"]
#[allow(dead_code)]
mod scenarios;

#[path = "common/traffic.rs"]
mod traffic;

use common::pg::logtrack;
use scenarios::{Events, T0};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// Empties every table a run writes, so that each case starts afresh.
fn clear(url: &str) {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    // The first run of a database creates the tables.
    let exists: bool = c.query_one("SELECT to_regclass('logs') IS NOT NULL", &[]).unwrap().get(0);
    if exists {
        c.batch_execute(
            "TRUNCATE logs, rejects, alerts, runs, checkpoints, rules, templates, known_values, outbox, incidents",
        )
        .unwrap();
    }
}

/// Runs `job` (a file in `dir`) both ways and asserts they agree. Returns
/// the in-memory report.
fn agree(url: &str, dir: &Path, job: &str, now: &str, case: &str) -> Value {
    clear(url);
    let (mem, db) = (dir.join("mem"), dir.join("db"));
    let job = dir.join(job);
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "run",
            job.to_str().unwrap(),
            "--now",
            now,
            "--report-dir",
            out.to_str().unwrap(),
            "-q",
        ];
        args.extend_from_slice(extra);
        let o = logtrack(url, &args);
        assert_eq!(o.status.code(), Some(0), "{case}: {}", String::from_utf8_lossy(&o.stderr));
        report(out)
    };
    let (m, d) = (run(&mem, &["--no-db"]), run(&db, &[]));
    if m["alerts"] != d["alerts"] {
        // One alert per line, and only where they differ: readable.
        let lines = |r: &Value| -> Vec<String> {
            r["alerts"].as_array().unwrap().iter().map(|a| a.to_string()).collect()
        };
        let (ml, dl) = (lines(&m), lines(&d));
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter().filter(|x| !b.contains(x)).cloned().collect()
        };
        panic!(
            "{case}: in memory and through PostgreSQL differ\nonly in memory:\n{}\nonly through PostgreSQL:\n{}",
            only(&ml, &dl).join("\n"),
            only(&dl, &ml).join("\n")
        );
    }
    assert_eq!(m["totals"], d["totals"], "{case}: totals");
    let counts = |r: &Value| -> Vec<(Value, Value, Value)> {
        let mut v: Vec<_> = r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["path"].clone(), s["records"].clone(), s["rejected"].clone()))
            .collect();
        v.sort_by_key(|t| t.0.to_string());
        v
    };
    assert_eq!(counts(&m), counts(&d), "{case}: records and rejects per source");
    m
}

fn clf_time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).unwrap().format("%d/%b/%Y:%H:%M:%S +0000").to_string()
}

/// A Common Log Format line.
fn clf(user: &str, secs: i64, request: &str, status: u16) -> String {
    format!("10.0.0.1 - {user} [{}] \"{request}\" {status} 0\n", clf_time(secs))
}

/// Writes a scenario's events as log lines. Grouped by service: a file
/// per group, read as that service. Grouped by user: one file of service
/// `web`, the group as the user.
fn write_case(dir: &Path, events: &Events, by_user: bool, request: &str) -> String {
    let mut files: std::collections::BTreeMap<&str, String> = Default::default();
    files.entry("web").or_default();
    for (group, secs) in events {
        if by_user {
            files.entry("web").or_default().push_str(&clf(group, *secs, request, 200));
        } else {
            files.entry(group).or_default().push_str(&clf("-", *secs, request, 200));
        }
    }
    let mut sources = String::new();
    for (service, text) in &files {
        let path = dir.join(format!("{service}.log"));
        std::fs::write(&path, text).unwrap();
        writeln!(
            sources,
            "[[sources]]\npath = {:?}\nformat = \"common\"\nservice = \"{service}\"\n",
            path.to_str().unwrap()
        )
        .unwrap();
    }
    sources
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Every case of `cases` under `rule` (TOML), both ways.
fn scenario_set(
    url: &str,
    rule: &str,
    by_user: bool,
    request: &str,
    cases: Vec<(&str, Events, i64)>,
) -> usize {
    let mut alerts = 0;
    for (name, events, now) in cases {
        let dir = tempfile::tempdir().unwrap();
        let sources = write_case(dir.path(), &events, by_user, request);
        let job = format!("name = \"scenario\"\n\n{sources}[[rules]]\n{rule}\n");
        std::fs::write(dir.path().join("job.toml"), job).unwrap();
        let m = agree(url, dir.path(), "job.toml", &rfc3339(T0 + now), &format!("{rule} / {name}"));
        alerts += m["alerts"].as_array().unwrap().len();
    }
    alerts
}

fn detector_scenarios_agree_in(cluster: bool) {
    let Some(url) = common::fresh_db("differential_scenarios", cluster) else { return };
    let w = "threshold = 3\nwindow = \"5m\"";
    let windows = [
        (format!("id = \"kw\"\ntype = \"keyword_threshold\"\nkeyword = \"error\"\n{w}\ngroup_by = [\"service\"]"), false, "GET /error HTTP/1.1"),
        (format!("id = \"rep\"\ntype = \"repeated_message\"\nmessage = \"disk full\"\n{w}\ngroup_by = [\"service\"]"), false, "disk full"),
        (format!("id = \"usr\"\ntype = \"user_threshold\"\nmessage = \"login failed\"\n{w}\ngroup_by = [\"user\"]"), true, "POST /login failed HTTP/1.1"),
        (format!("id = \"rate\"\ntype = \"rate_spike\"\n{w}\ngroup_by = [\"service\"]"), false, "GET / HTTP/1.1"),
    ];
    let mut alerts = 0;
    for (rule, by_user, request) in &windows {
        alerts += scenario_set(&url, rule, *by_user, request, scenarios::window_cases());
    }
    let idle = "id = \"idle\"\ntype = \"inactivity\"\nmax_idle = \"10m\"\ngroup_by = [\"service\"]";
    alerts += scenario_set(&url, idle, false, "GET / HTTP/1.1", scenarios::inactivity_cases());
    let silent = format!("{idle}\nservice = \"payments\"");
    alerts +=
        scenario_set(&url, &silent, false, "GET / HTTP/1.1", scenarios::silent_service_cases());
    let z = "id = \"z\"\ntype = \"zscore_anomaly\"\nthreshold = 3\nwindow = \"1m\"\nbaseline_windows = 5\ngroup_by = [\"service\"]";
    alerts += scenario_set(&url, z, false, "GET / HTTP/1.1", scenarios::zscore_cases());
    // The scenarios do raise alerts (the agreement is not over nothing).
    assert!(alerts > 40, "{alerts} alerts");
}

on_both!(
    detector_scenarios_agree,
    detector_scenarios_agree_on_a_cluster,
    detector_scenarios_agree_in
);

fn quickstart_agrees_in(cluster: bool) {
    let Some(url) = common::fresh_db("differential_quickstart", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    // The job's paths are its own directory's: point them at the samples.
    let root = env!("CARGO_MANIFEST_DIR");
    let job = std::fs::read_to_string("jobs/quickstart.toml")
        .unwrap()
        .replace("path = \"../samples/", &format!("path = \"{root}/samples/"));
    std::fs::write(dir.path().join("quickstart.toml"), job).unwrap();
    let m = agree(&url, dir.path(), "quickstart.toml", "end-of-data", "quickstart");
    assert_eq!(m["alerts"].as_array().unwrap().len(), 17);
    // Evidence is compared too, and there is some.
    assert!(m["alerts"][0]["evidence"].as_array().is_some_and(|e| !e.is_empty()));
}

on_both!(quickstart_agrees, quickstart_agrees_on_a_cluster, quickstart_agrees_in);

/// Lines written to differ between ASCII and Unicode case folding, between
/// `trim()` and a trim of ASCII white space, with CRLF ends, and with the
/// group separator (U+001F) inside a user name.
fn hostile_text(dir: &Path) {
    let t = T0;
    let mut crlf = String::new();
    let mut lf = String::new();
    for i in 0..6 {
        let s = t + i * 10;
        lf.push_str(&clf("Émile", s, "GET /ÉRROR HTTP/1.1", 200));
        lf.push_str(&clf("émile", s + 1, "GET /érror HTTP/1.1", 200));
        lf.push_str(&clf("a\u{1f}b", s + 2, "\u{a0}disk full\u{a0}", 200));
        lf.push_str(&clf("a b", s + 3, " disk full ", 503));
        crlf.push_str(&clf("bob", s + 4, "POST /login FAILED HTTP/1.1", 401).replace('\n', "\r\n"));
        crlf.push_str(&clf("bob", s + 5, "disk full\u{2003}", 200).replace('\n', "\r\n"));
    }
    std::fs::write(dir.join("unicode.log"), lf).unwrap();
    std::fs::write(dir.join("crlf.log"), crlf).unwrap();
}

const BROAD_RULES: &str = r#"
[[rules]]
id = "kw_ci"
type = "keyword_threshold"
keyword = "érror"
threshold = 2
window = "5m"

[[rules]]
id = "kw_upper_e"
type = "keyword_threshold"
keyword = "ÉRROR"
case_sensitive = true
threshold = 2
window = "5m"
group_by = ["user"]

[[rules]]
id = "kw_error"
type = "keyword_threshold"
keyword = "error"
threshold = 3
window = "2m"
group_by = ["service"]

[[rules]]
id = "disk"
type = "repeated_message"
message = " disk full "
threshold = 2
window = "5m"
group_by = ["user"]

[[rules]]
id = "same_text"
type = "repeated_message"
threshold = 3
window = "10m"
group_by = ["service"]

[[rules]]
id = "logins"
type = "user_threshold"
message = "login failed"
threshold = 2
window = "5m"

[[rules]]
id = "by_status"
type = "rate_spike"
threshold = 3
window = "1m"
group_by = ["fields.status"]

[[rules]]
id = "by_method_and_ip"
type = "rate_spike"
threshold = 3
window = "1m"
group_by = ["fields.method", "client_ip"]

[[rules]]
id = "by_request_time"
type = "rate_spike"
threshold = 1
window = "1m"
group_by = ["fields.request_time"]

[[rules]]
id = "by_host"
type = "rate_spike"
threshold = 2
window = "1m"
group_by = ["host"]

[[rules]]
id = "by_user"
type = "rate_spike"
threshold = 2
window = "1m"
group_by = ["user"]

[[rules]]
id = "quiet"
type = "inactivity"
max_idle = "30m"
group_by = ["service"]

[[rules]]
id = "volume"
type = "zscore_anomaly"
threshold = 2
window = "1m"
baseline_windows = 3
group_by = ["service"]

[[rules]]
id = "auth_failures"
type = "keyword_threshold"
keyword = "warn"
threshold = 5
window = "10m"
group_by = ["fields.client_ip", "fields.outcome"]

[[rules]]
id = "by_dotted_field"
type = "rate_spike"
threshold = 1
window = "1m"
group_by = ["fields.req.method"]

[[rules]]
id = "new_kind"
type = "new_template"
learn = "1d"

[[rules]]
id = "new_kind_per_host"
type = "new_template"
group_by = ["host"]
severity_at_least = "warn"
ignore = ["Invalid user <*> from <*>", "^pam_unix"]
learn = "1h"
min_count = 2

[[rules]]
id = "new_source"
type = "new_value"
fields = ["user", "fields.client_ip"]
where = 'fields.outcome = "success" or fields.status < 400'
learn = "1h"

[[rules]]
id = "new_dotted"
type = "new_value"
fields = ["fields.req.method", "message"]
"#;

fn fixtures_real_logs_and_hostile_text_agree_in(cluster: bool) {
    let Some(url) = common::fresh_db("differential_broad", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    hostile_text(dir.path());
    let here = std::env::current_dir().unwrap();
    let fixture = |p: &str| here.join(p).to_str().unwrap().to_string();
    let custom = |p: &str| std::fs::read_to_string(here.join(p)).unwrap().trim_end().to_string();
    // loghub's samples end without a line end; a loader leaves such a last
    // line for the next run (it may still be being written), so the copies
    // read here are terminated.
    let terminated = |p: &str| {
        let to = dir.path().join(Path::new(p).file_name().unwrap());
        let mut bytes = std::fs::read(here.join(p)).unwrap();
        bytes.extend_from_slice(b"\r\n");
        std::fs::write(&to, bytes).unwrap();
        common::rest(&to);
        to.to_str().unwrap().to_string()
    };
    let sources: Vec<(String, String, &str)> = vec![
        (dir.path().join("unicode.log").to_str().unwrap().into(), "common".into(), "web"),
        (dir.path().join("crlf.log").to_str().unwrap().into(), "common".into(), "web"),
        (fixture("tests/fixtures/common/golden.log"), "common".into(), "golden"),
        (fixture("tests/fixtures/combined/awkward.log"), "combined".into(), "awkward"),
        (
            fixture("tests/fixtures/apache/duration.log"),
            format!("apache:{}", custom("tests/fixtures/apache/duration.format")),
            "apache-custom",
        ),
        (
            fixture("tests/fixtures/nginx/upstream.log"),
            format!("nginx:{}", custom("tests/fixtures/nginx/upstream.format")),
            "nginx-custom",
        ),
        (fixture("tests/fixtures/hdfs/awkward.log"), "hdfs".into(), ""),
        (fixture("tests/fixtures/hdfs-csv/awkward.csv"), "hdfs-csv".into(), ""),
        (fixture("tests/fixtures/cloudtrail/*"), "cloudtrail".into(), ""),
        (fixture("tests/data/elastic-apache/apache_logs_8001-9000"), "combined".into(), "elastic"),
        (fixture("tests/data/filebeat-nginx/test-with-host.log"), "nginx".into(), "nginx"),
        (fixture("tests/data/loghub-hdfs/HDFS_2k.log"), "hdfs".into(), ""),
        (fixture("tests/data/cloudtrail/*.json"), "cloudtrail".into(), ""),
        (fixture("tests/fixtures/syslog/mixed.log"), "syslog".into(), ""),
        (terminated("tests/data/loghub-openssh/OpenSSH_2k.log"), "auto".into(), ""),
        (fixture("tests/fixtures/journald/entries.jsonl"), "journald".into(), ""),
        (fixture("tests/fixtures/json/apps.jsonl"), "json".into(), ""),
        (fixture("tests/fixtures/logfmt/apps.log"), "logfmt".into(), ""),
        (fixture("tests/fixtures/apache-error/mixed.log"), "apache-error".into(), ""),
        (terminated("tests/data/loghub-apache-error/Apache_2k.log"), "auto".into(), ""),
        (fixture("tests/fixtures/nginx-error/error.log"), "nginx-error".into(), ""),
        (
            fixture("tests/fixtures/regex/app.log"),
            format!("regex:{}", custom("tests/fixtures/regex/app.format")),
            "java",
        ),
    ];
    let mut job = String::from("name = \"broad\"\n\n");
    for (path, format, service) in &sources {
        writeln!(job, "[[sources]]\npath = {path:?}\nformat = '{format}'\nmax_reject_ratio = 1.0")
            .unwrap();
        if !service.is_empty() {
            writeln!(job, "service = \"{service}\"").unwrap();
        }
        if format.starts_with("regex:") {
            writeln!(job, "ts_format = \"%Y-%m-%d %H:%M:%S,%3f\"").unwrap();
        }
        job.push('\n');
    }
    job.push_str(BROAD_RULES);
    std::fs::write(dir.path().join("broad.toml"), job).unwrap();
    let m = agree(&url, dir.path(), "broad.toml", "end-of-data", "fixtures and real logs");
    let fired: std::collections::BTreeSet<&str> =
        m["alerts"].as_array().unwrap().iter().map(|a| a["rule_id"].as_str().unwrap()).collect();
    // Each of these rules must have something to agree on.
    for id in [
        "kw_ci",
        "kw_error",
        "disk",
        "same_text",
        "logins",
        "by_status",
        "by_method_and_ip",
        "by_host",
        "by_user",
        "quiet",
        "auth_failures",
        "by_dotted_field",
        "new_kind",
        "new_kind_per_host",
        "new_source",
        "new_dotted",
    ] {
        assert!(fired.contains(id), "{id} raised no alert: {fired:?}");
    }
}

on_both!(
    fixtures_real_logs_and_hostile_text_agree,
    fixtures_real_logs_and_hostile_text_agree_on_a_cluster,
    fixtures_real_logs_and_hostile_text_agree_in
);

fn where_ratio_percentile_and_seasonal_rules_agree_in(cluster: bool) {
    let Some(url) = common::fresh_db("differential_rules", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("shop.jsonl");
    std::fs::write(&log, traffic::generate(11)).unwrap();
    std::fs::write(dir.path().join("job.toml"), traffic::job(log.to_str().unwrap())).unwrap();
    let m = agree(&url, dir.path(), "job.toml", "end-of-data", "traffic rules");
    let fired: std::collections::BTreeSet<&str> =
        m["alerts"].as_array().unwrap().iter().map(|a| a["rule_id"].as_str().unwrap()).collect();
    for id in [
        "api_5xx_rate",
        "api_5xx_count",
        "slow_path",
        "volume",
        "volume_seasonal",
        "volume_seasonal_robust",
        "admin_outside",
        "denied",
    ] {
        assert!(fired.contains(id), "{id} raised no alert: {fired:?}");
    }
}

on_both!(
    where_ratio_percentile_and_seasonal_rules_agree,
    where_ratio_percentile_and_seasonal_rules_agree_on_a_cluster,
    where_ratio_percentile_and_seasonal_rules_agree_in
);

/// A seasonal baseline read back from the database: days 1–4 are loaded by
/// one run, day 5 by the next, whose z-scores compare day 5 with the
/// stored days (and raise what one run over all five days raises on day 5).
/// And a silence of the records a `where` selects that started before the
/// new rows: the newest stored `/admin` request, not the newest row.
fn seasonal_history_comes_from_stored_rows_in(cluster: bool) {
    let Some(url) = common::fresh_db("differential_seasonal_history", cluster) else { return };
    clear(&url);
    let dir = tempfile::tempdir().unwrap();
    let text = traffic::generate(11);
    let day5 = chrono::DateTime::from_timestamp(traffic::START + 4 * traffic::DAY, 0)
        .unwrap()
        .format("\"ts\":\"%Y-%m-%dT")
        .to_string();
    let cut = text.find(&format!("{{{day5}")).expect("day 5 is in the log");
    let log = dir.path().join("shop.jsonl");
    let job = dir.path().join("job.toml");
    std::fs::write(&job, traffic::job(log.to_str().unwrap())).unwrap();
    let run = |out: &str, extra: &[&str]| -> Value {
        let out = dir.path().join(out);
        let mut args = vec!["run", job.to_str().unwrap(), "--now", "end-of-data", "-q"];
        args.extend_from_slice(&["--report-dir", out.to_str().unwrap()]);
        args.extend_from_slice(extra);
        let o = logtrack(&url, &args);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        report(&out)
    };
    std::fs::write(&log, &text[..cut]).unwrap();
    run("first", &[]);
    std::fs::write(&log, &text).unwrap();
    let second = run("second", &[]);
    assert_eq!(second["totals"]["records"].as_u64(), Some(text[cut..].lines().count() as u64));
    let whole = run("memory", &["--no-db"]);
    let on_day5 = |r: &Value| -> Vec<Value> {
        let mut v: Vec<Value> = r["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| {
                let id = a["rule_id"].as_str().unwrap();
                let at = if id == "admin_unused" { "window_end" } else { "window_start" };
                (id.starts_with("volume") || id == "admin_unused")
                    && a[at].as_str().unwrap() >= &day5[6..]
            })
            .cloned()
            .collect();
        v.sort_by_key(|a| a.to_string());
        v
    };
    let got = on_day5(&second);
    assert_eq!(got, on_day5(&whole));
    assert!(got.iter().any(|a| a["rule_id"] == "volume_seasonal"), "{got:?}");
    assert!(got.iter().any(|a| a["rule_id"] == "admin_unused"), "{got:?}");
}

on_both!(
    seasonal_history_comes_from_stored_rows,
    seasonal_history_comes_from_stored_rows_on_a_cluster,
    seasonal_history_comes_from_stored_rows_in
);

/// Rules that read access-log fields only through `where`, a numerator or a
/// percentile (no `fields.*` group): a run in memory must parse those
/// fields too, and agree with the stored rows.
fn fields_read_only_by_where_agree_in(cluster: bool) {
    let Some(url) = common::fresh_db("differential_where_fields", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log =
        std::env::current_dir().unwrap().join("tests/data/elastic-apache/apache_logs_8001-9000");
    let job = format!(
        r#"name = "where-fields"

[[sources]]
path = {:?}
format = "combined"
service = "web"

[[rules]]
id = "presentations"
type = "rate_spike"
where = 'fields.path ^= "/presentations/" and fields.method = "GET"'
threshold = 20
window = "1h"

[[rules]]
id = "not_found_rate"
type = "ratio"
where = 'not fields.path $= ".ico"'
numerator = "fields.status = 404 or fields.referer contains \"semicomplete\""
threshold = 0.5
min_total = 20
window = "1h"

[[rules]]
id = "big_responses"
type = "percentile"
field = "fields.bytes"
percentile = 90
threshold = 100000
min_count = 20
window = "1h"
"#,
        log.to_str().unwrap()
    );
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let m = agree(&url, dir.path(), "job.toml", "end-of-data", "where on access fields");
    let fired: std::collections::BTreeSet<&str> =
        m["alerts"].as_array().unwrap().iter().map(|a| a["rule_id"].as_str().unwrap()).collect();
    for id in ["presentations", "not_found_rate", "big_responses"] {
        assert!(fired.contains(id), "{id} raised no alert: {fired:?}");
    }
}

on_both!(
    fields_read_only_by_where_agree,
    fields_read_only_by_where_agree_on_a_cluster,
    fields_read_only_by_where_agree_in
);
