//! Incidents across runs and notifications, against real receivers on
//! 127.0.0.1: an HTTP server that fails its first deliveries, an SMTP
//! server with STARTTLS, a program.

mod common;

use common::pg::{count, logtrack, ok};
use common::receivers::{free_port, Answer, HttpReceiver, SmtpServer};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Access log lines every 10 s from minute `from_min` of 10:00 up to (not
/// including) minute `to_min`, answered 503 from 10:10 to 10:23 (a
/// 13-minute outage).
fn lines(from_min: u32, to_min: u32) -> String {
    log_lines(from_min, to_min, false)
}

/// The same outage as a silence: no lines from 10:10 to 10:23.
fn silent_lines(from_min: u32, to_min: u32) -> String {
    log_lines(from_min, to_min, true)
}

fn log_lines(from_min: u32, to_min: u32, silent: bool) -> String {
    let mut out = String::new();
    for s in (from_min * 60..to_min * 60).step_by(10) {
        let (m, sec) = (s / 60, s % 60);
        let down = (10 * 60..23 * 60).contains(&s);
        if down && silent {
            continue;
        }
        let status = if down { 503 } else { 200 };
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

const ERRORS: &str = r#"id = "web_errors"
type = "keyword_threshold"
keyword = "error"
threshold = 5
window = "5m"
severity = "high""#;

/// A job over `dir/access.log` with one rule and the receivers `notify` (TOML).
fn job(dir: &Path, notify: &str) -> String {
    job_with(dir, ERRORS, notify)
}

fn job_with(dir: &Path, rule: &str, notify: &str) -> String {
    let text = format!(
        r#"name = "outage"
[[sources]]
path = "{log}"
format = "combined"
service = "web"

[[rules]]
{rule}

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
fn an_outage_over_three_runs_is_one_incident_in(cluster: bool) {
    for (case, extra, want) in [
        ("default", "", vec!["open", "resolved"]),
        (
            "repeat",
            "on = [\"open\", \"repeat\", \"resolved\"]\nrepeat_interval = \"5m\"",
            vec!["open", "repeat", "resolved"],
        ),
    ] {
        let Some(url) = common::fresh_db(&format!("notify_outage_{case}"), cluster) else { return };
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

on_both!(
    an_outage_over_three_runs_is_one_incident,
    an_outage_over_three_runs_is_one_incident_on_a_cluster,
    an_outage_over_three_runs_is_one_incident_in
);

/// A receiver that closes, hangs, answers 503: each notification arrives
/// exactly once after it recovers; nothing is sent again after a 2xx.
fn a_failing_receiver_gets_each_notification_once_after_recovery_in(cluster: bool) {
    // Retried by `notify --retry`, and by the next runs (the first three
    // retries do not wait for a backoff).
    for by in ["retry", "run"] {
        let Some(url) = common::fresh_db(&format!("notify_failing_receiver_{by}"), cluster) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let hook = HttpReceiver::start(vec![Answer::Close, Answer::Hang, Answer::Status(503)]);
        let job = job(dir.path(), &webhook(&hook.url, ""));
        append(&dir.path().join("access.log"), &lines(0, 40));
        let err = ok(&logtrack(&url, &["run", &job]));
        assert!(err.contains("not delivered (kept for the next run)"), "{err}");
        assert!(!err.contains("T0KEN-SECRET"), "{err}");
        // Open and resolved are both pending: a try sends them in order.
        for _ in 0..3 {
            let args: &[&str] = match by {
                "retry" => &["notify", "--job", &job, "--retry"],
                _ => &["run", &job],
            };
            let o = logtrack(&url, args);
            let out = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            assert!(!out.contains("T0KEN-SECRET"), "{out}");
        }
        assert_eq!(events(&hook), ["open", "resolved"], "{by}");
        // Read: the hung and the 503 request (the closed one never was), then the two.
        assert_eq!(hook.attempts(), 4, "{by}");
        let o = logtrack(&url, &["notify", "--job", &job, "--retry"]);
        assert!(String::from_utf8_lossy(&o.stdout).contains("every notification is delivered"));
        ok(&logtrack(&url, &["run", &job]));
        assert_eq!(hook.attempts(), 4);
        assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
    }
}

on_both!(
    a_failing_receiver_gets_each_notification_once_after_recovery,
    a_failing_receiver_gets_each_notification_once_after_recovery_on_a_cluster,
    a_failing_receiver_gets_each_notification_once_after_recovery_in
);

/// Nothing listening: the run still succeeds, the notifications wait in
/// the outbox, and the next run sends them once the receiver is up.
fn a_refused_connection_keeps_the_notification_for_the_next_run_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_refused", cluster) else { return };
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

on_both!(
    a_refused_connection_keeps_the_notification_for_the_next_run,
    a_refused_connection_keeps_the_notification_for_the_next_run_on_a_cluster,
    a_refused_connection_keeps_the_notification_for_the_next_run_in
);

/// `kill -9` at each step: before the commit (nothing stored: the next
/// run detects and sends), after the commit before sending (the next run
/// sends), after sending before the bookkeeping (sent again once, with the
/// same key).
fn a_run_killed_at_each_step_delivers_once_or_at_most_twice_in(cluster: bool) {
    for (point, times) in [("before-commit", 1), ("after-commit", 1), ("after-send", 2)] {
        let Some(url) =
            common::fresh_db(&format!("notify_kill_{}", point.replace('-', "_")), cluster)
        else {
            return;
        };
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

on_both!(
    a_run_killed_at_each_step_delivers_once_or_at_most_twice,
    a_run_killed_at_each_step_delivers_once_or_at_most_twice_on_a_cluster,
    a_run_killed_at_each_step_delivers_once_or_at_most_twice_in
);

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

/// `logtrack run JOB --no-db` with the receivers' SMTP password in its
/// environment (`TEST_SMTP_PASSWORD`, as [`email`] names it).
fn run_with_smtp_password(job: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", job, "--no-db"])
        .env("TEST_SMTP_PASSWORD", "pa55-s3cret")
        .output()
        .unwrap()
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
        let o = run_with_smtp_password(&job);
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

/// A server that offers AUTH LOGIN alone (as many hosted services do) is
/// signed in to with LOGIN.
#[test]
fn email_signs_in_with_login_where_plain_is_not_offered() {
    let smtp = SmtpServer::login_only();
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), &email(&smtp.addr, Some(ca)));
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = run_with_smtp_password(&job);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("pa55-s3cret"), "{err}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{err}");
    assert_eq!(mails[0].auth, Some(("lt".into(), "pa55-s3cret".into())));
}

/// An `exec` program sees only PATH, HOME, LANG, TZ, its notification's id
/// and the variables its receiver lists in `env`; at the timeout it is
/// stopped with every process it started.
#[test]
fn exec_programs_get_a_clean_environment_and_are_stopped_with_their_children() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("env.txt");
    let pid = dir.path().join("child.pid");
    let notify = format!(
        "[[notify]]\ntype = \"exec\"\nname = \"env\"\nenv = [\"LISTED_VAR\"]\ncommand = [\"sh\", \"-c\", \"env > '{}'\"]\n\n\
         [[notify]]\ntype = \"exec\"\nname = \"hangs\"\ntimeout = \"1s\"\ncommand = [\"sh\", \"-c\", \"sleep 300 & echo $! > '{}'; sleep 300\"]\n",
        seen.display(),
        pid.display()
    );
    let job = job(dir.path(), &notify);
    let started = std::time::Instant::now();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["notify", "--test", "--job", &job])
        .env("LISTED_VAR", "listed")
        .env("UNLISTED_SECRET", "secret")
        .env("LOGTRACK_DATABASE_URL", "postgres://u:pw@db.example/x")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(2), "the hanging program fails its test: {out}");
    assert!(out.contains("ok      env") && out.contains("FAILED  hangs"), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());

    let env = std::fs::read_to_string(&seen).unwrap();
    assert!(env.lines().any(|l| l == "LISTED_VAR=listed"), "{env}");
    assert!(env.lines().any(|l| l.starts_with("LOGTRACK_NOTIFICATION_ID=")), "{env}");
    assert!(!env.contains("UNLISTED_SECRET") && !env.contains("LOGTRACK_DATABASE_URL"), "{env}");

    // The background `sleep 300` was stopped with its parent.
    let child = std::fs::read_to_string(&pid).unwrap().trim().to_string();
    let gone = |p: &str| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map_or(true, |st| st.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !gone(&child) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(gone(&child), "the program's child {child} still runs");
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

    // Paging services, groups, templates and runbooks.
    let bad = "[[notify]]\ntype = \"pagerduty\"\nrouting_key = \"R0UTING-SECRET\"\ngroup = \"run\"\n\n\
               [[notify]]\ntype = \"webhook\"\nurl = \"http://x/\"\ngroup = \"daily\"\ntitle = \"{{ sevrity }}\"\ntext = \"{% if %}\"\n\n\
               [[notify]]\ntype = \"opsgenie\"\napi_key_env = \"OG\"\nurl = \"mailto:x\"\n";
    let rule = format!("{ERRORS}\nrunbook = \"javascript:alert(1)\"");
    let job = job_with(dir.path(), &rule, bad);
    let o = logtrack("", &["validate", &job]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    for want in [
        "notify[0].routing_key: keys are not read from job files",
        "notify[0]: missing key \"routing_key_env\"",
        "notify[0].group: a paging service is sent one alert per incident",
        "notify[1].group: unknown value \"daily\" (expected run or incident)",
        "notify[1].title: unknown variable \"sevrity\"",
        "notify[1].text: not a valid template",
        "notify[2].url: expected an http:// or https:// address",
        "rules[0].runbook: expected an http:// or https:// address",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(!err.contains("R0UTING-SECRET"), "{err}");
}

/// The outage as a silence seen by runs at 10:15, 10:20 and 10:42 (the
/// reference time of each): one incident of the inactivity rule, open at
/// the first, repeated at the second, resolved at the third.
fn a_silence_over_three_runs_is_one_incident_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_silence", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let rule =
        "id = \"web_down\"\ntype = \"inactivity\"\nmax_idle = \"5m\"\nseverity = \"critical\"";
    let extra = "on = [\"open\", \"repeat\", \"resolved\"]\nrepeat_interval = \"5m\"";
    let job = job_with(dir.path(), rule, &webhook(&hook.url, extra));
    let log = dir.path().join("access.log");
    for (from, to, now) in [(0, 15, "10:15"), (15, 20, "10:20"), (20, 40, "10:42")] {
        append(&log, &silent_lines(from, to));
        let now = format!("2026-03-14T{now}:00Z");
        ok(&logtrack(&url, &["run", &job, "--now", &now]));
    }
    assert_eq!(events(&hook), ["open", "repeat", "resolved"]);
    assert_eq!(count(&url, "SELECT count(*) FROM incidents"), 1);
    let got = hook.accepted();
    assert_eq!(got[0].body["window_start"], "2026-03-14T10:09:50Z");
    assert_eq!(got[0].body["window_end"], "2026-03-14T10:15:00Z");
    assert_eq!(got[2].body["last_seen"], "2026-03-14T10:23:00Z");
}

on_both!(
    a_silence_over_three_runs_is_one_incident,
    a_silence_over_three_runs_is_one_incident_on_a_cluster,
    a_silence_over_three_runs_is_one_incident_in
);

/// Notifications that cannot be delivered within give_up_after are all
/// given up, those tried and those that waited behind them, and reported
/// as problems of the run, even under -q.
fn an_undeliverable_notification_is_given_up_and_reported_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_give_up", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let address = format!("http://127.0.0.1:{}/hook/T0KEN-SECRET", free_port());
    // One incident per client address: seven notifications to one receiver.
    let rule = format!("{ERRORS}\ngroup_by = [\"fields.client_ip\"]");
    let job =
        job_with(dir.path(), &rule, &webhook(&address, "give_up_after = \"1s\"\non = [\"open\"]"));
    append(&dir.path().join("access.log"), &lines(0, 40));
    ok(&logtrack(&url, &["run", &job]));
    let queued = count(&url, "SELECT count(*) FROM outbox");
    assert_eq!(queued, 7);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let o = logtrack(&url, &["run", &job, "--strict", "-q"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("notification gave up: open of incident"), "{err}");
    assert_eq!(err.matches("notification gave up").count(), 7, "{err}");
    assert!(!err.contains("T0KEN-SECRET"), "{err}");
    let report = std::fs::read_to_string(dir.path().join("reports/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let problems = report["problems"].to_string();
    assert!(problems.contains("notification gave up"), "{problems}");
    assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE gave_up_at IS NOT NULL"), 7);
    // `notify --job` lists them, given up, the tried one with its error.
    let o = logtrack(&url, &["notify", "--job", &job]);
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        listed.contains("0 notification(s) not delivered yet, 0 refused (parked), 7 given up"),
        "{listed}"
    );
    assert_eq!(listed.matches(", given up").count(), 7, "{listed}");
    assert!(listed.contains("1 attempt(s), given up: "), "{listed}");
    assert!(!listed.contains("T0KEN-SECRET"), "{listed}");
    // Reported once: the next run has nothing to give up.
    ok(&logtrack(&url, &["run", &job, "--strict"]));
}

on_both!(
    an_undeliverable_notification_is_given_up_and_reported,
    an_undeliverable_notification_is_given_up_and_reported_on_a_cluster,
    an_undeliverable_notification_is_given_up_and_reported_in
);

/// A notification its receiver refuses (HTTP 400) is parked at once and
/// holds back nothing: the receiver's other notifications are delivered in
/// the same run, the refusal is said even under -q, and `notify --requeue`
/// sends it once the receiver takes it.
fn a_refused_notification_is_parked_and_blocks_nothing_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_park", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![Answer::Status(400)]);
    // One incident per client address: seven notifications to one receiver.
    let rule = format!("{ERRORS}\ngroup_by = [\"fields.client_ip\"]");
    let job = job_with(dir.path(), &rule, &webhook(&hook.url, "on = [\"open\"]"));
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = logtrack(&url, &["run", &job, "-q"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(hook.attempts(), 7, "{err}");
    assert_eq!(hook.accepted().len(), 6, "the refusal held nothing back: {err}");
    assert_eq!(err.matches("notification refused").count(), 1, "{err}");
    assert!(err.contains("answered 400"), "{err}");

    // A problem of the run: in its report and its status.
    let report = std::fs::read_to_string(dir.path().join("reports/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].as_str().unwrap().contains("answered 400"), "{problems:?}");
    let runs = String::from_utf8_lossy(&logtrack(&url, &["runs"]).stdout).into_owned();
    assert!(runs.contains("ok, 1 notification(s) failed"), "{runs}");

    let o = logtrack(&url, &["notify", "--job", &job]);
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        listed.contains("0 notification(s) not delivered yet, 1 refused (parked), 0 given up"),
        "{listed}"
    );
    assert!(listed.contains("refused, parked: "), "{listed}");
    let id = listed
        .lines()
        .find_map(|l| l.trim_start().strip_prefix('#'))
        .and_then(|l| l.split_whitespace().next())
        .expect("the parked row's number")
        .to_string();
    let o = logtrack(&url, &["notify", "--job", &job, "--requeue", &id]);
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{said}");
    assert!(said.contains("1 notification(s) sent"), "{said}");
    assert_eq!(hook.accepted().len(), 7);
    assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
    // Only a given-up row can be requeued.
    let o = logtrack(&url, &["notify", "--job", &job, "--requeue", &id]);
    assert_eq!(o.status.code(), Some(2));
}

on_both!(
    a_refused_notification_is_parked_and_blocks_nothing,
    a_refused_notification_is_parked_and_blocks_nothing_on_a_cluster,
    a_refused_notification_is_parked_and_blocks_nothing_in
);

/// HTTPS: the receiver's certificate is verified (here against the test
/// CA given as ca_file); one from another CA is refused.
#[test]
fn https_webhooks_verify_the_receiver() {
    let tls = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls");
    for (ca, delivered) in [("ca.pem", true), ("other-ca.pem", false)] {
        let dir = tempfile::tempdir().unwrap();
        let hook = HttpReceiver::start_tls(vec![]);
        let extra = format!("ca_file = \"{tls}/{ca}\"");
        let job = job(dir.path(), &webhook(&hook.url, &extra));
        append(&dir.path().join("access.log"), &lines(0, 40));
        let o = logtrack("", &["run", &job, "--no-db"]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        if delivered {
            assert_eq!(events(&hook), ["open"], "{err}");
        } else {
            assert!(hook.accepted().is_empty());
            assert!(err.contains("TLS handshake with localhost"), "{err}");
            assert!(err.contains("UnknownIssuer"), "{err}");
        }
    }
}

/// With a database a run's e-mail lists its notifications; an SMTP 451
/// keeps it in the outbox, and the retry sends it once.
fn a_runs_email_is_retried_after_a_temporary_failure_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_email_retry", cluster) else { return };
    let smtp = SmtpServer::with(true, 1);
    let dir = tempfile::tempdir().unwrap();
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    let receiver = email(&smtp.addr, Some(ca)) + "tls = \"tls\"\n";
    let job = job(dir.path(), &receiver);
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", &job])
        .env("LOGTRACK_DATABASE_URL", &url)
        .env("TEST_SMTP_PASSWORD", "pa55-s3cret")
        .output()
        .unwrap();
    let err = ok(&o);
    assert!(err.contains("451 try again later"), "{err}");
    assert_eq!(*smtp.refused.lock().unwrap(), 1);
    assert!(smtp.mails().is_empty());
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["notify", "--job", &job, "--retry"])
        .env("LOGTRACK_DATABASE_URL", &url)
        .env("TEST_SMTP_PASSWORD", "pa55-s3cret")
        .output()
        .unwrap();
    ok(&o);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.tls, "implicit TLS");
    assert_eq!(m.header("Subject").unwrap(), "[LogTrack] outage: 1 new, 1 resolved (high)");
    let text = m.part("plain").unwrap();
    assert!(text.contains("NEW [high] web_errors") && text.contains("RESOLVED [high] web_errors"));
    assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
}

on_both!(
    a_runs_email_is_retried_after_a_temporary_failure,
    a_runs_email_is_retried_after_a_temporary_failure_on_a_cluster,
    a_runs_email_is_retried_after_a_temporary_failure_in
);

/// An anonymized job's notifications are anonymized as its reports are:
/// group values hashed or truncated, no evidence text.
#[test]
fn anonymized_jobs_send_anonymized_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let rule = "id = \"busy_client\"\ntype = \"rate_spike\"\ngroup_by = [\"client_ip\"]\nthreshold = 3\nwindow = \"5m\"";
    let job = job_with(dir.path(), rule, &webhook(&hook.url, ""));
    append(&dir.path().join("access.log"), &lines(0, 40));
    ok(&logtrack("", &["run", &job, "--no-db", "--anonymize"]));
    let got = hook.accepted();
    assert!(!got.is_empty());
    for d in &got {
        let body = d.body.to_string();
        assert_eq!(d.body["group"]["client_ip"], "10.0.0.0", "{body}");
        assert!(!body.contains("10.0.0.1 - -"), "{body}");
        assert!(d.body["evidence"][0].get("text").is_none(), "{body}");
    }
}

/// Through HTTPS_PROXY (a CONNECT tunnel, TLS end to end, the proxy's
/// user sent) and HTTP_PROXY (the whole address asked for); NO_PROXY and
/// loopback addresses go direct.
#[test]
fn webhooks_go_through_the_environments_proxy() {
    use common::receivers::Proxy;
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    for https in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let hook =
            if https { HttpReceiver::start_tls(vec![]) } else { HttpReceiver::start(vec![]) };
        let proxy = Proxy::start(hook.port);
        let scheme = if https { "https" } else { "http" };
        let url = format!("{scheme}://hooks.example.test:{}/hook/T0KEN-SECRET", hook.port);
        let job = job(dir.path(), &webhook(&url, &format!("ca_file = \"{ca}\"")));
        append(&dir.path().join("access.log"), &lines(0, 40));
        let var = if https { "HTTPS_PROXY" } else { "HTTP_PROXY" };
        let run = |no_proxy: &str| {
            Command::new(env!("CARGO_BIN_EXE_logtrack"))
                .args(["run", &job, "--no-db"])
                .env(var, format!("http://lt:pr%40xy@{}", proxy.addr))
                .env("NO_PROXY", no_proxy)
                .output()
                .unwrap()
        };
        let o = run("example.org");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(events(&hook), ["open"], "{https}: {err}");
        let seen = proxy.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let want = if https {
            format!("CONNECT hooks.example.test:{} HTTP/1.1\n", hook.port)
        } else {
            format!("POST http://hooks.example.test:{}/hook/T0KEN-SECRET HTTP/1.1\n", hook.port)
        };
        assert!(seen[0].starts_with(&want), "{}", seen[0]);
        // lt:pr@xy
        assert!(seen[0].contains("Proxy-Authorization: Basic bHQ6cHJAeHk=\n"), "{}", seen[0]);
        // Bypassed: the name is then looked up, and does not exist.
        let o = run("example.test");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(proxy.seen.lock().unwrap().len(), 1, "{err}");
        assert!(err.contains("notification not delivered") && err.contains("hooks.example.test"));
        assert!(!err.contains("pr%40xy") && !err.contains("T0KEN"), "{err}");
    }
}

/// A rule taken out of the job: its open incident is resolved by the next
/// run that covers anything past it.
fn a_removed_rules_incident_is_resolved_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_removed_rule", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let log = dir.path().join("access.log");
    append(&log, &lines(0, 15));
    let job1 = job(dir.path(), &webhook(&hook.url, ""));
    ok(&logtrack(&url, &["run", &job1]));
    assert_eq!(events(&hook), ["open"]);
    let other = "id = \"busy\"\ntype = \"rate_spike\"\nthreshold = 100000\nwindow = \"1m\"";
    let job2 = job_with(dir.path(), other, &webhook(&hook.url, ""));
    append(&log, &lines(15, 16));
    ok(&logtrack(&url, &["run", &job2]));
    assert_eq!(events(&hook), ["open", "resolved"]);
    assert_eq!(count(&url, "SELECT count(*) FROM incidents WHERE state = 'resolved'"), 1);
}

on_both!(
    a_removed_rules_incident_is_resolved,
    a_removed_rules_incident_is_resolved_on_a_cluster,
    a_removed_rules_incident_is_resolved_in
);

/// A Slack receiver groups a run's notifications (the default): one post
/// per run. A post the receiver refuses for good is sent again one by one,
/// so only the notification it refuses is parked; one that fails for now
/// is retried as the same message (the same key), holding the same rows.
fn a_chat_receiver_gets_one_message_per_run_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_group", cluster) else { return };
    let rule = format!("{ERRORS}\ngroup_by = [\"fields.client_ip\"]");
    let slack = |hook: &HttpReceiver| webhook(&hook.url, "format = \"slack\"\non = [\"open\"]");

    // Busy at first: one message, retried whole.
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![Answer::Status(503)]);
    let job = job_with(dir.path(), &rule, &slack(&hook));
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = logtrack(&url, &["run", &job]);
    assert_eq!(hook.attempts(), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let o = logtrack(&url, &["notify", "--job", &job, "--retry"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("7 notification(s) sent"), "{o:?}");
    let got = hook.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].headers["x-logtrack-id"], got[1].headers["x-logtrack-id"]);
    assert_eq!(got[1].body["text"], "outage: 7 new (high)");
    let blocks = got[1].body["blocks"].as_array().unwrap();
    assert_eq!(
        blocks.iter().filter(|b| b["text"]["text"].as_str().unwrap().starts_with("NEW")).count(),
        7
    );

    // One incident's text is refused: the other six are delivered.
    let url2 = common::fresh_db("notify_group_refused", cluster).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::always(Answer::RefuseIf("10.0.0.3"));
    let job = job_with(dir.path(), &rule, &slack(&hook));
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = logtrack(&url2, &["run", &job, "-q"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(hook.attempts(), 8, "one grouped post, then seven: {err}");
    assert_eq!(hook.accepted().len(), 6, "{err}");
    assert_eq!(err.matches("notification refused").count(), 1, "{err}");
    assert!(err.contains("answered 400 X: invalid_blocks"), "{err}");
    assert_eq!(count(&url2, "SELECT count(*) FROM outbox WHERE refused"), 1);
}

on_both!(
    a_chat_receiver_gets_one_message_per_run,
    a_chat_receiver_gets_one_message_per_run_on_a_cluster,
    a_chat_receiver_gets_one_message_per_run_in
);

/// The quickstart with a Slack receiver: one post for the run's alerts.
#[test]
fn the_quickstart_posts_once_to_slack() {
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
    let job = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/quickstart.toml"))
        .unwrap()
        .replace("../samples", samples)
        .replace("[report]", &format!("{}\n[report]", webhook(&hook.url, "format = \"slack\"")));
    let path = dir.path().join("quickstart.toml");
    std::fs::write(&path, job).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", path.to_str().unwrap(), "--report-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(hook.attempts(), 1, "{err}");
    let text = hook.accepted()[0].body["text"].as_str().unwrap().to_string();
    assert!(text.starts_with("quickstart: 17 new (critical)"), "{text}");
}

/// A failed notification fails a strict run: exit 2, said under -q, in the
/// report's problems and the run's status.
fn refused_notifications_fail_a_strict_run_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_strict", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::always(Answer::Status(404));
    let job = job(dir.path(), &webhook(&hook.url, ""));
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = logtrack(&url, &["run", &job, "-q", "--strict"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    // The incident's open and resolved, each refused.
    assert_eq!(err.lines().filter(|l| l.contains("notification refused")).count(), 2, "{err}");
    let report = std::fs::read_to_string(dir.path().join("reports/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["exit_code"], 2);
    assert!(report["problems"][0].as_str().unwrap().contains("answered 404"), "{report}");
    let runs = String::from_utf8_lossy(&logtrack(&url, &["runs"]).stdout).into_owned();
    assert!(runs.contains("ok, 2 notification(s) failed"), "{runs}");
}

on_both!(
    refused_notifications_fail_a_strict_run,
    refused_notifications_fail_a_strict_run_on_a_cluster,
    refused_notifications_fail_a_strict_run_in
);

/// PagerDuty (Events API v2) and Opsgenie (Alert API) at local receivers
/// shaped like them: an incident triggers, then resolves, under one key.
fn paging_services_trigger_and_resolve_by_the_incident_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_paging", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (pd, og) = (HttpReceiver::start(vec![]), HttpReceiver::start(vec![]));
    let base = |h: &HttpReceiver| format!("http://127.0.0.1:{}", h.port);
    let receivers = format!(
        "[[notify]]\ntype = \"pagerduty\"\nrouting_key_env = \"TEST_PD_KEY\"\nurl = \"{}/v2/enqueue\"\n\
         [[notify]]\ntype = \"opsgenie\"\napi_key_env = \"TEST_OG_KEY\"\nurl = \"{}\"\n",
        base(&pd),
        base(&og)
    );
    let rule = format!("{ERRORS}\ndescription = \"The web tier answers errors\"\nrunbook = \"https://wiki.example.com/web-errors\"");
    let job = job_with(dir.path(), &rule, &receivers);
    let run = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_logtrack"))
            .args(["run", &job])
            .env("LOGTRACK_DATABASE_URL", url)
            .env("TEST_PD_KEY", "pd-r0uting-key")
            .env("TEST_OG_KEY", "og-ap1-key")
            .output()
            .unwrap()
    };
    append(&dir.path().join("access.log"), &lines(0, 20));
    let o = run(&url);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    append(&dir.path().join("access.log"), &lines(20, 60));
    run(&url);

    let got = pd.accepted();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].path, "/v2/enqueue");
    let (t, r) = (&got[0].body, &got[1].body);
    assert_eq!(t["routing_key"], "pd-r0uting-key");
    assert_eq!(t["event_action"], "trigger");
    assert_eq!(t["payload"]["severity"], "error");
    assert_eq!(t["payload"]["source"], "web");
    assert_eq!(t["payload"]["custom_details"]["description"], "The web tier answers errors");
    assert_eq!(t["links"][0]["href"], "https://wiki.example.com/web-errors");
    assert_eq!(r["event_action"], "resolve");
    assert_eq!(r["dedup_key"], t["dedup_key"]);

    let got = og.accepted();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].path, "/v2/alerts");
    assert_eq!(got[0].headers["authorization"], "GenieKey og-ap1-key");
    let alias = got[0].body["alias"].as_str().unwrap();
    assert_eq!(alias, t["dedup_key"].as_str().unwrap(), "one key per incident");
    assert_eq!(got[0].body["priority"], "P2");
    assert_eq!(got[1].path, format!("/v2/alerts/{alias}/close?identifierType=alias"));
}

#[test]
fn paging_services_trigger_and_resolve_by_the_incident() {
    paging_services_trigger_and_resolve_by_the_incident_in(false);
}

/// One recipient refused (550) while another is taken: the message goes to
/// the one taken and a copy for the refused one is parked; a server that
/// refuses the message after DATA (554) parks it at once.
fn email_recipients_are_taken_or_refused_each_on_their_own_in(cluster: bool) {
    let Some(url) = common::fresh_db("notify_rcpt", cluster) else { return };
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let receiver =
        email(&smtp.addr, Some(ca)).replace("\"ops@example.com\"", "\"nobody@example.com\"");
    let job1 = job(dir.path(), &receiver);
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = run_with_smtp_password_db(&job1, &url);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{err}");
    assert_eq!(mails[0].to, ["oncall@example.com"]);
    assert!(err.contains("recipient(s) nobody@example.com refused, parked"), "{err}");
    assert!(err.contains("550 5.1.1 no such user here"), "{err}");
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM outbox WHERE refused AND recipients = '{nobody@example.com}'"
        ),
        2,
        "a parked copy of each of the mail's two notifications (open, resolved)"
    );
    assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL"), 2);

    let url = common::fresh_db("notify_554", cluster).unwrap();
    let smtp = SmtpServer::rejecting_data();
    let dir = tempfile::tempdir().unwrap();
    let job2 = job(dir.path(), &email(&smtp.addr, Some(ca)));
    append(&dir.path().join("access.log"), &lines(0, 40));
    let o = run_with_smtp_password_db(&job2, &url);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("notification refused"), "{err}");
    assert!(err.contains("554 5.7.1 message content rejected"), "{err}");
    assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE refused"), 2);
    // Parked: the next run does not try it again.
    run_with_smtp_password_db(&job2, &url);
    assert_eq!(count(&url, "SELECT max(attempts)::bigint FROM outbox"), 1);
}

fn run_with_smtp_password_db(job: &str, url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", job])
        .env("LOGTRACK_DATABASE_URL", url)
        .env("TEST_SMTP_PASSWORD", "pa55-s3cret")
        .output()
        .unwrap()
}

#[test]
fn email_recipients_are_taken_or_refused_each_on_their_own() {
    email_recipients_are_taken_or_refused_each_on_their_own_in(false);
}

/// A self-signed certificate made by `openssl req -x509` (it says CA:TRUE)
/// is trusted when `ca_file` names it.
#[test]
fn ca_file_trusts_a_self_signed_server_certificate() {
    let tls = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls");
    for (ca, delivered) in [("self-signed.pem", true), ("ca.pem", false)] {
        let dir = tempfile::tempdir().unwrap();
        let hook = HttpReceiver::start_tls_as("self-signed", vec![]);
        let job = job(dir.path(), &webhook(&hook.url, &format!("ca_file = \"{tls}/{ca}\"")));
        append(&dir.path().join("access.log"), &lines(0, 40));
        let o = logtrack("", &["run", &job, "--no-db"]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(hook.accepted().len(), usize::from(delivered), "{ca}: {err}");
    }
}

/// Log lines written by an attacker: user names and paths that would ping
/// a channel, plant a link or break out of formatting, and a 50 KB line.
/// The Slack body has no `<!`, `<@`, `<#` or `<http` from them and keeps
/// Slack's limits; the Teams card has no link from them and stays small;
/// the e-mail passes Python's `email` parser with no defect, every header
/// line at most 998 characters.
#[test]
fn hostile_log_lines_reach_every_receiver_as_data() {
    let hostile =
        ["<!channel>", "<http://evil.example|x>", "[click](http://evil.example)", "```", "*x*"];
    let mut log = String::new();
    for (i, user) in hostile.iter().enumerate() {
        // A user name cannot start with '[' in this format: there the
        // text goes in the path and the user agent only.
        let name = if user.starts_with('[') { "-" } else { user };
        for s in 0..10 {
            log.push_str(&format!(
                "10.0.0.{i} - {name} [14/Mar/2026:10:{:02}:{s:02} +0000] \"GET /{user}?q={user} HTTP/1.1\" 500 12 \"-\" \"{user}\"\n",
                i
            ));
        }
    }
    log.push_str(&format!(
        "10.0.0.9 - - [14/Mar/2026:10:09:00 +0000] \"GET /{} HTTP/1.1\" 500 12 \"-\" \"x\"\n",
        "A".repeat(50_000)
    ));
    let dir = tempfile::tempdir().unwrap();
    let (slack, teams) = (HttpReceiver::start(vec![]), HttpReceiver::start(vec![]));
    let smtp = SmtpServer::start();
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem");
    let receivers = format!(
        "{}{}{}",
        webhook(&slack.url, "format = \"slack\"\ngroup = \"incident\""),
        webhook(&teams.url, "format = \"teams\"\ngroup = \"incident\""),
        email(&smtp.addr, Some(ca))
    );
    let rule = "id = \"per_user\"\ntype = \"keyword_threshold\"\nkeyword = \"error\"\nthreshold = 1\nwindow = \"5m\"\ngroup_by = [\"client_ip\"]";
    let job = job_with(dir.path(), rule, &receivers);
    append(&dir.path().join("access.log"), &log);
    let o = run_with_smtp_password(&job);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("0 rejected, 6 alert(s)"), "{err}");
    assert_eq!(slack.accepted().len(), 6, "{err}");

    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    for d in slack.accepted() {
        let mut all = Vec::new();
        strings(&d.body, &mut all);
        for s in &all {
            for bad in ["<!", "<@", "<#", "<http"] {
                assert!(!s.contains(bad), "{bad} in {s:.300}");
            }
        }
        assert!(d.body["text"].as_str().unwrap().chars().count() <= 4_000);
        let blocks = d.body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        for b in blocks {
            let t = b["text"]["text"].as_str().unwrap();
            assert!(t.chars().count() <= 3_000);
            if b["text"]["type"] == "mrkdwn" && t.starts_with("```") {
                assert!(!t[3..t.len() - 3].contains("```"), "{t:.300}");
            }
        }
    }
    for d in teams.accepted() {
        assert!(d.body.to_string().len() < 28_000);
        let actions = d.body["attachments"][0]["content"]["actions"].to_string();
        assert!(!actions.contains("evil.example"), "{actions}");
        for block in d.body["attachments"][0]["content"]["body"].as_array().unwrap() {
            if block.to_string().contains("evil.example") {
                assert_eq!(block["type"], "RichTextBlock", "{block}");
            }
        }
    }
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{err}");
    let eml = dir.path().join("mail.eml");
    std::fs::write(&eml, &mails[0].data).unwrap();
    assert!(mails[0].data.split("\r\n").all(|l| l.len() <= 998));
    let check = "import email, email.policy, sys\n\
                 m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)\n\
                 bad = [(p.get_content_type(), p.defects) for p in m.walk() if p.defects]\n\
                 assert not bad, bad\n\
                 assert m['Subject'].startswith('[LogTrack] outage: '), m['Subject']\n\
                 print(len(list(m.walk())))";
    let o = Command::new("python3").args(["-c", check, eml.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "3", "multipart with text and HTML");
}

/// 429 with `Retry-After: 120`: no second attempt before 120 s, however
/// often the job runs.
#[test]
fn retry_after_is_honoured() {
    let Some(url) = common::fresh_db("notify_retry_after", false) else { return };
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![Answer::TooMany(120)]);
    let job = job(dir.path(), &webhook(&hook.url, "on = [\"open\"]"));
    append(&dir.path().join("access.log"), &lines(0, 40));
    logtrack(&url, &["run", &job]);
    assert_eq!(hook.attempts(), 1);
    for _ in 0..3 {
        logtrack(&url, &["run", &job]);
        logtrack(&url, &["notify", "--job", &job]);
    }
    assert_eq!(hook.attempts(), 1, "tried again before Retry-After");
    let wait = count(
        &url,
        "SELECT floor(extract(epoch from next_attempt - now()))::bigint FROM outbox WHERE sent_at IS NULL",
    );
    assert!((100..=120).contains(&wait), "next attempt in {wait} s");
    // Once the wait is over (moved here instead of waited), it is sent.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("UPDATE outbox SET next_attempt = now() - interval '1 second'").unwrap();
    logtrack(&url, &["run", &job]);
    assert_eq!(hook.accepted().len(), 1);
}

/// A job over web and database logs (the same outage in both) with three
/// receivers: the database team's takes `service = "postgres"`, the
/// network team's takes a block of client addresses, and a default one
/// takes what neither does.
fn routed_job(dir: &Path, db: &HttpReceiver, net: &HttpReceiver, rest: &HttpReceiver) -> String {
    append(&dir.join("access.log"), &lines(0, 40));
    append(&dir.join("db.log"), &lines(0, 40));
    common::rest(&dir.join("access.log"));
    common::rest(&dir.join("db.log"));
    let text = format!(
        r#"name = "routed"
[[sources]]
path = "{web}"
format = "combined"
service = "web"

[[sources]]
path = "{dblog}"
format = "combined"
service = "postgres"

[[rules]]
id = "web_errors"
type = "keyword_threshold"
service = "web"
keyword = "error"
group_by = ["client_ip"]
threshold = 2
window = "5m"
severity = "high"

[[rules]]
id = "db_errors"
type = "keyword_threshold"
service = "postgres"
keyword = "error"
threshold = 5
window = "5m"
severity = "critical"

{db_hook}match = 'service = "postgres"'
{net_hook}match = 'rule = "web_errors" and group.client_ip in 10.0.0.0/30'
{rest_hook}default = true

[report]
dir = "{reports}"
"#,
        web = dir.join("access.log").display(),
        dblog = dir.join("db.log").display(),
        db_hook = webhook(&db.url, "name = \"db team\""),
        net_hook = webhook(&net.url, "name = \"net team\""),
        rest_hook = webhook(&rest.url, "name = \"everyone else\""),
        reports = dir.join("reports").display(),
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// What a receiver got: (rule, client_ip) of each "open".
fn opened(r: &HttpReceiver) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = r
        .accepted()
        .iter()
        .filter(|d| d.body["event"] == "open")
        .map(|d| {
            let ip = d.body["group"]["client_ip"].as_str().unwrap_or("").to_string();
            (d.body["rule_id"].as_str().unwrap().to_string(), ip)
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Routing by `service` and by a `group.*` label, with a default receiver:
/// in memory and with a database, each incident goes where its labels say,
/// and only there; `validate` shows the routes.
fn receivers_take_what_their_match_says_in(cluster: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (db, net, rest) =
        (HttpReceiver::start(vec![]), HttpReceiver::start(vec![]), HttpReceiver::start(vec![]));
    let job = routed_job(dir.path(), &db, &net, &rest);
    let check = |db: &HttpReceiver, net: &HttpReceiver, rest: &HttpReceiver| {
        let (d, n, r) = (opened(db), opened(net), opened(rest));
        assert!(!d.is_empty() && d.iter().all(|(rule, _)| rule == "db_errors"), "db: {d:?}");
        assert!(!n.is_empty(), "net: {n:?}");
        for (rule, ip) in &n {
            assert_eq!(rule, "web_errors");
            assert!(["10.0.0.1", "10.0.0.2", "10.0.0.3"].contains(&ip.as_str()), "net: {n:?}");
        }
        assert!(!r.is_empty(), "default: {r:?}");
        for (rule, ip) in &r {
            assert_eq!(rule, "web_errors", "default: {r:?}");
            assert!(!["10.0.0.1", "10.0.0.2", "10.0.0.3"].contains(&ip.as_str()), "default: {r:?}");
        }
    };
    if !cluster {
        ok(&logtrack("", &["run", &job, "--no-db"]));
        check(&db, &net, &rest);
        let o = logtrack("", &["validate", &job]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(out.contains("    web_errors -> net team (when its labels match), everyone else (when its labels match)"), "{out}");
        assert!(out.contains("    db_errors -> db team\n"), "{out}");
        assert!(out.contains("match service = \"postgres\""), "{out}");
        assert!(String::from_utf8_lossy(&o.stderr).is_empty(), "no warning: {o:?}");
    }
    let Some(url) = common::fresh_db(&format!("notify_routes_{cluster}"), cluster) else { return };
    let (db, net, rest) =
        (HttpReceiver::start(vec![]), HttpReceiver::start(vec![]), HttpReceiver::start(vec![]));
    let dir = tempfile::tempdir().unwrap();
    let job = routed_job(dir.path(), &db, &net, &rest);
    ok(&logtrack(&url, &["run", &job]));
    check(&db, &net, &rest);
    let per_receiver =
        count(&url, "SELECT count(DISTINCT receiver) FROM outbox WHERE event = 'open'");
    assert_eq!(per_receiver, 3);
    // Each open incident went to exactly one receiver.
    let twice = count(
        &url,
        "SELECT count(*) FROM (SELECT incident_id FROM outbox WHERE event = 'open'
                               GROUP BY incident_id HAVING count(*) > 1) t",
    );
    assert_eq!(twice, 0);
}

on_both!(
    receivers_take_what_their_match_says,
    receivers_take_what_their_match_says_on_a_cluster,
    receivers_take_what_their_match_says_in
);

/// `validate` warns about a rule that reaches no receiver, and a receiver's
/// `match` is checked like a `where`, naming the key and the column.
#[test]
fn validate_warns_about_rules_no_receiver_takes() {
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let job = job(dir.path(), &webhook(&hook.url, "match = 'rule = \"other\"'"));
    let o = logtrack("", &["validate", &job]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("    web_errors -> none"), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("rule web_errors reaches no receiver"), "{err}");
    let job = job_with(dir.path(), ERRORS, &webhook(&hook.url, "match = 'rul = x'"));
    let o = logtrack("", &["validate", &job]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("notify[0].match: unknown label 'rul'"), "{err}");
    assert!(err.contains("did you mean 'rule'?"), "{err}");
}

/// A chat receiver muted from 22:00 to 07:00 in Berlin and a pager that is
/// never muted: a run at 22:30 Berlin time (21:30 UTC) tells the pager
/// only; at 07:30 the next morning both, in memory and with a database.
fn mute_hours_over_midnight_in_a_zone_in(cluster: bool) {
    let (chat, pager) = (HttpReceiver::start(vec![]), HttpReceiver::start(vec![]));
    let receivers = format!(
        "{}mute_hours = [\"22:00-07:00\"]\ntimezone = \"Europe/Berlin\"\n{}",
        webhook(&chat.url, "name = \"chat\""),
        webhook(&pager.url, "name = \"pager\""),
    );
    let night = "2026-03-14T21:30:00Z";
    let morning = "2026-03-15T06:30:00Z";
    if !cluster {
        let dir = tempfile::tempdir().unwrap();
        let job = job(dir.path(), &receivers);
        append(&dir.path().join("access.log"), &lines(0, 40));
        ok(&logtrack("", &["run", &job, "--no-db", "--now", night]));
        assert_eq!((chat.accepted().len(), pager.accepted().len()), (0, 1));
        ok(&logtrack("", &["run", &job, "--no-db", "--now", morning]));
        assert_eq!((chat.accepted().len(), pager.accepted().len()), (1, 2));
    }
    let Some(url) = common::fresh_db(&format!("notify_mute_{cluster}"), cluster) else { return };
    let (chat, pager) = (HttpReceiver::start(vec![]), HttpReceiver::start(vec![]));
    let receivers = format!(
        "{}mute_hours = [\"22:00-07:00\"]\ntimezone = \"Europe/Berlin\"\n{}",
        webhook(
            &chat.url,
            "name = \"chat\"\non = [\"open\", \"repeat\", \"resolved\"]\nrepeat_interval = \"1m\""
        ),
        webhook(&pager.url, "name = \"pager\""),
    );
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), &receivers);
    append(&dir.path().join("access.log"), &lines(0, 14));
    ok(&logtrack(&url, &["run", &job, "--now", night]));
    assert_eq!(events(&chat), Vec::<String>::new(), "muted at 22:30 Berlin");
    assert_eq!(events(&pager), vec!["open"]);
    assert_eq!(count(&url, "SELECT count(*) FROM outbox WHERE receiver = 'chat'"), 0);
    // The next morning the outage goes on: the chat hears of it.
    append(&dir.path().join("access.log"), &lines(14, 20));
    ok(&logtrack(&url, &["run", &job, "--now", morning]));
    assert_eq!(events(&chat), vec!["repeat"]);
}

on_both!(
    mute_hours_over_midnight_in_a_zone,
    mute_hours_over_midnight_in_a_zone_on_a_cluster,
    mute_hours_over_midnight_in_a_zone_in
);

/// `[[inhibit]]`: while the web outage's incident is open, the per-client
/// incidents of the same service are not told; those of another service
/// are. The same in memory and with a database.
/// A job over two services' access logs (minutes 0–40 of the outage, or
/// up to `ADHOC`'s 20: still down): `web_outage` (web, ungrouped),
/// `web_clients` and `db_clients` (by client), with `extra` blocks.
fn two_services_job(dir: &Path, name: &str, hook: &HttpReceiver, extra: &str) -> String {
    let to = if name == ADHOC { 20 } else { 40 };
    append(&dir.join("access.log"), &lines(0, to));
    append(&dir.join("db.log"), &lines(0, to));
    common::rest(&dir.join("access.log"));
    common::rest(&dir.join("db.log"));
    let rule = |id: &str, service: &str, by_client: bool| {
        format!(
            "[[rules]]\nid = \"{id}\"\ntype = \"keyword_threshold\"\nservice = \"{service}\"\nkeyword = \"error\"\nthreshold = {}\nwindow = \"5m\"\nseverity = \"high\"\n{}\n",
            if by_client { 2 } else { 5 },
            if by_client { "group_by = [\"client_ip\"]" } else { "" }
        )
    };
    let text = format!(
        "name = \"{name}\"\n[[sources]]\npath = \"{web}\"\nformat = \"combined\"\nservice = \"web\"\n\n\
         [[sources]]\npath = \"{db}\"\nformat = \"combined\"\nservice = \"postgres\"\n\n{r1}{r2}{r3}\n\
         {extra}\n\n{hook}\n\
         [report]\ndir = \"{reports}\"\nformats = [\"json\", \"md\"]\n",
        web = dir.join("access.log").display(),
        db = dir.join("db.log").display(),
        r1 = rule("web_outage", "web", false),
        r2 = rule("web_clients", "web", true),
        r3 = rule("db_clients", "postgres", true),
        hook = webhook(&hook.url, ""),
        reports = dir.join("reports").display(),
    );
    let path = dir.join("job.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The job whose outage goes on at the end of its data.
const ADHOC: &str = "adhoc";

/// What the report of the job in `dir` says was held back: each rule and
/// group once, with what held it (memory's alerts and the database's
/// incidents compare so).
fn held(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("reports/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut v: Vec<String> = report["held"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    let mut h = h.clone();
                    h.as_object_mut().unwrap().remove("window_start");
                    h.to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.dedup();
    v
}

fn an_open_incident_inhibits_its_consequences_in(cluster: bool) {
    let inhibit = "[[inhibit]]\nsource = 'rule = \"web_outage\"'\ntarget = 'rule ~ \"_clients$\"'\nequal = [\"service\"]\n";
    let make = |dir: &Path, hook: &HttpReceiver| two_services_job(dir, "inhibited", hook, inhibit);
    let rules_told = |hook: &HttpReceiver| {
        let mut v: Vec<String> = opened(hook).into_iter().map(|(rule, _)| rule).collect();
        v.dedup();
        v
    };
    if !cluster {
        let dir = tempfile::tempdir().unwrap();
        let hook = HttpReceiver::start(vec![]);
        let job = make(dir.path(), &hook);
        let err = ok(&logtrack("", &["run", &job, "--no-db"]));
        assert!(err.contains("inhibited by another open at the same time"), "{err}");
        assert_eq!(rules_told(&hook), vec!["db_clients", "web_outage"]);
        let in_memory = held(dir.path());
        assert!(!in_memory.is_empty());
        let by_outage = r#""inhibited_by":{"group":{"service":"web"},"rule_id":"web_outage"}"#;
        assert!(
            in_memory.iter().all(|h| h.contains(by_outage) && h.contains("web_clients")),
            "{in_memory:?}"
        );
        // The same data with a database: the same held back, by the same.
        if let Some(url) = common::fresh_db("notify_inhibit_agree", false) {
            let other = tempfile::tempdir().unwrap();
            let job = make(other.path(), &HttpReceiver::start(vec![]));
            ok(&logtrack(&url, &["run", &job]));
            assert_eq!(held(other.path()), in_memory);
        }
        let o = logtrack("", &["validate", &job]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let said = "  inhibit: while 'rule = \"web_outage\"' is open, not 'rule ~ \"_clients$\"' with the same service";
        assert!(out.contains(said), "{out}");
        let bad = std::fs::read_to_string(&job)
            .unwrap()
            .replace("equal = [\"service\"]", "equal = [\"servce\"]");
        std::fs::write(&job, bad).unwrap();
        let o = logtrack("", &["validate", &job]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(
            !o.status.success() && err.contains("inhibit[0].equal[0]: expected a label"),
            "{err}"
        );
    }
    let Some(url) = common::fresh_db(&format!("notify_inhibit_{cluster}"), cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let job = make(dir.path(), &hook);
    ok(&logtrack(&url, &["run", &job]));
    assert_eq!(rules_told(&hook), vec!["db_clients", "web_outage"]);
    // Stored all the same, each marked with the incident that kept it quiet.
    assert!(count(&url, "SELECT count(*) FROM incidents WHERE rule_id = 'web_clients'") > 0);
    let unmarked =
        "SELECT count(*) FROM incidents WHERE rule_id = 'web_clients' AND inhibited_by IS NULL";
    assert_eq!(count(&url, unmarked), 0);
    let by_outage = "SELECT count(*) FROM incidents i WHERE rule_id = 'web_clients'
                     AND NOT EXISTS (SELECT 1 FROM incidents s
                                     WHERE s.job = i.job AND s.id = i.inhibited_by AND s.rule_id = 'web_outage')";
    assert_eq!(count(&url, by_outage), 0, "inhibited by the outage's incident");
    let marked = "SELECT count(*) FROM incidents WHERE rule_id <> 'web_clients' AND inhibited_by IS NOT NULL";
    assert_eq!(count(&url, marked), 0);
}

on_both!(
    an_open_incident_inhibits_its_consequences,
    an_open_incident_inhibits_its_consequences_on_a_cluster,
    an_open_incident_inhibits_its_consequences_in
);

/// Silences: a job file's `[[silence]]` (in memory and with a database,
/// which agree), one made with `logtrack silence add` that holds one of
/// two incidents (both stored, one told), and its expiry with the incident
/// still open (told once, on the next run).
fn silences_hold_back_what_they_match_in(cluster: bool) {
    let rules_told = |hook: &HttpReceiver| {
        let mut v: Vec<String> = opened(hook).into_iter().map(|(rule, _)| rule).collect();
        v.dedup();
        v
    };
    // Planned: the database's maintenance, and a window long over.
    let planned = "[[silence]]\nmatch = 'service = \"postgres\"'\nuntil = \"2999-01-01T00:00:00Z\"\ncomment = \"db maintenance\"\n\n\
                   [[silence]]\nmatch = 'rule = \"web_outage\"'\nstarts = \"2001-01-01T00:00:00Z\"\nuntil = \"2001-01-02T00:00:00Z\"\n";
    let mut in_memory = None;
    if !cluster {
        let dir = tempfile::tempdir().unwrap();
        let hook = HttpReceiver::start(vec![]);
        let job = two_services_job(dir.path(), "planned", &hook, planned);
        let err = ok(&logtrack("", &["run", &job, "--no-db"]));
        assert!(err.contains("alert(s) silenced: not told"), "{err}");
        assert_eq!(rules_told(&hook), vec!["web_clients", "web_outage"]);
        let h = held(dir.path());
        assert!(!h.is_empty());
        assert!(
            h.iter().all(|h| h.contains("\"rule_id\":\"db_clients\"")
                && h.contains("\"silenced_by\":\"[[silence]] 1\"")),
            "{h:?}"
        );
        let md = std::fs::read_to_string(dir.path().join("reports/report.md")).unwrap();
        assert!(md.contains("## Not notified") && md.contains("silenced by"), "{md}");
        in_memory = Some(h);
        let o = logtrack("", &["validate", &job]);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let said = "  [[silence]] 1: not 'service = \"postgres\"' until 2999-01-01T00:00:00Z (db maintenance)";
        assert!(out.contains(said), "{out}");
        // Checked like every key: a matcher that does not parse, a time
        // that is none.
        let bad = std::fs::read_to_string(&job)
            .unwrap()
            .replace("'service = \"postgres\"'", "'service =='")
            .replace("2001-01-02T00:00:00Z", "tomorrow");
        std::fs::write(&job, bad).unwrap();
        let o = logtrack("", &["validate", &job]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!o.status.success() && err.contains("silence[0].match"), "{err}");
        assert!(err.contains("silence[1].until: \"tomorrow\" is not an RFC 3339 time"), "{err}");
    }
    let Some(url) = common::fresh_db(&format!("notify_silences_{cluster}"), cluster) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let job = two_services_job(dir.path(), "planned", &hook, planned);
    ok(&logtrack(&url, &["run", &job]));
    assert_eq!(rules_told(&hook), vec!["web_clients", "web_outage"]);
    if let Some(h) = in_memory {
        assert_eq!(held(dir.path()), h, "memory and the database hold back the same");
    }
    // The job file's silences are stored with it, for the listing.
    let o = logtrack(&url, &["silence", "list", "--all"]);
    let list = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(list.contains("job planned") && list.contains("db maintenance"), "{list}");
    assert!(list.contains(" expired "), "{list}");

    // Made at the command line: only the web clients' incidents of one
    // address.
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let job = two_services_job(dir.path(), ADHOC, &hook, "");
    let o = logtrack(
        &url,
        &[
            "silence",
            "add",
            "--match",
            "rule = \"web_clients\" and group.client_ip in 10.0.0.0/30",
            "--for",
            "2h",
            "--comment",
            "load test from 10.0.0.0/30",
            "--author",
            "ops",
        ],
    );
    ok(&o);
    let id: i64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    let err = ok(&logtrack(&url, &["run", &job]));
    assert!(err.contains("alert(s) silenced: not told"), "{err}");
    let covered = |ip: &str| ["10.0.0.1", "10.0.0.2", "10.0.0.3"].contains(&ip);
    let told = opened(&hook);
    assert!(told.iter().any(|(r, _)| r == "db_clients"), "{told:?}");
    assert!(told.iter().any(|(r, ip)| r == "web_clients" && !covered(ip)), "{told:?}");
    assert!(!told.iter().any(|(r, ip)| r == "web_clients" && covered(ip)), "{told:?}");
    let silenced = format!(
        "SELECT count(*) FROM incidents WHERE job = 'adhoc' AND silenced_by = {id} AND held
           AND rule_id = 'web_clients' AND group_key->>'client_ip' IN ('10.0.0.1', '10.0.0.2', '10.0.0.3')"
    );
    let held_back = count(&url, &silenced);
    assert!(held_back > 0, "stored, marked silenced");
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM incidents WHERE job = 'adhoc' AND silenced_by IS NOT NULL"
        ),
        held_back
    );
    let o = logtrack(&url, &["silence", "list"]);
    let list = String::from_utf8_lossy(&o.stdout).to_string();
    let line = list.lines().find(|l| l.starts_with(&format!("{id} "))).unwrap_or_default();
    assert!(
        line.contains("active") && line.contains("ops") && line.contains("load test"),
        "{list}"
    );
    assert!(line.contains(&format!(" {held_back} ")), "covers the held incidents: {list}");
    // Ended while its incidents are open: told on the next run, once.
    let before = hook.accepted().len();
    ok(&logtrack(&url, &["silence", "expire", &id.to_string(), "--author", "ops"]));
    ok(&logtrack(&url, &["run", &job]));
    let told = opened(&hook);
    assert!(told.iter().any(|(r, ip)| r == "web_clients" && covered(ip)), "{told:?}");
    let now_told = hook.accepted().len() - before;
    assert_eq!(now_told as i64, held_back, "each held incident told once");
    ok(&logtrack(&url, &["run", &job]));
    assert_eq!(hook.accepted().len() - before, now_told, "and only once");
    assert_eq!(count(&url, "SELECT count(*) FROM incidents WHERE job = 'adhoc' AND held"), 0);
    // Silenced again, the outage ends: what was told is told resolved (a
    // paging service closes it); nothing else is told.
    let o = logtrack(
        &url,
        &["silence", "add", "--match", "job = \"adhoc\"", "--for", "1h", "--comment", "all"],
    );
    ok(&o);
    let before = hook.accepted().len();
    append(&dir.path().join("access.log"), &lines(20, 40));
    append(&dir.path().join("db.log"), &lines(20, 40));
    ok(&logtrack(&url, &["run", &job]));
    let after: Vec<String> = hook.accepted()[before..]
        .iter()
        .map(|d| d.body["event"].as_str().unwrap().to_string())
        .collect();
    assert!(!after.is_empty() && after.iter().all(|e| e == "resolved"), "{after:?}");
    assert_eq!(
        after.len() as i64,
        count(&url, "SELECT count(*) FROM incidents WHERE job = 'adhoc' AND state = 'resolved'")
    );
    // Expired twice, or a job file's: said.
    let o = logtrack(&url, &["silence", "expire", &id.to_string()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("had ended already"));
    let o = logtrack(&url, &["silence", "expire", "999999"]);
    assert_eq!(o.status.code(), Some(2));
    // A matcher that does not parse is refused before anything is stored.
    let o =
        logtrack(&url, &["silence", "add", "--match", "rule ==", "--for", "1h", "--comment", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the matcher does not parse"));
    for bad in [
        ["--until", "0000-01-01T00:00:00Z"],
        ["--until", "2001-01-01T00:00:00Z"],
        ["--starts", "tomorrow"],
    ] {
        let o = logtrack(
            &url,
            &[
                "silence",
                "add",
                "--match",
                "rule = \"x\"",
                "--for",
                "1h",
                "--comment",
                "x",
                bad[0],
                bad[1],
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
}

on_both!(
    silences_hold_back_what_they_match,
    silences_hold_back_what_they_match_on_a_cluster,
    silences_hold_back_what_they_match_in
);

/// The quickstart's `[[inhibit]]` (web_down over web_volume, equal
/// service): the web server is silent for twelve minutes, then comes back
/// with a burst of retries. The burst is the same outage (web_down's
/// incident is open until `resolve_after` past the silence) and is not
/// told; the same burst on another service is. Memory and the database
/// agree.
fn the_quickstarts_outage_inhibits_its_burst_in(cluster: bool) {
    let make = |dir: &Path, hook: &HttpReceiver| -> String {
        for (file, silent) in [("apache.log", true), ("api.log", false)] {
            let mut text = String::new();
            for m in 0..50u32 {
                let n = match m {
                    30..=41 if silent => 0,
                    43 => 200,
                    _ => 8 + (m % 3) * 2,
                };
                for i in 0..n {
                    let s = i * 60 / n;
                    text.push_str(&format!(
                        "10.0.0.{} - - [14/Mar/2026:10:{m:02}:{s:02} +0000] \"GET / HTTP/1.1\" 200 12 \"-\" \"curl/8\"\n",
                        i % 5 + 1
                    ));
                }
            }
            std::fs::write(dir.join(file), text).unwrap();
            common::rest(&dir.join(file));
        }
        let quickstart = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/quickstart.toml"),
        )
        .unwrap();
        let inhibit = &quickstart
            [quickstart.find("[[inhibit]]").unwrap()..quickstart.find("[report]").unwrap()];
        let text = format!(
            "name = \"burst\"\n\
             [[sources]]\npath = \"{a}\"\nformat = \"combined\"\nservice = \"apache\"\n\n\
             [[sources]]\npath = \"{b}\"\nformat = \"combined\"\nservice = \"api\"\n\n\
             [[rules]]\nid = \"web_volume\"\ntype = \"zscore_anomaly\"\ngroup_by = [\"service\"]\nwindow = \"1m\"\nbaseline_windows = 15\nthreshold = 4\nseverity = \"low\"\n\n\
             [[rules]]\nid = \"web_down\"\ntype = \"inactivity\"\ngroup_by = [\"service\"]\nmax_idle = \"10m\"\nseverity = \"high\"\n\n\
             {inhibit}\n{hook}\n[report]\ndir = \"{reports}\"\nformats = [\"json\"]\n",
            a = dir.join("apache.log").display(),
            b = dir.join("api.log").display(),
            hook = webhook(&hook.url, ""),
            reports = dir.join("reports").display(),
        );
        let path = dir.join("job.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let told = |hook: &HttpReceiver| -> Vec<String> {
        let mut v: Vec<String> = hook
            .accepted()
            .iter()
            .filter(|d| d.body["event"] == "open")
            .map(|d| {
                format!(
                    "{} {}",
                    d.body["rule_id"].as_str().unwrap(),
                    d.body["group"]["service"].as_str().unwrap_or("")
                )
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let expected = vec!["web_down apache".to_string(), "web_volume api".to_string()];
    let mut in_memory = None;
    if !cluster {
        let dir = tempfile::tempdir().unwrap();
        let hook = HttpReceiver::start(vec![]);
        let job = make(dir.path(), &hook);
        ok(&logtrack("", &["run", &job, "--no-db", "--now", "2026-03-14T10:50:00Z"]));
        assert_eq!(told(&hook), expected);
        let h = held(dir.path());
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(
            h[0].contains("\"rule_id\":\"web_volume\"") && h[0].contains("\"service\":\"apache\""),
            "{h:?}"
        );
        assert!(
            h[0].contains(r#""inhibited_by":{"group":{"service":"apache"},"rule_id":"web_down"}"#),
            "{h:?}"
        );
        in_memory = Some(h);
    }
    let Some(url) = common::fresh_db(&format!("notify_burst_{cluster}"), cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::start(vec![]);
    let job = make(dir.path(), &hook);
    ok(&logtrack(&url, &["run", &job, "--now", "2026-03-14T10:50:00Z"]));
    assert_eq!(told(&hook), expected);
    if let Some(h) = in_memory {
        assert_eq!(held(dir.path()), h);
    }
    let inhibited = "SELECT count(*) FROM incidents i JOIN incidents s ON s.job = i.job AND s.id = i.inhibited_by
                     WHERE i.rule_id = 'web_volume' AND i.group_key->>'service' = 'apache' AND s.rule_id = 'web_down'";
    assert_eq!(count(&url, inhibited), 1);
}

on_both!(
    the_quickstarts_outage_inhibits_its_burst,
    the_quickstarts_outage_inhibits_its_burst_on_a_cluster,
    the_quickstarts_outage_inhibits_its_burst_in
);
