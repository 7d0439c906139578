//! Message templates: grouping accuracy on loghub's labelled 2k samples,
//! with the one default configuration.

use logtrack::parse::{Format, Outcome, ParserOptions};
use logtrack::source::lines::for_each_line;
use logtrack::template::{mask, Drain};
use std::collections::HashMap;

/// Each record's template (as the final cluster it joined), in line order.
fn templates_of(path: &str, format: &str) -> (Vec<u32>, Drain) {
    let data = std::fs::read(path).unwrap();
    let format: Format = format.parse().unwrap();
    let parser = format.parser(&ParserOptions::default()).unwrap();
    let mut drain = Drain::default();
    let mut masked = String::new();
    let mut out = Vec::new();
    for_each_line(&data, 1, |line, no, _| match parser.parse(line) {
        Outcome::Record(r) => {
            masked.clear();
            mask::mask_into(&r.message, &mut masked);
            out.push(drain.add(&r.service, &masked));
        }
        other => panic!("{path}:{no}: {other:?}"),
    });
    (out, drain)
}

/// The grouping accuracy of the log-parsing benchmarks (Zhu et al., ICSE
/// SEIP 2019): a message is parsed right when the messages of its template
/// are exactly those of its event in the ground truth.
fn grouping_accuracy(truth: &[String], ours: &[u32]) -> f64 {
    assert_eq!(truth.len(), ours.len());
    let mut by_event: HashMap<&str, usize> = HashMap::new();
    for t in truth {
        *by_event.entry(t).or_default() += 1;
    }
    let mut by_template: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, c) in ours.iter().enumerate() {
        by_template.entry(*c).or_default().push(i);
    }
    let mut right = 0;
    for members in by_template.values() {
        let event = &truth[members[0]];
        if members.iter().all(|&i| &truth[i] == event) && by_event[event.as_str()] == members.len()
        {
            right += members.len();
        }
    }
    right as f64 / truth.len() as f64
}

fn event_ids(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap().1.to_string())
        .collect()
}

/// loghub's 2k samples and Drain's published grouping accuracy on each
/// (logpai/logparser's benchmark table).
const SAMPLES: [(&str, &str, &str, &str, f64); 3] = [
    (
        "HDFS",
        "tests/data/loghub-hdfs/HDFS_2k.log",
        "hdfs",
        "tests/data/loghub-hdfs/HDFS_2k.eventids",
        0.998,
    ),
    (
        "Apache",
        "tests/data/loghub-apache-error/Apache_2k.log",
        "apache-error",
        "tests/data/loghub-apache-error/Apache_2k.eventids",
        1.0,
    ),
    (
        "OpenSSH",
        "tests/data/loghub-openssh/OpenSSH_2k.log",
        "syslog",
        "tests/data/loghub-openssh/OpenSSH_2k.eventids",
        0.788,
    ),
];

#[test]
fn grouping_accuracy_is_at_least_drains() {
    let mut failed = Vec::new();
    println!("| data set | templates | loghub events | grouping accuracy | Drain |");
    println!("|---|---|---|---|---|");
    for (name, log, format, ids, drain_ga) in SAMPLES {
        let (ours, drain) = templates_of(log, format);
        let truth = event_ids(ids);
        let ga = grouping_accuracy(&truth, &ours);
        let events: std::collections::HashSet<&String> = truth.iter().collect();
        println!(
            "| {name} | {} | {} | {ga:.3} | {drain_ga:.3} |",
            drain.clusters().len(),
            events.len()
        );
        if std::env::var_os("TEMPLATES_DEBUG").is_some() {
            for c in drain.clusters() {
                println!("    {}", c.text());
            }
        }
        if ga < drain_ga {
            failed.push(format!("{name}: {ga:.3} < {drain_ga:.3}"));
        }
    }
    assert!(failed.is_empty(), "below Drain: {failed:?}");
}

mod common;

use std::process::Command;

fn templates_cli(args: &[&str]) -> (String, String) {
    let o =
        Command::new(env!("CARGO_BIN_EXE_logtrack")).arg("templates").args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    (String::from_utf8_lossy(&o.stdout).into_owned(), err)
}

/// The templates of a file as `logtrack templates --output json` lists
/// them, one readable line each: count, service, template, example line.
fn listing(path: &str, format: &str) -> String {
    let (out, _) = templates_cli(&["--format", format, "--output", "json", path]);
    let mut text = String::new();
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            v["template_id"],
            logtrack::template::template_id(v["template"].as_str().unwrap())
        );
        text.push_str(&format!(
            "{:>5}  {}  {}  (line {})\n",
            v["count"].as_u64().unwrap(),
            v["service"].as_str().unwrap(),
            v["template"].as_str().unwrap(),
            v["example"]["line"]
        ));
    }
    text
}

/// Templates of every parser fixture (hostile cases included) and of
/// loghub's OpenSSH and Apache error heads: `templates@<format>-<file>`.
#[test]
fn templates_of_every_fixture() {
    let custom = |p: &str| std::fs::read_to_string(p).unwrap().trim_end().to_string();
    let cases: Vec<(&str, String)> = vec![
        ("tests/fixtures/common/golden.log", "common".into()),
        ("tests/fixtures/combined/awkward.log", "combined".into()),
        (
            "tests/fixtures/apache/duration.log",
            format!("apache:{}", custom("tests/fixtures/apache/duration.format")),
        ),
        (
            "tests/fixtures/nginx/upstream.log",
            format!("nginx:{}", custom("tests/fixtures/nginx/upstream.format")),
        ),
        ("tests/fixtures/hdfs/awkward.log", "hdfs".into()),
        ("tests/fixtures/hdfs-csv/awkward.csv", "hdfs-csv".into()),
        ("tests/fixtures/cloudtrail/identities.jsonl", "cloudtrail".into()),
        ("tests/fixtures/syslog/mixed.log", "syslog".into()),
        ("tests/fixtures/journald/entries.jsonl", "journald".into()),
        ("tests/fixtures/json/apps.jsonl", "json".into()),
        ("tests/fixtures/logfmt/apps.log", "logfmt".into()),
        ("tests/fixtures/apache-error/mixed.log", "apache-error".into()),
        ("tests/fixtures/nginx-error/error.log", "nginx-error".into()),
        (
            "tests/fixtures/regex/app.log",
            format!("regex:{}", custom("tests/fixtures/regex/app.format")),
        ),
        ("tests/data/loghub-openssh/OpenSSH_head150.log", "syslog".into()),
        ("tests/data/loghub-apache-error/Apache_head30.log", "apache-error".into()),
    ];
    for (path, format) in cases {
        let p = std::path::Path::new(path);
        let dir = p.parent().unwrap().file_name().unwrap().to_str().unwrap();
        let name = format!("templates@{dir}-{}", p.file_name().unwrap().to_str().unwrap());
        let text = listing(path, &format);
        assert!(!text.is_empty(), "{path}: no templates");
        common::insta_settings().bind(|| insta::assert_snapshot!(name, text));
    }
}

/// `parse --templates` ends each record with its template; the ids are the
/// hashes of the texts, and the listing's templates are the final ones.
#[test]
fn parse_adds_the_template_of_each_record() {
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args([
            "parse",
            "--templates",
            "--format",
            "syslog",
            "tests/data/loghub-openssh/OpenSSH_head150.log",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 150);
    for r in &records {
        let t = r["template"].as_str().unwrap();
        assert_eq!(r["template_id"], logtrack::template::template_id(t));
    }
    let invalid: Vec<&str> = records
        .iter()
        .filter(|r| r["message"].as_str().unwrap().starts_with("Invalid user "))
        .map(|r| r["template"].as_str().unwrap())
        .collect();
    assert!(invalid.len() > 2);
    // After its second user name, the template is general.
    assert!(invalid[1..].iter().all(|t| *t == "Invalid user <*> from <*>"), "{invalid:?}");
    // CSV: two more columns.
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args([
            "parse",
            "--templates",
            "--output",
            "csv",
            "--format",
            "hdfs",
            "tests/data/loghub-hdfs/HDFS_2k.log",
        ])
        .output()
        .unwrap();
    let mut rows = csv::Reader::from_reader(&o.stdout[..]);
    assert_eq!(rows.headers().unwrap().iter().next_back(), Some("template"));
    let first = rows.records().next().unwrap().unwrap();
    assert_eq!(&first[11], "PacketResponder <*> for block blk_<*> terminating");
    assert_eq!(&first[10], logtrack::template::template_id(&first[11]));
}

/// A message of 8 MiB, messages that are all numbers, and many distinct
/// messages with no word in common: the sizes and the cap hold, and the
/// command says the cap was reached.
#[test]
fn hostile_messages() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.jsonl");
    // Just under the 8 MiB line limit.
    let size = (8 << 20) - 100;
    let names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"];
    let mut words = names.iter().cycle().take(size / 5).copied().collect::<Vec<_>>().join(" ");
    words.truncate(words[..size].rfind(' ').unwrap());
    let line = |msg: &str| format!("{{\"time\":1735689601000,\"msg\":\"{msg}\"}}\n");
    std::fs::write(&big, line("start") + &line(&words) + &line(&"y".repeat(size))).unwrap();
    let text = listing(big.to_str().unwrap(), "json");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for l in &lines {
        assert!(l.len() < 48 * 65 + 100, "a template is bounded: {} bytes", l.len());
    }
    assert!(text.contains("  app  <*>  (line 3)"), "{text}");

    let numbers = dir.path().join("numbers.log");
    let lines: String = (0..500)
        .map(|i| format!("{{\"time\":1735689601000,\"msg\":\"{} {} -{}.5\"}}\n", i, i * 7, i))
        .collect();
    std::fs::write(&numbers, lines).unwrap();
    assert_eq!(listing(numbers.to_str().unwrap(), "json"), "  500  app  <*>  (line 1)\n");

    // 20,000 messages of three words no other message has, 50 templates at most.
    let distinct = dir.path().join("distinct.log");
    let lines: String = (0..20_000u64)
        .map(|i| {
            let (a, b, c) = (word(3 * i + 1), word(3 * i + 2), word(3 * i + 3));
            format!("{{\"time\":1735689601000,\"msg\":\"{a} {b} {c}\"}}\n")
        })
        .collect();
    std::fs::write(&distinct, lines).unwrap();
    let (out, err) = templates_cli(&[
        "--format",
        "json",
        "--output",
        "json",
        "--max-templates",
        "50",
        distinct.to_str().unwrap(),
    ]);
    assert!(out.lines().count() <= 51, "{} templates", out.lines().count());
    assert!(err.contains("reached the cap of 50 templates"), "{err}");
    let capped: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(capped["template"], "<*>");
    assert_eq!(capped["count"], 20_000 - 50);
}

/// A word of seven letters, different for every `n` below 2^32 - 5.
fn word(n: u64) -> String {
    let mut n = n * 2_654_435_761 % 4_294_967_291;
    (0..7)
        .map(|_| {
            let c = (b'a' + (n % 26) as u8) as char;
            n /= 26;
            c
        })
        .collect()
}

/// A million distinct messages: the tree keeps at most the cap per
/// service, and a run's counts at most `MAX_SIGNATURES` distinct messages.
#[test]
fn a_million_distinct_messages_stay_bounded() {
    use logtrack::template::catalog::{Catalog, SigStats, MAX_SIGNATURES};
    let mut drain = Drain::new(100);
    let mut stats = SigStats::default();
    let mut masked = String::new();
    let at = logtrack::detect::LineRef::default();
    for i in 0..1_000_000u64 {
        let msg = format!("{} {}", word(2 * i), word(2 * i + 1));
        masked.clear();
        mask::mask_into(&msg, &mut masked);
        drain.add("app", &masked);
        stats.add("app", &msg, i as i64, at);
    }
    assert!(drain.clusters().len() <= 101);
    assert!(drain.capped()[0].1 > 900_000);
    assert!(stats.dropped >= 1_000_000 - MAX_SIGNATURES as u64);
    let catalog = Catalog::build(Vec::new(), stats, 100);
    assert!(catalog.drain.clusters().len() <= 101);
    assert!(catalog.dropped > 0);
}

/// Grouping accuracy over loghub's `*_structured.csv` files in the folder
/// `LOGHUB_DIR` names (their `Content` column, one service), as the loghub
/// benchmark measures it; prints a table. Without `LOGHUB_DIR`, nothing.
#[test]
fn grouping_accuracy_of_a_loghub_folder() {
    let Some(dir) = std::env::var_os("LOGHUB_DIR") else { return };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_structured.csv"))
        .collect();
    files.sort();
    let mut sum = 0.0;
    for path in &files {
        let mut rdr = csv::Reader::from_path(path).unwrap();
        let head = rdr.headers().unwrap().clone();
        let col = |n: &str| head.iter().position(|h| h == n).unwrap();
        let (content, event) = (col("Content"), col("EventId"));
        let mut drain = Drain::default();
        let (mut truth, mut ours) = (Vec::new(), Vec::new());
        let mut masked = String::new();
        for row in rdr.records() {
            let row = row.unwrap();
            masked.clear();
            mask::mask_into(&row[content], &mut masked);
            ours.push(drain.add("", &masked));
            truth.push(row[event].to_string());
        }
        let ga = grouping_accuracy(&truth, &ours);
        sum += ga;
        let name =
            path.file_name().unwrap().to_string_lossy().replace("_2k.log_structured.csv", "");
        println!("{name:12} {ga:.3} {} templates", drain.clusters().len());
        if std::env::var_os("TEMPLATES_DEBUG").is_some() {
            let mut wrong: HashMap<u32, Vec<String>> = HashMap::new();
            for (i, c) in ours.iter().enumerate() {
                wrong.entry(*c).or_default().push(truth[i].clone());
            }
            for (c, evs) in wrong {
                let mut e = evs.clone();
                e.sort();
                e.dedup();
                println!("    {:4} {:?} {}", evs.len(), e, drain.cluster(c).text());
            }
        }
    }
    println!("mean {:.3} over {}", sum / files.len() as f64, files.len());
}
