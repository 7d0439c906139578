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
    pub sources: Vec<SourceStats>,
    pub totals: Totals,
    pub alerts: Vec<Alert>,
    pub rejects: Vec<Reject>,
    /// Things that went wrong without stopping the run: unreadable sources,
    /// sources whose reject ratio suggests a wrong `format`.
    pub problems: Vec<String>,
    /// Volume and severities over time, top values.
    pub overview: overview::Overview,
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
