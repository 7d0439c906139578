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
