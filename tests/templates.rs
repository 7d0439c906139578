//! Message templates: grouping accuracy on loghub's labelled 2k samples,
//! and how well `new_template` finds the messages that are new, with the
//! one default configuration.

use logtrack::parse::{Format, Outcome, ParserOptions};
use logtrack::source::lines::for_each_line;
use logtrack::source::LineRef;
use logtrack::template::catalog::{Catalog, SigStats};
use logtrack::template::{key_into, mask, Drain};
use std::collections::{HashMap, HashSet};

/// A sample's messages (service and message, in line order) and each one's
/// event in the ground truth.
struct Sample {
    messages: Vec<(String, String)>,
    truth: Vec<String>,
}

/// The records of a raw log as LogTrack parses it, with the events of an
/// `.eventids` file (`LineId,EventId`).
fn parsed(path: &str, format: &str, ids: &str) -> Sample {
    let data = std::fs::read(path).unwrap();
    let format: Format = format.parse().unwrap();
    let parser = format.parser(&ParserOptions::default()).unwrap();
    let mut messages = Vec::new();
    for_each_line(&data, 1, |line, no, _| match parser.parse(line) {
        Outcome::Record(r) => messages.push((r.service.to_string(), r.message.to_string())),
        other => panic!("{path}:{no}: {other:?}"),
    });
    let truth = std::fs::read_to_string(ids)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap().1.to_string())
        .collect();
    Sample { messages, truth }
}

/// The `Content` and `EventId` columns of a loghub CSV (the message as
/// loghub's benchmark hands it to a parser; one service).
fn from_csv(path: &std::path::Path) -> Sample {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let head = rdr.headers().unwrap().clone();
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let (content, event) = (col("Content"), col("EventId"));
    let (mut messages, mut truth) = (Vec::new(), Vec::new());
    for row in rdr.records() {
        let row = row.unwrap();
        messages.push((String::new(), row[content].to_string()));
        truth.push(row[event].to_string());
    }
    Sample { messages, truth }
}

/// Each message's template as a run finds them ([`Catalog::build`] over
/// the distinct masked messages, each first seen at its line number), and
/// the catalog.
fn templates(sample: &Sample) -> (Vec<u32>, Catalog) {
    let mut stats = SigStats::default();
    for (i, (service, message)) in sample.messages.iter().enumerate() {
        let at = LineRef { source: 0, line: i as u32 + 1, index: 0 };
        stats.add(service, message, i as i64, at);
    }
    let catalog = Catalog::build(Vec::new(), stats, logtrack::template::DEFAULT_CAP);
    let mut key = String::new();
    let ours = sample
        .messages
        .iter()
        .map(|(service, message)| {
            key.clear();
            key_into(service, message, &mut key);
            catalog.lookup(&key).unwrap()
        })
        .collect();
    (ours, catalog)
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

/// A `new_template` rule that learned on the first half of a sample and
/// alerts on the second: (precision, recall). An alert is a template first
/// seen in the second half; it is right when the message it was first seen
/// in is of an event new in the second half. A new event is found when its
/// first message's template is an alert's. (No alert and nothing new: 1.)
fn new_message_alerts(sample: &Sample, ours: &[u32], catalog: &Catalog) -> (f64, f64) {
    let half = sample.truth.len() / 2;
    let mut first_of_event: HashMap<&str, usize> = HashMap::new();
    let mut first_of_template: HashMap<u32, usize> = HashMap::new();
    for (i, (e, c)) in sample.truth.iter().zip(ours).enumerate() {
        first_of_event.entry(e).or_insert(i);
        first_of_template.entry(*c).or_insert(i);
    }
    let alerts: HashSet<u32> = first_of_template
        .iter()
        .filter(|(c, _)| catalog.info[**c as usize].first().unwrap() >= half as i64)
        .map(|(c, _)| *c)
        .collect();
    let new_events: Vec<&str> =
        first_of_event.iter().filter(|(_, i)| **i >= half).map(|(e, _)| *e).collect();
    let right = alerts
        .iter()
        .filter(|c| first_of_event[sample.truth[first_of_template[c]].as_str()] >= half)
        .count();
    let found = new_events.iter().filter(|e| alerts.contains(&ours[first_of_event[*e]])).count();
    if std::env::var_os("TEMPLATES_DEBUG").is_some() {
        for e in &new_events {
            let c = ours[first_of_event[*e]];
            if !alerts.contains(&c) {
                let (_, m) = &sample.messages[first_of_event[*e]];
                println!("  missed {e}: {m}\n         in {}", catalog.drain.cluster(c).text());
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    (ratio(right, alerts.len()), ratio(found, new_events.len()))
}

/// One row of the table: name, templates, events, GA, precision, recall.
fn measure(name: &str, sample: &Sample) -> (f64, f64, f64) {
    let (ours, catalog) = templates(sample);
    let ga = grouping_accuracy(&sample.truth, &ours);
    let (p, r) = new_message_alerts(sample, &ours, &catalog);
    let events: HashSet<&String> = sample.truth.iter().collect();
    let distinct: HashSet<&u32> = ours.iter().collect();
    println!("| {name} | {} | {} | {ga:.3} | {p:.3} | {r:.3} |", distinct.len(), events.len());
    (ga, p, r)
}

const HEADER: &str = "| sample | templates | loghub events | grouping accuracy | new-message precision | recall |\n|---|---|---|---|---|---|";

/// The shared samples: loghub's raw log (parsed as LogTrack parses it) or
/// its messages; Drain's published grouping accuracy (logpai/logparser's
/// benchmark table); and what LogTrack measures now (grouping accuracy,
/// new-message precision and recall), which must hold.
#[allow(clippy::type_complexity)]
const SAMPLES: [(&str, &str, f64, [f64; 3]); 8] = [
    ("HDFS", "hdfs", 0.998, [1.0, 1.0, 1.0]),
    ("Apache", "apache-error", 1.0, [1.0, 1.0, 1.0]),
    ("OpenSSH", "syslog", 0.788, [0.998, 1.0, 0.5]),
    ("Proxifier", "", 0.527, [1.0, 1.0, 1.0]),
    ("OpenStack", "", 0.733, [1.0, 1.0, 1.0]),
    ("Windows", "", 0.997, [0.996, 1.0, 1.0]),
    ("HealthApp", "", 0.780, [0.997, 0.956, 1.0]),
    ("Android", "", 0.911, [0.919, 0.910, 1.0]),
];

fn shared(name: &str, format: &str) -> Sample {
    match name {
        "HDFS" | "Apache" | "OpenSSH" => {
            let dir = match name {
                "HDFS" => "loghub-hdfs",
                "Apache" => "loghub-apache-error",
                _ => "loghub-openssh",
            };
            let base = format!("tests/data/{dir}/{name}_2k");
            parsed(&format!("{base}.log"), format, &format!("{base}.eventids"))
        }
        _ => from_csv(std::path::Path::new(&format!(
            "tests/data/loghub-2k/{name}_2k.log_events.csv"
        ))),
    }
}

#[test]
fn templates_hold_on_loghubs_samples() {
    let mut failed = Vec::new();
    println!("{HEADER}");
    let mut sums = [0.0; 3];
    for (name, format, drain, want) in SAMPLES {
        let got = measure(name, &shared(name, format));
        for (k, (g, w)) in [got.0, got.1, got.2].iter().zip(want).enumerate() {
            sums[k] += g;
            if *g < w - 1e-9 {
                failed.push(format!("{name}: measure {k}: {g:.3} < {w:.3}"));
            }
        }
        if got.0 < drain - 0.02 {
            failed.push(format!("{name}: {:.3} more than 0.02 below Drain's {drain:.3}", got.0));
        }
    }
    let n = SAMPLES.len() as f64;
    println!("| mean | | | {:.3} | {:.3} | {:.3} |", sums[0] / n, sums[1] / n, sums[2] / n);
    assert!(failed.is_empty(), "{failed:?}");
}

/// The same table over loghub's `*_structured.csv` files in the folder
/// `LOGHUB_DIR` names (all 16 samples, say); `TEMPLATES_DEBUG` adds the
/// templates that join events and the events split over templates.
/// Without `LOGHUB_DIR`, nothing.
#[test]
fn templates_of_a_loghub_folder() {
    let Some(dir) = std::env::var_os("LOGHUB_DIR") else { return };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_structured.csv"))
        .collect();
    files.sort();
    println!("{HEADER}");
    let mut sums = [0.0; 3];
    for path in &files {
        let name =
            path.file_name().unwrap().to_string_lossy().replace("_2k.log_structured.csv", "");
        let sample = from_csv(path);
        let got = measure(&name, &sample);
        sums[0] += got.0;
        sums[1] += got.1;
        sums[2] += got.2;
        if std::env::var_os("TEMPLATES_DEBUG").is_some() {
            debug(&sample);
        }
    }
    let n = files.len() as f64;
    println!(
        "| mean of {} | | | {:.3} | {:.3} | {:.3} |",
        files.len(),
        sums[0] / n,
        sums[1] / n,
        sums[2] / n
    );
}

/// Prints the templates that join several events, and the events split
/// over several templates, with an example message of each event.
fn debug(sample: &Sample) {
    let (ours, catalog) = templates(sample);
    let mut example: HashMap<&str, &str> = HashMap::new();
    for (e, (_, m)) in sample.truth.iter().zip(&sample.messages) {
        example.entry(e).or_insert(m);
    }
    let mut events: HashMap<u32, Vec<&str>> = HashMap::new();
    let mut split: HashMap<&str, std::collections::BTreeSet<u32>> = HashMap::new();
    for (e, c) in sample.truth.iter().zip(&ours) {
        events.entry(*c).or_default().push(e);
        split.entry(e).or_default().insert(*c);
    }
    for (c, mut e) in events {
        e.sort();
        e.dedup();
        if e.len() > 1 {
            println!("  joined: {}", catalog.drain.cluster(c).text());
            for ev in e {
                println!("         {ev}: {}", example[ev]);
            }
        }
    }
    for (ev, cs) in split {
        if cs.len() > 1 {
            println!("  split {ev}: {}", example[ev]);
            for c in cs {
                println!("         {}", catalog.drain.cluster(c).text());
            }
        }
    }
}

/// Drain on its own (as `parse --templates` uses it, message by message)
/// groups as the run's catalog does.
#[test]
fn the_tree_alone_groups_as_a_run_does() {
    let sample = shared("OpenStack", "");
    let mut drain = Drain::default();
    let mut masked = String::new();
    let online: Vec<u32> = sample
        .messages
        .iter()
        .map(|(s, m)| {
            masked.clear();
            mask::mask_into(m, &mut masked);
            drain.add(s, &masked)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|c| drain.resolve(c))
        .collect();
    let (batch, _) = templates(&sample);
    assert_eq!(grouping_accuracy(&sample.truth, &online), grouping_accuracy(&sample.truth, &batch));
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
    // After its second user name, the template is general (a user name is a
    // name, however few there are).
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
