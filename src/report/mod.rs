//! Reports: what a run did, as `report.json` (for machines), `report.md`
//! (a CI job summary) and `report.html` (charts and tables, one file). Writers are pure: a [`Report`] in, bytes
//! out; the caller writes the files.

pub mod anonymize;
pub mod html;
pub mod junit;
mod md;
pub mod overview;

use crate::detect::Alert;
use crate::read::{Reject, SourceStats};
use serde::Serialize;

/// How long an inactivity alert's silence lasted (its window): what its
/// reports show in place of a count, since it counts nothing.
pub fn silence(a: &Alert) -> Option<crate::config::HumanDuration> {
    (a.rule_type == "inactivity")
        .then(|| crate::config::HumanDuration(a.window_end.secs - a.window_start.secs))
}

/// Rejects listed in a report (the count covers all of them).
pub const REPORT_REJECTS: usize = 100;

#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    pub records: u64,
    pub rejected: u64,
    pub alerts: u64,
}

/// One run, as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub job: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: i64,
    /// The time range asked for (`--since`/`--until`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    pub reference_time: String,
    /// The run's exit code (0 ok, 1 an alert at `--fail-on`, 2 failed).
    pub exit_code: u8,
    /// `--fail-on`'s severity, when it was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<String>,
    pub sources: Vec<SourceStats>,
    pub totals: Totals,
    pub alerts: Vec<Alert>,
    pub rejects: Vec<Reject>,
    /// Things that went wrong without stopping the run: unreadable sources,
    /// sources whose reject ratio suggests a wrong `format`.
    pub problems: Vec<String>,
    /// Volume and severities over time, top values.
    pub overview: overview::Overview,
    /// The most frequent message templates of each service, and the new
    /// ones (when templates were made: a `new_template` rule in memory,
    /// always with a database).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<TemplateRow>,
}

/// A message template as a report lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TemplateRow {
    pub service: String,
    pub template_id: String,
    pub template: String,
    /// Records (in memory: of the run; with a database: all stored).
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// First seen in this run's data (in memory: after the `learn` of the
    /// job's `new_template` rules).
    pub new: bool,
}

/// Templates listed per service: the most frequent, and the new ones.
pub const TEMPLATES_PER_SERVICE: usize = 10;

/// The rows a report lists of `rows` (all templates, any order): per
/// service the [`TEMPLATES_PER_SERVICE`] most frequent and up to as many
/// new ones, by service then count.
pub fn pick_templates(mut rows: Vec<TemplateRow>) -> Vec<TemplateRow> {
    rows.sort_by(|a, b| {
        (&a.service, b.count, &a.first_seen, &a.template_id).cmp(&(
            &b.service,
            a.count,
            &b.first_seen,
            &b.template_id,
        ))
    });
    let mut out = Vec::new();
    for same in rows.chunk_by(|a, b| a.service == b.service) {
        let top = same.iter().take(TEMPLATES_PER_SERVICE);
        let new = same.iter().skip(TEMPLATES_PER_SERVICE).filter(|t| t.new);
        out.extend(top.chain(new.take(TEMPLATES_PER_SERVICE)).cloned());
    }
    out
}

impl Report {
    /// The run's exit code, as decided when the report was assembled.
    pub fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::from_code(self.exit_code)
    }
}

/// A report format.
pub trait ReportWriter {
    fn file_name(&self) -> &'static str;
    fn serialize(&self, report: &Report) -> Vec<u8>;
}

pub struct Json;

impl ReportWriter for Json {
    fn file_name(&self) -> &'static str {
        "report.json"
    }
    fn serialize(&self, report: &Report) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(report).expect("a report serializes");
        v.push(b'\n');
        v
    }
}

pub use html::Html;
pub use md::Markdown;
