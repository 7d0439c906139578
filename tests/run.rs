//! `logtrack run` end to end, in memory, on the repository's samples.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn logtrack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logtrack")).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn alert_ids(r: &serde_json::Value) -> Vec<String> {
    r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn quickstart_raises_the_planted_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let o =
        logtrack(&["run", "jobs/quickstart.toml", "--report-dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(dir.path());
    common::insta_settings().bind(|| {
        insta::assert_json_snapshot!("quickstart@report", r, {
            ".started_at" => "[run start]",
            ".finished_at" => "[run end]",
            ".duration_ms" => "[duration]",
        });
    });
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("| critical | admin\\_bruteforce | user=admin |"), "{md}");
    assert!(stderr(&o).contains("quickstart: 5 file(s), 1863 records, 0 rejected, 17 alert(s)"));
}

/// The README's table of the quickstart's alerts is what the quickstart
/// prints: the same number, rules, severities and start times, in order.
#[test]
fn the_readme_lists_the_alerts_the_quickstart_prints() {
    let dir = tempfile::tempdir().unwrap();
    let o =
        logtrack(&["run", "jobs/quickstart.toml", "--report-dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // `  HIGH     web_5xx_spike [service=apache] 2026-03-14T10:12:00Z .. …`
    let printed: Vec<(String, String, String)> = stderr(&o)
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = l.find("2026-03-14T").expect("a window start") + "2026-03-14T".len();
            (l[at..at + 5].to_string(), words[1].to_string(), words[0].to_lowercase())
        })
        .collect();
    let readme = std::fs::read_to_string("README.md").unwrap();
    let table = readme
        .split("<!-- The quickstart's alerts:")
        .nth(1)
        .expect("the README marks the quickstart's table");
    let listed: Vec<(String, String, String)> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[2].to_string(), cells[3].trim_matches('`').to_string(), cells[4].to_string())
        })
        .collect();
    assert_eq!(listed, printed);
    let count = format!("prints the {} alerts planted", printed.len());
    assert!(readme.contains(&count), "the README should say it {count}");
}

#[test]
fn counts_spilled_to_disk_or_kept_when_spilling_fails_give_the_same_alerts() {
    let run = |env: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
            .args(["run", "jobs/quickstart.toml", "--report-dir", dir.path().to_str().unwrap()])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        report(dir.path())["alerts"].clone()
    };
    let all_in_memory = run(&[]);
    assert_eq!(all_in_memory.as_array().unwrap().len(), 17);
    // A budget of 2,000 bytes: every rule spills many runs.
    assert_eq!(run(&[("LOGTRACK_SPILL_BYTES", "2000")]), all_in_memory);
    // No temporary directory: the first spill fails and counting goes on in memory.
    let missing = [("LOGTRACK_SPILL_BYTES", "2000"), ("TMPDIR", "/nonexistent/logtrack-tmp")];
    assert_eq!(run(&missing), all_in_memory);
}

#[test]
fn fail_on_sets_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = logtrack(&[
        "run",
        "jobs/quickstart.toml",
        "--report-dir",
        d,
        "--fail-on",
        "critical",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1));
    // -q prints the alerts (what a quiet cron job mails) and nothing else.
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 17, "{err}");
    assert!(err.lines().all(|l| l.contains(" .. ")), "{err}");
    // Without -q, a line says why the exit code is 1.
    let o = logtrack(&["run", "jobs/quickstart.toml", "--report-dir", d, "--fail-on", "high"]);
    assert_eq!(o.status.code(), Some(1));
    let last = stderr(&o).lines().last().unwrap_or("").to_string();
    assert!(
        last.starts_with("exit 1: ")
            && last.ends_with(" alert(s) at or above high (--fail-on high)"),
        "{last}"
    );
    let o = logtrack(&["run", "jobs/legacy.toml", "--report-dir", d, "--fail-on", "bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--fail-on: unknown severity \"bogus\""), "{}", stderr(&o));
}

/// A job's sample paths made absolute: a job file's relative paths are
/// its own directory's, and these jobs are written to temporary ones.
fn absolute(body: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    body.replace("path = \"../samples/", &format!("path = \"{root}/samples/"))
        .replace("path = \"samples/", &format!("path = \"{root}/samples/"))
}

fn write_job(dir: &Path, body: &str) -> String {
    let p = dir.join("job.toml");
    std::fs::write(&p, absolute(body)).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_bad_source_is_reported_and_the_rest_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(
        dir.path(),
        r#"
        now = "end-of-data"
        [[sources]]
        path = "samples/web/nothing-here-*.log"
        [[sources]]
        path = "samples/web/access.log"
        format = "combined"
        [[sources]]
        path = "samples/hdfs/hdfs.log"
        format = "combined"
        [[rules]]
        id = "scanner"
        type = "rate_spike"
        group_by = ["client_ip"]
        threshold = 60
        window = "1m"
        "#,
    );
    let o = logtrack(&["run", &job, "--report-dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "an unreadable source fails the run");
    let err = stderr(&o);
    assert!(
        err.contains("sources[0]: /")
            && err.contains("/samples/web/nothing-here-*.log: no file matches"),
        "{err}"
    );
    assert!(err.contains("samples/hdfs/hdfs.log: 298 of 298 lines rejected (more than max_reject_ratio 0.5): is format \"combined\" right for this file?"), "{err}");
    let r = report(dir.path());
    assert_eq!(alert_ids(&r), ["scanner"]);
    assert_eq!(r["problems"].as_array().unwrap().len(), 2);
    assert_eq!(r["rejects"].as_array().unwrap().len(), 100, "the first 100 rejects are listed");
    assert_eq!(r["totals"]["rejected"], 298);
}

#[test]
fn out_of_order_and_split_input_gives_the_same_alerts() {
    // The web log shuffled and split over two files, one gzipped.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("samples/web/access.log").unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    for i in 0..n {
        lines.swap(i, (i * 7919 + 13) % n);
    }
    let (a, b) = lines.split_at(n / 2);
    std::fs::write(dir.path().join("access.log"), a.join("\n") + "\n").unwrap();
    let gz = std::fs::File::create(dir.path().join("access.log.1.gz")).unwrap();
    let mut e = flate2::write::GzEncoder::new(gz, Default::default());
    std::io::Write::write_all(&mut e, (b.join("\n") + "\n").as_bytes()).unwrap();
    e.finish().unwrap();
    let job = std::fs::read_to_string("jobs/quickstart.toml")
        .unwrap()
        .replace("../samples/web/access.log*", &format!("{}/access.log*", dir.path().display()));
    let job = write_job(dir.path(), &job);
    let shuffled = dir.path().join("shuffled");
    let sorted = dir.path().join("sorted");
    assert_eq!(
        logtrack(&["run", &job, "--report-dir", shuffled.to_str().unwrap()]).status.code(),
        Some(0)
    );
    assert_eq!(
        logtrack(&["run", "jobs/quickstart.toml", "--report-dir", sorted.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(common::alert_keys(&shuffled), common::alert_keys(&sorted));
}

#[test]
fn an_unreachable_database_fails_clearly_and_no_db_runs_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), "[database]\nurl = \"postgres://lt:hunter2@127.0.0.1:1/lt\"\n");
    let o = logtrack(&["run", &job, "--report-dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("cannot connect to postgres://lt:***@127.0.0.1:1/lt"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let o = logtrack(&["run", &job, "--no-db", "--report-dir", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn inactivity_uses_the_wall_clock_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(
        dir.path(),
        "[[sources]]\npath = \"samples/hdfs/hdfs.log\"\nformat = \"hdfs\"\n[[rules]]\nid = \"idle\"\ntype = \"inactivity\"\nmax_idle = \"1h\"\n",
    );
    let d = dir.path().to_str().unwrap();
    // The samples are from 2026-03-14: by the wall clock hdfs has gone quiet.
    let o = logtrack(&["run", &job, "--report-dir", d]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(alert_ids(&report(dir.path())), ["idle"]);
    let o = logtrack(&["run", &job, "--report-dir", d, "--now", "end-of-data"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(alert_ids(&report(dir.path())).is_empty());
    let o = logtrack(&["run", &job, "--report-dir", d, "--now", "2026-03-14T12:30:00+01:00"]);
    assert_eq!(o.status.code(), Some(0));
    let r = report(dir.path());
    assert_eq!(r["reference_time"], "2026-03-14T11:30:00Z");
    assert!(alert_ids(&r).is_empty(), "30 minutes of silence is under max_idle");
}

#[test]
fn an_unwritable_report_dir_fails_with_the_alerts_on_stdout() {
    let o = logtrack(&["run", "jobs/quickstart.toml", "--report-dir", "/dev/null/reports"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("report dir /dev/null/reports"), "{err}");
    assert!(err.contains("the 17 alert(s) of this run follow on stdout"), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 17, "{out}");
    assert!(out.lines().all(|l| l.contains(" .. ")), "{out}");
}

#[test]
fn a_failing_stderr_does_not_stop_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", "jobs/quickstart.toml", "--report-dir", dir.path().to_str().unwrap()])
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(alert_ids(&report(dir.path())).len(), 17);
}

#[test]
fn report_files_leave_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // Two jobs sharing one report directory at the same moment.
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_logtrack"))
                .args(["run", "jobs/quickstart.toml", "--report-dir", d])
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(0));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["report.html", "report.json", "report.md"]);
    assert_eq!(alert_ids(&report(dir.path())).len(), 17);
}

#[test]
fn a_file_named_by_two_sources_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        absolute(&format!(
            "name = \"twice\"\nnow = \"end-of-data\"\n\
             [[sources]]\npath = \"samples/web/access.log\"\nformat = \"combined\"\n\
             [[sources]]\npath = \"samples/web/*.log\"\nformat = \"combined\"\n\
             [report]\ndir = \"{}\"\n",
            dir.path().join("r").display()
        )),
    )
    .unwrap();
    let o = logtrack(&["run", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("named again by sources[1]; read once"), "{}", stderr(&o));
    let r = report(&dir.path().join("r"));
    assert_eq!(r["totals"]["records"], 624);
    assert_eq!(r["sources"].as_array().unwrap().len(), 1);
}

#[test]
fn a_time_range_limits_what_is_counted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = logtrack(&[
        "run",
        "jobs/quickstart.toml",
        "--since",
        "2026-03-14T10:30:00Z",
        "--until",
        "2026-03-14T10:45:00Z",
        "--report-dir",
        d,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(dir.path());
    assert_eq!(
        alert_ids(&r),
        ["slow_route", "checkout_failures", "hdfs_repeated_error", "app_errors", "scanner"]
    );
    assert_eq!(r["since"], "2026-03-14T10:30:00Z");
    assert_eq!(r["until"], "2026-03-14T10:45:00Z");
    let sources = r["sources"].as_array().unwrap();
    let inside: u64 = sources.iter().map(|s| s["records"].as_u64().unwrap()).sum();
    let outside: u64 = sources.iter().map(|s| s["outside_range"].as_u64().unwrap()).sum();
    assert_eq!((inside, inside + outside), (607, 1863));
    assert_eq!(r["totals"]["records"], 607);
    // Volume is charted for the range only.
    let bins: u64 = r["overview"]["volume"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|v| v.as_array().unwrap().iter().map(|n| n.as_u64().unwrap()))
        .sum();
    assert_eq!(bins, 607);

    // The job file may set it; a bad value names its key.
    let job = dir.path().join("job.toml");
    let text = std::fs::read_to_string("jobs/quickstart.toml").unwrap();
    std::fs::write(&job, format!("since = \"yesterday\"\n{text}")).unwrap();
    let o = logtrack(&["validate", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("since: \"yesterday\" is not an RFC 3339 time or a duration"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn quickstart_markdown_and_junit_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let junit = dir.path().join("junit.xml");
    let o = logtrack(&[
        "run",
        "jobs/quickstart.toml",
        "--report-dir",
        d,
        "--fail-on",
        "high",
        "--junit",
        junit.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let md: String = md
        .lines()
        .map(|l| {
            if l.starts_with("Run ") {
                "Run [run start] → [run end], reference time 2026-03-14T10:59:57Z."
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let xml = std::fs::read_to_string(&junit).unwrap();
    // Volatile attributes: the run's duration and start.
    let mut stable = String::new();
    for part in xml.split('"').collect::<Vec<_>>().chunks(2) {
        stable.push_str(part[0]);
        if let Some(v) = part.get(1) {
            let volatile = part[0].ends_with("time=") || part[0].ends_with("timestamp=");
            stable.push('"');
            stable.push_str(if volatile { "[volatile]" } else { v });
            stable.push('"');
        }
    }
    common::insta_settings().bind(|| {
        insta::assert_snapshot!("quickstart@report.md", md);
        insta::assert_snapshot!("quickstart@junit.xml", stable);
    });
    assert!(xml.contains(r#"failures="8""#), "{xml}");
}

#[test]
fn anonymized_reports_hold_no_address_or_user_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let junit = dir.path().join("junit.xml");
    let run = |key: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_logtrack"))
            .args(["run", "jobs/quickstart.toml", "--anonymize", "--report-dir", d, "--junit"])
            .arg(&junit)
            .env("LOGTRACK_ANONYMIZE_KEY", key)
            .output()
            .unwrap()
    };
    let o = run("secret-1");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut everything = stderr(&o);
    for f in ["report.json", "report.md", "report.html"] {
        everything.push_str(&std::fs::read_to_string(dir.path().join(f)).unwrap());
    }
    everything.push_str(&std::fs::read_to_string(&junit).unwrap());
    for secret in
        ["192.0.2.200", "203.0.113.66", "198.51.100.13", "ci-runner", "user=admin", "\"admin\""]
    {
        assert!(!everything.contains(secret), "{secret} is in an anonymized report");
    }
    let r = report(dir.path());
    let scanner =
        r["alerts"].as_array().unwrap().iter().find(|a| a["rule_id"] == "scanner").unwrap();
    assert_eq!(scanner["group"]["client_ip"], "192.0.2.0");
    let brute = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule_id"] == "admin_bruteforce")
        .unwrap();
    let hashed = brute["group"]["user"].as_str().unwrap().to_string();
    assert!(hashed.starts_with("user-"), "{hashed}");
    assert!(brute["message"].as_str().unwrap().contains(&hashed));
    assert!(brute["evidence"][0].get("text").is_none());
    // Stable for one key, different for another.
    let user_of_brute = || {
        let r = report(dir.path());
        let a = r["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["rule_id"] == "admin_bruteforce")
            .cloned();
        a.unwrap()["group"]["user"].clone()
    };
    run("secret-1");
    assert_eq!(user_of_brute(), hashed.as_str());
    run("secret-2");
    assert_ne!(user_of_brute(), hashed.as_str());
}

#[test]
fn a_quiet_run_without_alerts_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(
        dir.path(),
        &format!(
            "name = \"calm\"\n[[sources]]\npath = \"samples/web/access.log\"\nformat = \"combined\"\n\
             [[rules]]\nid = \"errors\"\ntype = \"keyword_threshold\"\nkeyword = \"error\"\nthreshold = 100000\nwindow = \"1m\"\n\
             [report]\ndir = {:?}\n",
            dir.path().join("reports").to_str().unwrap()
        ),
    );
    let o = logtrack(&["run", &job, "-q", "--fail-on", "high"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "a cron run with -q and no alert prints nothing");
    assert!(o.stdout.is_empty());
}

#[test]
fn a_ci_audit_over_a_wrongly_formatted_source_fails() {
    let dir = tempfile::tempdir().unwrap();
    // HDFS lines read as an access log: every line is a reject.
    let job = write_job(
        dir.path(),
        &format!(
            "name = \"audit\"\n[[sources]]\npath = \"samples/hdfs/hdfs.log\"\nformat = \"combined\"\n\
             [[rules]]\nid = \"errors\"\ntype = \"keyword_threshold\"\nkeyword = \"error\"\nthreshold = 5\nwindow = \"1m\"\n\
             [report]\ndir = {:?}\n",
            dir.path().join("reports").to_str().unwrap()
        ),
    );
    // Without --fail-on or --strict the run still "works" (exit 0), with a warning.
    let o = logtrack(&["run", &job]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("298 of 298 lines rejected"), "{}", stderr(&o));
    // A CI audit fails, and says why even with -q.
    for flags in [&["--fail-on", "high", "-q"][..], &["--strict", "-q"][..]] {
        let mut args = vec!["run", job.as_str()];
        args.extend_from_slice(flags);
        let o = logtrack(&args);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("logtrack: error:") && err.contains("298 of 298 lines rejected"),
            "{err}"
        );
        let r = report(&dir.path().join("reports"));
        assert_eq!(r["exit_code"], 2);
    }
}

#[test]
fn json_messages_have_a_time_a_level_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = logtrack(&["run", "jobs/quickstart.toml", "--report-dir", d, "--log-format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<serde_json::Value> =
        stderr(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines
        .iter()
        .all(|l| l["ts"].as_str().is_some_and(|t| t.ends_with('Z')) && l["level"].is_string()));
    let alert = lines.iter().find(|l| l["level"] == "alert").unwrap();
    assert_eq!(alert["rule"], "web_5xx_spike");
    assert_eq!(alert["count"], 24);
    // A fatal error too.
    let o = logtrack(&["run", "no-such-job.toml", "--log-format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let line: serde_json::Value = serde_json::from_str(stderr(&o).lines().next().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
}

#[test]
fn job_paths_are_the_job_files_and_site_settings_come_from_config() {
    // From another directory (cron starts in $HOME, systemd in /).
    let dir = tempfile::tempdir().unwrap();
    let job = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs/quickstart.toml");
    let reports = dir.path().join("reports");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .current_dir(dir.path())
        .args(["run", job.to_str().unwrap(), "--report-dir", reports.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(report(&reports)["totals"]["records"], 1863);

    // Site settings: --config, else LOGTRACK_CONFIG (here: anonymized reports).
    let site = dir.path().join("site.toml");
    std::fs::write(&site, "anonymize = true\n").unwrap();
    for (flag, env) in [(true, false), (false, true)] {
        let out = dir.path().join(format!("r-{flag}"));
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_logtrack"));
        c.args(["run", "jobs/quickstart.toml", "--report-dir", out.to_str().unwrap(), "-q"]);
        if flag {
            c.arg("--config").arg(&site);
        }
        if env {
            c.env("LOGTRACK_CONFIG", &site);
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let r = report(&out);
        let scanner =
            r["alerts"].as_array().unwrap().iter().find(|a| a["rule_id"] == "scanner").unwrap();
        assert_eq!(scanner["group"]["client_ip"], "192.0.2.0", "the site's anonymize applies");
    }
    let o = logtrack(&["run", "jobs/quickstart.toml", "--config", "/nonexistent/site.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/site.toml: no such site settings file"),
        "{}",
        stderr(&o)
    );
}

/// `jobs/ssh-bruteforce.toml` over an auth.log in the classic format (no
/// year: placed by the file's modification time) with a planted guessing
/// burst among ordinary logins: one alert, the attacker's address as the
/// group, the failing lines as evidence.
#[test]
fn ssh_bruteforce_job_finds_planted_guessing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let mut text = String::new();
    for i in 0..30 {
        let (m, s) = (i / 6, i % 6 * 10);
        text.push_str(&format!(
            "Mar  3 09:{m:02}:{s:02} host sshd[{}]: Accepted publickey for alice from 10.0.0.{} port 5{i:04} ssh2\n",
            100 + i,
            i % 5 + 1
        ));
    }
    // Stray failures from many addresses: never ten from one.
    for i in 0..20 {
        text.push_str(&format!(
            "Mar  3 10:{i:02}:00 host sshd[{}]: Invalid user pi from 198.51.100.{} port 22\n",
            300 + i,
            i + 1
        ));
    }
    // The burst: 12 failures in 55 seconds from one address (IPv4-mapped
    // on some lines, as dual-stack servers log it).
    let mut lines = Vec::new();
    for i in 0..12 {
        let addr = if i % 2 == 0 { "203.0.113.9" } else { "::ffff:203.0.113.9" };
        text.push_str(&format!(
            "Mar  3 11:00:{:02} host sshd[{}]: Failed password for invalid user u{i} from {addr} port {} ssh2\n",
            i * 5,
            500 + i,
            40000 + i
        ));
        lines.push(50 + i + 1);
    }
    std::fs::write(&log, &text).unwrap();
    let job = std::fs::read_to_string("jobs/ssh-bruteforce.toml")
        .unwrap()
        .replace("/var/log/auth.log*", log.to_str().unwrap());
    let job_path = dir.path().join("ssh.toml");
    std::fs::write(&job_path, job).unwrap();
    let out = dir.path().join("out");
    let o = logtrack(&[
        "run",
        job_path.to_str().unwrap(),
        "--report-dir",
        out.to_str().unwrap(),
        "--now",
        "end-of-data",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    let alerts = r["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["rule_id"], "ssh_guessing_per_address");
    assert_eq!(a["group"], serde_json::json!({ "fields.client_ip": "203.0.113.9" }));
    assert_eq!(a["count"], 12);
    let evidence: Vec<u64> =
        a["evidence"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(evidence, lines);
}

/// An error burst in a JSON-lines application log is found by a severity
/// keyword rule; a rule on a field reads the flattened keys.
#[test]
fn json_app_log_error_burst() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.jsonl");
    let mut text = String::new();
    for i in 0..120 {
        text.push_str(&format!(
            "{{\"level\":\"info\",\"ts\":{}.5,\"logger\":\"api\",\"msg\":\"ok\",\"req\":{{\"route\":\"/a\"}}}}\n",
            1_767_225_600 + i * 10
        ));
    }
    for i in 0..8 {
        text.push_str(&format!(
            "{{\"level\":\"error\",\"ts\":{},\"logger\":\"api\",\"msg\":\"db down\",\"req\":{{\"route\":\"/pay\"}}}}\n",
            1_767_226_000 + i * 3
        ));
    }
    std::fs::write(&log, text).unwrap();
    let job = format!(
        "name = \"app\"\nnow = \"end-of-data\"\n[[sources]]\npath = {:?}\nformat = \"auto\"\n\n\
         [[rules]]\nid = \"errors\"\ntype = \"keyword_threshold\"\nservice = \"api\"\nkeyword = \"error\"\nthreshold = 5\nwindow = \"1m\"\n\n\
         [[rules]]\nid = \"pay_route\"\ntype = \"rate_spike\"\ngroup_by = [\"fields.req.route\"]\nthreshold = 8\nwindow = \"1m\"\n",
        log.to_str().unwrap()
    );
    let job_path = write_job(dir.path(), &job);
    let out = dir.path().join("out");
    let o = logtrack(&["run", &job_path, "--report-dir", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["sources"][0]["format"], "json");
    let alerts = r["alerts"].as_array().unwrap();
    let keys: Vec<String> =
        alerts.iter().map(|a| format!("{} {} {}", a["rule_id"], a["group"], a["count"])).collect();
    assert_eq!(
        keys,
        [r#""errors" {"service":"api"} 8"#, r#""pay_route" {"fields.req.route":"/pay"} 8"#],
        "{alerts:#?}"
    );
}

/// Syslog lines without a year read from stdin are placed at or before the
/// run's reference time (`--now`), so a replay of last December's log in
/// January lands in December.
#[test]
fn stdin_lines_without_a_year_take_the_reference_year() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "name = \"stdin\"\n[[sources]]\npath = \"-\"\nformat = \"syslog\"\n\n[[rules]]\nid = \"any\"\ntype = \"rate_spike\"\nthreshold = 2\nwindow = \"1m\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args([
            "run",
            job.to_str().unwrap(),
            "--now",
            "2025-01-02T00:00:00Z",
            "--report-dir",
            out.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Dec 31 23:59:58 h app[1]: one\nJan  1 00:00:02 h app[1]: two\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&out);
    assert_eq!(r["alerts"][0]["window_start"], "2024-12-31T23:59:58Z");
    assert_eq!(r["alerts"][0]["window_end"], "2025-01-01T00:00:02Z");
}
