//! What a run found, in the shapes the store fills and the reports render:
//! the overview (volume, severities and top values over time), the
//! template rows a report lists, and the anonymizer that both reports and
//! notifications apply. It sits below the store, the notifier and the
//! reports, so that none of them needs another to know these shapes.

pub mod anonymize;
pub mod overview;

use serde::Serialize;

/// Rejects listed in a report (the count covers all of them).
pub const REPORT_REJECTS: usize = 100;

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
