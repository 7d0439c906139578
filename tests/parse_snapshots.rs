//! Parser output, one readable snapshot per fixture: `<format>@<fixture>`.
//! Fixtures in `tests/fixtures/<format>/` are hand-written awkward cases;
//! a `.format` file beside a fixture holds its custom format string.

mod common;

use logtrack::parse::{ParserOptions, Tz};

fn snapshot(format_dir: &str, fixture: &str, format: &str, opts: ParserOptions) {
    let path = format!("tests/fixtures/{format_dir}/{fixture}");
    snapshot_path(&path, &format!("{format_dir}@{fixture}"), format, opts);
}

fn snapshot_path(path: &str, name: &str, format: &str, opts: ParserOptions) {
    let text = common::render(path, format, &opts, None);
    // Chunked parallel parsing with tiny chunks must give the same result.
    assert_eq!(common::render(path, format, &opts, Some(7)), text, "chunked parse of {path}");
    common::insta_settings().bind(|| {
        insta::assert_snapshot!(name.to_string(), text);
    });
}

fn opts() -> ParserOptions {
    ParserOptions::default()
}

#[test]
fn combined_awkward() {
    snapshot("combined", "awkward.log", "combined", opts());
}

#[test]
fn common_golden() {
    snapshot("common", "golden.log", "common", opts());
}

#[test]
fn hdfs_awkward_in_a_named_zone() {
    let opts = ParserOptions {
        timezone: "America/Los_Angeles".parse::<Tz>().unwrap(),
        ..Default::default()
    };
    snapshot("hdfs", "awkward.log", "hdfs", opts);
}

#[test]
fn hdfs_csv_awkward() {
    snapshot("hdfs-csv", "awkward.csv", "hdfs-csv", opts());
}

#[test]
fn cloudtrail_identities() {
    snapshot("cloudtrail", "identities.jsonl", "cloudtrail", opts());
}

#[test]
fn cloudtrail_digest_is_skipped() {
    snapshot("cloudtrail", "digest.json", "cloudtrail", opts());
}

#[test]
fn apache_custom_format() {
    let f = std::fs::read_to_string("tests/fixtures/apache/duration.format").unwrap();
    snapshot("apache", "duration.log", &format!("apache:{}", f.trim_end()), opts());
}

#[test]
fn nginx_custom_format() {
    let f = std::fs::read_to_string("tests/fixtures/nginx/upstream.format").unwrap();
    let opts = ParserOptions { service: Some("edge".into()), ..Default::default() };
    snapshot("nginx", "upstream.log", &format!("nginx:{}", f.trim_end()), opts);
}

#[test]
fn real_cloudtrail_selection() {
    snapshot_path(
        "tests/data/cloudtrail/stratus-selection.json",
        "cloudtrail@stratus-selection.json",
        "cloudtrail",
        opts(),
    );
}

#[test]
fn real_filebeat_nginx_with_hosts() {
    snapshot_path(
        "tests/data/filebeat-nginx/test-with-host.log",
        "nginx@filebeat-test-with-host.log",
        "nginx",
        opts(),
    );
}

/// 2025-01-05T06:25:00Z: a log rotated in January, read a few days later.
const JANUARY: i64 = 1_736_058_300;

fn year_ref(secs: i64) -> ParserOptions {
    ParserOptions { year_ref: Some(secs), ..Default::default() }
}

#[test]
fn syslog_mixed() {
    snapshot("syslog", "mixed.log", "syslog", year_ref(JANUARY));
}

#[test]
fn syslog_real_openssh() {
    // loghub's sample is from December 2015.
    snapshot_path(
        "tests/data/loghub-openssh/OpenSSH_head150.log",
        "syslog@loghub-openssh-head150.log",
        "syslog",
        year_ref(1_451_606_400),
    );
}

#[test]
fn journald_entries() {
    snapshot("journald", "entries.jsonl", "journald", opts());
}

#[test]
fn json_apps() {
    snapshot("json", "apps.jsonl", "json", opts());
}

#[test]
fn logfmt_apps() {
    snapshot("logfmt", "apps.log", "logfmt", opts());
}

#[test]
fn apache_error_mixed() {
    snapshot("apache-error", "mixed.log", "apache-error", opts());
}

#[test]
fn apache_error_real_loghub() {
    snapshot_path(
        "tests/data/loghub-apache-error/Apache_head30.log",
        "apache-error@loghub-head30.log",
        "apache-error",
        opts(),
    );
}

#[test]
fn nginx_error() {
    snapshot("nginx-error", "error.log", "nginx-error", opts());
}

#[test]
fn regex_custom() {
    let f = std::fs::read_to_string("tests/fixtures/regex/app.format").unwrap();
    let opts = ParserOptions {
        ts_format: Some("%Y-%m-%d %H:%M:%S,%3f".into()),
        service: Some("java".into()),
        ..Default::default()
    };
    snapshot("regex", "app.log", &format!("regex:{}", f.trim_end()), opts);
}

/// Multi-line records: a Java log (exceptions with `Caused by:` and `... 12
/// more`), a Python traceback with a chained exception, a Go panic, macOS
/// syslog's tab-indented continuation and nginx's FastCGI `PHP message:`
/// lines, each joined to the line that starts its record (and the same in
/// chunks of 7 bytes).
#[test]
fn multiline_records() {
    use logtrack::source::multiline::Multiline;
    for (fixture, rule) in [
        ("java.log", "java"),
        ("python.log", "python"),
        ("go.log", "go"),
        ("macos.log", "indented"),
        ("nginx-fastcgi.log", r"start:^\d{4}/\d{2}/\d{2} "),
    ] {
        let format = match fixture {
            "macos.log" => "syslog".to_string(),
            "nginx-fastcgi.log" => "nginx-error".to_string(),
            _ => {
                let stem = fixture.trim_end_matches(".log");
                let pattern =
                    std::fs::read_to_string(format!("tests/fixtures/multiline/{stem}.format"))
                        .unwrap();
                format!("regex:{}", pattern.trim_end())
            }
        };
        let opts = ParserOptions {
            multiline: Some(Multiline::from_arg(rule).unwrap()),
            year_ref: Some(1_735_689_600),
            ..Default::default()
        };
        snapshot("multiline", fixture, &format, opts);
    }
}

/// A 10,000-line stack trace keeps `max_lines` of them; the rest are
/// counted in the record (`lines`, `lines_dropped`), and no line of it is a
/// record or a reject of its own.
#[test]
fn an_endless_stack_trace_is_cut_and_counted() {
    use logtrack::source::multiline::Multiline;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.log");
    let mut text = String::from(
        "2024-05-01T12:00:00Z ERROR [main] app - boom\njava.lang.StackOverflowError\n",
    );
    for i in 0..10_000 {
        text.push_str(&format!("\tat com.example.Rec.f(Rec.java:{i})\n"));
    }
    text.push_str("2024-05-01T12:00:01Z INFO [main] app - after\n");
    std::fs::write(&path, text).unwrap();
    let format = r"regex:^(?P<ts>\S+) (?P<severity>\w+) \[(?P<thread>[^\]]+)\] (?P<service>\S+) - (?P<message>.*)$";
    let mut rule = Multiline::from_arg("java").unwrap();
    rule.max_lines = 100;
    let opts = ParserOptions { multiline: Some(rule), ..Default::default() };
    let out = common::render(path.to_str().unwrap(), format, &opts, None);
    let records: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{}", &out[out.len().saturating_sub(300)..]);
    let f = &records[0]["fields"];
    assert_eq!((f["lines"].as_i64(), f["lines_dropped"].as_i64()), (Some(10_002), Some(9_902)));
    assert_eq!(records[0]["message"].as_str().unwrap().lines().count(), 100);
    assert_eq!(records[1]["source"]["line"], 10_003);
    assert!(out.contains("10003 lines"), "{}", &out[out.len().saturating_sub(200)..]);
    // Cut into chunks of any size: the same.
    assert_eq!(common::render(path.to_str().unwrap(), format, &opts, Some(4096)), out);
}
