//! Shared test helpers: insta settings (snapshots in the top-level
//! `snapshots/` folder, sorted maps) and rendering parsed files as text.
#![allow(dead_code)]

use logtrack::output;
use logtrack::parse::{Format, ParserOptions};
use logtrack::read::{self, ChunkResult};

/// Insta settings every snapshot test uses.
pub fn insta_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_sort_maps(true);
    s.set_omit_expression(true);
    s
}

/// Parses `path` and renders every record (as its JSON line) and every
/// reject (`REJECT path:line (byte n): reason`) in input order.
pub fn render(path: &str, format: &str, opts: &ParserOptions, chunk_size: Option<usize>) -> String {
    let format: Format = format.parse().unwrap();
    let mut opened = read::open(path, &format, opts).unwrap();
    if let Some(c) = chunk_size {
        opened.chunk_size = c;
    }
    let path_json = serde_json::to_string(path).unwrap();
    let mut items: Vec<(u64, u64, String)> = Vec::new();
    let stats = read::process(
        opened,
        move |buf: &mut Vec<(u64, u64, String)>, r, prov| {
            let mut out = Vec::new();
            output::write_record_json(&mut out, r, &path_json, prov);
            buf.push((prov.line, prov.index.unwrap_or(0), String::from_utf8(out).unwrap()));
        },
        |res: ChunkResult<Vec<(u64, u64, String)>>| {
            items.extend(res.value);
            for rej in res.rejects {
                items.push((rej.line, rej.index.unwrap_or(0), format!("REJECT {rej}\n")));
            }
            Ok(true)
        },
    )
    .unwrap();
    items.sort_by_key(|(l, i, _)| (*l, *i));
    let mut text: String = items.into_iter().map(|(_, _, s)| s).collect();
    text.push_str(&format!(
        "# {} records, {} rejected, {} lines{}\n",
        stats.records,
        stats.rejected,
        stats.lines,
        stats.notes.iter().map(|n| format!("; note: {n}")).collect::<String>()
    ));
    text
}

/// The alerts of a `report.json` in a directory, one comparable line each
/// (evidence left out).
pub fn alert_keys(report_dir: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(report_dir.join("report.json")).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    r["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {}",
                a["rule_id"], a["group"], a["window_start"], a["window_end"], a["count"]
            )
        })
        .collect()
}

/// Parses and returns the records as JSON values (rejects dropped).
pub fn records(path: &str, format: &str) -> Vec<serde_json::Value> {
    render(path, format, &ParserOptions::default(), None)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
pub mod citus;
pub mod dashboard;
pub mod http;
pub mod pg;
pub mod receivers;
pub mod webdriver;

/// A fresh database on one server, or on the Citus cluster with its tables
/// distributed (`db init --distributed`); `None`: test skipped.
pub fn fresh_db(name: &str, cluster: bool) -> Option<pg::TestDb> {
    if !cluster {
        return pg::database(name);
    }
    let db = citus::database(name)?;
    let o = pg::logtrack(&db, &["db", "init", "--distributed"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    Some(db)
}

/// A fresh database for this test, or return (test skipped; see `pg`).
#[macro_export]
macro_rules! db {
    ($name:expr) => {
        match common::pg::database($name) {
            Some(url) => url,
            None => return,
        }
    };
}

/// The two tests of `$body(cluster: bool)`: on one server, and on the Citus
/// cluster (see [`fresh_db`]).
#[macro_export]
macro_rules! on_both {
    ($name:ident, $on_cluster:ident, $body:ident) => {
        #[test]
        fn $name() {
            $body(false);
        }

        #[test]
        fn $on_cluster() {
            $body(true);
        }
    };
}

/// Makes `path` a file at rest: last written longer ago than a live file's
/// last multi-line record is held back for (see `source::multiline::REST`),
/// as a log nobody is writing to right now.
pub fn rest(path: &std::path::Path) {
    let ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options().write(true).open(path).unwrap().set_modified(ago).unwrap();
}
