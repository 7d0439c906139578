//! Detector scenarios, one snapshot per rule type (`<type>@scenarios`):
//! bursts at window edges, exactly `threshold`, `threshold - 1`, separate
//! and long bursts, groups, empty input, a single event. Out-of-order input
//! is checked to give the same alerts as sorted input.

use super::testutil::run;
use super::*;
use crate::config::{HumanDuration, Rule, RuleKind};
use crate::parse::Value;
use std::fmt::Write;

fn rule(kind: RuleKind) -> Rule {
    let group_by = match kind {
        RuleKind::UserThreshold { .. } => vec![GroupKey::User],
        _ => vec![GroupKey::Service],
    };
    Rule {
        id: kind.type_name().to_string(),
        kind,
        service: None,
        group_by,
        severity: AlertSeverity::High,
        description: None,
        runbook: None,
        filter: None,
        resolve_after: None,
    }
}

fn render(alerts: &[Alert]) -> String {
    let mut s = String::new();
    if alerts.is_empty() {
        s.push_str("  (no alerts)\n");
    }
    for a in alerts {
        let group: Vec<String> = a.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let ev: Vec<String> = a.evidence.iter().map(|e| e.line.to_string()).collect();
        writeln!(
            s,
            "  [{}] {} .. {} count={} evidence=[{}]\n    {}",
            group.join(" "),
            a.window_start,
            a.window_end,
            a.count,
            ev.join(","),
            a.message
        )
        .unwrap();
    }
    s
}

include!("../../tests/common/scenarios.rs");

fn scenarios(rule: &Rule, cases: &[(&str, Events, i64)]) -> String {
    let mut out = String::new();
    for (name, events, now) in cases {
        let alerts = run(rule, events, T0 + now);
        let mut reversed = events.clone();
        reversed.reverse();
        let rev_alerts = run(rule, &reversed, T0 + now);
        assert_eq!(
            alerts.iter().map(|a| (a.window_start, a.window_end, a.count)).collect::<Vec<_>>(),
            rev_alerts.iter().map(|a| (a.window_start, a.window_end, a.count)).collect::<Vec<_>>(),
            "{name}: reversed input changes the alerts"
        );
        writeln!(out, "{name}:").unwrap();
        out.push_str(&render(&alerts));
    }
    out
}

fn snapshot(name: &str, text: String) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name.to_string(), text));
}

#[test]
fn sliding_window_rules() {
    let w = HumanDuration(300);
    let kinds = [
        RuleKind::KeywordThreshold {
            keyword: "error".into(),
            case_sensitive: false,
            threshold: 3,
            window: w,
        },
        RuleKind::RepeatedMessage { message: Some("disk full".into()), threshold: 3, window: w },
        RuleKind::UserThreshold {
            message: "login failed".into(),
            case_sensitive: false,
            threshold: 3,
            window: w,
        },
        RuleKind::RateSpike { threshold: 3, window: w },
    ];
    let rate = scenarios(&rule(kinds[3].clone()), &window_cases());
    // The four sliding-window types share one mechanism: same episodes.
    for k in &kinds[..3] {
        let text = scenarios(&rule(k.clone()), &window_cases());
        // Same windows, counts and evidence; messages and group names differ.
        let strip = |t: &str| {
            let kept: Vec<&str> = t.lines().filter(|l| !l.starts_with("    ")).collect();
            kept.join("\n").replace("[user=", "[service=")
        };
        assert_eq!(strip(&text), strip(&rate), "{}", k.type_name());
        snapshot(&format!("{}@scenarios", k.type_name()), text);
    }
    snapshot("rate_spike@scenarios", rate);
}

#[test]
fn inactivity_rule() {
    let mut r = rule(RuleKind::Inactivity { max_idle: HumanDuration(600) });
    let text = scenarios(&r, &inactivity_cases());
    r.service = Some("payments".into());
    let silent = scenarios(&r, &silent_service_cases());
    snapshot("inactivity@scenarios", text + &silent);
}

#[test]
fn zscore_rule() {
    let r = rule(RuleKind::ZscoreAnomaly {
        threshold: 3.0,
        window: HumanDuration(60),
        baseline_windows: 5,
        seasonal: None,
        robust: false,
    });
    let text = scenarios(&r, &zscore_cases());
    snapshot("zscore_anomaly@scenarios", text);
}

#[test]
fn projector_matches_keywords_groups_and_services() {
    use crate::parse::{Record, Severity};
    use std::borrow::Cow;
    let rec = |service: &'static str,
               sev: Option<Severity>,
               msg: &'static str,
               user: Option<&'static str>| Record {
        auth_role: None,
        ts: None,
        service: Cow::Borrowed(service),
        host: None,
        severity: sev,
        message: Cow::Borrowed(msg),
        user: user.map(Cow::Borrowed),
        fields: vec![(Cow::Borrowed("client_ip"), Value::str("10.0.0.1"))],
    };
    let mut kw = rule(RuleKind::KeywordThreshold {
        keyword: "Error".into(),
        case_sensitive: false,
        threshold: 1,
        window: HumanDuration(60),
    });
    kw.service = Some("apache".into());
    let p = RuleMatch::new(&kw);
    let mut key = String::new();
    // The severity counts as text: a 5xx access-log line matches "error".
    assert!(p.project(&rec("apache", Some(Severity::Error), "GET / HTTP/1.1", None), &mut key));
    assert_eq!(key, "apache");
    assert!(p.project(&rec("apache", None, "disk ERROR on sda", None), &mut key));
    assert!(!p.project(&rec("apache", Some(Severity::Info), "GET /", None), &mut key));
    assert!(!p.project(&rec("nginx", Some(Severity::Error), "x", None), &mut key));
    kw.kind = RuleKind::KeywordThreshold {
        keyword: "Error".into(),
        case_sensitive: true,
        threshold: 1,
        window: HumanDuration(60),
    };
    assert!(!RuleMatch::new(&kw).project(&rec("apache", None, "disk ERROR", None), &mut key));

    let mut ut = rule(RuleKind::UserThreshold {
        message: "/admin".into(),
        case_sensitive: false,
        threshold: 1,
        window: HumanDuration(60),
    });
    let p = RuleMatch::new(&ut);
    assert!(
        !p.project(&rec("apache", None, "GET /admin", None), &mut key),
        "null user is not counted"
    );
    assert!(p.project(&rec("apache", None, "GET /admin", Some("root")), &mut key));
    assert_eq!(key, "root");
    ut.group_by = vec![GroupKey::User, GroupKey::ClientIp];
    assert!(RuleMatch::new(&ut).project(&rec("apache", None, "GET /admin", Some("root")), &mut key));
    assert_eq!(key, "root\u{1f}10.0.0.1");

    let rm =
        rule(RuleKind::RepeatedMessage { message: None, threshold: 1, window: HumanDuration(60) });
    assert!(RuleMatch::new(&rm).project(&rec("hdfs", None, "same text", None), &mut key));
    assert_eq!(key, "hdfs\u{1f}same text");
    assert!(contains_ignore_ascii_case(b"Disk ERROR", b"error"));
    assert!(contains_ignore_ascii_case(b"error", b"ERROR"));
    assert!(!contains_ignore_ascii_case(b"err", b"error"));
    assert!(!contains_ignore_ascii_case(b"e r r o r", b"error"));
    assert_eq!(
        decode_group(&group_names(&rm), &key),
        [
            ("message".to_string(), "same text".to_string()),
            ("service".to_string(), "hdfs".to_string())
        ]
        .into()
    );
}
