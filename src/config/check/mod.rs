//! Checking a merged job tree key by key: every problem with its key path
//! (`rules[2].window: ...`), unknown keys named with a suggestion. One
//! file per part: [`sources`], [`rules`], [`receivers`]; the top level,
//! `[database]` and `[report]` here.

mod receivers;
mod rules;
mod sources;

use super::job::*;
use super::HumanDuration;
use crate::error::edit_distance;
use crate::expr::Expr;
use crate::parse::Tz;
use figment::value::{Dict, Value};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Collects problems while reading a tree.
struct Checker {
    problems: Vec<String>,
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("{c:?}"),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => num_f64(n).map(|f| f.to_string()).unwrap_or_else(|| "a number".into()),
        Value::Empty(..) => "nothing".into(),
        Value::Dict(..) => "a table".into(),
        Value::Array(..) => "a list".into(),
    }
}

impl Checker {
    fn err(&mut self, path: &str, msg: impl fmt::Display) {
        self.problems.push(format!("{path}: {msg}"));
    }

    fn unknown_keys(&mut self, dict: &Dict, path: &str, known: &[&str]) {
        for k in dict.keys() {
            if !known.contains(&k.as_str()) {
                let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match known.iter().find(|c| edit_distance(c, k) <= 2) {
                    Some(s) => self.err(&at, format!("unknown key (did you mean {s:?}?)")),
                    None => self.err(&at, "unknown key"),
                }
            }
        }
    }

    fn string(&mut self, dict: &Dict, key: &str, path: &str) -> Option<String> {
        match dict.get(key)? {
            Value::String(_, s) => Some(s.clone()),
            Value::Num(..) | Value::Bool(..) | Value::Char(..) => Some(describe(&dict[key])),
            other => {
                self.err(&join(path, key), format!("expected text, found {}", describe(other)));
                None
            }
        }
    }

    fn parsed<T: FromStr<Err = String>>(
        &mut self,
        dict: &Dict,
        key: &str,
        path: &str,
    ) -> Option<T> {
        let s = self.string(dict, key, path)?;
        match s.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(&join(path, key), e);
                None
            }
        }
    }

    fn number(&mut self, dict: &Dict, key: &str, path: &str) -> Option<f64> {
        match dict.get(key)? {
            Value::Num(_, n) => num_f64(n),
            Value::String(_, s) if s.trim().parse::<f64>().is_ok() => s.trim().parse().ok(),
            other => {
                self.err(&join(path, key), format!("expected a number, found {}", describe(other)));
                None
            }
        }
    }

    fn positive_int(&mut self, dict: &Dict, key: &str, path: &str) -> Option<u64> {
        let n = self.number(dict, key, path)?;
        if n >= 1.0 && n.fract() == 0.0 && n < 1e15 {
            Some(n as u64)
        } else {
            self.err(&join(path, key), format!("expected a whole number of at least 1, found {n}"));
            None
        }
    }

    fn boolean(&mut self, dict: &Dict, key: &str, path: &str) -> Option<bool> {
        match dict.get(key)? {
            Value::Bool(_, b) => Some(*b),
            Value::String(_, s) if s == "true" || s == "false" => Some(s == "true"),
            other => {
                self.err(
                    &join(path, key),
                    format!("expected true or false, found {}", describe(other)),
                );
                None
            }
        }
    }

    /// A `where`-style expression.
    fn expr(&mut self, dict: &Dict, key: &str, path: &str) -> Option<Expr> {
        let s = self.string(dict, key, path)?;
        Expr::parse(&s).map_err(|e| self.err(&join(path, key), e)).ok()
    }

    /// A matcher of alerts (the `where` grammar over an alert's labels).
    fn matcher(&mut self, dict: &Dict, key: &str, path: &str) -> Option<Expr> {
        let s = self.string(dict, key, path)?;
        Expr::parse_labels(&s).map_err(|e| self.err(&join(path, key), e)).ok()
    }

    /// A required number in `lo..=hi` (above `lo` unless `zero_ok`).
    fn bounded(
        &mut self,
        dict: &Dict,
        key: &str,
        path: &str,
        zero_ok: bool,
        (lo, hi): (f64, f64),
        what: &str,
    ) -> Option<f64> {
        let Some(n) = self.number(dict, key, path) else {
            if !dict.contains_key(key) {
                self.err(path, format!("missing key {key:?}"));
            }
            return None;
        };
        let above = if zero_ok { n >= lo } else { n > lo };
        if n.is_finite() && above && n <= hi {
            Some(n)
        } else {
            self.err(&join(path, key), format!("expected {what}, found {n}"));
            None
        }
    }

    /// `seasonality`, `seasons` and `min_history` of a z-score rule:
    /// `Some(None)` when not seasonal, `None` on a problem.
    fn seasonal(
        &mut self,
        d: &Dict,
        path: &str,
        window: Option<HumanDuration>,
    ) -> Option<Option<Seasonal>> {
        let period = match self.string(d, "seasonality", path).as_deref() {
            None if d.contains_key("seasonality") => return None,
            None => {
                for k in ["seasons", "min_history"] {
                    if d.contains_key(k) {
                        self.err(
                            &join(path, k),
                            "applies only with seasonality = \"daily\" or \"weekly\"",
                        );
                    }
                }
                return Some(None);
            }
            Some("daily") => DAY,
            Some("weekly") => WEEK,
            Some(other) => {
                self.err(
                    &join(path, "seasonality"),
                    format!("expected \"daily\" or \"weekly\", found {other:?}"),
                );
                return None;
            }
        };
        let whole = |c: &mut Checker, key: &str, default: u64| {
            if !d.contains_key(key) {
                return Some(default);
            }
            match c.positive_int(d, key, path)? {
                n if (2..=1000).contains(&n) => Some(n),
                n => {
                    c.err(&join(path, key), format!("expected 2 to 1000, found {n}"));
                    None
                }
            }
        };
        let seasons = whole(self, "seasons", if period == DAY { 7 } else { 4 })?;
        let min_history = whole(self, "min_history", seasons.min(3))?;
        if min_history > seasons {
            self.err(
                &join(path, "min_history"),
                format!("must be at most seasons ({seasons}), found {min_history}"),
            );
            return None;
        }
        if let Some(w) = window {
            if period % w.0 != 0 {
                self.err(
                    &join(path, "window"),
                    format!(
                        "must divide a {} evenly with seasonality (such as 5m, 15m or 1h), found {w}",
                        if period == DAY { "day" } else { "week" }
                    ),
                );
                return None;
            }
        }
        Some(Some(Seasonal { period, seasons: seasons as u32, min_history: min_history as u32 }))
    }

    /// A list of group keys (`["user", "fields.client_ip"]`), not empty.
    fn group_keys(&mut self, dict: &Dict, key: &str, path: &str) -> Option<Vec<GroupKey>> {
        let Some(Value::Array(_, items)) = dict.get(key) else {
            let found = dict.get(key).map_or("nothing".to_string(), describe);
            self.err(&join(path, key), format!("expected a list of keys such as [\"user\", \"fields.client_ip\"], found {found}"));
            return None;
        };
        let before = self.problems.len();
        let keys = self.key_list(items, path, key);
        if keys.is_empty() && self.problems.len() == before {
            self.err(&join(path, key), "must name at least one key");
        }
        (self.problems.len() == before).then_some(keys)
    }

    /// The group keys of a list (each bad item is a problem of its own).
    fn key_list(&mut self, items: &[Value], path: &str, key: &str) -> Vec<GroupKey> {
        let mut keys = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_str().map(str::parse::<GroupKey>) {
                Some(Ok(k)) => keys.push(k),
                Some(Err(e)) => self.err(&format!("{path}.{key}[{i}]"), e),
                None => self.err(
                    &format!("{path}.{key}[{i}]"),
                    format!("expected text, found {}", describe(item)),
                ),
            }
        }
        keys
    }

    /// `ignore`: templates (with `<*>`) and regexes, each checked.
    /// `key`: one text or a list of them (`None` when absent or wrong).
    fn strings(&mut self, dict: &Dict, key: &str, path: &str) -> Option<Vec<String>> {
        let items = match dict.get(key)? {
            Value::String(_, s) => return Some(vec![s.clone()]),
            Value::Array(_, items) => items,
            other => {
                self.err(
                    &join(path, key),
                    format!("expected a list of text, found {}", describe(other)),
                );
                return None;
            }
        };
        let before = self.problems.len();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) => out.push(s.to_string()),
                None => self.err(
                    &format!("{path}.{key}[{i}]"),
                    format!("expected text, found {}", describe(item)),
                ),
            }
        }
        (self.problems.len() == before).then_some(out)
    }

    fn ignore_list(&mut self, dict: &Dict, path: &str) -> Option<Vec<String>> {
        let items = match dict.get("ignore") {
            None => return Some(Vec::new()),
            Some(Value::Array(_, items)) => items,
            Some(other) => {
                self.err(
                    &join(path, "ignore"),
                    format!("expected a list of templates or regexes, found {}", describe(other)),
                );
                return None;
            }
        };
        let before = self.problems.len();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{path}.ignore[{i}]");
            match item.as_str() {
                Some(s) => match ignore_pattern(s) {
                    Ok(_) => out.push(s.to_string()),
                    Err(e) => self.err(&at, e),
                },
                None => self.err(&at, format!("expected text, found {}", describe(item))),
            }
        }
        (self.problems.len() == before).then_some(out)
    }

    /// A duration from `key` ("5m") or from the old tool's numeric aliases.
    fn duration(
        &mut self,
        dict: &Dict,
        key: &str,
        aliases: &[(&str, i64)],
        path: &str,
    ) -> Option<HumanDuration> {
        let given: Vec<&str> = std::iter::once(key)
            .chain(aliases.iter().map(|a| a.0))
            .filter(|k| dict.contains_key(*k))
            .collect();
        if given.len() > 1 {
            self.err(path, format!("give only one of {}", given.join(", ")));
            return None;
        }
        let d = if dict.contains_key(key) {
            match dict.get(key)? {
                Value::String(..) => self.parsed::<HumanDuration>(dict, key, path)?,
                other => {
                    self.err(
                        &join(path, key),
                        format!("expected a duration such as \"5m\", found {}", describe(other)),
                    );
                    return None;
                }
            }
        } else {
            let (alias, unit) = aliases.iter().find(|(a, _)| dict.contains_key(*a))?;
            let n = self.number(dict, alias, path)?;
            let secs = n * *unit as f64;
            if !(secs.is_finite() && secs <= MAX_DURATION.0 as f64) {
                self.err(&join(path, alias), format!("must be at most {MAX_DURATION}, found {n}"));
                return None;
            }
            HumanDuration(secs.round() as i64)
        };
        if d.0 < 1 {
            self.err(&join(path, key), "must be at least 1s");
            return None;
        }
        if d > MAX_DURATION {
            self.err(&join(path, key), format!("must be at most {MAX_DURATION}, found {d}"));
            return None;
        }
        Some(d)
    }
}

fn num_f64(n: &figment::value::Num) -> Option<f64> {
    n.to_i128().map(|i| i as f64).or_else(|| n.to_u128().map(|u| u as f64)).or_else(|| n.to_f64())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

const TOP_KEYS: &[&str] = &[
    "name",
    "now",
    "since",
    "until",
    "anonymize",
    "database",
    "sources",
    "rules",
    "rules_file",
    "report",
    "notify",
    "inhibit",
    "silence",
    "dashboard_url",
];

const SOURCE_KEYS: &[&str] = &[
    "path",
    "format",
    "service",
    "timezone",
    "max_reject_ratio",
    "mapping",
    "ts_format",
    "multiline",
    "max_lines",
    "max_bytes",
];
const RULE_KEYS: &[&str] = &[
    "id",
    "rule_id",
    "name",
    "type",
    "rule_type",
    "description",
    "runbook",
    "service",
    "group_by",
    "severity",
    "keyword",
    "case_sensitive",
    "message",
    "threshold",
    "window",
    "window_minutes",
    "window_seconds",
    "max_idle",
    "max_idle_minutes",
    "max_idle_seconds",
    "baseline_windows",
    "enabled",
    "where",
    "numerator",
    "min_total",
    "field",
    "percentile",
    "min_count",
    "seasonality",
    "seasons",
    "min_history",
    "robust",
    "learn",
    "remember",
    "fields",
    "severity_at_least",
    "ignore",
    "resolve_after",
    "path",
    "status",
    "level_at_least",
    "tags",
    "placeholders",
];

/// Checks a merged job tree. `default_name` names a job without `name`.
/// Checks a job's settings; `base` is the job file's directory (for
/// `rules_file`).
pub fn validate(dict: &Dict, default_name: &str, base: &Path) -> Result<Job, Problems> {
    let mut c = Checker { problems: Vec::new() };
    c.unknown_keys(dict, "", TOP_KEYS);
    let name = c.string(dict, "name", "").unwrap_or_else(|| default_name.to_string());
    let now = now(&mut c, dict);
    let (since, until) = (bound(&mut c, dict, "since"), bound(&mut c, dict, "until"));
    let anonymize = c.boolean(dict, "anonymize", "").unwrap_or(false);

    let database_url = database(&mut c, dict);

    let sources = sources::sources(&mut c, dict);
    let rules = rules::rules(&mut c, dict, base);
    let report = report(&mut c, dict);

    let dashboard_url = c.string(dict, "dashboard_url", "");
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    let notify = receivers::receivers(&mut c, dict, &ids, dashboard_url.as_deref());
    let inhibit = inhibit(&mut c, dict);
    let silence = silences(&mut c, dict);

    if c.problems.is_empty() {
        Ok(Job {
            name,
            now,
            since,
            until,
            anonymize,
            database_url,
            sources,
            rules,
            report,
            notify,
            inhibit,
            silence,
        })
    } else {
        Err(Problems(c.problems))
    }
}

/// `[[inhibit]]`: `source` and `target` matchers, and the `equal` labels.
fn inhibit(c: &mut Checker, dict: &Dict) -> Vec<crate::config::notify::Inhibit> {
    let mut out = Vec::new();
    for (path, d) in &tables(c, dict, "inhibit") {
        c.unknown_keys(d, path, &["source", "target", "equal"]);
        for key in ["source", "target"] {
            if !d.contains_key(key) {
                c.err(path, format!("missing key {key:?} (a matcher of alerts)"));
            }
        }
        let (source, target) = (c.matcher(d, "source", path), c.matcher(d, "target", path));
        let mut equal = Vec::new();
        for (j, e) in list(c, d, "equal").iter().enumerate() {
            match e.as_str() {
                Some(l) if ["rule", "job", "service", "severity"].contains(&l) => {
                    equal.push(l.to_string())
                }
                Some(l) if l.strip_prefix("group.").is_some_and(|k| !k.is_empty()) => {
                    equal.push(l.to_string())
                }
                _ => c.err(
                    &format!("{path}.equal[{j}]"),
                    format!(
                        "expected a label (rule, job, service, severity or group.<key>), found {}",
                        describe(e)
                    ),
                ),
            }
        }
        if let (Some(source), Some(target)) = (source, target) {
            out.push(crate::config::notify::Inhibit { source, target, equal });
        }
    }
    out
}

/// `[[silence]]`: `match`, `until`, and optionally `starts` (RFC 3339
/// times; from always when absent) and `comment`.
fn silences(c: &mut Checker, dict: &Dict) -> Vec<crate::config::notify::Silence> {
    let mut out = Vec::new();
    for (i, (path, d)) in tables(c, dict, "silence").iter().enumerate() {
        c.unknown_keys(d, path, &["match", "starts", "until", "comment"]);
        for (key, what) in [("match", "a matcher of alerts"), ("until", "an RFC 3339 time")] {
            if !d.contains_key(key) {
                c.err(path, format!("missing key {key:?} ({what})"));
            }
        }
        let matcher = c.matcher(d, "match", path);
        let mut time = |key: &str| {
            let t = c.string(d, key, path)?;
            let at = crate::parse::Timestamp::parse_rfc3339(&t, &Tz::default());
            if at.is_none() {
                c.err(
                    &join(path, key),
                    format!("{t:?} is not an RFC 3339 time such as \"2026-12-24T06:00:00Z\""),
                );
            }
            at.map(|t| t.secs)
        };
        let (starts, until) = (time("starts"), time("until"));
        if let (Some(s), Some(u)) = (starts, until) {
            if u < s {
                c.err(&join(path, "until"), "is before `starts`".to_string());
                continue;
            }
        }
        let comment = c.string(d, "comment", path).unwrap_or_default();
        if let (Some(matcher), Some(ends)) = (matcher, until) {
            out.push(crate::config::notify::Silence {
                id: None,
                ordinal: Some(i as i32 + 1),
                matcher,
                starts: starts.unwrap_or(i64::MIN),
                ends,
                comment,
                created_by: "job file".to_string(),
            });
        }
    }
    out
}

/// The tables of the list `key` (`[[key]]`), each with its key path
/// (`key[2]`); an item that is no table is a problem.
fn tables(c: &mut Checker, dict: &Dict, key: &str) -> Vec<(String, Dict)> {
    let mut out = Vec::new();
    for (i, v) in list(c, dict, key).into_iter().enumerate() {
        let path = format!("{key}[{i}]");
        match v {
            Value::Dict(_, d) => out.push((path, d)),
            other => c.err(&path, format!("expected a table, found {}", describe(&other))),
        }
    }
    out
}

fn list(c: &mut Checker, dict: &Dict, key: &str) -> Vec<Value> {
    match dict.get(key) {
        None => Vec::new(),
        Some(Value::Array(_, items)) => items.clone(),
        Some(other) => {
            c.err(key, format!("expected a list, found {}", describe(other)));
            Vec::new()
        }
    }
}

/// `[report]`: where the reports go and which formats (all three by
/// default).
fn report(c: &mut Checker, dict: &Dict) -> ReportSpec {
    match dict.get("report") {
        Some(Value::Dict(_, d)) => {
            c.unknown_keys(d, "report", &["dir", "formats"]);
            let dir =
                PathBuf::from(c.string(d, "dir", "report").unwrap_or_else(|| "reports".into()));
            let mut formats = Vec::new();
            for (i, f) in list(c, d, "formats").iter().enumerate() {
                match f.as_str() {
                    Some("json") => formats.push(ReportFormat::Json),
                    Some("md") | Some("markdown") => formats.push(ReportFormat::Md),
                    Some("html") => formats.push(ReportFormat::Html),
                    _ => c.err(
                        &format!("report.formats[{i}]"),
                        format!(
                            "unknown report format {} (expected \"json\", \"md\" or \"html\")",
                            describe(f)
                        ),
                    ),
                }
            }
            ReportSpec { dir, formats }
        }
        _ => ReportSpec {
            dir: "reports".into(),
            formats: vec![ReportFormat::Json, ReportFormat::Md, ReportFormat::Html],
        },
    }
}

/// `now`: end-of-data, wall-clock or an RFC 3339 time.
fn now(c: &mut Checker, dict: &Dict) -> Option<String> {
    let now = c.string(dict, "now", "");
    if let Some(n) = &now {
        let ok = n == "end-of-data"
            || n == "wall-clock"
            || crate::parse::Timestamp::parse_rfc3339(n, &Tz::default()).is_some();
        if !ok {
            c.err("now", format!("{n:?} is not end-of-data, wall-clock or an RFC 3339 time"));
        }
    }
    now
}

/// `since`/`until`: an RFC 3339 time or a duration back from now.
fn bound(c: &mut Checker, dict: &Dict, key: &str) -> Option<String> {
    let v = c.string(dict, key, "");
    if let Some(t) = &v {
        let ok = crate::parse::Timestamp::parse_rfc3339(t, &Tz::default()).is_some()
            || t.parse::<HumanDuration>().is_ok();
        if !ok {
            c.err(key, format!("{t:?} is not an RFC 3339 time or a duration such as \"24h\""));
        }
    }
    v
}

/// `[database]`: its `url`, if any.
fn database(c: &mut Checker, dict: &Dict) -> Option<String> {
    match dict.get("database") {
        None => None,
        Some(Value::Dict(_, d)) => {
            c.unknown_keys(d, "database", &["url"]);
            c.string(d, "url", "database").filter(|u| !u.is_empty())
        }
        Some(other) => {
            c.err("database", format!("expected a table, found {}", describe(other)));
            None
        }
    }
}
