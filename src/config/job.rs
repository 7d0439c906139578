//! A checked job and its parts: sources, rules (and their kinds), the
//! report, receivers (`super::notify`); alert severities and group keys.

use super::{notify, HumanDuration};
use crate::expr::Expr;
use crate::parse::{Format, Tz};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

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
    /// Sigma rules (see `crate::sigma`): each record a Sigma rule matches
    /// counts in that rule's group (`sigma.id`, then `group_by`); a group
    /// with `min_count` of them within `window` is an alert.
    Sigma {
        rules: SigmaRules,
        min_count: u64,
        window: HumanDuration,
        /// `severity` was written: every alert has it. Else each Sigma
        /// rule's `level` gives its alerts' severity.
        severity_given: bool,
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
            RuleKind::Sigma { .. } => "sigma",
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
            | RuleKind::Sigma { window, .. }
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
        if let Some(r) = &self.runbook {
            o.insert("runbook".into(), json!(r));
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
            RuleKind::Sigma { rules, min_count, window, .. } => json!({
                "path": rules.paths, "status": rules.filter.status,
                "level_at_least": rules.filter.level_at_least.map(|l| crate::sigma::set::LEVELS[l]),
                "tags": if rules.filter.tags.is_empty() { None } else { Some(&rules.filter.tags) },
                "placeholders": if rules.placeholders.is_empty() { None } else { Some(&rules.placeholders) },
                "min_count": min_count, "window": d(window),
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
     inactivity, zscore_anomaly, ratio, percentile, new_template, new_value, sigma";

/// The Sigma rules of a `sigma` rule: where they were read from, which of
/// them run, and the rules themselves (read once, when the job is).
#[derive(Clone, Debug)]
pub struct SigmaRules {
    /// As written in the job (relative to its folder, resolved).
    pub paths: Vec<String>,
    pub filter: crate::sigma::set::Filter,
    /// The values `expand` puts for each `%name%`.
    pub placeholders: crate::sigma::Placeholders,
    pub set: std::sync::Arc<crate::sigma::set::Set>,
}

impl PartialEq for SigmaRules {
    fn eq(&self, other: &Self) -> bool {
        self.paths == other.paths
            && self.filter == other.filter
            && self.placeholders == other.placeholders
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: String,
    pub kind: RuleKind,
    pub service: Option<String>,
    pub group_by: Vec<GroupKey>,
    pub severity: AlertSeverity,
    pub description: Option<String>,
    /// A web page saying what to do when the rule fires.
    pub runbook: Option<String>,
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
    /// `multiline`: how continuation lines join their record.
    pub multiline: Option<crate::source::multiline::Multiline>,
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
    /// `[[inhibit]]`: incidents not told while another is open.
    pub inhibit: Vec<notify::Inhibit>,
    /// `[[silence]]`: planned windows without notifications.
    pub silence: Vec<notify::Silence>,
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

/// The longest window, idle time or duration a rule may give: longer ones
/// are almost surely a unit mistake, and bounding them keeps every
/// `start + window` far from overflow.
pub const MAX_DURATION: HumanDuration = HumanDuration(366 * 86_400);

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
