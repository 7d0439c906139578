//! Sigma's semantics, trap by trap (the specification's own cases), and
//! the rule files' errors.

use super::*;
use serde_json::json;

/// A rule over `detection` (YAML), with a web logsource.
fn rule(detection: &str) -> Rule {
    let text = format!(
        "title: t\nid: 1\nlogsource:\n  category: webserver\ndetection:\n{}\n",
        detection.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
    );
    parse_rule(Path::new("t.yml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn hits(r: &Rule, event: serde_json::Value) -> bool {
    assert!(r.detection.is_ok(), "{:?}", r.detection);
    r.matches(&JsonEvent::new(event))
}

#[test]
fn equality_is_case_insensitive_and_whole() {
    let r = rule("sel:\n  MFAUsed: 'NO'\ncondition: sel");
    assert!(hits(&r, json!({"MFAUsed": "No"})));
    assert!(hits(&r, json!({"MFAUsed": "no"})));
    assert!(!hits(&r, json!({"MFAUsed": "Not"})));
    assert!(!hits(&r, json!({"MFAUsed": " No"})));
    let cased = rule("sel:\n  f|cased: 'NO'\ncondition: sel");
    assert!(!hits(&cased, json!({"f": "No"})));
    assert!(hits(&cased, json!({"f": "NO"})));
    // Unicode folds too.
    let r = rule("sel:\n  f: 'ÄRGER'\ncondition: sel");
    assert!(hits(&r, json!({"f": "ärger"})));
}

#[test]
fn wildcards_and_their_escapes() {
    let r = rule("sel:\n  f: 'a*b?c'\ncondition: sel");
    assert!(hits(&r, json!({"f": "aXYZbQc"})));
    assert!(hits(&r, json!({"f": "abqc"})));
    assert!(!hits(&r, json!({"f": "abc"})), "? is one character");
    // `%` and `_` are no wildcards.
    let r = rule("sel:\n  f: 'a%b_c'\ncondition: sel");
    assert!(hits(&r, json!({"f": "A%B_C"})));
    assert!(!hits(&r, json!({"f": "axbyc"})));
    // `\*`, `\?`, `\\` are literal; any other backslash is itself.
    // `C:\Windows\*.exe\?`: the `\W` is a backslash, the `\*` and `\?`
    // are a star and a question mark.
    let r = rule("sel:\n  f: 'C:\\Windows\\*.exe\\?'\ncondition: sel");
    assert!(hits(&r, json!({"f": "c:\\windows*.exe?"})));
    assert!(!hits(&r, json!({"f": "c:\\windows\\x.exe?"})));
    let r = rule("sel:\n  f: 'C:\\Windows\\\\*.exe'\ncondition: sel");
    assert!(hits(&r, json!({"f": "c:\\windows\\x.exe"})), "`\\\\*`: a backslash, then any text");
    let r = rule("sel:\n  f: 'a\\*b'\ncondition: sel");
    assert!(hits(&r, json!({"f": "a*b"})));
    assert!(!hits(&r, json!({"f": "aXb"})));
    let r = rule("sel:\n  f: 'a\\\\*'\ncondition: sel");
    assert!(hits(&r, json!({"f": "a\\anything"})), "an escaped backslash, then a wildcard");
    let r = rule("sel:\n  f: 'a\\d'\ncondition: sel");
    assert!(hits(&r, json!({"f": "a\\d"})));
}

#[test]
fn placement_modifiers_and_lists() {
    let r = rule("sel:\n  f|contains:\n    - '/etc/passwd'\n    - '/etc/shadow'\ncondition: sel");
    assert!(hits(&r, json!({"f": "GET /x?file=../../ETC/PASSWD"})));
    assert!(hits(&r, json!({"f": "/etc/shadow"})));
    assert!(!hits(&r, json!({"f": "/etc/group"})));
    let r = rule("sel:\n  f|contains|all:\n    - 'a'\n    - 'b'\ncondition: sel");
    assert!(hits(&r, json!({"f": "xbxa"})));
    assert!(!hits(&r, json!({"f": "xa"})));
    let r = rule("sel:\n  f|startswith: 'ab'\ncondition: sel");
    assert!(hits(&r, json!({"f": "ABc"})) && !hits(&r, json!({"f": "cab"})));
    let r = rule("sel:\n  f|endswith: '.php'\ncondition: sel");
    assert!(hits(&r, json!({"f": "/x/y.PHP"})) && !hits(&r, json!({"f": "/x.php/y"})));
    // A list of maps is any of them; a map, all of its fields.
    let r = rule("sel:\n  - a: 1\n    b: 2\n  - c: 3\ncondition: sel");
    assert!(hits(&r, json!({"a": 1, "b": "2"})));
    assert!(hits(&r, json!({"c": 3})));
    assert!(!hits(&r, json!({"a": 1})));
}

#[test]
fn null_empty_missing_and_not() {
    let null = rule("sel:\n  f: null\ncondition: sel");
    assert!(hits(&null, json!({})));
    assert!(hits(&null, json!({"f": null})));
    assert!(!hits(&null, json!({"f": ""})), "an empty string is no null");
    let empty = rule("sel:\n  f: ''\ncondition: sel");
    assert!(hits(&empty, json!({"f": ""})));
    assert!(!hits(&empty, json!({})));
    // `not` over a missing field is true.
    let r = rule("sel:\n  a: x\nfilter:\n  f: y\ncondition: sel and not filter");
    assert!(hits(&r, json!({"a": "x"})));
    assert!(!hits(&r, json!({"a": "x", "f": "Y"})));
    let exists = rule("sel:\n  f|exists: true\ncondition: sel");
    assert!(hits(&exists, json!({"f": ""})) && !hits(&exists, json!({})));
    let absent = rule("sel:\n  f|exists: false\ncondition: sel");
    assert!(hits(&absent, json!({})) && !hits(&absent, json!({"f": 1})));
}

#[test]
fn keywords_read_the_line_and_numbers_are_text() {
    let r = rule("keywords:\n  - 'union select'\n  - 404\ncondition: keywords");
    assert!(hits(&r, json!({"m": "id=1 UNION SELECT x"})));
    assert!(hits(&r, json!({"status": 404})));
    assert!(!hits(&r, json!({"status": 200})));
    let all = rule("keywords:\n  '|all':\n    - 'a1'\n    - 'b2'\ncondition: keywords");
    assert!(hits(&all, json!({"x": "a1 b2"})) && !hits(&all, json!({"x": "a1"})));
    // A number matches its text, and a numeric field the number.
    let r = rule("sel:\n  sc-status: 200\ncondition: sel");
    assert!(hits(&r, json!({"sc-status": "200"})) && hits(&r, json!({"sc-status": 200})));
}

#[test]
fn regexes_blocks_numbers_references() {
    let r = rule("sel:\n  f|re: '^a.b$'\ncondition: sel");
    assert!(hits(&r, json!({"f": "axb"})));
    assert!(!hits(&r, json!({"f": "AXB"})), "regexes are case-sensitive unless |i");
    let r = rule("sel:\n  f|re|i: '^a.b$'\ncondition: sel");
    assert!(hits(&r, json!({"f": "AXB"})));
    let r = rule("sel:\n  ip|cidr: 10.0.0.0/8\ncondition: sel");
    assert!(hits(&r, json!({"ip": "10.2.3.4"})) && !hits(&r, json!({"ip": "11.0.0.1"})));
    assert!(!hits(&r, json!({"ip": "not an address"})));
    let r = rule("sel:\n  n|gte: 10\ncondition: sel");
    assert!(
        hits(&r, json!({"n": 10})) && hits(&r, json!({"n": "12.5"})) && !hits(&r, json!({"n": 9}))
    );
    let r = rule("sel:\n  a|fieldref: b\ncondition: sel");
    assert!(hits(&r, json!({"a": "X", "b": "x"})) && !hits(&r, json!({"a": "x", "b": "y"})));
    assert!(!hits(&r, json!({"a": "x"})));
}

#[test]
fn encodings_as_the_specification_writes_them() {
    assert_eq!(detection::base64(b"/bin/bash"), "L2Jpbi9iYXNo");
    assert_eq!(detection::base64(b"ab"), "YWI=");
    assert_eq!(
        detection::base64_offsets("/bin/bash"),
        ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
    );
    assert_eq!(detection::base64_offsets("/bin/sh"), ["L2Jpbi9za", "9iaW4vc2", "vYmluL3No"]);
    let r = rule("sel:\n  f|base64offset|contains: '/bin/bash'\ncondition: sel");
    assert!(hits(&r, json!({"f": "echo IC9iaW4vYmFzaCAtaQ== | base64 -d"})));
    let w = detection::windash("-enc x");
    assert_eq!(w.len(), 5);
    assert!(w.contains(&"/enc x".to_string()) && w.contains(&"\u{2013}enc x".to_string()));
    let r = rule("sel:\n  f|windash|contains: ' -enc '\ncondition: sel");
    assert!(hits(&r, json!({"f": "powershell /enc AAA"})));
}

#[test]
fn conditions() {
    let d = "sel_a:\n  f: a\nsel_b:\n  g: b\n_private:\n  h: c\nfilter:\n  i: d\n";
    let r = rule(&format!("{d}condition: 1 of sel_*"));
    assert!(hits(&r, json!({"g": "b"})));
    let r = rule(&format!("{d}condition: all of sel_*"));
    assert!(!hits(&r, json!({"g": "b"})) && hits(&r, json!({"f": "a", "g": "b"})));
    let r = rule(&format!("{d}condition: all of them"));
    assert!(hits(&r, json!({"f": "a", "g": "b", "i": "d"})), "them leaves _private out");
    let r = rule(&format!("{d}condition: (sel_a or sel_b) and not filter"));
    assert!(hits(&r, json!({"f": "a"})) && !hits(&r, json!({"f": "a", "i": "d"})));
    let r = rule(&format!("{d}condition:\n  - sel_a\n  - sel_b"));
    assert!(hits(&r, json!({"g": "b"})));
    let r = rule(&format!("{d}condition: not not sel_a"));
    assert!(hits(&r, json!({"f": "a"})));
}

fn error(text: &str) -> String {
    parse_rule(Path::new("bad.yml"), text).expect_err("an error")
}

#[test]
fn broken_rules_say_what_and_where() {
    let head = "title: t\nlogsource:\n  category: webserver\n";
    assert!(error("title: [unclosed").contains("invalid YAML"));
    assert!(error(&format!("{head}detection:\n  sel:\n    f|nope: x\n  condition: sel"))
        .contains("detection.sel: f|nope: unknown modifier \"nope\""));
    assert!(error(&format!("{head}detection:\n  sel:\n    f: x\n  condition: sel and missing"))
        .contains("detection.condition: \"missing\" in the condition names no search identifier"));
    assert!(error(&format!("{head}detection:\n  sel:\n    f|re: '(a'\n  condition: sel"))
        .contains("the regex does not compile"));
    assert!(error(&format!("{head}detection:\n  sel:\n    f: x\n"))
        .contains("missing key \"condition\""));
    assert!(error("logsource:\n  category: webserver\n").contains("missing key \"title\""));
    // Run as written or not at all: said, not silently never matching.
    let r = parse_rule(
        Path::new("u.yml"),
        &format!("{head}detection:\n  sel:\n    f|expand: '%x%'\n  condition: sel"),
    )
    .unwrap();
    assert!(r.detection.unwrap_err().contains("the placeholder %x% has no values"));
    let r = parse_rule(
        Path::new("u.yml"),
        &format!("{head}detection:\n  sel:\n    f: x\n  condition: sel | count() > 5"),
    )
    .unwrap();
    assert!(r.detection.unwrap_err().contains("aggregations"));
}

#[test]
fn a_huge_or_broken_file_is_one_error_and_the_others_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.yml"), "a".repeat(10 << 20)).unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "title: [").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("sub/good.yml"),
        "title: good\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    cs-method: GET\n  condition: sel\n",
    )
    .unwrap();
    let files = rule_files(&[dir.path().display().to_string()]).unwrap();
    assert_eq!(files.len(), 3, "{files:?}");
    let (rules, errors) = load(&files, &super::Placeholders::new());
    assert_eq!(rules.len(), 1);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors
        .iter()
        .any(|e| e.contains("big.yml") && e.contains("larger than a rule can be")));
    assert!(errors.iter().any(|e| e.contains("bad.yaml") && e.contains("invalid YAML")));
}

proptest::proptest! {
    /// Whatever a rule file holds, reading it and trying it gives an answer,
    /// never a panic: real rules cut anywhere, with text spliced in.
    #[test]
    fn any_rule_text_reads_without_panicking(cut in 0usize..4000, splice in ".{0,40}", value in ".{0,40}") {
        let base = std::fs::read_to_string(
            "samples/sigma/rules/web/webserver_generic/web_sql_injection_in_access_logs.yml",
        )
        .unwrap();
        let at = (0..=cut.min(base.len())).rev().find(|&i| base.is_char_boundary(i)).unwrap_or(0);
        let text = format!("{}{splice}{}", &base[..at], &base[at..]);
        if let Ok(r) = parse_rule(Path::new("p.yml"), &text) {
            let _ = r.matches(&JsonEvent::new(json!({"cs-uri-query": value, "cs-method": value, "sc-status": 200})));
        }
        let glob = Pattern::new(detection::pieces(&splice), Placement::Whole, false);
        let _ = glob.matches(&value);
    }
}

proptest::proptest! {
    /// The wildcard matcher agrees with a regular expression built from the
    /// same pieces (case-sensitive, whole text).
    #[test]
    fn wildcards_match_as_a_regex_would(pattern in "[ab*?\\\\é]{0,8}", text in "[abé*?\\\\]{0,10}") {
        let p = detection::pieces(&pattern);
        let re: String = p
            .iter()
            .map(|piece| match piece {
                detection::Piece::Lit(l) => regex::escape(l),
                detection::Piece::Any => ".*".to_string(),
                detection::Piece::One => ".".to_string(),
            })
            .collect();
        let re = regex::Regex::new(&format!("(?s)^{re}$")).unwrap();
        let ours = Pattern::new(p, Placement::Whole, true).matches(&text);
        proptest::prop_assert_eq!(ours, re.is_match(&text), "{:?} on {:?}", pattern, text);
    }
}

/// A parsed CloudTrail record, as a job's Sigma rules read it: the parts
/// of the event the parser keeps as written (`additionalEventData`,
/// `requestParameters`), read by dotted names; `MFAUsed: 'NO'` matches
/// the event's `"No"`; a web rule does not apply to it.
#[test]
fn a_cloudtrail_record_is_read_by_its_sigma_names() {
    use crate::parse::{cloudtrail::CloudtrailParser, Outcome, Parser};
    use std::cell::OnceCell;
    let event = r#"{"eventTime":"2026-03-14T10:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","userIdentity":{"type":"IAMUser","userName":"ann","sessionContext":{"sessionIssuer":{"type":"Role"}}},"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"},"requestParameters":{"policies":[{"name":"a"},{"name":"AdministratorAccess"}]}}"#;
    let parser = CloudtrailParser::new(None);
    let Outcome::Record(r) = parser.parse(event.as_bytes()) else { panic!("not a record") };
    let trail = |detection: &str| {
        let text = format!(
            "title: t\nid: 1\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n{}\n",
            detection.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
        );
        parse_rule(Path::new("t.yml"), &text).unwrap()
    };
    let kind = source::kind(&trail("s:\n  eventName: x\ncondition: s").logsource).unwrap();
    assert_eq!(source::family(&r), source::Family::CloudTrail);
    let line = OnceCell::new();
    let e = record::RecordEvent::new(&kind, &r, &line);
    let hit = |d: &str| trail(d).matches(&e);
    assert!(hit("s:\n  eventName: ConsoleLogin\n  additionalEventData.MFAUsed: 'NO'\n  responseElements.ConsoleLogin: Success\ncondition: s"));
    assert!(!hit("s:\n  additionalEventData.MFAUsed: 'Yes'\ncondition: s"));
    assert!(hit("s:\n  userIdentity.sessionContext.sessionIssuer.type: Role\ncondition: s"));
    // Through a list: each item's value.
    assert!(hit(
        "s:\n  requestParameters.policies.name|contains: AdministratorAccess\ncondition: s"
    ));
    // The object as written, for rules that read it whole.
    assert!(hit("s:\n  requestParameters|contains: '\"name\":\"a\"'\ncondition: s"));
    // Absent parts are absent: `null` holds, `not` over them too.
    assert!(hit("s:\n  requestParameters.nothing: null\ncondition: s"));
    assert!(!kind.applies(source::Family::Web, "apache"));
}

#[test]
fn correlations_read_as_the_specification_writes_them() {
    let text = "title: base\nname: b\nlogsource:\n  category: webserver\ndetection:\n  s:\n    sc-status: 401\n  condition: s\n\
                ---\n\
                title: c\nid: c1\ncorrelation:\n  type: temporal\n  rules: [b, other]\n  group-by: [ip]\n  timespan: 90m\n  \
                aliases:\n    ip:\n      b: c-ip\n      other: source.ip\n";
    let rules = super::parse_rules(Path::new("c.yml"), text).unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].name.as_deref(), Some("b"));
    let c = rules[1].correlation.as_ref().unwrap().as_ref().unwrap();
    assert_eq!((c.timespan, c.min, c.generate), (5400, 2, false));
    assert_eq!(c.field_of("ip", Some("b"), "x"), "c-ip");
    assert_eq!(c.field_of("ip", None, "other"), "source.ip");
    assert_eq!(c.field_of("host", Some("b"), "x"), "host");
    let corr = |body: &str| {
        super::parse_rules(Path::new("c.yml"), &format!("title: c\ncorrelation:\n{body}"))
            .map(|mut r| r.remove(0).correlation.unwrap())
    };
    let e = corr("  type: event_count\n  rules: [b]\n  condition: {gte: 3}\n").unwrap_err();
    assert!(e.contains("missing key \"timespan\""), "{e}");
    let e = corr("  type: event_count\n  rules: [b]\n  timespan: 1 week\n  condition: {gte: 3}\n")
        .unwrap_err();
    assert!(e.contains("correlation.timespan: \"1 week\" is no time span"), "{e}");
    let e = corr("  type: value_count\n  rules: [b]\n  timespan: 1m\n  condition: {gte: 3}\n")
        .unwrap_err();
    assert!(e.contains("value_count needs \"field\""), "{e}");
    let e = corr("  type: event_count\n  rules: b\n  timespan: 1m\n  condition: {gte: x}\n")
        .unwrap_err();
    assert!(e.contains("correlation.condition.gte: expected a whole number"), "{e}");
    let why = corr("  type: value_sum\n  rules: b\n  timespan: 1m\n  condition: {gte: 3}\n")
        .unwrap()
        .unwrap_err();
    assert!(why.contains("\"value_sum\" is not run"), "{why}");
    let c = corr("  type: event_count\n  rules: b\n  timespan: 1m\n  condition: {gt: 3}\n")
        .unwrap()
        .unwrap();
    assert_eq!(c.min, 4);
    // Which document of several is broken is said.
    let e =
        super::parse_rules(Path::new("c.yml"), &format!("{}---\ntitle: x\n", text)).unwrap_err();
    assert!(e.starts_with("document 3: missing key \"logsource\""), "{e}");
    let e = super::parse_rules(Path::new("c.yml"), "action: global\ntitle: x\n").unwrap_err();
    assert!(e.contains("Sigma 1 rule collections"), "{e}");
}

#[test]
fn expand_puts_each_of_the_jobs_values_for_a_placeholder() {
    let mut ph = super::Placeholders::new();
    ph.insert("admins".into(), vec!["root".into(), "adm*".into()]);
    ph.insert("dirs".into(), vec!["/tmp".into(), "/dev/shm".into()]);
    let rule = |sel: &str| {
        let text = format!(
            "title: t\nlogsource:\n  category: webserver\ndetection:\n  sel:\n{sel}\n  condition: sel\n"
        );
        super::parse_rules_with(Path::new("t.yml"), &text, &ph).unwrap().remove(0)
    };
    let r = rule("    user|expand: '%admins%'");
    assert!(hits(&r, json!({"user": "ROOT"})) && hits(&r, json!({"user": "administrator"})));
    assert!(!hits(&r, json!({"user": "bob"})) && !hits(&r, json!({"user": "xroot"})));
    // Every combination, inside other text, with the modifiers after it.
    let r = rule("    cmd|expand|contains: 'cd %dirs%/%admins%;'");
    assert!(hits(&r, json!({"cmd": "sh -c 'cd /dev/shm/admin; ls'"})));
    assert!(hits(&r, json!({"cmd": "cd /tmp/root;"})));
    assert!(!hits(&r, json!({"cmd": "cd /var/root;"})));
    // A lone % is text.
    let r = rule("    cmd|expand: '100% %admins%'");
    assert!(hits(&r, json!({"cmd": "100% root"})));
    let r = parse_rule(
        Path::new("t.yml"),
        "title: t\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    f|expand: '%nope%'\n  condition: sel\n",
    )
    .unwrap();
    assert!(r.detection.unwrap_err().contains("%nope% has no values"));
}

/// The prefilter of a job's web rules (an access log's fields looked for
/// in its rendered line, clauses of texts) tries every rule that matches:
/// over the quickstart's access log and lines made of every text of every
/// web rule, in each part of a request; and over records whose request
/// parts are not in their message (as rows of another writer could be).
#[test]
fn the_prefilter_skips_only_web_rules_that_cannot_match() {
    use crate::parse::clf::{ClfParser, Mode};
    use crate::parse::{Outcome, Parser, Record, Value};
    use std::borrow::Cow;
    let root = env!("CARGO_MANIFEST_DIR");
    let all = ["stable", "test", "experimental", "deprecated", "unsupported"];
    let filter = set::Filter { status: all.map(String::from).to_vec(), ..set::Filter::default() };
    let paths = [
        format!("{root}/samples/sigma/rules/web"),
        format!("{root}/samples/sigma/rules-emerging-threats"),
    ];
    let set = set::Set::load(&paths, &filter, &super::Placeholders::new()).unwrap();
    // Every text in the web rules' detections, without wildcards.
    let mut texts: Vec<String> = Vec::new();
    fn walk(v: &Yaml, out: &mut Vec<String>) {
        match v {
            Yaml::String(s) => out.push(s.replace(['*', '?', ' ', '"'], "")),
            Yaml::Number(n) => out.push(n.to_string()),
            Yaml::Sequence(items) => items.iter().for_each(|i| walk(i, out)),
            Yaml::Mapping(m) => m.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    for r in &set.rules {
        let text = std::fs::read_to_string(&r.rule.path).unwrap();
        let doc: Yaml = serde_norway::from_str(&text).unwrap();
        walk(&doc["detection"], &mut texts);
    }
    let mut lines: Vec<String> = std::fs::read_to_string(format!("{root}/samples/web/access.log"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    for (i, t) in texts.iter().enumerate() {
        let (method, status) = (["GET", "POST", "OPTIONS"][i % 3], [200, 404, 301][i % 3]);
        let ts = "[07/Dec/2026:10:00:00 +0000]";
        lines.push(format!(
            "10.0.0.1 - - {ts} \"{method} /x{t}?a={t} HTTP/1.1\" {status} 5 \"-\" \"{t}\""
        ));
        lines.push(format!(
            "10.0.0.1 - - {ts} \"{method} {t} HTTP/1.1\" {status} 5 \"{t}\" \"curl\""
        ));
        lines.push(format!("10.0.0.1 - - {ts} \"{method} /{t}/ HTTP/1.1\" {status} 5 \"-\" \"-\""));
    }
    let parser = ClfParser::new(Mode::Combined, "web".into(), Default::default());
    let mut records: Vec<Record<'_>> = lines
        .iter()
        .filter_map(|l| match parser.parse(l.as_bytes()) {
            Outcome::Record(r) => Some(r),
            _ => None,
        })
        .collect();
    // Request parts that are not in the message.
    for t in texts.iter().take(200) {
        let mut r = records[0].clone();
        r.message = Cow::Owned("GET / HTTP/1.1".into());
        for (k, v) in r.fields.iter_mut() {
            match &**k {
                "path" => *v = Value::Str(Cow::Owned(format!("/{t}?q={t}"))),
                "method" => *v = Value::Str(Cow::Owned("POST".into())),
                _ => {}
            }
        }
        records.push(r);
    }
    let (mut hits, mut tried) = (0, 0);
    for r in &records {
        let mut got = Vec::new();
        set.matches(r, |i, _| got.push(i));
        got.sort_unstable();
        let family = source::family(r);
        let line = std::cell::OnceCell::new();
        let want: Vec<usize> = (0..set.rules.len())
            .filter(|&i| {
                let run = &set.rules[i];
                run.kind.applies(family, &r.service)
                    && run.rule.matches(&record::RecordEvent::new(&run.kind, r, &line))
            })
            .collect();
        assert_eq!(got, want, "{}", record::render(r));
        hits += want.len();
        tried += 1;
    }
    assert!(tried > 1000 && hits > 100, "{tried} records, {hits} matches");
}
