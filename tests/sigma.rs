//! `logtrack sigma check` over SigmaHQ's rules for CloudTrail, web servers
//! and Linux (a copy in `samples/sigma`, with its licence): every file
//! reads as a rule; those LogTrack cannot run as written are named, with
//! the reason; a job's sources are matched to each rule's logsource.

mod common;

use common::pg::logtrack;

fn check(args: &[&str]) -> (i32, String, String) {
    let o = logtrack("", args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn sigmahq_rules_load_and_the_unsupported_say_why() {
    let (code, out, err) = check(&["sigma", "check", "samples/sigma"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("168 rule file(s): 165 loaded, 3 unsupported, 0 not rules"), "{err}");
    // Every unsupported rule reads a field no record holds (`cs-host` and
    // `cs-content-type` are not in access logs; CloudTrail has no
    // `status`); none is silently dropped.
    let unsupported: Vec<&str> = out.lines().filter(|l| l.starts_with("unsupported")).collect();
    assert_eq!(unsupported.len(), 3);
    for l in &unsupported {
        assert!(l.contains("records have no field"), "{l}");
    }
    // The CloudTrail parser keeps what rules read inside the event.
    let mfa = out
        .lines()
        .find(|l| l.contains("aws_cloudtrail_console_login_success_without_mfa.yml"))
        .unwrap();
    assert!(mfa.starts_with("loaded") && mfa.contains("additionalEventData.MFAUsed"), "{mfa}");
    let web = out
        .lines()
        .find(|l| l.contains("web_sql_injection_in_access_logs.yml"))
        .expect("the SQL injection rule");
    assert!(
        web.starts_with("loaded")
            && web.contains("fields: (keywords: the line), cs-method, sc-status"),
        "{web}"
    );
    let trail = out.lines().find(|l| l.contains("aws_cloudtrail_disable_logging.yml")).unwrap();
    assert!(trail.contains("sources: cloudtrail") && trail.contains("eventName"), "{trail}");
    let linux = out.lines().find(|l| l.contains("lnx_shell_susp_rev_shells.yml")).unwrap();
    assert!(
        linux.contains("syslog, journald") && linux.contains("(keywords: the line)"),
        "{linux}"
    );
}

#[test]
fn a_jobs_sources_are_matched_and_broken_files_fail_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "[[sources]]\npath = \"/var/log/nginx/access.log\"\nformat = \"combined\"\n\n\
         [[sources]]\npath = \"/var/log/syslog\"\nformat = \"syslog\"\n\n\
         [[rules]]\nid = \"x\"\ntype = \"keyword_threshold\"\nkeyword = \"x\"\nthreshold = 1\nwindow = \"1m\"\n",
    )
    .unwrap();
    let job = job.display().to_string();
    let (code, out, err) =
        check(&["sigma", "check", "samples/sigma/rules/web/webserver_generic", "--job", &job]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .filter(|l| l.starts_with("loaded"))
            .all(|l| l.contains("sources: /var/log/nginx/access.log ")),
        "{out}"
    );
    let (_, out, _) = check(&["sigma", "check", "samples/sigma/rules/cloud", "--job", &job]);
    assert!(out.contains("sources: none of the job's sources"), "{out}");
    std::fs::write(dir.path().join("broken.yml"), "title: x\nlogsource: {category: webserver}\ndetection:\n  sel: {f|nope: 1}\n  condition: sel\n").unwrap();
    let (code, out, _) = check(&["sigma", "check", &dir.path().display().to_string()]);
    assert_eq!(code, 2);
    assert!(out.contains("broken.yml: detection.sel: f|nope: unknown modifier \"nope\""), "{out}");
}

/// A job over the quickstart's web and CloudTrail samples with SigmaHQ's
/// rules in a folder beside it, plus two broken files.
fn sigma_job(dir: &std::path::Path) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("broken.yml"), "title: x\ndetection: [\n").unwrap();
    std::fs::write(
        rules.join("unknown_modifier.yml"),
        "title: u\nid: u1\nstatus: stable\nlogsource:\n  category: webserver\ndetection:\n  s:\n    cs-method|sounds_like: GET\n  condition: s\n",
    )
    .unwrap();
    std::fs::write(rules.join("notes.txt"), "not a rule").unwrap();
    let job = dir.join("job.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"sigma\"\nnow = \"end-of-data\"\n\
             [[sources]]\npath = \"{root}/samples/web/access.log*\"\nformat = \"combined\"\nservice = \"apache\"\n\n\
             [[sources]]\npath = \"{root}/samples/cloudtrail/*.json\"\nformat = \"cloudtrail\"\n\n\
             [[rules]]\nid = \"sigmahq\"\ntype = \"sigma\"\n\
             path = [\"{root}/samples/sigma/rules\", \"{root}/samples/sigma/rules-emerging-threats\", \"rules\"]\n\
             status = [\"stable\", \"test\", \"experimental\"]\n"
        ),
    )
    .unwrap();
    job.display().to_string()
}

fn report(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// Sigma rules in a job: each matched rule is its own group (`sigma.id`),
/// its count is the records it matched, its severity its level, its
/// message its title and author; the report keeps what the rule's authors
/// say of it; a broken file is named once and the others run; memory and
/// the database give the same alerts.
fn sigma_rules_run_in_a_job_in(cluster: bool) {
    let dir = tempfile::tempdir().unwrap();
    let job = sigma_job(dir.path());
    let mem_dir = dir.path().join("mem");
    let o = logtrack("", &["run", &job, "--report-dir", mem_dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(0), "{err}");
    // One warning per broken file, naming it; the text file is ignored.
    assert_eq!(err.matches("broken.yml").count(), 1, "{err}");
    assert!(err.contains("broken.yml: invalid YAML"), "{err}");
    assert!(err.contains("unknown_modifier.yml") && err.contains("sounds_like"), "{err}");
    assert!(!err.contains("notes.txt"), "{err}");
    let r = report(&mem_dir);
    let alerts = r["alerts"].as_array().unwrap();
    let by_id =
        |id: &str| alerts.iter().filter(|a| a["group"]["sigma.id"] == id).collect::<Vec<_>>();
    // The scanner's 150 zgrab requests (user agent `Mozilla/5.0 zgrab/0.x`):
    // counted once each, by a grep of the file, not by LogTrack.
    let root = env!("CARGO_MANIFEST_DIR");
    let zgrab = std::fs::read_to_string(format!("{root}/samples/web/access.log"))
        .unwrap()
        .lines()
        .filter(|l| l.ends_with("\"Mozilla/5.0 zgrab/0.x\""))
        .count();
    assert_eq!(zgrab, 150);
    let recon = by_id("19aa4f58-94ca-45ff-bc34-92e533c0994a");
    assert_eq!(recon.iter().map(|a| a["count"].as_u64().unwrap()).sum::<u64>(), zgrab as u64);
    assert_eq!(recon[0]["rule_id"], "sigmahq");
    assert_eq!(recon[0]["type"], "sigma");
    assert_eq!(recon[0]["severity"], "medium");
    let m = recon[0]["message"].as_str().unwrap();
    assert!(m.contains("Suspicious User-Agents Related To Recon Tools"), "{m}");
    assert!(m.contains("author: Nasreddine Bencherchali"), "{m}");
    // The IAM user's key made by another user (SigmaHQ's "AWS IAM Backdoor
    // Users Keys"), once.
    let keys = by_id("0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["count"], 1);
    // "AWS STS AssumeRole Misuse" (level low) reads the session issuer's
    // type, which the CloudTrail parser keeps: the CI role's calls, counted
    // here from the file.
    let trail: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{root}/samples/cloudtrail/111122223333_CloudTrail_eu-west-1_20260314T1000Z.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let roles = trail["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["userIdentity"]["type"] == "AssumedRole"
                && e["userIdentity"]["sessionContext"]["sessionIssuer"]["type"] == "Role"
        })
        .count() as u64;
    assert!(roles > 0);
    let misuse = by_id("905d389b-b853-46d0-9d3d-dea0d3a3cd49");
    assert_eq!(misuse.iter().map(|a| a["count"].as_u64().unwrap()).sum::<u64>(), roles);
    assert_eq!(misuse[0]["severity"], "low");
    // The trail stopped (SigmaHQ's "AWS CloudTrail Important Change"), once.
    let stop = by_id("4db60cc0-36fb-42b7-9b58-a5b53019fb74");
    assert_eq!((stop.len(), &stop[0]["count"]), (1, &serde_json::json!(1)));
    // No rule matched in this hour beyond these (no false positive from
    // the other 160 rules on ordinary traffic).
    let ids: std::collections::BTreeSet<&str> =
        alerts.iter().map(|a| a["group"]["sigma.id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    let about = r["sigma"].as_array().unwrap();
    assert_eq!(about.len(), 5);
    let k = about.iter().find(|s| s["id"] == "0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2").unwrap();
    assert_eq!(k["author"], "faloker");
    assert!(k["references"][0]
        .as_str()
        .unwrap()
        .starts_with("https://github.com/RhinoSecurityLabs"));
    assert!(!k["falsepositives"].as_array().unwrap().is_empty());
    let md = std::fs::read_to_string(mem_dir.join("report.md")).unwrap();
    assert!(md.contains("## Sigma rules that matched") && md.contains("author: faloker"), "{md}");
    // validate counts the rules.
    let v = logtrack("", &["validate", &job]);
    let out = String::from_utf8_lossy(&v.stdout).to_string();
    assert!(
        out.contains("rule sigmahq (sigma: 165 rules and 0 correlations run, from 170 rule files"),
        "{out}"
    );

    // The same with a database.
    let Some(url) = common::fresh_db(&format!("sigma_job_{cluster}"), cluster) else { return };
    let db_dir = dir.path().join("db");
    let o = common::pg::logtrack(&url, &["run", &job, "--report-dir", db_dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(common::alert_keys(&db_dir), common::alert_keys(&mem_dir));
    assert_eq!(report(&db_dir)["sigma"], r["sigma"]);
}

on_both!(
    sigma_rules_run_in_a_job,
    sigma_rules_run_in_a_job_on_a_cluster,
    sigma_rules_run_in_a_job_in
);

/// Sigma correlation rules in one file with the rules they name (as the
/// specification writes them), over an access log written here:
/// `event_count` (six failed sign-ins from one address), `value_count`
/// (404s on five different paths from one address), `temporal_ordered`
/// (failed sign-ins, then the admin page, from one address within 2
/// minutes; the reverse order and a longer gap do not count; the admin
/// pages are the job's `placeholders`, through `expand`). The named
/// rules alert alone only where a correlation says `generate: true`; a
/// correlation with an upper bound and one naming no rule are refused,
/// each named. Memory and the database give the same alerts.
fn sigma_correlations_run_in_a_job_in(cluster: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    let mut line = |ip: &str, sec: u32, path: &str, status: u16| {
        log.push_str(&format!(
            "{ip} - - [07/Dec/2026:10:{:02}:{:02} +0000] \"GET {path} HTTP/1.1\" {status} 12 \"-\" \"curl/8\"\n",
            sec / 60,
            sec % 60
        ));
    };
    for i in 0..6 {
        line("10.0.0.1", i * 5, "/login", 401);
    }
    line("10.0.0.1", 60, "/admin", 200);
    for i in 0..3 {
        line("10.0.0.2", 300 + i, "/login", 401);
    }
    line("10.0.0.2", 600, "/admin", 200);
    line("10.0.0.3", 1200, "/admin", 200);
    line("10.0.0.3", 1230, "/login", 401);
    for i in 0..5 {
        line("10.0.0.4", 1800 + i * 10, &format!("/p{i}?x=1"), 404);
    }
    for i in 0..10 {
        line("10.0.0.5", 1800 + i, "/same", 404);
    }
    // Sorted by time, as a server writes it.
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort_by_key(|l| &l[l.find('[').unwrap()..]);
    std::fs::write(dir.path().join("access.log"), lines.join("\n") + "\n").unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("web_correlations.yml"),
        "title: Failed sign-in\nname: failed_auth\nid: 11111111-0000-4000-8000-000000000001\n\
         logsource:\n  category: webserver\ndetection:\n  sel:\n    sc-status: 401\n  condition: sel\n\
         ---\n\
         title: Admin page served\nname: admin_ok\nid: 11111111-0000-4000-8000-000000000002\n\
         logsource:\n  category: webserver\ndetection:\n  sel:\n    cs-uri-stem|expand: '%admin_pages%'\n    sc-status: 200\n  condition: sel\n\
         ---\n\
         title: Not found\nname: not_found\nid: 11111111-0000-4000-8000-000000000003\n\
         logsource:\n  category: webserver\ndetection:\n  sel:\n    sc-status: 404\n  condition: sel\n\
         ---\n\
         title: Brute force\nid: 22222222-0000-4000-8000-000000000001\nstatus: test\nlevel: high\nauthor: LogTrack tests\n\
         correlation:\n  type: event_count\n  rules: [failed_auth]\n  group-by: [c-ip]\n  timespan: 1m\n  condition:\n    gte: 5\n\
         ---\n\
         title: Path scan\nid: 22222222-0000-4000-8000-000000000002\nstatus: test\nlevel: medium\n\
         correlation:\n  type: value_count\n  rules: [not_found]\n  group-by: [c-ip]\n  timespan: 1m\n  generate: true\n  condition:\n    field: cs-uri-stem\n    gt: 3\n\
         ---\n\
         title: Sign-in failures then the admin page\nid: 22222222-0000-4000-8000-000000000003\nstatus: test\nlevel: critical\n\
         correlation:\n  type: temporal_ordered\n  rules: [failed_auth, 11111111-0000-4000-8000-000000000002]\n  group-by: [c-ip]\n  timespan: 2m\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("refused.yml"),
        "title: Quiet\nid: 33333333-0000-4000-8000-000000000001\nstatus: test\n\
         correlation:\n  type: event_count\n  rules: [failed_auth]\n  timespan: 1h\n  condition:\n    lt: 2\n\
         ---\n\
         title: Dangling\nid: 33333333-0000-4000-8000-000000000002\nstatus: test\n\
         correlation:\n  type: temporal\n  rules: [failed_auth, no_such_rule]\n  timespan: 1h\n",
    )
    .unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "name = \"correlations\"\nnow = \"end-of-data\"\n\
         [[sources]]\npath = \"access.log\"\nformat = \"combined\"\n\n\
         [[rules]]\nid = \"sigma\"\ntype = \"sigma\"\npath = \"rules\"\n\
         placeholders = { admin_pages = [\"/wp-admin\", \"/admin\"] }\n",
    )
    .unwrap();
    let job = job.display().to_string();
    let mem_dir = dir.path().join("mem");
    let o = logtrack("", &["run", &job, "--report-dir", mem_dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("33333333-0000-4000-8000-000000000001 is not run: correlation.condition: lt"),
        "{err}"
    );
    assert!(err.contains("\"no_such_rule\" names no rule loaded"), "{err}");
    let r = report(&mem_dir);
    let mut got: Vec<String> = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {}..{} {}",
                a["group"]["sigma.id"].as_str().unwrap(),
                a["group"]["c-ip"].as_str().unwrap_or("-"),
                a["severity"].as_str().unwrap(),
                &a["window_start"].as_str().unwrap()[11..19],
                &a["window_end"].as_str().unwrap()[11..19],
                a["count"]
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            // The rule a correlation generates: its 15 records, alone.
            "11111111-0000-4000-8000-000000000003 - low 10:30:00..10:30:40 15",
            "22222222-0000-4000-8000-000000000001 10.0.0.1 high 10:00:00..10:00:25 6",
            "22222222-0000-4000-8000-000000000002 10.0.0.4 medium 10:30:00..10:30:40 5",
            "22222222-0000-4000-8000-000000000003 10.0.0.1 critical 10:00:00..10:01:00 7",
        ],
        "{err}"
    );
    let m = r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["group"]["sigma.id"] == "22222222-0000-4000-8000-000000000002")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(m.contains("Path scan") && m.contains("5 distinct values of cs-uri-stem"), "{m}");
    let about: Vec<&str> =
        r["sigma"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert!(about.contains(&"Brute force") && about.contains(&"Not found"), "{about:?}");
    // `sigma check` lists the correlations and why two are not run.
    let (_, out, _) = check(&["sigma", "check", rules.to_str().unwrap()]);
    assert!(
        out.contains("Brute force  correlation: event_count over failed_auth  group-by: c-ip"),
        "{out}"
    );
    assert!(out.contains("unsupported") && out.contains("no_such_rule"), "{out}");

    let Some(url) = common::fresh_db(&format!("sigma_corr_{cluster}"), cluster) else { return };
    let db_dir = dir.path().join("db");
    let o = common::pg::logtrack(&url, &["run", &job, "--report-dir", db_dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(common::alert_keys(&db_dir), common::alert_keys(&mem_dir));
}

on_both!(
    sigma_correlations_run_in_a_job,
    sigma_correlations_run_in_a_job_on_a_cluster,
    sigma_correlations_run_in_a_job_in
);

#[test]
fn a_sigma_rule_with_bad_keys_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    for (rule, want) in [
        ("type = \"sigma\"\n", "missing key \"path\""),
        ("type = \"sigma\"\npath = \"nowhere/\"\n", "nowhere: no such file, folder or match"),
        ("type = \"sigma\"\npath = \".\"\nstatus = [\"bogus\"]\n", "unknown status \"bogus\""),
        (
            "type = \"sigma\"\npath = \".\"\nlevel_at_least = \"severe\"\n",
            "unknown level \"severe\"",
        ),
        ("type = \"sigma\"\npath = \".\"\ntags = 3\n", "rules[0].tags"),
        ("type = \"sigma\"\npath = \".\"\nplaceholders = 3\n", "rules[0].placeholders"),
        ("type = \"sigma\"\npath = \".\"\nplaceholders = { a = 3 }\n", "rules[0].placeholders.a"),
    ] {
        std::fs::write(
            &job,
            format!("[[sources]]\npath = \"x.log\"\nformat = \"combined\"\n\n[[rules]]\nid = \"s\"\n{rule}"),
        )
        .unwrap();
        let (code, _, err) = check(&["validate", job.to_str().unwrap()]);
        assert_eq!(code, 2, "{rule}: {err}");
        assert!(err.contains(want), "{rule}: {err}");
    }
}

/// pySigma (2.0.1) with its SQLite backend, in a virtual environment under
/// the build's temporary folder, made on first use. `None` when it cannot
/// be made (no Python, no network): the test is skipped, except in CI.
fn pysigma() -> Option<std::path::PathBuf> {
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pysigma-2.0.1");
    let python = venv.join("bin/python");
    let ready = venv.join("ready");
    if ready.exists() {
        return Some(python);
    }
    let run = |cmd: &mut std::process::Command| {
        cmd.output().map_err(|e| e.to_string()).and_then(|o| {
            if o.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&o.stderr).into_owned())
            }
        })
    };
    let made = run(std::process::Command::new("python3").arg("-m").arg("venv").arg(&venv))
        .and_then(|()| {
            run(std::process::Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "-q",
                "pysigma==2.0.1",
                "pysigma-backend-sqlite==2.1.1",
            ]))
        });
    match made {
        Ok(()) => {
            std::fs::write(&ready, "").unwrap();
            Some(python)
        }
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("pySigma is needed in CI but could not be installed: {why}")
        }
        Err(why) => {
            eprintln!("skipped: pySigma could not be installed: {why}");
            None
        }
    }
}

/// Every shared SigmaHQ rule, on events made from its own selections (each
/// must-match event with its case swapped, a field left out, a value
/// altered): LogTrack's engine and pySigma's (rules converted to SQL and
/// run by SQLite) match exactly the same events; every rule has events both
/// match and events neither matches.
#[test]
fn sigmahq_rules_match_as_pysigma_does() {
    let Some(python) = pysigma() else { return };
    let root = env!("CARGO_MANIFEST_DIR");
    let work = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(python)
        .arg(format!("{root}/tests/sigma_oracle.py"))
        .arg(env!("CARGO_BIN_EXE_logtrack"))
        .arg(work.path())
        .arg(format!("{root}/samples/sigma/rules"))
        .arg(format!("{root}/samples/sigma/rules-emerging-threats"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["not_compared"], serde_json::json!([]));
    let rules = r["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 168);
    let mut events = 0;
    for rule in rules {
        let file = rule["file"].as_str().unwrap();
        assert_eq!(rule["disagree"], serde_json::json!([]), "{file}");
        assert!(rule["both_match"].as_u64().unwrap() >= 1, "no event matches {file}");
        assert!(rule["neither"].as_u64().unwrap() >= 1, "no near miss for {file}");
        events += rule["events"].as_u64().unwrap();
    }
    assert!(events > 1500, "{events}");
    // The texts a rule needs, looked for first, never change what matches:
    // the same answers with every rule tried in full.
    let file = work.path().join("events.jsonl");
    let file = file.to_str().unwrap();
    let rules = [
        format!("{root}/samples/sigma/rules"),
        format!("{root}/samples/sigma/rules-emerging-threats"),
    ];
    let run = |extra: &[&str]| {
        let mut args = vec!["-q", "sigma", "match", "--events", file];
        args.extend_from_slice(extra);
        args.extend(rules.iter().map(String::as_str));
        let o = logtrack("", &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let (filtered, full) = (run(&[]), run(&["--no-prefilter"]));
    assert_eq!(filtered.lines().count(), events as usize);
    assert_eq!(filtered, full);
    assert!(filtered.lines().filter(|l| !l.ends_with('\t')).count() > 400);
}
