//! `new_template` and `new_value`: what is new, in memory and across runs
//! with a database, found once.

mod common;

use common::pg::{count, logtrack, ok};
use serde_json::Value;
use std::path::Path;

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn alerts_of<'a>(r: &'a Value, rule: &str) -> Vec<&'a Value> {
    r["alerts"].as_array().unwrap().iter().filter(|a| a["rule_id"] == rule).collect()
}

/// The quickstart job with its paths pointed at the samples.
fn quickstart(dir: &Path) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let job = std::fs::read_to_string("jobs/quickstart.toml")
        .unwrap()
        .replace("path = \"../samples/", &format!("path = \"{root}/samples/"));
    let path = dir.join("quickstart.toml");
    std::fs::write(&path, job).unwrap();
    path.to_str().unwrap().to_string()
}

fn run(url: &str, job: &str, out: &Path, extra: &[&str]) -> (Value, String) {
    let mut args = vec!["run", job, "--report-dir", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let err = ok(&logtrack(url, &args));
    (report(out), err)
}

/// The three novelties planted in the samples, each found with its lines,
/// in memory and with a database; a second run with the database finds
/// nothing new, and neither does detecting over everything again.
fn quickstart_finds_each_planted_novelty_once_in(cluster: bool) {
    let Some(url) = common::fresh_db("novelty_quickstart", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let job = quickstart(dir.path());
    for (case, extra) in [("memory", vec!["--no-db"]), ("database", vec![])] {
        let (r, _) = run(&url, &job, &dir.path().join(case), &extra);
        let hdfs = alerts_of(&r, "hdfs_new_message");
        assert_eq!(hdfs.len(), 1, "{case}: {hdfs:#?}");
        assert_eq!(
            hdfs[0]["group"]["template"],
            "DataXceiver: java.io.IOException: Connection reset by peer"
        );
        assert_eq!(hdfs[0]["count"], 14);
        assert_eq!(hdfs[0]["evidence"].as_array().unwrap().len(), 14);
        let api = alerts_of(&r, "new_api_call");
        assert_eq!(api.len(), 1, "{case}: {api:#?}");
        assert_eq!(
            api[0]["group"],
            serde_json::json!({"user": "deploy-bot", "message": "CreateAccessKey"})
        );
        assert_eq!(api[0]["window_start"], "2026-03-14T10:56:12Z");
        let web = alerts_of(&r, "web_new_address");
        assert_eq!(web.len(), 1, "{case}: {web:#?}");
        assert_eq!(
            web[0]["group"],
            serde_json::json!({"user": "alice", "client_ip": "203.0.113.99"})
        );
        let line = web[0]["evidence"][0]["text"].as_str().unwrap();
        assert!(line.starts_with("203.0.113.99 - alice "), "{line}");
    }
    let (r, err) = run(&url, &job, &dir.path().join("again"), &[]);
    assert_eq!(r["alerts"].as_array().unwrap().len(), 0, "{err}");
    let o = logtrack(
        &url,
        &["detect", &job, "--report-dir", dir.path().join("detect").to_str().unwrap()],
    );
    let err = ok(&o);
    assert!(err.contains("17 alert(s) (0 new)"), "{err}");
    // The templates were stored with the rows, the values with the alerts.
    assert!(count(&url, "SELECT count(*) FROM templates WHERE service = 'hdfs'") >= 4);
    assert_eq!(
        count(&url, "SELECT sum(count)::bigint FROM templates WHERE service = 'hdfs'"),
        count(&url, "SELECT count(*) FROM logs WHERE service = 'hdfs'")
    );
    // alice from her usual address and from the new one.
    let sql = "SELECT count(*) FROM known_values WHERE rule = 'web_new_address:user,client_ip'";
    assert_eq!(count(&url, sql), 2);
}

on_both!(
    quickstart_finds_each_planted_novelty_once,
    quickstart_finds_each_planted_novelty_once_on_a_cluster,
    quickstart_finds_each_planted_novelty_once_in
);

fn sshd(day: u32, secs: u32, msg: &str) -> String {
    format!(
        "2026-01-{day:02}T{:02}:{:02}:{:02}.000000+00:00 gw sshd[{}]: {msg}\n",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        1000 + secs
    )
}

/// A day of ordinary SSH traffic: alice and bob log in from their usual
/// addresses, the internet knocks.
fn ordinary_day(day: u32) -> String {
    let mut out = String::new();
    for i in 0..40u32 {
        let t = 3600 + i * 600;
        let (user, ip) = if i % 2 == 0 { ("alice", "10.0.0.1") } else { ("bob", "10.0.0.5") };
        out.push_str(&sshd(
            day,
            t,
            &format!("Accepted publickey for {user} from {ip} port {} ssh2", 40000 + i),
        ));
        out.push_str(&sshd(
            day,
            t + 7,
            &format!("Connection closed by 198.51.100.{} port {} [preauth]", i % 50 + 1, 50000 + i),
        ));
    }
    out
}

const JOB: &str = r#"
name = "ssh-news"
now = "end-of-data"

[[sources]]
path = "LOGS/day*.log"
format = "syslog"

[[rules]]
id = "ssh_new_message"
type = "new_template"
service = "sshd"

[[rules]]
id = "ssh_new_source"
type = "new_value"
service = "sshd"
fields = ["user", "fields.client_ip"]
where = 'fields.outcome = "success"'
remember = "30d"

[report]
formats = ["json"]
"#;

/// With a database, each run compares with what the earlier runs loaded:
/// the second day raises only its new message and its new login source;
/// a source not seen for longer than `remember` is new again, and what
/// was forgotten is gone from the table.
fn later_runs_know_what_earlier_runs_saw_in(cluster: bool) {
    let Some(url) = common::fresh_db("novelty_runs", cluster) else { return };
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(&job, JOB.replace("LOGS", logs.to_str().unwrap())).unwrap();
    let job = job.to_str().unwrap();

    let mut day1 = ordinary_day(1);
    day1.push_str(&sshd(
        1,
        30_000,
        "pam_unix(sshd:session): session opened for user alice by (uid=0)",
    ));
    std::fs::write(logs.join("day01.log"), day1).unwrap();
    common::rest(&logs.join("day01.log"));
    let (r, _) = run(&url, job, &dir.path().join("r1"), &[]);
    // Nothing was known: every kind of message and both sources are new.
    assert_eq!(alerts_of(&r, "ssh_new_message").len(), 3);
    assert_eq!(alerts_of(&r, "ssh_new_source").len(), 2);

    let mut day2 = ordinary_day(2);
    day2.push_str(&sshd(2, 50_000, "Accepted publickey for alice from 10.0.0.2 port 41234 ssh2"));
    for i in 0..3 {
        day2.push_str(&sshd(
            2,
            50_100 + i,
            "error: kex_exchange_identification: read: Connection reset by peer",
        ));
    }
    // A known template, with another user: it grows more general, not new.
    day2.push_str(&sshd(
        2,
        50_200,
        "pam_unix(sshd:session): session opened for user carol by (uid=0)",
    ));
    std::fs::write(logs.join("day02.log"), day2).unwrap();
    common::rest(&logs.join("day02.log"));
    let (r, _) = run(&url, job, &dir.path().join("r2"), &[]);
    let keys = common::alert_keys(&dir.path().join("r2"));
    assert_eq!(r["alerts"].as_array().unwrap().len(), 2, "{keys:#?}");
    let t = alerts_of(&r, "ssh_new_message");
    assert_eq!(
        t[0]["group"]["template"],
        "error: kex_exchange_identification: read: Connection reset by peer"
    );
    assert_eq!(t[0]["count"], 3);
    let v = alerts_of(&r, "ssh_new_source");
    assert_eq!(v[0]["group"], serde_json::json!({"user": "alice", "fields.client_ip": "10.0.0.2"}));
    assert_eq!(v[0]["window_start"], "2026-01-02T13:53:20Z");
    assert_eq!(count(&url, "SELECT count(*) FROM known_values"), 3);
    // The stored template took the general text, kept its first sighting
    // and its example (day 1's line), and counts both.
    let general = "FROM templates WHERE template = 'pam_unix(sshd:session): session opened for user <*> by (uid=<*>)'";
    assert_eq!(count(&url, &format!("SELECT count {general}")), 2);
    assert_eq!(
        count(&url, &format!("SELECT example_line {general} AND example_path LIKE '%day01.log'")),
        81
    );
    assert_eq!(
        count(&url, "SELECT count(*) FROM templates WHERE template LIKE '%user alice by%'"),
        0
    );

    // Forty days later alice logs in from 10.0.0.2 again: forgotten, so new.
    std::fs::write(
        logs.join("day41.log"),
        sshd(10, 0, "Accepted publickey for alice from 10.0.0.2 port 41235 ssh2")
            .replace("2026-01-10", "2026-02-11"),
    )
    .unwrap();
    common::rest(&logs.join("day41.log"));
    let (r, _) = run(&url, job, &dir.path().join("r3"), &[]);
    let v = alerts_of(&r, "ssh_new_source");
    assert_eq!(v.len(), 1, "{r:#}");
    assert!(
        v[0]["message"].as_str().unwrap().contains("none in the 30d before"),
        "{}",
        v[0]["message"]
    );
    // alice and bob from their usual addresses were last seen on day 2:
    // forgotten; alice from 10.0.0.2 is remembered from day 41.
    assert_eq!(count(&url, "SELECT count(*) FROM known_values"), 1);
    // Nothing is left for db prune to forget.
    let err = ok(&logtrack(&url, &["db", "prune", "--older-than", "3650d"]));
    assert!(err.contains("0 value(s) new_value rules forgot"), "{err}");
}

on_both!(
    later_runs_know_what_earlier_runs_saw,
    later_runs_know_what_earlier_runs_saw_on_a_cluster,
    later_runs_know_what_earlier_runs_saw_in
);

/// In memory, the first `learn` of the data is what is known; `min_count`,
/// `severity_at_least`, `ignore` and `where` decide what is counted.
#[test]
fn in_memory_the_baseline_is_the_first_learn_of_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let mut text = ordinary_day(1);
    // Later the same day: three new kinds of message, one of them twice.
    text.push_str(&sshd(1, 80_000, "error: maximum authentication attempts exceeded for invalid user root from 192.0.2.7 port 22 ssh2 [preauth]"));
    text.push_str(&sshd(1, 80_100, "error: maximum authentication attempts exceeded for invalid user admin from 192.0.2.8 port 22 ssh2 [preauth]"));
    text.push_str(&sshd(1, 80_200, "Disconnected from user alice 10.0.0.1 port 40002"));
    text.push_str(&sshd(1, 80_300, "fatal: Timeout before authentication for 192.0.2.9 port 4242"));
    text.push_str(&sshd(
        1,
        80_400,
        "Failed password for invalid user pi from 192.0.2.10 port 4243 ssh2",
    ));
    text.push_str(&sshd(
        1,
        80_500,
        "Failed password for invalid user oracle from 192.0.2.10 port 4244 ssh2",
    ));
    std::fs::write(logs.join("day01.log"), text).unwrap();
    common::rest(&logs.join("day01.log"));
    let job = JOB
        .replace("LOGS", logs.to_str().unwrap())
        .replace(
            "type = \"new_template\"\nservice = \"sshd\"",
            "type = \"new_template\"\nservice = \"sshd\"\nlearn = \"12h\"\nmin_count = 2",
        )
        .replace("remember = \"30d\"", "remember = \"30d\"\nlearn = \"12h\"")
        + r#"
[[rules]]
id = "ssh_new_problem"
type = "new_template"
service = "sshd"
learn = "12h"
severity_at_least = "warn"
ignore = ["Failed password for invalid user <*> from <*> port <*> ssh2", "^fatal: "]
"#;
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let out = dir.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args([
            "run",
            dir.path().join("job.toml").to_str().unwrap(),
            "--report-dir",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&out);
    let templates = |rule: &str| -> Vec<String> {
        alerts_of(&r, rule)
            .iter()
            .map(|a| a["group"]["template"].as_str().unwrap().to_string())
            .collect()
    };
    // Seen twice (two user names, one template): those with min_count 2.
    let mut twice = templates("ssh_new_message");
    twice.sort();
    assert_eq!(
        twice,
        [
            "Failed password for invalid user <*> from <*> port <*> ssh2",
            "error: maximum authentication attempts exceeded for invalid user <*> from <*> port <*> ssh2 [preauth]",
        ]
    );
    // Warnings and worse (the disconnection has no severity), without the
    // ignored template.
    assert_eq!(
        templates("ssh_new_problem"),
        ["error: maximum authentication attempts exceeded for invalid user <*> from <*> port <*> ssh2 [preauth]"]
    );
    // The learned day's sources are known; none logs in from elsewhere.
    assert!(alerts_of(&r, "ssh_new_source").is_empty());
}

/// A database the previous release filled: its templates (written by the
/// previous miner, `miner = 1`) are mined again by this one when their
/// service is loaded next. They keep their counts and first sightings, two
/// that are one template now become one row, and `new_template` raises only
/// what the previous miner could not tell apart (a request's method) and the
/// message that is really new.
#[test]
fn templates_stored_by_the_previous_miner_are_mined_again() {
    let url = &db!("novelty_upgrade");
    ok(&logtrack(url, &["db", "init"]));
    // The previous release's schema: without migration 0013.
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute(
        "ALTER TABLE templates DROP COLUMN miner; DELETE FROM schema_migrations WHERE version = 13",
    )
    .unwrap();
    // What the previous release stored for day 1 under its schema (its
    // `logtrack templates` of these messages); `db migrate` upgrades it: one request template for every method, one
    // template of values only, a size in two shapes.
    let old: [(&str, i64); 6] = [
        ("<*> \"<*>\" status: <*> len: <*> time: <*>", 2),
        ("Invalid user <*> from <*>", 2),
        ("<*> close, <*> bytes (<*> KB) sent, <*> bytes received, lifetime <<*> sec", 1),
        ("<*> close, <*> bytes sent, <*> bytes received, lifetime <*>", 1),
        ("Took <*> seconds to spawn the instance on the hypervisor.", 1),
        ("<*>", 1),
    ];
    for (text, n) in old {
        c.execute(
            "INSERT INTO templates (service, template_id, template, first_seen, last_seen, count)
             VALUES ('nova', $1, $2, '2026-01-01T10:00:00Z', '2026-01-01T10:00:07Z', $3)",
            &[&logtrack::template::template_id(text), &text, &n],
        )
        .unwrap();
    }
    drop(c);
    let err = ok(&logtrack(url, &["db", "migrate"]));
    assert!(err.contains("applied migration 0013_template_miner"), "{err}");
    assert_eq!(count(url, "SELECT count(*) FROM templates WHERE miner = 1"), 6);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("day02.log");
    let line = |s: u32, m: &str| format!("2026-01-02T10:00:{s:02}+00:00 h nova[10]: {m}\n");
    let day2 = [
        line(0, "10.11.10.1 \"GET /v2/servers/detail HTTP/1.1\" status: 200 len: 1893 time: 0.2477829"),
        line(1, "10.11.10.1 \"POST /v2/os-server-external-events HTTP/1.1\" status: 200 len: 380 time: 0.0913219"),
        line(2, "Invalid user oracle from 192.0.2.4"),
        line(3, "proxy.example.com:5070 close, 0 bytes (0.0 KB) sent, 12 bytes received, lifetime <1 sec"),
        line(4, "proxy.example.com:5070 close, 9 bytes sent, 0 bytes received, lifetime 00:02"),
        line(5, "Took 11.5 seconds to spawn the instance on the hypervisor."),
        line(6, "Instance destroyed successfully."),
    ]
    .concat();
    std::fs::write(&log, day2).unwrap();
    common::rest(&log);
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"upgrade\"\nnow = \"end-of-data\"\n[[sources]]\npath = \"{}\"\nformat = \"syslog\"\n\
             [[rules]]\nid = \"new_message\"\ntype = \"new_template\"\n[report]\nformats = [\"json\"]\n",
            log.display()
        ),
    )
    .unwrap();
    let (r, err) = run(url, job.to_str().unwrap(), &dir.path().join("r"), &[]);
    let mut new: Vec<String> = alerts_of(&r, "new_message")
        .iter()
        .map(|a| a["group"]["template"].as_str().unwrap().to_string())
        .collect();
    new.sort();
    assert_eq!(
        new,
        [
            "<*> \"GET <*>\" status: <*> len: <*> time: <*>",
            "<*> \"POST <*>\" status: <*> len: <*> time: <*>",
            "Instance destroyed successfully.",
        ],
        "{err}"
    );
    // Every row is this miner's; the two shapes of a size are one row that
    // counts both days, first seen on day 1.
    assert_eq!(count(url, "SELECT count(*) FROM templates WHERE miner < 2"), 0);
    let size = "FROM templates WHERE template = '<*> close, <*> bytes sent, <*> bytes received, lifetime <*>'";
    assert_eq!(count(url, &format!("SELECT count {size}")), 1 + 1 + 2);
    assert_eq!(
        count(url, &format!("SELECT extract(epoch FROM first_seen)::bigint {size}")),
        1_767_261_600
    );
    assert_eq!(count(url, "SELECT count(*) FROM templates WHERE template LIKE '%(<*> KB)%'"), 0);
    let users = "SELECT count FROM templates WHERE template = 'Invalid user <*> from <*>'";
    assert_eq!(count(url, users), 3);
    // A second run finds nothing new.
    let (r, _) = run(url, job.to_str().unwrap(), &dir.path().join("r2"), &[]);
    assert!(alerts_of(&r, "new_message").is_empty());
}
