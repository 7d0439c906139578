//! `logtrack sigma check` over SigmaHQ's rules for CloudTrail, web servers
//! and Linux (a copy in `tests/data/sigma`, with its licence): every file
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
    let (code, out, err) = check(&["sigma", "check", "tests/data/sigma"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("168 rule file(s): 153 loaded, 15 unsupported, 0 not rules"), "{err}");
    // Every unsupported rule reads a field the parsers do not keep yet, or
    // a modifier LogTrack does not run; none is silently dropped.
    let unsupported: Vec<&str> = out.lines().filter(|l| l.starts_with("unsupported")).collect();
    assert_eq!(unsupported.len(), 15);
    for l in &unsupported {
        assert!(l.contains("records have no field"), "{l}");
    }
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
        check(&["sigma", "check", "tests/data/sigma/rules/web/webserver_generic", "--job", &job]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .filter(|l| l.starts_with("loaded"))
            .all(|l| l.contains("sources: /var/log/nginx/access.log ")),
        "{out}"
    );
    let (_, out, _) = check(&["sigma", "check", "tests/data/sigma/rules/cloud", "--job", &job]);
    assert!(out.contains("sources: none of the job's sources"), "{out}");
    std::fs::write(dir.path().join("broken.yml"), "title: x\nlogsource: {category: webserver}\ndetection:\n  sel: {f|nope: 1}\n  condition: sel\n").unwrap();
    let (code, out, _) = check(&["sigma", "check", &dir.path().display().to_string()]);
    assert_eq!(code, 2);
    assert!(out.contains("broken.yml: detection.sel: f|nope: unknown modifier \"nope\""), "{out}");
}
