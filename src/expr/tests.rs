//! Expressions: parsing (and its errors), and evaluation over records.

use super::*;
use std::borrow::Cow;

fn rec() -> Record<'static> {
    Record {
        auth_role: None,
        ts: Some(Timestamp { secs: 1_714_546_800, nanos: 500_000_000, frac_digits: 1 }),
        service: Cow::Borrowed("nginx"),
        host: Some(Cow::Borrowed("web-1")),
        severity: Some(Severity::Warn),
        message: Cow::Borrowed("GET /api/v1/orders HTTP/1.1"),
        user: None,
        fields: vec![
            (Cow::Borrowed("status"), Value::Int(503)),
            (Cow::Borrowed("path"), Value::str("/api/v1/orders")),
            (Cow::Borrowed("client_ip"), Value::str("203.0.113.7")),
            (Cow::Borrowed("request_time"), Value::str("1.250")),
            (Cow::Borrowed("http.version"), Value::str("1.1")),
            (Cow::Borrowed("tags"), Value::List(vec![Value::str("a"), Value::str("b")])),
            (Cow::Borrowed("gone"), Value::Null),
        ],
    }
}

fn holds(src: &str) -> bool {
    Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}")).eval(&rec())
}

#[test]
fn every_operator() {
    for (src, want) in [
        (r#"service = "nginx""#, true),
        ("service = nginx", true),
        (r#"service != "nginx""#, false),
        ("fields.status >= 500", true),
        ("fields.status > 503", false),
        ("fields.status = 503.0", true),
        (r#"fields.status = "503""#, true),
        // Text order, not numeric: "503" < "6".
        (r#"fields.status < "6""#, true),
        ("fields.status < 6", false),
        ("fields.request_time > 1.2", true),
        ("fields.request_time <= 1.25", true),
        (r#"fields.path ^= "/api/""#, true),
        (r#"fields.path $= "orders""#, true),
        (r#"message contains "HTTP/1.1""#, true),
        (r#"message ~ "^GET /api/v[0-9]+/""#, true),
        (r#"message !~ "POST""#, true),
        ("fields.status in [401, 403, 503]", true),
        ("fields.status not in [401, 403]", true),
        ("fields.client_ip in 203.0.113.0/24", true),
        ("fields.client_ip in 10.0.0.0/8", false),
        ("client_ip in 203.0.113.0/24", true),
        ("not fields.client_ip in [10.0.0.0/8, 192.168.0.0/16]", true),
        ("fields.status exists", true),
        ("fields.gone exists", false),
        ("fields.missing exists", false),
        ("fields.missing = 1", false),
        ("fields.missing != 1", true),
        ("user exists", false),
        ("severity >= warn", true),
        ("severity > warn", false),
        (r#"severity = "WARN""#, true),
        ("severity in [error, fatal]", false),
        (r#"ts >= "2024-05-01T07:00:00Z""#, true),
        (r#"ts < "2024-05-01T07:00:00.5Z""#, false),
        ("ts = 1714546800", false),
        ("fields.http.version = 1.1", true),
        (r#"fields."http.version" = "1.1""#, true),
        (r#"fields.tags = "b""#, true),
        (r#"host = "web-1" and (fields.status = 200 or fields.status = 503)"#, true),
        ("not (severity >= error) and not fields.gone exists", true),
        ("fields.status = 200 or fields.status = 404 or severity = warn", true),
        // and binds tighter than or.
        ("fields.status = 503 or fields.status = 1 and fields.status = 2", true),
        ("(fields.status = 503 or fields.status = 1) and fields.status = 2", false),
    ] {
        assert_eq!(holds(src), want, "{src}");
    }
}

#[test]
fn ip_forms() {
    let holds_for = |ip: &str, src: &str| {
        let mut r = rec();
        r.fields[2].1 = Value::str(ip.to_string());
        Expr::parse(src).unwrap().eval(&r)
    };
    assert!(holds_for("::ffff:10.1.2.3", "client_ip in 10.0.0.0/8"));
    assert!(holds_for("2001:db8::1", "client_ip in 2001:db8::/32"));
    assert!(!holds_for("2001:db9::1", "client_ip in 2001:db8::/32"));
    assert!(holds_for("1.2.3.4", "client_ip in 0.0.0.0/0"));
    assert!(!holds_for("not an ip", "client_ip in 0.0.0.0/0"));
    assert!(holds_for(" 10.9.9.9 ", "client_ip in [192.168.0.0/16, 10.0.0.0/8]"));
}

#[test]
fn errors_point_at_the_column() {
    for (src, want) in [
        (
            r#"service = "nginx" and fields.status => 500"#,
            "unknown operator '=>' at column 37, did you mean '>='?",
        ),
        ("fields.status =< 5", "unknown operator '=<' at column 15, did you mean '<='?"),
        ("servce = x", "unknown name 'servce' (expected ts, service, host, severity, message, user, client_ip or fields.<key>) at column 1, did you mean 'service'?"),
        ("status = 5", "unknown name 'status' (expected ts, service, host, severity, message, user, client_ip or fields.<key>) at column 1, did you mean 'fields.status'?"),
        ("severity >= warning", "unknown severity 'warning' (expected trace, debug, info, warn, error or fatal) at column 13"),
        ("ts > yesterday", "'ts' compares with an RFC 3339 time (\"2024-05-01T07:00:00Z\") or epoch seconds, not 'yesterday' at column 6"),
        ("fields.ip in 10.0.0.0/33", "invalid CIDR '10.0.0.0/33' (expected such as 10.0.0.0/8) at column 14"),
        ("message ~ \"(\"", "invalid regex: unclosed group at column 11"),
        ("(service = a", "expected ')', found the end at column 13"),
        ("service = a nd b", "expected 'and', 'or' or the end of the expression, found 'nd' at column 13"),
        ("service = \"a", "unclosed quote at column 11"),
        ("service", "expected an operator after 'service' (= != < <= > >= ^= $= ~ !~ contains in exists), found the end at column 8"),
        ("service =", "expected a value (\"text\", a number or a word), found the end at column 10"),
        ("", "expected a name (ts, service, host, severity, message, user, client_ip or fields.<key>), found the end at column 1"),
        ("fields.s in [1, 2", "expected ',' or ']', found the end at column 18"),
        ("ts ~ \"x\"", "'ts' takes = != < <= > >=, not '~' at column 6"),
    ] {
        let e = Expr::parse(src).map(|_| ()).expect_err(src);
        assert_eq!(e.to_string(), want, "{src}");
    }
}

fn parses_or_points_inside(src: &str) -> Result<(), proptest::test_runner::TestCaseError> {
    match Expr::parse(src) {
        Ok(e) => {
            e.eval(&rec());
        }
        Err(e) => {
            proptest::prop_assert!(
                e.column >= 1 && e.column <= src.chars().count() + 1,
                "{src:?}: {e}"
            );
        }
    }
    Ok(())
}

proptest::proptest! {
    /// Any text either parses (and evaluates) or is a problem at a
    /// column inside it: never a panic.
    #[test]
    fn any_text_parses_or_fails_at_a_column(src in "[a-z._\"'\\ ()\\[\\],=!<>^$~0-9/:é-]{0,40}") {
        parses_or_points_inside(&src)?;
    }

    /// Sequences of the grammar's own words, most of them wrong.
    #[test]
    fn words_of_the_grammar(words in proptest::collection::vec(proptest::sample::select(vec![
        "service", "fields.status", "fields.\"a b\"", "severity", "ts", "user", "message",
        "=", "!=", "<", ">=", "^=", "$=", "~", "!~", "=>", "in", "not", "exists", "contains",
        "and", "or", "(", ")", "[", "]", ",", "500", "warn", "\"x\"", "'(a'", "10.0.0.0/8",
        "::1/128", "\"2024-05-01T00:00:00Z\"", "1e400", "-3",
    ]), 0..12)) {
        parses_or_points_inside(&words.join(" "))?;
    }
}

#[test]
fn names_are_listed_once() {
    let e =
        Expr::parse("fields.a = 1 and (fields.a = 2 or user exists) and not message ~ x").unwrap();
    assert_eq!(e.names(), vec![&Name::Field("a".into()), &Name::User, &Name::Message]);
}

/// Matchers of alerts: the same grammar over an alert's labels.
#[test]
fn matchers_read_an_alerts_labels() {
    let group: std::collections::BTreeMap<String, String> =
        [("client_ip", "10.1.2.3"), ("service", "web"), ("odd key", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let l = Labels {
        rule: "web_volume",
        job: "web-audit",
        service: Some("nginx"),
        severity: "high",
        group: &group,
    };
    for (src, want) in [
        (r#"rule = "web_volume" and group.client_ip in 10.0.0.0/8"#, true),
        (r#"rule = "web_volume" and group.client_ip in 192.168.0.0/16"#, false),
        ("severity >= medium", true),
        ("severity >= critical", false),
        ("severity in [high, critical]", true),
        ("severity = HIGH", true),
        (r#"service = "nginx" and job ^= "web""#, true),
        (r#"group."odd key" = x"#, true),
        ("group.missing exists", false),
        ("not group.missing exists", true),
        ("group.missing != x", true),
        (r#"rule ~ "^web_" and not rule = web_down"#, true),
    ] {
        let e = Expr::parse_labels(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(e.matches(&l), want, "{src}");
        // A matcher is no record filter, and a record filter no matcher.
        assert!(!e.eval(&rec()), "{src}");
    }
    let none = Labels { service: None, ..l };
    assert!(!Expr::parse_labels("service exists").unwrap().matches(&none));
    assert!(!Expr::parse("service exists").unwrap().matches(&l));
    // Errors name the label and suggest one.
    let e = Expr::parse_labels("rul = x").unwrap_err();
    assert_eq!((e.column, e.hint.as_deref()), (1, Some("'rule'")), "{e}");
    let e = Expr::parse_labels("client_ip = x").unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("'group.client_ip'"), "{e}");
    let e = Expr::parse_labels("severity > urgent").unwrap_err();
    assert!(e.message.contains("low, medium, high or critical"), "{e}");
    // Parsing a matcher leaves record filters as they were.
    assert!(Expr::parse("rule = x").is_err());
    assert!(Expr::parse("service = x").is_ok());
}

/// Before an alert has a group, a matcher may already be decided.
#[test]
fn matchers_before_the_group_is_known() {
    let group = std::collections::BTreeMap::new();
    let l = Labels { rule: "db_errors", job: "j", service: None, severity: "high", group: &group };
    for (src, want) in [
        (r#"rule = "web_errors" and group.client_ip in 10.0.0.0/8"#, Some(false)),
        (r#"rule = "db_errors" and group.client_ip in 10.0.0.0/8"#, None),
        (r#"rule = "db_errors" or group.client_ip in 10.0.0.0/8"#, Some(true)),
        (r#"not (rule = "db_errors" or group.x = y)"#, Some(false)),
        ("severity >= high", Some(true)),
        (r#"service = "postgres""#, None),
        (r#"service = "postgres" and severity = low"#, Some(false)),
    ] {
        let e = Expr::parse_labels(src).unwrap();
        assert_eq!(e.matches_before_group(&l, false), want, "{src}");
    }
    let known = Labels { service: Some("postgres"), ..l };
    let e = Expr::parse_labels(r#"service = "postgres""#).unwrap();
    assert_eq!(e.matches_before_group(&known, true), Some(true));
}
