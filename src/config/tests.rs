//! The job file's loading and checking, from the outside: job texts in,
//! jobs or problems out.

use super::*;
use std::path::Path;

#[test]
fn relative_paths_are_rebased_lexically() {
    let jobs = Path::new("jobs");
    assert_eq!(rebase(jobs, "../samples/web/access.log*"), "samples/web/access.log*");
    assert_eq!(rebase(jobs, "legacy/rules.json"), "jobs/legacy/rules.json");
    assert_eq!(rebase(jobs, "./x/../y.log"), "jobs/y.log");
    assert_eq!(rebase(jobs, "../../up.log"), "../up.log");
    assert_eq!(
        rebase(Path::new("/etc/logtrack/jobs"), "../logs/a.log"),
        "/etc/logtrack/logs/a.log"
    );
    assert_eq!(rebase(jobs, "/var/log/a.log"), "/var/log/a.log");
    assert_eq!(rebase(jobs, "-"), "-");
    assert_eq!(rebase(Path::new(""), "samples/a.log"), "samples/a.log");
    assert_eq!(rebase(jobs, ".."), ".");
}

fn check(toml: &str) -> Result<Job, Problems> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("job.toml");
    std::fs::write(&p, toml).unwrap();
    load(&p, &Overrides::default())
}

#[test]
fn every_problem_is_reported_with_its_key_path() {
    let err = check(
        r#"
        [[sources]]
        path = "x.log"
        format = "apache2"
        timezone = "Mars/Base"

        [[rules]]
        id = "a"
        type = "keyword_threshold"
        keyword = "error"
        threshold = 0
        window = "5 minutes"

        [[rules]]
        id = "b"
        type = "rate_spike"
        thresold = 3
        window = "1m"
        "#,
    )
    .unwrap_err();
    let want = [
        r#"sources[0].format: unknown format "apache2" (expected one of: common, combined, nginx, clf, apache:<LogFormat>, nginx:<log_format>, hdfs, hdfs-csv, cloudtrail, syslog, journald, json, logfmt, apache-error, nginx-error, regex:<pattern>, auto)"#,
        r#"sources[0].timezone: unknown time zone "Mars/Base" (expected an IANA name such as "Europe/Berlin", "UTC", or an offset such as "+02:00")"#,
        "rules[0].threshold: expected a whole number of at least 1, found 0",
        r#"rules[0].window: invalid duration "5 minutes" (expected e.g. "90s", "5m", "2h", "1d")"#,
        r#"rules[1].thresold: unknown key (did you mean "threshold"?)"#,
        r#"rules[1]: missing key "threshold""#,
    ];
    assert_eq!(err.0, want);
}

#[test]
fn new_rule_keys_are_read_and_checked() {
    let rules = |body: &str| format!("[[sources]]\npath = \"x.log\"\nformat = \"json\"\n{body}");
    let job = check(&rules(
        r#"
        [[rules]]
        id = "rate"
        type = "ratio"
        where = 'fields.path ^= "/api/"'
        numerator = "fields.status >= 500"
        threshold = "5%"
        min_total = 200
        window = "5m"

        [[rules]]
        id = "p95"
        type = "percentile"
        field = "request_time"
        percentile = 95
        threshold = 1.5
        window = "10m"

        [[rules]]
        id = "z"
        type = "zscore_anomaly"
        window = "15m"
        seasonality = "weekly"
        robust = true
        "#,
    ))
    .unwrap();
    let RuleKind::Ratio { threshold, min_total, numerator, .. } = &job.rules[0].kind else {
        panic!("{:?}", job.rules[0])
    };
    assert_eq!((*threshold, *min_total), (0.05, 200));
    assert_eq!(numerator.to_string(), "fields.status >= 500");
    assert_eq!(job.rules[0].filter.as_ref().unwrap().to_string(), r#"fields.path ^= "/api/""#);
    let RuleKind::Percentile { field, min_count, .. } = &job.rules[1].kind else { panic!() };
    assert_eq!((field.as_str(), *min_count), ("request_time", 1));
    let RuleKind::ZscoreAnomaly { seasonal, robust, .. } = &job.rules[2].kind else { panic!() };
    assert_eq!(*seasonal, Some(Seasonal { period: WEEK, seasons: 4, min_history: 3 }));
    assert!(*robust);
    assert_eq!(job.rules[0].to_json()["where"], r#"fields.path ^= "/api/""#);
    assert_eq!(job.rules[2].to_json()["seasonality"], "weekly");

    let err = check(&rules(
        r#"
        [[rules]]
        id = "a"
        type = "ratio"
        threshold = 5
        window = "5m"

        [[rules]]
        id = "b"
        type = "percentile"
        field = "message"
        percentile = 0.95
        threshold = 1
        window = "1m"

        [[rules]]
        id = "c"
        type = "zscore_anomaly"
        window = "7m"
        seasonality = "daily"
        baseline_windows = 3
        min_history = 9

        [[rules]]
        id = "d"
        type = "zscore_anomaly"
        window = "1m"
        seasons = 3
        where = "severity >= warning"
        "#,
    ))
    .unwrap_err();
    let want = [
        r#"rules[0]: missing key "numerator" (an expression, such as 'fields.status >= 500')"#,
        r#"rules[0].threshold: expected a share above 0 and at most 1 (0.05 or "5%" for 5%), found 5"#,
        r#"rules[1].field: expected a numeric field such as "fields.request_time", found "message""#,
        "rules[1].percentile: expected a percentile from 1 to 100 (95 for p95), found 0.95",
        "rules[2].min_history: must be at most seasons (7), found 9",
        "rules[2].baseline_windows: does not apply with seasonality (the baseline is the same bin of the previous seasons)",
        "rules[3].where: unknown severity 'warning' (expected trace, debug, info, warn, error or fatal) at column 13",
        r#"rules[3].seasons: applies only with seasonality = "daily" or "weekly""#,
    ];
    assert_eq!(err.0, want);
}

#[test]
fn mapping_ts_format_and_patterns_are_checked() {
    let job = check(
        r#"
        [[sources]]
        path = "app.jsonl"
        format = "json"
        ts_format = "%d/%m/%Y %H:%M:%S"
        [sources.mapping]
        ts = "event.created"
        message = "text"
        client_ip = "peer.ip"
        "#,
    )
    .unwrap();
    let m = &job.sources[0].mapping;
    assert_eq!(
        (m.ts.as_deref(), m.message.as_deref(), m.client_ip.as_deref()),
        (Some("event.created"), Some("text"), Some("peer.ip"))
    );
    assert_eq!(job.sources[0].ts_format.as_deref(), Some("%d/%m/%Y %H:%M:%S"));
    let err = check(
        r#"
        [[sources]]
        path = "a.log"
        format = "syslog"
        ts_format = "%Y"
        [sources.mapping]
        msg = "m"
        ts = ""

        [[sources]]
        path = "b.log"
        format = "json"
        ts_format = "%Q"
        mapping = "ts"

        [[sources]]
        path = "c.log"
        format = 'regex:^(?P<message>.*)$'

        [[sources]]
        path = "d.log"
        format = 'regex:(?P<ts>\S+'
        "#,
    )
    .unwrap_err();
    let want = [
        r#"sources[0].mapping.msg: unknown key (did you mean "ts"?)"#,
        r#"sources[0].mapping.ts: expected a key name, found an empty string"#,
        r#"sources[0].mapping: format "syslog" takes no mapping (json and logfmt do)"#,
        r#"sources[0].ts_format: format "syslog" reads its own times (ts_format is for json, logfmt and regex:)"#,
        r#"sources[1].mapping: expected a table, found "ts""#,
        r#"sources[1].ts_format: "%Q" is not a strftime format"#,
        "sources[2].format: regex: the pattern needs a named capture (?P<ts>...) for the time stamp",
    ];
    assert_eq!(err.0[..want.len()], want);
    assert!(err.0[want.len()].starts_with("sources[3].format: regex: regex parse error"), "{err}");
}

#[test]
fn legacy_keys_are_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rules_config.json");
    std::fs::write(
        &p,
        r#"[{"id":"idle","rule_type":"inactivity","service":"hdfs","max_idle_minutes":10},
            {"id":"burst","rule_type":"keyword_threshold","keyword":"error","threshold":3,"window_minutes":5,"severity":"high"},
            {"id":"z","rule_type":"zscore_anomaly","threshold":3,"window_seconds":60,"baseline_windows":5}]"#,
    )
    .unwrap();
    let job = load(&p, &Overrides::default()).unwrap();
    assert_eq!(job.rules.len(), 3);
    assert_eq!(job.rules[0].kind, RuleKind::Inactivity { max_idle: HumanDuration(600) });
    assert_eq!(job.rules[1].severity, AlertSeverity::High);
    assert_eq!(
        job.rules[2].kind,
        RuleKind::ZscoreAnomaly {
            threshold: 3.0,
            window: HumanDuration(60),
            baseline_windows: 5,
            seasonal: None,
            robust: false,
        }
    );
}

#[test]
fn conflicting_window_keys() {
    let err = check(
        r#"[[rules]]
        id = "a"
        type = "rate_spike"
        threshold = 3
        window = "1m"
        window_minutes = 1
        "#,
    )
    .unwrap_err();
    assert_eq!(err.0, ["rules[0]: give only one of window, window_minutes"]);
}

#[test]
fn novelty_rules_are_checked() {
    let err = check(
        r#"[[rules]]
        id = "a"
        type = "new_value"

        [[rules]]
        id = "b"
        type = "new_value"
        fields = ["user", "status"]
        group_by = ["host"]

        [[rules]]
        id = "c"
        type = "new_template"
        severity_at_least = "loud"
        ignore = ["(unclosed", 5]
        learn = "0s"
        "#,
    )
    .unwrap_err();
    assert_eq!(
        err.0,
        [
            "rules[0]: missing key \"fields\" (the values whose combination is watched, such as [\"user\", \"fields.client_ip\"])",
            "rules[1].fields[1]: unknown group key \"status\" (expected service, user, host, client_ip, message or fields.<key>)",
            "rules[1].group_by: does not apply to new_value (its fields are its group)",
            "rules[2].learn: must be at least 1s",
            "rules[2].severity_at_least: unknown severity \"loud\" (expected trace, debug, info, warn, error or fatal)",
            "rules[2].ignore[0]: not a template (no <*>) and not a regex: regex parse error:\n    (unclosed\n    ^\nerror: unclosed group",
            "rules[2].ignore[1]: expected text, found 5",
        ]
    );
    let job = check(
        r#"[[rules]]
        id = "v"
        type = "new_value"
        fields = ["user", "message"]

        [[rules]]
        id = "t"
        type = "new_template"
        learn = "1d"
        ignore = ["Connection closed by <*> [preauth]"]
        "#,
    )
    .unwrap();
    assert_eq!(job.rules[0].group_by, [GroupKey::User, GroupKey::Message]);
    assert_eq!(
        job.rules[0].kind,
        RuleKind::NewValue { min_count: 1, learn: 0, remember: 30 * DAY }
    );
    let RuleKind::NewTemplate { learn, ignore, .. } = &job.rules[1].kind else { panic!() };
    assert_eq!((*learn, ignore.len()), (DAY, 1));
    assert_eq!(job.rules[1].to_json()["learn"], "1d");
}

#[test]
fn durations_are_bounded() {
    let err = check(
        r#"[[rules]]
        id = "a"
        type = "rate_spike"
        threshold = 3
        window_seconds = 1e30

        [[rules]]
        id = "b"
        type = "inactivity"
        max_idle = "400d"

        [[rules]]
        id = "c"
        type = "rate_spike"
        threshold = 3
        window_minutes = -5
        "#,
    )
    .unwrap_err();
    assert_eq!(
        err.0,
        [
            "rules[0].window_seconds: must be at most 366d, found 1000000000000000000000000000000",
            "rules[1].max_idle: must be at most 366d, found 400d",
            "rules[2].window: must be at least 1s",
        ]
    );
}

/// Matchers of alerts (`crate::expr`) know the alerts' severities, in the
/// same order.
#[test]
fn matcher_severities_are_the_alerts() {
    let ours: Vec<&str> = AlertSeverity::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(ours, crate::expr::ALERT_SEVERITIES);
}

/// Receivers' hours: days, spans past midnight, and a zone with summer time.
#[test]
fn receiver_hours() {
    use crate::config::notify::{Hours, Schedule};
    let h: Hours = "mon-fri 09:00-18:00".parse().unwrap();
    assert_eq!(h.days, [true, true, true, true, true, false, false]);
    assert_eq!((h.from, h.to), (540, 1080));
    let weekend: Hours = "sat,sun".parse().unwrap();
    assert!(weekend.holds(5, 0) && weekend.holds(6, 1439) && !weekend.holds(0, 600));
    let wrap: Hours = "fri-mon".parse().unwrap();
    assert_eq!(wrap.days, [true, false, false, false, true, true, true]);
    let night: Hours = "22:00-07:00".parse().unwrap();
    assert!(night.holds(2, 22 * 60) && night.holds(3, 6 * 60 + 59) && !night.holds(3, 7 * 60));
    // A span past midnight on listed days goes on into the next morning.
    let fri_night: Hours = "fri 22:00-02:00".parse().unwrap();
    assert!(fri_night.holds(4, 23 * 60) && fri_night.holds(5, 60) && !fri_night.holds(4, 60));
    for bad in ["", "9-17", "mon-fry", "25:00-26:00", "09:00-18:00 mon extra", "09:60-10:00"] {
        let e = bad.parse::<Hours>().unwrap_err();
        assert!(e.contains("expected days and/or a time span"), "{bad}: {e}");
    }
    // Mute hours over midnight in Berlin: 22:00-07:00 local, CET and CEST.
    let s = Schedule {
        active: Vec::new(),
        mute: vec![night.clone()],
        tz: "Europe/Berlin".parse().unwrap(),
    };
    let at = |t: &str| crate::parse::Timestamp::parse_rfc3339(t, &Default::default()).unwrap().secs;
    assert!(s.open_at(at("2026-03-14T20:30:00Z")), "21:30 CET");
    assert!(!s.open_at(at("2026-03-14T21:30:00Z")), "22:30 CET");
    assert!(!s.open_at(at("2026-03-15T05:30:00Z")), "06:30 CET");
    assert!(s.open_at(at("2026-03-15T06:30:00Z")), "07:30 CET");
    assert!(!s.open_at(at("2026-07-01T20:30:00Z")), "22:30 CEST");
    assert!(s.open_at(at("2026-07-01T05:30:00Z")), "07:30 CEST");
    // Business hours only, on weekdays.
    let s = Schedule { active: vec![h], mute: Vec::new(), tz: "Europe/Berlin".parse().unwrap() };
    assert!(s.open_at(at("2026-03-16T08:00:00Z")), "Monday 09:00 CET");
    assert!(!s.open_at(at("2026-03-16T07:59:00Z")), "Monday 08:59 CET");
    assert!(!s.open_at(at("2026-03-14T12:00:00Z")), "Saturday");
    assert!(Schedule::default().open_at(0));
}
