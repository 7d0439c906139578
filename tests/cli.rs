//! The binary, as users and scripts call it: exit codes, messages on
//! stderr, compressed and piped input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn logtrack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logtrack")).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn parse_prints_records_and_a_summary() {
    let o = logtrack(&["parse", "--format", "combined", "tests/fixtures/combined/awkward.log"]);
    assert_eq!(o.status.code(), Some(0), "rejects do not fail a parse");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 13);
    let err = stderr(&o);
    assert!(
        err.contains(
            "tests/fixtures/combined/awkward.log:12 (byte 1015): status \"2x0\" is not a number"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "tests/fixtures/combined/awkward.log: 13 records, 4 rejected, 18 lines (combined)"
        ),
        "{err}"
    );
}

#[test]
fn unreadable_file_exits_2_and_others_still_parse() {
    let o = logtrack(&["parse", "missing.log", "tests/fixtures/common/golden.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.log: no such file"));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 4);
}

#[test]
fn unknown_format_names_the_choices() {
    let o = logtrack(&["parse", "--format", "apache2", "tests/fixtures/common/golden.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown format \"apache2\" (expected one of: common, combined"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn gzip_zstd_and_stdin_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read("tests/fixtures/common/golden.log").unwrap();
    // Names that do not say they are compressed: detection is by content.
    let gz = dir.path().join("access.log.1");
    let mut e =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    e.write_all(&plain).unwrap();
    e.finish().unwrap();
    let zst = dir.path().join("access.log.2.zst");
    std::fs::write(&zst, zstd::encode_all(&plain[..], 3).unwrap()).unwrap();
    let want = logtrack(&["parse", "tests/fixtures/common/golden.log"]).stdout;
    let want = String::from_utf8(want).unwrap().replace("tests/fixtures/common/golden.log", "X");
    for p in [&gz, &zst] {
        let o = logtrack(&["parse", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(String::from_utf8(o.stdout).unwrap().replace(p.to_str().unwrap(), "X"), want);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["parse", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&plain).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap().replace("\"-\"", "\"X\""), want);
}

#[test]
fn csv_output_has_a_header_and_quotes() {
    let o = logtrack(&["parse", "--output", "csv", "tests/fixtures/common/golden.log"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("ts,service,host,severity,message,user,fields,path,line,index"));
    assert!(lines.next().unwrap().starts_with("2020-01-21T04:32:14Z,apache,,info,GET /index.html HTTP/1.1,john,\"{\"\"client_ip\"\":\"\"127.0.0.1\"\""));
}

#[test]
fn broken_pipe_is_success() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["parse", "tests/data/elastic-apache/apache_logs_8001-9000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// `logtrack notify --test | head -1`: a closed stdout ends the command
/// quietly (status 0, nothing on stderr), as for every printing command.
#[test]
fn notify_into_a_closed_pipe_exits_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // A receiver nobody listens on: each test send fails at once and prints a line.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"j\"\n[[notify]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/a\"\n\
             [[notify]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/b\"\n"
        ),
    )
    .unwrap();
    // The pipe's reading end is closed before the command starts: its first
    // line meets a broken pipe, whatever the timing.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["notify", "--test", "--job", job.to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn validate_reports_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("bad.yaml");
    std::fs::write(
        &job,
        "sources:\n  - path: x.log\n    format: cloudtrail\nrules:\n  - id: a\n    type: rate_spike\n    threshold: 3\n    window: 5 minutes\n  - id: a\n    type: nonsense\n",
    )
    .unwrap();
    let o = logtrack(&["validate", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("rules[0].window: invalid duration \"5 minutes\""), "{err}");
    assert!(err.contains("rules[1].type: unknown rule type \"nonsense\""), "{err}");
    assert!(err.contains("2 problem(s)"), "{err}");
}

#[test]
fn validate_accepts_a_good_job_and_hides_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("good.toml");
    std::fs::write(
        &job,
        "name = \"w\"\n[database]\nurl = \"postgres://lt:s3cret@localhost/lt\"\n[[sources]]\npath = \"a.log\"\nformat = \"combined\"\n[[rules]]\nid = \"r\"\ntype = \"rate_spike\"\nthreshold = 3\nwindow = \"1m\"\n",
    )
    .unwrap();
    let o = logtrack(&["validate", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The summary on stdout, to be captured.
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("job \"w\" is valid: 1 source(s), 1 rule(s)"), "{out}");
    assert!(out.contains("postgres://lt:***@localhost/lt") && !out.contains("s3cret"), "{out}");
    assert!(!stderr(&o).contains("is valid"));
}

#[test]
fn a_syntax_error_on_the_url_line_does_not_show_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(&job, "name = \"x\"\n[database]\nurl = \"postgres://lt:s3cret@db/x\n").unwrap();
    let o = logtrack(&["validate", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("TOML parse error at line 3"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    let o = logtrack(&[
        "db",
        "status",
        "--database-url",
        "host=127.0.0.1 port=1 user=x password = 's3 cret' password=two",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("password = *** password=***"), "{err}");
    assert!(!err.contains("s3") && !err.contains("two"), "{err}");
}

#[test]
fn one_enormous_json_value_is_a_reject_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trail.json.zst");
    let mut doc = b"{\"Records\":[{\"big\":\"".to_vec();
    doc.resize(doc.len() + (40 << 20), b'x');
    doc.extend_from_slice(
        b"\"},{\"eventTime\":\"2023-07-10T11:00:00Z\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"userIdentity\":{\"type\":\"Root\"}}]}",
    );
    std::fs::write(&path, zstd::encode_all(&doc[..], 3).unwrap()).unwrap();
    let p = path.to_str().unwrap();
    let o = logtrack(&["parse", "--format", "cloudtrail", p]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
    let err = stderr(&o);
    let want = format!(
        "{p}:1 (event 1) (byte 12): value of {} bytes at byte 12 is longer than the 8 MiB limit",
        (40 << 20) + 10
    );
    assert!(err.contains(&want), "{err}");
}

#[test]
fn records_dated_centuries_apart_are_rejects_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("years.log");
    std::fs::write(
        &log,
        "1.2.3.4 - - [01/Jan/0001:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n\
         1.2.3.4 - - [31/Dec/9999:23:59:59 +0000] \"GET / HTTP/1.1\" 200 1\n\
         1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1\n",
    )
    .unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"years\"\nnow = \"end-of-data\"\n[[sources]]\npath = \"{}\"\nformat = \"combined\"\n\
             [[rules]]\nid = \"z\"\ntype = \"zscore_anomaly\"\nwindow_seconds = 1\nbaseline_windows = 10000\n\
             [report]\ndir = \"{}\"\n",
            log.display(),
            dir.path().join("r").display()
        ),
    )
    .unwrap();
    let o = logtrack(&["run", "-v", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("1 records, 2 rejected"), "{err}");
    assert!(
        err.contains(
            "years.log:1 (byte 0): time stamp 0001-01-01T00:00:00Z is outside the supported range"
        ),
        "{err}"
    );
}

#[test]
fn completions_man_page_threads_and_help() {
    let o = logtrack(&["completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    let bash = String::from_utf8_lossy(&o.stdout);
    assert!(bash.contains("_logtrack()") && bash.contains("--fail-on"), "{bash}");
    let o = logtrack(&["man"]);
    let man = String::from_utf8_lossy(&o.stdout);
    assert!(man.starts_with(".ie") && man.contains(".TH logtrack 1"), "{man}");
    // Global options under their own heading, examples in the main help.
    let help = String::from_utf8_lossy(&logtrack(&["run", "--help"]).stdout).into_owned();
    let (own, global) = help.split_once("Global options:").expect("a heading");
    assert!(own.contains("--since") && !own.contains("--fail-on"), "{help}");
    assert!(global.contains("--fail-on") && global.contains("--threads"), "{help}");
    let help = String::from_utf8_lossy(&logtrack(&["--help"]).stdout).into_owned();
    assert!(
        help.contains("Examples:") && help.contains("75 the job was already running"),
        "{help}"
    );
    // One thread parses as many records as all.
    let one = logtrack(&[
        "parse",
        "-j",
        "1",
        "--format",
        "combined",
        "tests/fixtures/combined/awkward.log",
    ]);
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&one.stdout).lines().count(), 13);
}

#[test]
fn severities_are_coloured_only_when_asked_or_on_a_terminal() {
    let piped =
        logtrack(&["run", "jobs/quickstart.toml", "-q", "--report-dir", "target/colour-test"]);
    assert!(!stderr(&piped).contains('\x1b'), "no colour into a pipe");
    let always = logtrack(&[
        "run",
        "jobs/quickstart.toml",
        "-q",
        "--color",
        "always",
        "--report-dir",
        "target/colour-test",
    ]);
    assert!(
        stderr(&always).contains("\x1b[1;31mCRITICAL\x1b[0m admin_bruteforce"),
        "{}",
        stderr(&always)
    );
    let json = logtrack(&[
        "run",
        "jobs/quickstart.toml",
        "-q",
        "--color",
        "always",
        "--log-format",
        "json",
        "--report-dir",
        "target/colour-test",
    ]);
    assert!(!stderr(&json).contains('\x1b'), "JSON lines are never coloured");
}

#[test]
fn a_yaml_job_loads_and_a_yaml_mistake_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("job.yml");
    std::fs::write(
        &good,
        "name: yaml-job\nsources:\n  - path: samples/web/access.log\n    format: combined\nrules:\n  - id: spike\n    type: rate_spike\n    threshold: 3\n    window: 5m\n",
    )
    .unwrap();
    let o = logtrack(&["validate", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: x\nrules:\n  - id: a\n   type: rate_spike\n").unwrap();
    let o = logtrack(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("bad.yaml") && err.contains("line 4"), "{err}");
}

/// `--timezone -02:00` (a value that starts with a hyphen) is a time zone,
/// not an option; macOS syslog is syslog to `auto`, not logfmt.
#[test]
fn negative_offsets_and_macos_syslog() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("system.log");
    std::fs::write(
        &log,
        "Apr 4 03:39:57 mbp Google Chrome[85294]: task_name_for_pid(0x1) failed: key=value other=1\n\
         Apr  4 03:40:01 mbp com.apple.xpc.launchd[1] (com.apple.mdworker.shared.0B000000-0000-0000-0000-000000000000[8112]): Service exited with abnormal code: 78\n\
         Apr  4 03:41:17 --- last message repeated 1 time ---\n",
    )
    .unwrap();
    let log = log.to_str().unwrap();
    let o = logtrack(&["parse", "--timezone", "-02:00", "--format", "syslog", log]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = String::from_utf8_lossy(&o.stdout).lines().next().unwrap().to_string();
    assert!(first.contains("\"ts\":\"") && first.contains("T05:39:57Z\""), "{first}");
    assert!(first.contains("\"service\":\"Google Chrome\""), "{first}");
    let o = logtrack(&["parse", log]);
    assert!(stderr(&o).contains("3 records, 0 rejected"), "{}", stderr(&o));
    assert!(stderr(&o).contains("(syslog)"), "{}", stderr(&o));
}

/// `multiline` is checked: a rule name, a table with one valid pattern,
/// and only for formats read line by line.
#[test]
fn multiline_rules_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "name = \"m\"\n\
         [[sources]]\npath = \"a.log\"\nformat = \"syslog\"\nmultiline = \"cobol\"\n\
         [[sources]]\npath = \"b.log\"\nformat = \"syslog\"\nmultiline = { start = \"(\" }\n\
         [[sources]]\npath = \"c.json\"\nformat = \"cloudtrail\"\nmultiline = \"java\"\n\
         [[sources]]\npath = \"d.log\"\nformat = \"json\"\nmultiline = { start = \"^\\\\{\", continuation = \"x\" }\n\
         [[sources]]\npath = \"e.log\"\nformat = \"syslog\"\nmultiline = \"java\"\nmax_lines = 50\n",
    )
    .unwrap();
    let o = logtrack(&["validate", job.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for want in [
        "sources[0].multiline: unknown rule \"cobol\"",
        "sources[1].multiline.start: not a valid regex",
        "sources[2].multiline: format \"cloudtrail\" is not read line by line",
        "sources[3].multiline: give one of start, continuation",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(!err.contains("sources[4]"), "{err}");
}
