//! Incidents across runs and notifications, against real receivers on
//! 127.0.0.1: an HTTP server that fails its first deliveries, an SMTP
//! server with STARTTLS, a program.

mod common;

use common::pg::{count, logtrack, ok};
use common::receivers::{free_port, Answer, HttpReceiver, SmtpServer};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Access log lines every 10 s from 10:00 up to (not including) minute
/// `to` of the hour, answered 503 from 10:10 to 10:23 (a 13-minute outage).
fn lines(from_min: u32, to_min: u32) -> String {
    let mut out = String::new();
    for s in (from_min * 60..to_min * 60).step_by(10) {
        let (m, sec) = (s / 60, s % 60);
        let status = if (10 * 60..23 * 60).contains(&s) { 503 } else { 200 };
        out.push_str(&format!(
            "10.0.0.{} - - [14/Mar/2026:10:{m:02}:{sec:02} +0000] \"GET /api/x HTTP/1.1\" {status} 12 \"-\" \"curl/8\"\n",
            s % 7 + 1
        ));
    }
    out
}

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// A job over `dir/access.log` with one rule and the receivers `notify` (TOML).
fn job(dir: &Path, notify: &str) -> String {
    let text = format!(
        r#"name = "outage"
[[sources]]
path = "{log}"
format = "combined"
service = "web"

[[rules]]
id = "web_errors"
type = "keyword_threshold"
keyword = "error"
threshold = 5
window = "5m"
severity = "high"

{notify}

[report]
dir = "{reports}"
"#,
        log = dir.join("access.log").display(),
        reports = dir.join("reports").display(),
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn webhook(url: &str, extra: &str) -> String {
    format!("[[notify]]\ntype = \"webhook\"\nurl = \"{url}\"\ntimeout = \"1s\"\n{extra}\n")
}

fn events(r: &HttpReceiver) -> Vec<String> {
    r.accepted().iter().map(|d| d.body["event"].as_str().unwrap().to_string()).collect()
}

/// Three runs over a growing log with one 13-minute outage: one incident,
/// "open" once, "resolved" once after it ended; with repeat_interval = 5m
/// one "repeat" in between.
#[test]
fn an_outage_over_three_runs_is_one_incident() {
    for (case, extra, want) in [
        ("default", "", vec!["open", "resolved"]),
        (
            "repeat",
            "on = [\"open\", \"repeat\", \"resolved\"]\nrepeat_interval = \"5m\"",
            vec!["open", "repeat", "resolved"],
        ),
    ] {
        let url = db!(&format!("notify_outage_{case}"));
        let dir = tempfile::tempdir().unwrap();
        let hook = HttpReceiver::start(vec![]);
        let job = job(dir.path(), &webhook(&hook.url, extra));
        let log = dir.path().join("access.log");
        for (from, to) in [(0, 15), (15, 20), (20, 40)] {
            append(&log, &lines(from, to));
            ok(&logtrack(&url, &["run", &job]));
        }
        assert_eq!(events(&hook), want, "{case}");
        assert_eq!(count(&url, "SELECT count(*) FROM incidents"), 1, "{case}");
        assert_eq!(count(&url, "SELECT count(*) FROM incidents WHERE state = 'resolved'"), 1);
        assert_eq!(count(&url, "SELECT runs::bigint FROM incidents"), 3, "{case}");
        assert_eq!(count(&url, "SELECT count(*) FROM alerts WHERE incident_id IS NULL"), 0);
        let got = hook.accepted();
        let open = &got[0];
        assert_eq!(open.body["job"], "outage");
        assert_eq!(open.body["rule_id"], "web_errors");
        assert_eq!(open.body["severity"], "high");
        assert_eq!(open.body["group"]["service"], "web");
        assert_eq!(open.body["window_start"], "2026-03-14T10:10:00Z");
        assert!(open.body["evidence"][0]["text"].as_str().unwrap().contains(" 503 "));
        assert!(open.body["report"][0].as_str().unwrap().ends_with("report.json"));
        let resolved = got.last().unwrap();
        assert_eq!(resolved.body["incident"], open.body["incident"]);
        assert_eq!(resolved.body["state"], "resolved");
        assert_eq!(
            resolved.body["last_seen"].as_str().unwrap().get(..16),
            Some("2026-03-14T10:22")
        );
        // Each notification its own key, in the header and the body.
        let mut keys: Vec<&str> = got.iter().map(|d| d.headers["x-logtrack-id"].as_str()).collect();
        for (d, k) in got.iter().zip(&keys) {
            assert_eq!(d.body["id"], *k);
        }
        keys.dedup();
        assert_eq!(keys.len(), want.len());
        // A fourth run with nothing new sends nothing.
        ok(&logtrack(&url, &["run", &job]));
        assert_eq!(events(&hook).len(), want.len());
    }
}

/// A receiver that closes, hangs, answers 503: each notification arrives
/// exactly once after it recovers; nothing is sent again after a 2xx.
#[test]
fn a_failing_receiver_gets_each_notification_once_after_recovery() {
    let url = db!("notify_failing_receiver");
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![Answer::Close, Answer::Hang, Answer::Status(503)]);
    let job = job(dir.path(), &webhook(&hook.url, ""));
    append(&dir.path().join("access.log"), &lines(0, 40));
    let err = ok(&logtrack(&url, &["run", &job]));
    assert!(err.contains("not delivered (kept for the next run)"), "{err}");
    assert!(!err.contains("T0KEN-SECRET"), "{err}");
    // Open and resolved are both due: each retry sends what is pending.
    for _ in 0..4 {
        let o = logtrack(&url, &["notify", "--job", &job, "--retry"]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(!out.contains("T0KEN-SECRET"), "{out}");
    }
    assert_eq!(events(&hook), ["open", "resolved"]);
    // Read: the hung and the 503 request (the closed one never was), then the two.
    assert_eq!(hook.attempts(), 4);
    let o = logtrack(&url, &["notify", "--job", &job, "--retry"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("every notification is delivered"));
    ok(&logtrack(&url, &["run", &job]));
    assert_eq!(hook.attempts(), 4);
    assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
}

/// Nothing listening: the run still succeeds, the notifications wait in
/// the outbox, and the next run sends them once the receiver is up.
#[test]
fn a_refused_connection_keeps_the_notification_for_the_next_run() {
    let url = db!("notify_refused");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}/hook/T0KEN-SECRET");
    let job = job(dir.path(), &webhook(&address, ""));
    append(&dir.path().join("access.log"), &lines(0, 40));
    let err = ok(&logtrack(&url, &["run", &job]));
    assert!(err.contains("Connection refused") || err.contains("refused"), "{err}");
    assert!(!err.contains("T0KEN-SECRET"), "{err}");
    let report = std::fs::read_to_string(dir.path().join("reports/report.json")).unwrap();
    assert!(!report.contains("T0KEN-SECRET"));
    assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 2);
    let hook = HttpReceiver::start_on(port, vec![]);
    // Past the backoff: `notify --retry` does not wait for it.
    ok(&logtrack(&url, &["notify", "--job", &job, "--retry"]));
    assert_eq!(events(&hook), ["open", "resolved"]);
}

/// `kill -9` at each step: before the commit (nothing stored: the next
/// run detects and sends), after the commit before sending (the next run
/// sends), after sending before the bookkeeping (sent again once, with the
/// same key).
#[test]
fn a_run_killed_at_each_step_delivers_once_or_at_most_twice() {
    for (point, times) in [("before-commit", 1), ("after-commit", 1), ("after-send", 2)] {
        let url = db!(&format!("notify_kill_{}", point.replace('-', "_")));
        let dir = tempfile::tempdir().unwrap();
        let hook = HttpReceiver::start(vec![]);
        let job = job(dir.path(), &webhook(&hook.url, "on = [\"open\"]"));
        append(&dir.path().join("access.log"), &lines(0, 20));
        let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
            .args(["run", &job])
            .env("LOGTRACK_DATABASE_URL", &url)
            .env("LOGTRACK_TEST_KILL_AT", point)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), None, "{point}: killed by a signal");
        ok(&logtrack(&url, &["run", &job]));
        let got = hook.accepted();
        assert_eq!(got.len(), times, "{point}");
        let keys: std::collections::BTreeSet<&str> =
            got.iter().map(|d| d.headers["x-logtrack-id"].as_str()).collect();
        assert_eq!(keys.len(), 1, "{point}: the same notification");
        assert_eq!(count(&url, "SELECT count(*) FROM incidents"), 1, "{point}");
        assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
    }
}

/// In memory each alert is its own incident, sent at once; `--dry-run`
/// prints instead; `notify --test` reaches every receiver.
#[test]
fn in_memory_runs_send_each_alert_and_dry_runs_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let job = job(dir.path(), &webhook(&hook.url, "format = \"slack\""));
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = logtrack("", &["run", &job, "--no-db", "--dry-run"]);
    let err = ok(&o);
    assert!(
        err.contains("dry run: would send to webhook 127.0.0.1: NEW [high] web_errors"),
        "{err}"
    );
    assert_eq!(hook.attempts(), 0);
    ok(&logtrack("", &["run", &job, "--no-db"]));
    let got = hook.accepted();
    assert_eq!(got.len(), 1);
    let text = got[0].body["text"].as_str().unwrap();
    assert!(text.starts_with("NEW [high] web_errors service=web"), "{text}");
    assert_eq!(got[0].body["blocks"][0]["type"], "section");
    let o = logtrack("", &["notify", "--test", "--job", &job]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok      webhook 127.0.0.1"));
    assert!(hook.accepted()[1].body["text"].as_str().unwrap().starts_with("TEST"));
}

fn email(smtp: &str, ca: Option<&str>) -> String {
    let ca = ca.map(|c| format!("ca_file = \"{c}\"\n")).unwrap_or_default();
    format!(
        "[[notify]]\ntype = \"email\"\nsmtp = \"{smtp}\"\nfrom = \"logtrack@example.com\"\nto = [\"oncall@example.com\", \"ops@example.com\"]\npassword_env = \"TEST_SMTP_PASSWORD\"\nusername = \"lt\"\ntimeout = \"3s\"\n{ca}"
    )
}

/// One e-mail per run over STARTTLS, with its subject, recipients, text
/// and HTML parts; a certificate that does not verify is refused, and the
/// password is never printed.
#[test]
fn email_goes_over_starttls_and_refuses_an_unverified_certificate() {
    let smtp = SmtpServer::start();
    let tls = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls");
    for (case, ca, delivered) in [
        ("trusted", format!("{tls}/ca.pem"), true),
        ("untrusted", format!("{tls}/other-ca.pem"), false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let job = job(dir.path(), &email(&smtp.addr, Some(&ca)));
        append(&dir.path().join("access.log"), &lines(0, 40));
        let before = smtp.mails().len();
        let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
            .args(["run", &job, "--no-db"])
            .env("TEST_SMTP_PASSWORD", "pa55-s3cret")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!err.contains("pa55-s3cret"), "{err}");
        let report = std::fs::read_to_string(dir.path().join("reports/report.json")).unwrap();
        assert!(!report.contains("pa55-s3cret"));
        if !delivered {
            assert_eq!(smtp.mails().len(), before, "{case}");
            assert!(err.contains("notification not delivered"), "{err}");
            assert!(err.contains("UnknownIssuer") || err.contains("certificate"), "{err}");
            continue;
        }
        assert_eq!(o.status.code(), Some(0), "{err}");
        let mails = smtp.mails();
        assert_eq!(mails.len(), before + 1, "{case}");
        let m = mails.last().unwrap();
        assert!(m.tls, "sent after STARTTLS");
        assert_eq!(m.auth, Some(("lt".into(), "pa55-s3cret".into())));
        assert_eq!(m.from, "logtrack@example.com");
        assert_eq!(m.to, ["oncall@example.com", "ops@example.com"]);
        assert_eq!(m.header("Subject").unwrap(), "[LogTrack] outage: 1 new (high)");
        assert_eq!(m.header("To").unwrap(), "<oncall@example.com>, <ops@example.com>");
        assert!(m.header("Message-ID").unwrap().ends_with("@logtrack>"));
        let text = m.part("plain").unwrap();
        assert!(text.contains("NEW [high] web_errors service=web"), "{text}");
        assert!(text.contains(" 503 "), "{text}");
        let html = m.part("html").unwrap();
        assert!(html.contains("<table class=\"alerts\">"), "{html}");
        assert!(html.contains("web_errors"));
    }
}

/// A program gets the notification on stdin; a failing one is a problem.
#[test]
fn exec_runs_the_program_with_the_notification_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("got.json");
    let notify = format!(
        "[[notify]]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", \"cat > '{}'\"]\n\n[[notify]]\ntype = \"exec\"\nname = \"broken pager\"\ncommand = [\"sh\", \"-c\", \"echo pager down >&2; exit 3\"]\n",
        out.display()
    );
    let job = job(dir.path(), &notify);
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = logtrack("", &["run", &job, "--no-db", "--strict"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "a failed send is a problem: {err}");
    assert!(err.contains("broken pager") && err.contains("pager down"), "{err}");
    let got: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(got["event"], "open");
    assert_eq!(got["rule_id"], "web_errors");
}

/// Job files: secrets stay out of them, receivers are checked.
#[test]
fn receivers_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "[[notify]]\ntype = \"email\"\nsmtp = \"mail.example.com:25\"\ntls = \"none\"\nfrom = \"a@b\"\nto = \"c@d\"\npassword = \"x\"\n\n[[notify]]\ntype = \"webhook\"\nurl = \"ftp://x/T0KEN-SECRET\"\nrules = [\"nope\"]\non = [\"opened\"]\n";
    let job = job(dir.path(), bad);
    let o = logtrack("", &["validate", &job]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    for want in [
        "notify[0].password: passwords are not read from job files",
        "notify[0].tls: \"none\" sends mail and passwords in clear",
        "notify[1].url: expected an http:// or https:// address",
        "notify[1].rules[0]: no rule has the id \"nope\"",
        "notify[1].on[0]: unknown event \"opened\"",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(!err.contains("T0KEN-SECRET"), "{err}");
}
