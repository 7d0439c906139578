//! Real logs written by other people (see `tests/data/SOURCES.md`): our
//! fields against the expected output of a peer (Filebeat), record counts,
//! and chunked parallel parsing against a plain sequential loop.

mod common;

use logtrack::output;
use logtrack::parse::{Format, Outcome, ParserOptions};
use logtrack::read;
use logtrack::source::lines::for_each_line;
use serde_json::Value;

/// Filebeat writes `2016-12-26T14:16:29.000Z`; we keep the precision the
/// input had (whole seconds here).
fn fb_time(v: &Value) -> String {
    v.as_str().unwrap().replace(".000Z", "Z")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(n) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(n);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Compares our records with Filebeat's expected events, field by field.
/// Deliberate differences: Filebeat keeps `"-"` as the referrer, we write
/// null (DESIGN: unknown is null); `http.version` is our `protocol` without
/// `HTTP/`; with `decode_urls`, Filebeat percent-decoded `url.original`
/// while we keep the target as logged, so ours is decoded before comparing.
fn compare(ours: &[Value], expected: &[Value], decode_urls: bool) {
    assert_eq!(ours.len(), expected.len(), "record count");
    for (i, (o, e)) in ours.iter().zip(expected).enumerate() {
        let f = &o["fields"];
        let ctx = format!("record {} ({})", i + 1, o["message"]);
        assert_eq!(o["ts"].as_str().unwrap(), fb_time(&e["@timestamp"]), "{ctx}: ts");
        assert_eq!(f["client_ip"], e["source.address"], "{ctx}: client");
        assert_eq!(
            f["method"],
            *e.get("http.request.method").unwrap_or(&Value::Null),
            "{ctx}: method"
        );
        let path = match (&f["path"], decode_urls) {
            (Value::String(p), true) => Value::String(percent_decode(p)),
            (p, _) => p.clone(),
        };
        assert_eq!(path, *e.get("url.original").unwrap_or(&Value::Null), "{ctx}: path");
        assert_eq!(f["status"], e["http.response.status_code"], "{ctx}: status");
        assert_eq!(
            f["bytes"],
            *e.get("http.response.body.bytes").unwrap_or(&Value::Null),
            "{ctx}: bytes"
        );
        let version = f["protocol"].as_str().map(|p| p.trim_start_matches("HTTP/").to_string());
        assert_eq!(
            version.as_deref(),
            e.get("http.version").and_then(Value::as_str),
            "{ctx}: protocol"
        );
        let referer = match e.get("http.request.referrer").and_then(Value::as_str) {
            None | Some("-") => None,
            Some(r) => Some(r.to_string()),
        };
        let ours_ref =
            f["referer"]
                .as_str()
                .map(|r| if decode_urls { percent_decode(r) } else { r.to_string() });
        assert_eq!(ours_ref, referer, "{ctx}: referer");
    }
}

fn expected_json(path: &str) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn filebeat_apache_access_fields_match() {
    let ours = common::records("tests/data/filebeat-apache/test.log", "combined");
    compare(&ours, &expected_json("tests/data/filebeat-apache/test.log-expected.json"), false);
}

#[test]
fn filebeat_nginx_forwarded_lists_match() {
    let ours = common::records("tests/data/filebeat-nginx/test.log", "nginx");
    compare(&ours, &expected_json("tests/data/filebeat-nginx/test.log-expected.json"), false);
}

#[test]
fn filebeat_nginx_access_log_matches_core_fields() {
    let ours = common::records("tests/data/filebeat-nginx/access.log", "nginx");
    let expected: Vec<Value> =
        std::fs::read_to_string("tests/data/filebeat-nginx/access.log-expected.core.jsonl")
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    compare(&ours, &expected, true);
    // The vhost prefix of the last line is the record's host.
    assert_eq!(ours[12]["host"], "lessons.example.com");
}

#[test]
fn old_tool_golden_lines_are_utc_instants() {
    let ours = common::records("tests/fixtures/common/golden.log", "common");
    let ts: Vec<&str> = ours.iter().map(|r| r["ts"].as_str().unwrap()).collect();
    assert_eq!(
        ts,
        [
            "2020-01-21T04:32:14Z",
            "2020-01-21T04:33:14Z",
            "2020-01-21T08:02:11Z",
            "2020-01-21T23:59:59Z"
        ]
    );
}

#[test]
fn elastic_apache_slice_rejects_only_the_truncated_line() {
    let text = common::render(
        "tests/data/elastic-apache/apache_logs_8001-9000",
        "auto",
        &ParserOptions::default(),
        None,
    );
    let rejects: Vec<&str> = text.lines().filter(|l| l.starts_with("REJECT")).collect();
    assert_eq!(
        rejects,
        ["REJECT tests/data/elastic-apache/apache_logs_8001-9000:899 (byte 217996): unterminated quoted user agent"]
    );
    assert!(
        text.ends_with("# 999 records, 1 rejected, 1000 lines\n"),
        "{}",
        text.lines().last().unwrap()
    );
}

#[test]
fn loghub_hdfs_every_line_is_a_record() {
    let recs = common::records("tests/data/loghub-hdfs/HDFS_2k.log", "auto");
    assert_eq!(recs.len(), 2000);
    let warns = recs.iter().filter(|r| r["severity"] == "warn").count();
    assert_eq!(warns, 80);
    let multi =
        recs.iter().filter(|r| r["fields"]["block_ids"].as_array().unwrap().len() > 1).count();
    assert!(multi > 0);
    // CRLF line ends never leak into the message.
    assert!(recs.iter().all(|r| !r["message"].as_str().unwrap().ends_with('\r')));
}

#[test]
fn loghub_csv_without_leading_zeros_matches_the_raw_log() {
    let raw = common::records("tests/data/loghub-hdfs/HDFS_2k.log", "hdfs");
    let csv =
        common::records("tests/data/loghub-hdfs/HDFS_2k.log_structured_corrected.csv", "hdfs-csv");
    assert_eq!(raw.len(), csv.len());
    for (r, c) in raw.iter().zip(&csv) {
        assert_eq!(r["ts"], c["ts"]);
        assert_eq!(r["message"], c["message"]);
        assert_eq!(r["fields"]["block_ids"], c["fields"]["block_ids"]);
    }
}

#[test]
fn cloudtrail_files_all_parse() {
    let mut total = 0;
    for entry in std::fs::read_dir("tests/data/cloudtrail").unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            let path = p.to_str().unwrap();
            let text = common::render(path, "auto", &ParserOptions::default(), None);
            assert!(!text.contains("REJECT"), "{path}");
            let n = common::records(path, "cloudtrail").len();
            let expected: Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            assert_eq!(n, expected["Records"].as_array().unwrap().len(), "{path}");
            total += n;
        }
    }
    assert_eq!(total, 29 + 3 + 1 + 2 + 7);
}

#[test]
fn apache_error_log_is_not_mistaken_for_an_access_log() {
    let path = "tests/data/loghub-apache-error/Apache_head30.log";
    let opened = read::open(path, &Format::Auto, &Default::default()).unwrap();
    assert_eq!(opened.format, Format::ApacheError);
    let text = common::render(path, "combined", &Default::default(), None);
    assert!(text.ends_with("# 0 records, 30 rejected, 30 lines\n"));
}

/// `auto` picks the right format for every real sample and every fixture,
/// and the whole of loghub's OpenSSH and Apache error samples read with no
/// reject.
#[test]
fn auto_picks_the_right_format() {
    for (path, want) in [
        ("tests/data/loghub-openssh/OpenSSH_2k.log", "syslog"),
        ("tests/data/loghub-apache-error/Apache_2k.log", "apache-error"),
        ("tests/data/loghub-apache-error/Apache_head30.log", "apache-error"),
        ("tests/data/loghub-hdfs/HDFS_2k.log", "hdfs"),
        ("tests/data/loghub-hdfs/HDFS_2k.log_structured_corrected.csv", "hdfs-csv"),
        ("tests/data/elastic-apache/apache_logs_8001-9000", "clf"),
        ("tests/data/filebeat-apache/test.log", "clf"),
        ("tests/data/filebeat-nginx/access.log", "clf"),
        ("tests/data/filebeat-nginx/test-with-host.log", "clf"),
        ("tests/data/cloudtrail/stratus-selection.json", "cloudtrail"),
        ("tests/fixtures/cloudtrail/identities.jsonl", "cloudtrail"),
        ("tests/fixtures/syslog/mixed.log", "syslog"),
        ("tests/fixtures/journald/entries.jsonl", "journald"),
        ("tests/fixtures/json/apps.jsonl", "json"),
        ("tests/fixtures/logfmt/apps.log", "logfmt"),
        ("tests/fixtures/apache-error/mixed.log", "apache-error"),
        ("tests/fixtures/nginx-error/error.log", "nginx-error"),
        ("tests/fixtures/hdfs/awkward.log", "hdfs"),
        ("tests/fixtures/combined/awkward.log", "clf"),
        ("samples/auth/auth.log", "syslog"),
        ("samples/app/app.jsonl", "json"),
    ] {
        let opened = read::open(path, &Format::Auto, &Default::default()).unwrap();
        assert_eq!(opened.format.to_string(), want, "{path}");
    }
    for path in
        ["tests/data/loghub-openssh/OpenSSH_2k.log", "tests/data/loghub-apache-error/Apache_2k.log"]
    {
        let text = common::render(path, "auto", &Default::default(), None);
        assert!(
            text.ends_with("# 2000 records, 0 rejected, 2000 lines\n"),
            "{path}: {}",
            &text[text.len() - 80..]
        );
    }
}

/// Every authentication failure in loghub's OpenSSH sample that fail2ban's
/// sshd filter (normal mode) counts is a failure here, and nothing else is.
#[test]
fn openssh_failures_are_what_fail2ban_counts() {
    let recs = common::records("tests/data/loghub-openssh/OpenSSH_2k.log", "syslog");
    let counts = |pred: &dyn Fn(&str) -> bool| {
        recs.iter().filter(|r| pred(r["message"].as_str().unwrap())).count()
    };
    let failures = recs.iter().filter(|r| r["fields"]["outcome"] == "failure").count();
    // The message shapes fail2ban's failregex lines match in this sample.
    // A pam_unix failure is the same attempt as sshd's "Failed password"
    // line after it (see parse::sessions), so not counted again.
    let expected = counts(&|m: &str| {
        m.starts_with("Failed ")
            || m.starts_with("Invalid user ")
            || m.starts_with("Disconnecting: Too many authentication failures")
            || m.starts_with("error: maximum authentication attempts exceeded")
            || (m.starts_with("message repeated ") && m.contains("[ Failed "))
            || m.contains("not allowed because")
            || (m.contains("Received disconnect from ")
                && m.contains(": 3: ")
                && m.contains("Auth fail"))
    });
    assert_eq!(failures, expected);
    assert!(failures > 600, "{failures}");
    for r in &recs {
        if r["fields"]["outcome"] == "failure" {
            assert_eq!(r["severity"], "warn", "{r}");
            // Every one with its address: a "Disconnecting" line takes it
            // from its process's earlier lines.
            assert!(
                !r["fields"]["client_ip"].is_null() || !r["fields"]["client_host"].is_null(),
                "{r}"
            );
        }
    }
}

/// Builds a few MB of mixed lines (several formats' worth of awkwardness,
/// CRLF and lone CR, very long lines) and checks that parsing in small
/// parallel chunks gives exactly what a sequential loop gives.
#[test]
fn chunked_parallel_parse_equals_sequential() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.log");
    let mut data = Vec::new();
    let sources = [
        std::fs::read("tests/data/elastic-apache/apache_logs_8001-9000").unwrap(),
        std::fs::read("tests/fixtures/combined/awkward.log").unwrap(),
        std::fs::read("tests/data/filebeat-nginx/test.log").unwrap(),
    ];
    let mut i = 0u64;
    while data.len() < 3 << 20 {
        let s = &sources[(i % 3) as usize];
        data.extend_from_slice(s);
        if i.is_multiple_of(7) {
            data.extend_from_slice(b"1.2.3.4 - - [20/Jan/2020:21:32:14 +0000] \"GET /");
            data.extend(std::iter::repeat_n(b'a', 5000 + i as usize));
            data.extend_from_slice(b" HTTP/1.1\" 200 1\r\n");
        }
        i += 1;
    }
    std::fs::write(&path, &data).unwrap();
    let path = path.to_str().unwrap();

    let parser = Format::Combined.parser(&ParserOptions::default()).unwrap();
    let path_json = serde_json::to_string(path).unwrap();
    let mut sequential = String::new();
    let (mut records, mut rejects) = (0, 0);
    for_each_line(&data, 1, |line, no, off| match parser.parse(line) {
        Outcome::Record(r) => {
            records += 1;
            let mut out = Vec::new();
            let prov =
                logtrack::parse::Provenance { line: no, index: None, byte_offset: off as u64 };
            output::write_record_json(&mut out, &r, &path_json, prov);
            sequential.push_str(std::str::from_utf8(&out).unwrap());
        }
        Outcome::Reject(reason) => {
            rejects += 1;
            sequential.push_str(&format!("REJECT {path}:{no} (byte {off}): {reason}\n"));
        }
        Outcome::Skip => {}
    });
    assert!(records > 10_000 && rejects > 10);
    for chunk in [4096, 65_536, 1 << 20] {
        let text = common::render(path, "combined", &ParserOptions::default(), Some(chunk));
        let body = &text[..text.rfind("# ").unwrap()];
        assert!(body == sequential, "chunk size {chunk} differs from the sequential parse");
        assert!(text.contains(&format!("# {records} records, {rejects} rejected")));
    }
}

/// fail2ban's own `sshd` test fixture (its annotations say, per line,
/// whether fail2ban counts a failure and for which host). In fail2ban's
/// normal mode: at least 95% of the lines it blames on an address are
/// failures with that address here; no line here blames an address that
/// fail2ban does not blame on that line (or, for a line of a session,
/// anywhere); no success and no plain connection is a failure. The same
/// holds however the file is cut into chunks.
#[test]
fn sshd_failures_agree_with_fail2ban() {
    let path = "tests/data/fail2ban-sshd/sshd";
    let text = std::fs::read_to_string(path).unwrap();
    // line number -> (normal mode?, match, host)
    let mut expect: std::collections::BTreeMap<u64, (bool, bool, Option<String>)> =
        Default::default();
    let (mut normal_section, mut note) = (true, None::<serde_json::Value>);
    let mut blamed_anywhere = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(opts) = line.strip_prefix("# filterOptions:") {
            // A section is of normal mode unless all its options name a mode.
            normal_section = !opts.contains("\"mode\"") || opts.contains("{}");
            continue;
        }
        if let Some(j) = line.strip_prefix("# failJSON:") {
            note = Some(serde_json::from_str(j.trim()).unwrap());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some(n) = note.take() else { continue };
        let constraint = n["constraint"].as_str().unwrap_or("");
        let normal = normal_section && !constraint.contains("== 'aggressive'");
        let host = n["host"].as_str().map(str::to_string);
        if n["match"] == true {
            blamed_anywhere.extend(host.clone());
        }
        expect.insert(i as u64 + 1, (normal, n["match"] == true, host));
    }
    let check = |recs: &[serde_json::Value]| {
        let (mut blamed, mut hit, mut misses) = (0, 0, Vec::new());
        let by_line: std::collections::BTreeMap<u64, &serde_json::Value> =
            recs.iter().map(|r| (r["source"]["line"].as_u64().unwrap(), r)).collect();
        let address = |r: &serde_json::Value| {
            let f = &r["fields"];
            f["client_ip"].as_str().or(f["client_host"].as_str()).map(str::to_string)
        };
        for (line, (normal, matched, host)) in &expect {
            let r = by_line.get(line);
            let failure = r.is_some_and(|r| r["fields"]["outcome"] == "failure");
            let got = r.and_then(|r| address(r));
            if *normal && *matched && host.is_some() {
                blamed += 1;
                if failure && got == *host {
                    hit += 1;
                } else {
                    misses
                        .push(format!("line {line}: {got:?} failure={failure}, fail2ban {host:?}"));
                }
            }
            if failure {
                if let Some(a) = &got {
                    // Never an address fail2ban does not blame: on this line
                    // when it names one here, else anywhere (a session's).
                    let ok = match (matched, host) {
                        (true, Some(h)) => a == h,
                        _ => blamed_anywhere.contains(a),
                    };
                    assert!(ok, "line {line} blames {a}; fail2ban {host:?}");
                }
            }
        }
        for r in recs {
            let m = r["message"].as_str().unwrap();
            if m.starts_with("Accepted ") || m.starts_with("Connection from ") {
                assert_ne!(r["fields"]["outcome"], "failure", "{m}");
            }
        }
        (blamed, hit, misses)
    };
    let recs = common::records(path, "syslog");
    let (blamed, hit, misses) = check(&recs);
    assert!(blamed > 60, "{blamed}");
    eprintln!("fail2ban sshd fixture: {hit} of {blamed} lines agree; missed: {misses:#?}");
    assert!(hit * 100 >= blamed * 95, "{hit} of {blamed}: {misses:#?}");
    // Cut into chunks of any size, the same records.
    let whole = common::render(path, "syslog", &ParserOptions::default(), None);
    for chunk in [512, 4096] {
        let cut = common::render(path, "syslog", &ParserOptions::default(), Some(chunk));
        assert_eq!(cut, whole, "chunks of {chunk}");
    }
}

/// loghub's Linux sample (a RHEL 4-era syslog): every module-tagged PAM
/// failure of sshd carries its outcome and the remote side, an IP address
/// as `client_ip`, a host name as `client_host`.
#[test]
fn older_pam_failures_carry_outcome_and_address() {
    let recs = common::records("tests/data/loghub-linux/Linux_2k.log", "syslog");
    assert_eq!(recs.len(), 2000);
    let pam: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| {
            r["service"] == "sshd(pam_unix)"
                && r["message"].as_str().unwrap().starts_with("authentication failure;")
        })
        .collect();
    assert!(pam.len() > 450, "{}", pam.len());
    for r in &pam {
        let f = &r["fields"];
        assert_eq!(f["outcome"], "failure", "{r}");
        let ip = f["client_ip"].as_str();
        let name = f["client_host"].as_str();
        assert!(ip.is_some() != name.is_some(), "{r}");
        if let Some(ip) = ip {
            assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{r}");
        }
    }
    assert!(pam.iter().any(|r| r["fields"]["client_host"] == "220-135-151-1.hinet-ip.hinet.net"));
}
