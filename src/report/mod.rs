//! Reports: what a run did, as `report.json` (for machines), `report.md`
//! (a CI job summary) and `report.html` (charts and tables, one file). Writers are pure: a [`Report`] in, bytes
//! out; the caller writes the files.

pub mod charts;
pub mod html;
pub mod junit;
mod md;

use crate::detect::Alert;
use crate::read::{Reject, SourceStats};
use crate::summary::anonymize::{unquote, Anonymizer};
pub use crate::summary::{overview, pick_templates, TemplateRow, REPORT_REJECTS};
use serde::Serialize;
use std::collections::BTreeMap;

/// How long an inactivity alert's silence lasted (its window): what its
/// reports show in place of a count, since it counts nothing.
pub fn silence(a: &Alert) -> Option<crate::config::HumanDuration> {
    (a.rule_type == "inactivity")
        .then(|| crate::config::HumanDuration(a.window_end.secs - a.window_start.secs))
}

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
    /// What the rules that fired say about themselves (`description`,
    /// `runbook`), for those that say something.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleAbout>,
    /// The alerts nobody was told of: silenced, or inhibited by another
    /// incident open at the same time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<Held>,
    /// The Sigma rules that matched (the alerts' `sigma.id`), with what
    /// their authors say of them: the Detection Rule License asks that
    /// what is made from a rule keep its author.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sigma: Vec<SigmaAbout>,
}

/// A Sigma rule as its file describes it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SigmaAbout {
    pub id: String,
    pub title: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub falsepositives: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl SigmaAbout {
    pub fn of(r: &crate::sigma::Rule) -> SigmaAbout {
        SigmaAbout {
            id: r.id.clone(),
            title: r.title.clone(),
            path: r.path.display().to_string(),
            author: r.author.clone(),
            level: r.level.clone(),
            status: r.status.clone(),
            description: r.description.clone(),
            references: r.references.clone(),
            falsepositives: r.falsepositives.clone(),
            tags: r.tags.clone(),
        }
    }

    /// The Sigma rules of `job` that `alerts` name, once each, in the
    /// order of first mention.
    pub fn of_alerts<'a>(
        job: &crate::config::Job,
        alerts: impl IntoIterator<Item = &'a Alert>,
    ) -> Vec<SigmaAbout> {
        let mut out: Vec<SigmaAbout> = Vec::new();
        for a in alerts {
            if let Some(about) = SigmaAbout::find(job, &a.rule_id, &a.group) {
                if !out.iter().any(|s| s.id == about.id) {
                    out.push(about);
                }
            }
        }
        out
    }

    /// The Sigma rule an alert of `rule_id` in `group` is of, if any.
    pub fn find(
        job: &crate::config::Job,
        rule_id: &str,
        group: &std::collections::BTreeMap<String, String>,
    ) -> Option<SigmaAbout> {
        let rule = job.rules.iter().find(|r| r.id == rule_id)?;
        let crate::config::RuleKind::Sigma { rules, .. } = &rule.kind else { return None };
        let id = group.get(crate::detect::SIGMA_ID)?;
        rules.set.find(id).map(SigmaAbout::of)
    }

    /// In one paragraph (notifications): title, author, description,
    /// references, false positives, tags.
    pub fn text(&self) -> String {
        let mut s = format!(
            "Sigma rule \"{}\" ({}), author: {}",
            self.title,
            self.id,
            self.author.as_deref().unwrap_or("not given")
        );
        if let Some(d) = &self.description {
            s.push_str(&format!(". {}.", d.trim().trim_end_matches('.')));
        }
        if !self.references.is_empty() {
            s.push_str(&format!(" References: {}.", self.references.join(", ")));
        }
        if !self.falsepositives.is_empty() {
            s.push_str(&format!(" False positives: {}.", self.falsepositives.join("; ")));
        }
        if !self.tags.is_empty() {
            s.push_str(&format!(" Tags: {}.", self.tags.join(", ")));
        }
        s
    }
}

/// An alert (with a database, an incident's latest) that was not told, and
/// what held it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Held {
    pub rule_id: String,
    pub group: BTreeMap<String, String>,
    pub window_start: String,
    /// The silence that held it: `silence 12` (stored), `[[silence]] 1`
    /// (the job file's first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silenced_by: Option<String>,
    /// The incident whose being open inhibited it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inhibited_by: Option<Cause>,
}

/// An incident, by its rule and group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cause {
    pub rule_id: String,
    pub group: BTreeMap<String, String>,
}

/// A rule's `description` and `runbook` (a web address).
#[derive(Clone, Debug, Serialize)]
pub struct RuleAbout {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
}

impl Report {
    /// The run's exit code, as decided when the report was assembled.
    pub fn exit(&self) -> crate::error::Exit {
        crate::error::Exit::from_code(self.exit_code)
    }
}

/// A report format.
/// Anonymizes everything in `r` that may name a person or a machine.
pub fn anonymize(r: &mut Report, an: &Anonymizer) {
    // A template may hold a user or host name among its words.
    r.templates.clear();
    for a in &mut r.alerts {
        an.alert(a);
    }
    for (kind, list) in &mut r.overview.top {
        let mut merged: BTreeMap<String, u64> = BTreeMap::new();
        for (v, n) in &list.values {
            *merged.entry(an.value(kind, v)).or_default() += n;
        }
        let mut values: Vec<(String, u64)> = merged.into_iter().collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.values = values;
    }
    for j in &mut r.rejects {
        j.reason = unquote(&j.reason);
    }
    let group = |g: &mut BTreeMap<String, String>| {
        for (k, v) in g.iter_mut() {
            *v = an.value(k, v);
        }
    };
    for h in &mut r.held {
        group(&mut h.group);
        if let Some(c) = &mut h.inhibited_by {
            group(&mut c.group);
        }
    }
}

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
