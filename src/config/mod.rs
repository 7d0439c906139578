//! Job files: loading with figment (built-in defaults, `config/logtrack.toml`,
//! the job file, `LOGTRACK_*` variables, command-line flags — later layers
//! win), then one validation pass that turns the raw tree into a [`Job`] and
//! reports *every* problem with its key path (`rules[2].window: ...`).
//!
//! Validation reads the merged tree key by key instead of deriving
//! `Deserialize`, so one bad value does not hide the others, unknown keys are
//! named (with a suggestion), and the old tool's keys (`rule_type`,
//! `window_minutes`, `window_seconds`, `max_idle_minutes`) are accepted.

mod duration;
pub mod notify;

pub use duration::{time_arg, HumanDuration, MAX_SECS, MIN_SECS};

use crate::error::edit_distance;
use crate::expr::Expr;
use crate::parse::{Format, Tz};
use figment::providers::{Env, Format as _, Json, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::Figment;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Site settings, merged under every job.
pub const SITE_CONFIG: &str = "config/logtrack.toml";

/// Severity of an alert (not of a log record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertSeverity {
    Low,
    Medium,
    High,
    Critical,
}

impl AlertSeverity {
    pub const ALL: [AlertSeverity; 4] =
        [AlertSeverity::Low, AlertSeverity::Medium, AlertSeverity::High, AlertSeverity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Low => "low",
            AlertSeverity::Medium => "medium",
            AlertSeverity::High => "high",
            AlertSeverity::Critical => "critical",
        }
    }
}

impl fmt::Display for AlertSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertSeverity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "low" => AlertSeverity::Low,
            "medium" => AlertSeverity::Medium,
            "high" => AlertSeverity::High,
            "critical" => AlertSeverity::Critical,
            _ => {
                return Err(format!(
                    "unknown severity {s:?} (expected low, medium, high or critical)"
                ))
            }
        })
    }
}

/// What an alert's group is split by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupKey {
    Service,
    User,
    Host,
    ClientIp,
    Message,
    /// `fields.<key>`
    Field(String),
}

impl GroupKey {
    pub fn name(&self) -> String {
        match self {
            GroupKey::Service => "service".into(),
            GroupKey::User => "user".into(),
            GroupKey::Host => "host".into(),
            GroupKey::ClientIp => "client_ip".into(),
            GroupKey::Message => "message".into(),
            GroupKey::Field(k) => format!("fields.{k}"),
        }
    }
}

impl FromStr for GroupKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "service" => GroupKey::Service,
            "user" => GroupKey::User,
            "host" => GroupKey::Host,
            "client_ip" => GroupKey::ClientIp,
            "message" => GroupKey::Message,
            _ => match s.strip_prefix("fields.") {
                Some(k) if !k.is_empty() => GroupKey::Field(k.to_string()),
                _ => {
                    return Err(format!(
                        "unknown group key {s:?} (expected service, user, host, client_ip, message or fields.<key>)"
                    ))
                }
            },
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum RuleKind {
    KeywordThreshold {
        keyword: String,
        case_sensitive: bool,
        threshold: u64,
        window: HumanDuration,
    },
    RepeatedMessage {
        message: Option<String>,
        threshold: u64,
        window: HumanDuration,
    },
    UserThreshold {
        message: String,
        case_sensitive: bool,
        threshold: u64,
        window: HumanDuration,
    },
    RateSpike {
        threshold: u64,
        window: HumanDuration,
    },
    Inactivity {
        max_idle: HumanDuration,
    },
    ZscoreAnomaly {
        threshold: f64,
        window: HumanDuration,
        /// Bins before the evaluated one (when not seasonal).
        baseline_windows: u32,
        /// Compare with the same bin of earlier days or weeks instead.
        seasonal: Option<Seasonal>,
        /// Median and MAD instead of mean and standard deviation.
        robust: bool,
    },
    /// The share of the selected records that match `numerator`.
    Ratio {
        numerator: Expr,
        threshold: f64,
        min_total: u64,
        window: HumanDuration,
    },
    /// The first sight of a message template (see `crate::template`).
    NewTemplate {
        min_count: u64,
        /// In memory: the first span of the data is the baseline.
        learn: i64,
        /// Records of a lower severity are not counted.
        severity_at_least: Option<crate::parse::Severity>,
        /// Templates (`<*>` matches any text) and regexes: records whose
        /// message matches one are not counted.
        ignore: Vec<String>,
    },
    /// The first sight of a combination of values (the rule's `group_by`,
    /// given as `fields`).
    NewValue {
        min_count: u64,
        learn: i64,
        /// A combination not seen for this long is new again.
        remember: i64,
    },
    /// A percentile of a numeric field.
    Percentile {
        /// The key in `fields`.
        field: String,
        percentile: f64,
        threshold: f64,
        min_count: u64,
        window: HumanDuration,
    },
}

/// A seasonal baseline: the same bin of the previous `seasons` periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seasonal {
    /// Seconds: a day or a week.
    pub period: i64,
    pub seasons: u32,
    /// Seasons of history a bin needs before it can alert.
    pub min_history: u32,
}

impl Seasonal {
    pub fn name(&self) -> &'static str {
        if self.period == WEEK {
            "weekly"
        } else {
            "daily"
        }
    }
}

pub const DAY: i64 = 86_400;
pub const WEEK: i64 = 7 * DAY;

impl RuleKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            RuleKind::KeywordThreshold { .. } => "keyword_threshold",
            RuleKind::RepeatedMessage { .. } => "repeated_message",
            RuleKind::UserThreshold { .. } => "user_threshold",
            RuleKind::RateSpike { .. } => "rate_spike",
            RuleKind::Inactivity { .. } => "inactivity",
            RuleKind::ZscoreAnomaly { .. } => "zscore_anomaly",
            RuleKind::Ratio { .. } => "ratio",
            RuleKind::Percentile { .. } => "percentile",
            RuleKind::NewTemplate { .. } => "new_template",
            RuleKind::NewValue { .. } => "new_value",
        }
    }
}

impl RuleKind {
    /// The `&'static` name of a stored rule type (`"unknown"` for a name
    /// this version does not know).
    pub fn type_name_of(name: &str) -> &'static str {
        RULE_TYPES.split(", ").find(|t| *t == name).unwrap_or("unknown")
    }
}

impl Rule {
    /// Seconds a rule must stay quiet past an alert's window before its
    /// incident is resolved: `resolve_after`, else one window (an
    /// inactivity rule's `max_idle`; an hour for novelty rules, whose
    /// windows are one sighting).
    pub fn resolve_after(&self) -> i64 {
        if let Some(r) = self.resolve_after {
            return r.secs();
        }
        match &self.kind {
            RuleKind::KeywordThreshold { window, .. }
            | RuleKind::RepeatedMessage { window, .. }
            | RuleKind::UserThreshold { window, .. }
            | RuleKind::RateSpike { window, .. }
            | RuleKind::Ratio { window, .. }
            | RuleKind::Percentile { window, .. }
            | RuleKind::ZscoreAnomaly { window, .. } => window.secs(),
            RuleKind::Inactivity { max_idle } => max_idle.secs(),
            RuleKind::NewTemplate { .. } | RuleKind::NewValue { .. } => 3600,
        }
    }

    /// The rule as JSON with the job file's keys (durations as written
    /// back: `5m`), as the `rules` table stores it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let mut v = json!({
            "id": self.id,
            "type": self.kind.type_name(),
            "severity": self.severity.as_str(),
            "group_by": self.group_by.iter().map(GroupKey::name).collect::<Vec<_>>(),
        });
        let o = v.as_object_mut().expect("an object");
        if let Some(s) = &self.service {
            o.insert("service".into(), json!(s));
        }
        if let Some(d) = &self.description {
            o.insert("description".into(), json!(d));
        }
        if let Some(w) = &self.filter {
            o.insert("where".into(), json!(w.to_string()));
        }
        if let Some(r) = &self.resolve_after {
            o.insert("resolve_after".into(), json!(r.to_string()));
        }
        let d = |h: &HumanDuration| json!(h.to_string());
        let kind = match &self.kind {
            RuleKind::KeywordThreshold { keyword, case_sensitive, threshold, window } => json!({
                "keyword": keyword, "case_sensitive": case_sensitive,
                "threshold": threshold, "window": d(window),
            }),
            RuleKind::RepeatedMessage { message, threshold, window } => {
                json!({ "message": message, "threshold": threshold, "window": d(window) })
            }
            RuleKind::UserThreshold { message, case_sensitive, threshold, window } => json!({
                "message": message, "case_sensitive": case_sensitive,
                "threshold": threshold, "window": d(window),
            }),
            RuleKind::RateSpike { threshold, window } => {
                json!({ "threshold": threshold, "window": d(window) })
            }
            RuleKind::Inactivity { max_idle } => json!({ "max_idle": d(max_idle) }),
            RuleKind::ZscoreAnomaly { threshold, window, baseline_windows, seasonal, robust } => {
                match seasonal {
                    None => json!({
                        "threshold": threshold, "window": d(window),
                        "baseline_windows": baseline_windows, "robust": robust,
                    }),
                    Some(s) => json!({
                        "threshold": threshold, "window": d(window), "seasonality": s.name(),
                        "seasons": s.seasons, "min_history": s.min_history, "robust": robust,
                    }),
                }
            }
            RuleKind::Ratio { numerator, threshold, min_total, window } => json!({
                "numerator": numerator.to_string(), "threshold": threshold,
                "min_total": min_total, "window": d(window),
            }),
            RuleKind::Percentile { field, percentile, threshold, min_count, window } => json!({
                "field": format!("fields.{field}"), "percentile": percentile,
                "threshold": threshold, "min_count": min_count, "window": d(window),
            }),
            RuleKind::NewTemplate { min_count, learn, severity_at_least, ignore } => json!({
                "min_count": min_count, "learn": d(&HumanDuration(*learn)),
                "severity_at_least": severity_at_least.map(|s| s.as_str()),
                "ignore": if ignore.is_empty() { None } else { Some(ignore) },
            }),
            RuleKind::NewValue { min_count, learn, remember } => json!({
                "fields": self.group_by.iter().map(GroupKey::name).collect::<Vec<_>>(),
                "min_count": min_count, "learn": d(&HumanDuration(*learn)),
                "remember": d(&HumanDuration(*remember)),
            }),
        };
        for (k, val) in kind.as_object().expect("an object") {
            if !val.is_null() {
                o.insert(k.clone(), val.clone());
            }
        }
        v
    }
}

pub const RULE_TYPES: &str = "keyword_threshold, repeated_message, user_threshold, rate_spike, \
     inactivity, zscore_anomaly, ratio, percentile, new_template, new_value";

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: String,
    pub kind: RuleKind,
    pub service: Option<String>,
    pub group_by: Vec<GroupKey>,
    pub severity: AlertSeverity,
    pub description: Option<String>,
    /// `where`: only the records it holds for are counted.
    pub filter: Option<Expr>,
    /// `resolve_after`: how long a rule must stay quiet after an alert's
    /// window before its incident is resolved (default: [`Rule::resolve_after`]).
    pub resolve_after: Option<HumanDuration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SourceSpec {
    pub path: String,
    pub format: Format,
    pub service: Option<String>,
    pub timezone: Tz,
    pub max_reject_ratio: f64,
    /// `json`/`logfmt`: the keys of the record's parts.
    pub mapping: crate::parse::mapped::Mapping,
    /// strftime for text times (`json`, `logfmt`, `regex:`).
    pub ts_format: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Md,
    Html,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReportSpec {
    pub dir: PathBuf,
    pub formats: Vec<ReportFormat>,
}

/// A checked job, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub name: String,
    /// Reference time for inactivity rules (`--now` overrides it):
    /// `end-of-data`, `wall-clock`, or an RFC 3339 instant.
    pub now: Option<String>,
    /// Only records from this time on (RFC 3339 or a duration back from now).
    pub since: Option<String>,
    /// Only records up to this time.
    pub until: Option<String>,
    /// Reports without IP addresses and user names (see `report::anonymize`).
    pub anonymize: bool,
    pub database_url: Option<String>,
    pub sources: Vec<SourceSpec>,
    pub rules: Vec<Rule>,
    pub report: ReportSpec,
    /// `[[notify]]`: where incidents are delivered.
    pub notify: Vec<notify::Receiver>,
}

/// Every problem found in a job file, each with its key path.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems(pub Vec<String>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(p)?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Command-line settings that override the job (the last layer).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub report_dir: Option<PathBuf>,
    /// `--config FILE`: the site settings.
    pub config: Option<PathBuf>,
}

/// The site settings file: `--config FILE`, else `$LOGTRACK_CONFIG`, else
/// `/etc/logtrack/logtrack.toml`, else `config/logtrack.toml` in the
/// current directory — the first that is given or exists. One given by
/// flag or variable must exist.
pub fn site_config(flag: Option<&Path>) -> Result<Option<PathBuf>, String> {
    let given = flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("LOGTRACK_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)
    });
    if let Some(p) = given {
        return match p.exists() {
            true => Ok(Some(p)),
            false => Err(format!("{}: no such site settings file", p.display())),
        };
    }
    Ok(["/etc/logtrack/logtrack.toml", SITE_CONFIG].iter().map(PathBuf::from).find(|p| p.exists()))
}

/// `base` joined with a relative `path`, with `.` and `..` taken out
/// lexically (`jobs` + `../samples/x.log` is `samples/x.log`); an absolute
/// path, `-`, or a base of `.` leave `path` as it is.
pub fn rebase(base: &Path, path: &str) -> String {
    if path == "-" || Path::new(path).is_absolute() || base.as_os_str().is_empty() {
        return path.to_string();
    }
    let mut out: Vec<std::path::Component> = Vec::new();
    for c in base.components().chain(Path::new(path).components()) {
        use std::path::Component::*;
        match c {
            CurDir => {}
            ParentDir if matches!(out.last(), Some(Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    let joined: PathBuf = out.iter().collect();
    if joined.as_os_str().is_empty() {
        ".".into()
    } else {
        joined.to_string_lossy().into_owned()
    }
}

/// Loads a job file through every layer and validates it.
pub fn load(job_path: &Path, overrides: &Overrides) -> Result<Job, Problems> {
    let fig = figment(job_path, overrides).map_err(|e| Problems(vec![e]))?;
    let dict: Dict = fig.extract().map_err(|e| Problems(figment_errors(e)))?;
    let stem = job_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    // Relative paths in a job file are the job file's: under cron the
    // current directory is $HOME, under systemd `/`.
    let base = job_path.parent().unwrap_or(Path::new(""));
    let mut job = validate(&dict, &stem, base)?;
    for s in &mut job.sources {
        s.path = rebase(base, &s.path);
    }
    // A report directory from --report-dir or LOGTRACK_REPORT_DIR is the
    // current directory's; one from the job file is the job's.
    let from_env = std::env::var_os("LOGTRACK_REPORT_DIR").is_some_and(|v| !v.is_empty());
    if overrides.report_dir.is_none() && !from_env {
        job.report.dir = rebase(base, &job.report.dir.to_string_lossy()).into();
    }
    Ok(job)
}

/// figment's messages, which may quote a line of the file (a syntax error
/// on the `url` line): secrets are masked.
fn figment_errors(e: figment::Error) -> Vec<String> {
    e.into_iter().map(|e| crate::error::redact_text(&e.to_string())).collect()
}

fn figment(job_path: &Path, overrides: &Overrides) -> Result<Figment, String> {
    let mut fig = Figment::from(Serialized::defaults(serde_json::json!({
        "report": { "dir": "reports", "formats": ["json", "md", "html"] }
    })));
    if let Some(site) = site_config(overrides.config.as_deref())? {
        fig = fig.merge(Toml::file(site));
    }
    let shown = job_path.display();
    let text = std::fs::read_to_string(job_path).map_err(|e| format!("{shown}: {e}"))?;
    let ext = job_path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    fig = match ext.as_str() {
        "toml" => fig.merge(Toml::string(&text)),
        // YAML through serde_norway, the maintained fork of the deprecated
        // serde_yaml (figment's own YAML provider is built on the latter).
        "yaml" | "yml" => {
            let value: serde_json::Value = match serde_norway::from_str(&text) {
                Ok(serde_json::Value::Null) => serde_json::json!({}),
                Ok(v) => v,
                Err(e) => return Err(format!("{shown}: {e}")),
            };
            fig.merge(Serialized::defaults(value))
        }
        "json" if text.trim_start().starts_with('[') => {
            // The old tool's rules_config.json: a bare array of rules.
            let rules: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
            fig.merge(Serialized::defaults(serde_json::json!({ "rules": rules })))
        }
        "json" => fig.merge(Json::string(&text)),
        _ => {
            return Err(format!(
                "{shown}: unknown job file type {ext:?} (expected .toml, .yaml, .yml or .json)"
            ))
        }
    };
    fig = fig.merge(Env::prefixed("LOGTRACK_").filter_map(|k| {
        let k = k.as_str().to_ascii_lowercase();
        match k.as_str() {
            "database_url" => Some("database.url".into()),
            "report_dir" => Some("report.dir".into()),
            "name" => Some(k.into()),
            _ if k.contains("__") => Some(k.replace("__", ".").into()),
            _ => None,
        }
    }));
    if let Some(url) = &overrides.database_url {
        fig = fig.merge(Serialized::default("database.url", url));
    }
    if let Some(dir) = &overrides.report_dir {
        fig = fig.merge(Serialized::default("report.dir", dir.to_string_lossy()));
    }
    Ok(fig)
}

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

/// The longest window, idle time or duration a rule may give: longer ones
/// are almost surely a unit mistake, and bounding them keeps every
/// `start + window` far from overflow.
pub const MAX_DURATION: HumanDuration = HumanDuration(366 * 86_400);

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
    "dashboard_url",
];
const SOURCE_KEYS: &[&str] =
    &["path", "format", "service", "timezone", "max_reject_ratio", "mapping", "ts_format"];
const RULE_KEYS: &[&str] = &[
    "id",
    "rule_id",
    "name",
    "type",
    "rule_type",
    "description",
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
];

/// Checks a merged job tree. `default_name` names a job without `name`.
/// Checks a job's settings; `base` is the job file's directory (for
/// `rules_file`).
pub fn validate(dict: &Dict, default_name: &str, base: &Path) -> Result<Job, Problems> {
    let mut c = Checker { problems: Vec::new() };
    c.unknown_keys(dict, "", TOP_KEYS);
    let name = c.string(dict, "name", "").unwrap_or_else(|| default_name.to_string());
    let now = c.string(dict, "now", "");
    if let Some(n) = &now {
        let ok = n == "end-of-data"
            || n == "wall-clock"
            || crate::parse::Timestamp::parse_rfc3339(n, &Tz::default()).is_some();
        if !ok {
            c.err("now", format!("{n:?} is not end-of-data, wall-clock or an RFC 3339 time"));
        }
    }

    // `since`/`until`: an RFC 3339 time or a duration back from now.
    let mut bound = |key: &str| {
        let v = c.string(dict, key, "");
        if let Some(t) = &v {
            let ok = crate::parse::Timestamp::parse_rfc3339(t, &Tz::default()).is_some()
                || t.parse::<HumanDuration>().is_ok();
            if !ok {
                c.err(key, format!("{t:?} is not an RFC 3339 time or a duration such as \"24h\""));
            }
        }
        v
    };
    let (since, until) = (bound("since"), bound("until"));
    let anonymize = c.boolean(dict, "anonymize", "").unwrap_or(false);

    let database_url = match dict.get("database") {
        None => None,
        Some(Value::Dict(_, d)) => {
            c.unknown_keys(d, "database", &["url"]);
            c.string(d, "url", "database").filter(|u| !u.is_empty())
        }
        Some(other) => {
            c.err("database", format!("expected a table, found {}", describe(other)));
            None
        }
    };

    let mut sources = Vec::new();
    for (i, s) in list(&mut c, dict, "sources").iter().enumerate() {
        let path = format!("sources[{i}]");
        let Value::Dict(_, d) = s else {
            c.err(&path, format!("expected a table, found {}", describe(s)));
            continue;
        };
        c.unknown_keys(d, &path, SOURCE_KEYS);
        let file = c.string(d, "path", &path);
        if file.is_none() && !d.contains_key("path") {
            c.err(&path, "missing key \"path\"");
        }
        let format = if d.contains_key("format") {
            c.parsed::<Format>(d, "format", &path)
        } else {
            Some(Format::Auto)
        };
        let timezone = if d.contains_key("timezone") {
            c.parsed::<Tz>(d, "timezone", &path)
        } else {
            Some(Tz::default())
        };
        let ratio = match c.number(d, "max_reject_ratio", &path) {
            Some(r) if (0.0..=1.0).contains(&r) => Some(r),
            Some(r) => {
                c.err(
                    &join(&path, "max_reject_ratio"),
                    format!("expected a ratio between 0 and 1, found {r}"),
                );
                None
            }
            None => Some(0.5),
        };
        let service = c.string(d, "service", &path);
        let mut mapping = crate::parse::mapped::Mapping::default();
        match d.get("mapping") {
            None => {}
            Some(Value::Dict(_, m)) => {
                let at = join(&path, "mapping");
                c.unknown_keys(m, &at, &crate::parse::mapped::Mapping::KEYS);
                for key in crate::parse::mapped::Mapping::KEYS {
                    if let Some(v) = c.string(m, key, &at) {
                        if v.is_empty() {
                            c.err(&join(&at, key), "expected a key name, found an empty string");
                        } else {
                            mapping.set(key, v);
                        }
                    }
                }
                if let Some(f) = format.as_ref().filter(|f| !f.takes_mapping()) {
                    c.err(&at, format!("format \"{f}\" takes no mapping (json and logfmt do)"));
                }
            }
            Some(other) => c.err(
                &join(&path, "mapping"),
                format!("expected a table, found {}", describe(other)),
            ),
        }
        let ts_format = c.string(d, "ts_format", &path);
        if let Some(f) = &ts_format {
            let at = join(&path, "ts_format");
            if let Err(e) = crate::parse::mapped::check_strftime(f) {
                c.err(&at, e);
            } else if let Some(fm) = format.as_ref().filter(|fm| !fm.takes_ts_format()) {
                c.err(&at, format!("format \"{fm}\" reads its own times (ts_format is for json, logfmt and regex:)"));
            }
        }
        if let (Some(path), Some(format), Some(timezone), Some(max_reject_ratio)) =
            (file, format, timezone, ratio)
        {
            sources.push(SourceSpec {
                path,
                format,
                service,
                timezone,
                max_reject_ratio,
                mapping,
                ts_format,
            });
        }
    }

    let mut raw_rules: Vec<(String, Value)> = list(&mut c, dict, "rules")
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("rules[{i}]"), v))
        .collect();
    if let Some(file) = c.string(dict, "rules_file", "") {
        match load_rules_file(&rebase(base, &file)) {
            Ok(values) => raw_rules.extend(
                values.into_iter().enumerate().map(|(i, v)| (format!("rules_file[{i}]"), v)),
            ),
            Err(e) => c.err("rules_file", e),
        }
    }
    let mut rules: Vec<Rule> = Vec::new();
    for (path, v) in raw_rules {
        let Value::Dict(_, d) = &v else {
            c.err(&path, format!("expected a table, found {}", describe(&v)));
            continue;
        };
        if let Some(rule) = rule(&mut c, d, &path) {
            if rules.iter().any(|r| r.id == rule.id) {
                c.err(&path, format!("duplicate rule id {:?}", rule.id));
            } else if d.get("enabled").and_then(|e| e.to_bool()) != Some(false) {
                rules.push(rule);
            }
        }
    }

    let report = match dict.get("report") {
        Some(Value::Dict(_, d)) => {
            c.unknown_keys(d, "report", &["dir", "formats"]);
            let dir =
                PathBuf::from(c.string(d, "dir", "report").unwrap_or_else(|| "reports".into()));
            let mut formats = Vec::new();
            for (i, f) in list(&mut c, d, "formats").iter().enumerate() {
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
    };

    let dashboard_url = c.string(dict, "dashboard_url", "");
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    let notify = notify::receivers(&mut c, dict, &ids, dashboard_url.as_deref());

    if c.problems.is_empty() {
        Ok(Job { name, now, since, until, anonymize, database_url, sources, rules, report, notify })
    } else {
        Err(Problems(c.problems))
    }
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

fn load_rules_file(path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let fig = Figment::from(Serialized::defaults(serde_json::json!({
        "rules": serde_json::from_str::<serde_json::Value>(&text).map_err(|e| format!("{path}: {e}"))?
    })));
    let dict: Dict = fig.extract().map_err(|e| format!("{path}: {e}"))?;
    match dict.get("rules") {
        Some(Value::Array(_, items)) => Ok(items.clone()),
        _ => Err(format!("{path}: expected a JSON array of rules")),
    }
}

fn rule(c: &mut Checker, d: &Dict, path: &str) -> Option<Rule> {
    c.unknown_keys(d, path, RULE_KEYS);
    let before = c.problems.len();
    let id = ["id", "rule_id", "name"].iter().find_map(|k| c.string(d, k, path));
    if id.is_none() {
        c.err(path, "missing key \"id\"");
    }
    let type_key = if d.contains_key("type") { "type" } else { "rule_type" };
    let kind_name = c.string(d, type_key, path);
    if kind_name.is_none() && !d.contains_key(type_key) {
        c.err(path, "missing key \"type\"");
    }
    let service = c.string(d, "service", path);
    let severity = if d.contains_key("severity") {
        c.parsed(d, "severity", path)
    } else {
        Some(AlertSeverity::Medium)
    };
    let description = c.string(d, "description", path);
    let filter = c.expr(d, "where", path);
    let group_by: Option<Vec<GroupKey>> = match d.get("group_by") {
        None => None,
        Some(Value::String(_, s)) => {
            s.parse().map(|g| vec![g]).map_err(|e| c.err(&join(path, "group_by"), e)).ok()
        }
        Some(Value::Array(_, items)) => Some(c.key_list(items, path, "group_by")),
        Some(other) => {
            c.err(
                &join(path, "group_by"),
                format!("expected a list of keys, found {}", describe(other)),
            );
            None
        }
    };
    let window = |c: &mut Checker| {
        let w = c.duration(d, "window", &[("window_minutes", 60), ("window_seconds", 1)], path);
        if w.is_none()
            && !["window", "window_minutes", "window_seconds"].iter().any(|k| d.contains_key(*k))
        {
            c.err(path, "missing key \"window\"");
        }
        w
    };
    let threshold = |c: &mut Checker| {
        let t = c.positive_int(d, "threshold", path);
        if t.is_none() && !d.contains_key("threshold") {
            c.err(path, "missing key \"threshold\"");
        }
        t
    };
    let required = |c: &mut Checker, key: &str| {
        let v = c.string(d, key, path).filter(|s| !s.is_empty());
        if v.is_none() {
            c.err(path, format!("missing key {key:?}"));
        }
        v
    };
    let case_sensitive = c.boolean(d, "case_sensitive", path).unwrap_or(false);
    let min_count = |c: &mut Checker| {
        if d.contains_key("min_count") {
            c.positive_int(d, "min_count", path)
        } else {
            Some(1)
        }
    };
    let learn = |c: &mut Checker| {
        if d.contains_key("learn") {
            c.duration(d, "learn", &[], path).map(|h| h.0)
        } else {
            Some(0)
        }
    };
    let mut value_fields: Option<Vec<GroupKey>> = None;
    let kind = match kind_name.as_deref() {
        None => None,
        Some("keyword_threshold") => {
            let keyword = required(c, "keyword");
            let (t, w) = (threshold(c), window(c));
            Some(RuleKind::KeywordThreshold {
                keyword: keyword?,
                case_sensitive,
                threshold: t?,
                window: w?,
            })
        }
        Some("repeated_message") => {
            let message = c.string(d, "message", path);
            let (t, w) = (threshold(c), window(c));
            Some(RuleKind::RepeatedMessage { message, threshold: t?, window: w? })
        }
        Some("user_threshold") => {
            let message = required(c, "message");
            let (t, w) = (threshold(c), window(c));
            Some(RuleKind::UserThreshold {
                message: message?,
                case_sensitive,
                threshold: t?,
                window: w?,
            })
        }
        Some("rate_spike") => {
            let (t, w) = (threshold(c), window(c));
            Some(RuleKind::RateSpike { threshold: t?, window: w? })
        }
        Some("inactivity") => {
            let idle = c.duration(
                d,
                "max_idle",
                &[("max_idle_minutes", 60), ("max_idle_seconds", 1)],
                path,
            );
            if idle.is_none()
                && !["max_idle", "max_idle_minutes", "max_idle_seconds"]
                    .iter()
                    .any(|k| d.contains_key(*k))
            {
                c.err(path, "missing key \"max_idle\"");
            }
            Some(RuleKind::Inactivity { max_idle: idle? })
        }
        Some("zscore_anomaly") => {
            let t = match c.number(d, "threshold", path) {
                Some(t) if t > 0.0 && t.is_finite() => Some(t),
                Some(t) => {
                    c.err(
                        &join(path, "threshold"),
                        format!("expected a positive number, found {t}"),
                    );
                    None
                }
                None if d.contains_key("threshold") => None,
                None => Some(3.0),
            };
            let w = window(c);
            let seasonal = c.seasonal(d, path, w);
            if d.contains_key("baseline_windows") && d.contains_key("seasonality") {
                c.err(
                    &join(path, "baseline_windows"),
                    "does not apply with seasonality (the baseline is the same bin of the previous seasons)",
                );
            }
            let robust = c.boolean(d, "robust", path).unwrap_or(false);
            let b = if d.contains_key("baseline_windows") {
                c.positive_int(d, "baseline_windows", path)
            } else {
                Some(12)
            };
            let b = match b {
                Some(b) if !(2..=10_000).contains(&b) => {
                    c.err(
                        &join(path, "baseline_windows"),
                        format!("expected 2 to 10000, found {b}"),
                    );
                    None
                }
                other => other,
            };
            Some(RuleKind::ZscoreAnomaly {
                threshold: t?,
                window: w?,
                baseline_windows: b? as u32,
                seasonal: seasonal?,
                robust,
            })
        }
        Some("ratio") => {
            let numerator = c.expr(d, "numerator", path);
            if !d.contains_key("numerator") {
                c.err(
                    path,
                    "missing key \"numerator\" (an expression, such as 'fields.status >= 500')",
                );
            }
            // "5%" is 0.05.
            let pct = match d.get("threshold") {
                Some(Value::String(_, s)) => s.trim().strip_suffix('%').map(str::trim),
                _ => None,
            };
            let t = match pct.map(str::parse::<f64>) {
                Some(Ok(p)) if p > 0.0 && p <= 100.0 => Some(p / 100.0),
                _ => c.bounded(
                    d,
                    "threshold",
                    path,
                    false,
                    (0.0, 1.0),
                    "a share above 0 and at most 1 (0.05 or \"5%\" for 5%)",
                ),
            };
            let min_total = if d.contains_key("min_total") {
                c.positive_int(d, "min_total", path)
            } else {
                Some(1)
            };
            let w = window(c);
            Some(RuleKind::Ratio {
                numerator: numerator?,
                threshold: t?,
                min_total: min_total?,
                window: w?,
            })
        }
        Some("percentile") => {
            let field = match required(c, "field") {
                Some(f) => {
                    let key = f.strip_prefix("fields.").unwrap_or(&f).to_string();
                    if key.is_empty() || crate::expr::NAMES.contains(&f.as_str()) {
                        c.err(&join(path, "field"), format!("expected a numeric field such as \"fields.request_time\", found {f:?}"));
                        None
                    } else {
                        Some(key)
                    }
                }
                None => None,
            };
            let p = c.bounded(
                d,
                "percentile",
                path,
                true,
                (1.0, 100.0),
                "a percentile from 1 to 100 (95 for p95)",
            );
            let t = c.bounded(d, "threshold", path, true, (f64::MIN, f64::MAX), "a number");
            let min_count = if d.contains_key("min_count") {
                c.positive_int(d, "min_count", path)
            } else {
                Some(1)
            };
            let w = window(c);
            Some(RuleKind::Percentile {
                field: field?,
                percentile: p?,
                threshold: t?,
                min_count: min_count?,
                window: w?,
            })
        }
        Some("new_template") => {
            let (min_count, learn) = (min_count(c), learn(c));
            let severity_at_least = if d.contains_key("severity_at_least") {
                c.parsed::<crate::parse::Severity>(d, "severity_at_least", path).map(Some)
            } else {
                Some(None)
            };
            let ignore = c.ignore_list(d, path);
            Some(RuleKind::NewTemplate {
                min_count: min_count?,
                learn: learn?,
                severity_at_least: severity_at_least?,
                ignore: ignore?,
            })
        }
        Some("new_value") => {
            let (min_count, learn) = (min_count(c), learn(c));
            let remember = if d.contains_key("remember") {
                c.duration(d, "remember", &[], path).map(|h| h.0)
            } else {
                Some(30 * DAY)
            };
            if d.contains_key("fields") {
                value_fields = c.group_keys(d, "fields", path);
            } else {
                c.err(path, "missing key \"fields\" (the values whose combination is watched, such as [\"user\", \"fields.client_ip\"])");
            }
            if d.contains_key("group_by") {
                c.err(
                    &join(path, "group_by"),
                    "does not apply to new_value (its fields are its group)",
                );
            }
            Some(RuleKind::NewValue { min_count: min_count?, learn: learn?, remember: remember? })
        }
        Some(other) => {
            c.err(
                &join(path, type_key),
                format!("unknown rule type {other:?} (expected one of: {RULE_TYPES})"),
            );
            None
        }
    };
    if c.problems.len() > before {
        return None;
    }
    let kind = kind?;
    let group_by = match kind {
        RuleKind::NewValue { .. } => value_fields?,
        _ => group_by.unwrap_or_else(|| match kind {
            RuleKind::UserThreshold { .. } => vec![GroupKey::User],
            _ => vec![GroupKey::Service],
        }),
    };
    let filter = if d.contains_key("where") { Some(filter?) } else { None };
    let resolve_after = if d.contains_key("resolve_after") {
        Some(c.duration(d, "resolve_after", &[], path)?)
    } else {
        None
    };
    Some(Rule {
        id: id?,
        kind,
        service,
        group_by,
        severity: severity?,
        description,
        filter,
        resolve_after,
    })
}

/// The wildcard of the template notation (`template::mask::WILD`), as job
/// files write it in `ignore` entries.
pub const TEMPLATE_WILD: &str = "<*>";

/// The regex of an `ignore` entry: a template (`<*>` matches any text,
/// a space any run of spaces, anchored at both ends), or else a regex
/// searched in the message. Errors name what is wrong.
pub fn ignore_pattern(entry: &str) -> Result<String, String> {
    let source = if entry.contains(TEMPLATE_WILD) {
        let mut re = String::from("^");
        for (i, part) in entry.trim().split(TEMPLATE_WILD).enumerate() {
            if i > 0 {
                re.push_str(".*?");
            }
            let words: Vec<String> = part.split_ascii_whitespace().map(regex::escape).collect();
            if part.starts_with(|c: char| c.is_ascii_whitespace()) && i > 0 {
                re.push_str("\\s+");
            }
            re.push_str(&words.join("\\s+"));
            if part.ends_with(|c: char| c.is_ascii_whitespace()) && !words.is_empty() {
                re.push_str("\\s+");
            }
        }
        re.push('$');
        re
    } else {
        entry.to_string()
    };
    regex::RegexBuilder::new(&source)
        .size_limit(1 << 20)
        .build()
        .map(|_| source)
        .map_err(|e| format!("not a template (no <*>) and not a regex: {e}"))
}

/// The database URL for commands without a job file: `--database-url`,
/// else `LOGTRACK_DATABASE_URL`, else `[database] url` in the site config.
pub fn database_url(flag: Option<&str>, config: Option<&Path>) -> anyhow::Result<String> {
    if let Some(u) = flag.filter(|u| !u.is_empty()) {
        return Ok(u.to_string());
    }
    if let Ok(u) = std::env::var("LOGTRACK_DATABASE_URL") {
        if !u.is_empty() {
            return Ok(u);
        }
    }
    if let Some(site) = site_config(config).map_err(anyhow::Error::msg)? {
        let dict: Dict = Figment::from(Toml::file(&site)).extract().map_err(|e| {
            anyhow::anyhow!("{}: {}", site.display(), crate::error::redact_text(&e.to_string()))
        })?;
        if let Some(Value::Dict(_, d)) = dict.get("database") {
            if let Some(Value::String(_, u)) = d.get("url") {
                return Ok(u.clone());
            }
        }
    }
    anyhow::bail!(
        "no database configured: pass --database-url, set LOGTRACK_DATABASE_URL, or set [database] url in the site settings (--config, $LOGTRACK_CONFIG, /etc/logtrack/logtrack.toml or {SITE_CONFIG})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let rules =
            |body: &str| format!("[[sources]]\npath = \"x.log\"\nformat = \"json\"\n{body}");
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
        assert!(
            err.0[want.len()].starts_with("sources[3].format: regex: regex parse error"),
            "{err}"
        );
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
}
