//! The run engine: one run of a job, from its sources to its report.
//!
//! Every command that detects or reports goes through here; the commands
//! in `cmd` only read their arguments. A run:
//!
//! 1. finds the job's inputs ([`inputs`]: globs, each file once);
//! 2. reads them through a sink: in memory, parsing threads count each
//!    record for every rule ([`memory`]); with a database, the loader
//!    COPYs new lines into `logs` ([`database`]);
//! 3. counts what each rule matches. There is one definition of that,
//!    [`crate::detect::RuleMatch`]: in memory it sees parsed records, with a
//!    database it sees the stored rows of the range, which
//!    [`crate::store::scan`] hands back ([`stored`]);
//! 4. fixes the reference time ([`Now`]), runs the detectors, orders the
//!    alerts ([`sort_alerts`]);
//! 5. assembles the report ([`assemble`]), writes it, and only then (with
//!    a database) commits the alerts as known;
//! 6. returns the exit code ([`exit_code`]).

mod database;
mod evidence;
mod inputs;
mod memory;
pub mod messages;
mod notifications;
mod output;
mod stored;

pub use messages::Messages;
pub use output::print_alerts;
pub use stored::{over_range, RangeWork};

use crate::clock::wall_clock;
use crate::config::{AlertSeverity, Job};
use crate::detect::Alert;
use crate::error::Exit;
use crate::parse::{Timestamp, Tz};
use crate::read::{Reject, SourceStats};
use crate::report::{Report, Totals};
use crate::summary::anonymize::Anonymizer;
use crate::summary::overview::Overview;
use anyhow::Context;

/// The reference time for inactivity rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Now {
    WallClock,
    EndOfData,
    At(i64),
}

impl Now {
    pub fn parse(s: Option<&str>) -> anyhow::Result<Now> {
        match s {
            None | Some("wall-clock") => Ok(Now::WallClock),
            Some("end-of-data") => Ok(Now::EndOfData),
            Some(t) => Timestamp::parse_rfc3339(t, &Tz::default())
                .map(|ts| Now::At(ts.secs))
                .with_context(|| {
                    format!("--now {t:?}: expected an RFC 3339 time (2024-05-01T12:00:00Z) or end-of-data")
                }),
        }
    }

    /// The instant, with `end-of-data` read as the wall clock (for commands
    /// that have no data of their own).
    pub fn at_or_wall_clock(self) -> i64 {
        self.resolve(None)
    }

    /// The instant for data that ends at `data_end`.
    pub fn resolve(self, data_end: Option<i64>) -> i64 {
        match self {
            Now::WallClock => wall_clock(),
            Now::At(t) => t,
            Now::EndOfData => data_end.unwrap_or_else(wall_clock),
        }
    }
}

/// What the command line and the job decide about a run besides the job.
#[derive(Clone, Debug)]
pub struct Settings {
    /// When the command started (for the report's duration).
    pub started: std::time::Instant,
    pub now: Now,
    pub fail_on: Option<AlertSeverity>,
    /// Every reject on stderr as it is found.
    pub verbose: bool,
    /// Only records in `[since, until]` (seconds) are counted and reported.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Where to write a JUnit XML file too.
    pub junit: Option<std::path::PathBuf>,
    /// Anonymize the reports (`--anonymize`, or the job's `anonymize`).
    pub anonymize: bool,
    /// Problems make the run fail (`--strict`).
    pub strict: bool,
    /// Print the notifications instead of sending them (`run --dry-run`);
    /// with a database nothing of the detection is committed.
    pub dry_run: bool,
}

impl Settings {
    /// The time receivers' `active_hours`/`mute_hours` are read at: `--now`
    /// when it names a time, else the wall clock (when people are told).
    pub fn told_at(&self) -> i64 {
        match self.now {
            Now::At(t) => t,
            _ => crate::clock::wall_clock(),
        }
    }

    /// Problems fail the run: `--strict`, or `--fail-on` given.
    pub fn strict(&self) -> bool {
        self.strict || self.fail_on.is_some()
    }

    /// The time range as `[from, to)`, when one is set.
    pub fn range(&self) -> Option<(i64, i64)> {
        (self.since.is_some() || self.until.is_some())
            .then(|| (self.since.unwrap_or(i64::MIN), self.until.map_or(i64::MAX, |u| u + 1)))
    }
}

/// `logtrack run`: in memory, or through the database at `db`.
pub fn run(job: &Job, db: Option<&str>, s: &Settings, msgs: &Messages) -> anyhow::Result<Exit> {
    let started = wall_clock();
    // Sigma rule files that are not rules or cannot run: said once per
    // file; the other rules run.
    for r in &job.rules {
        if let crate::config::RuleKind::Sigma { rules, .. } = &r.kind {
            for p in &rules.set.problems {
                msgs.warn(&format!("rule {}: {p}", r.id));
            }
        }
    }
    match db {
        Some(url) => database::run(job, url, s, msgs, started),
        None => memory::run(job, s, msgs, started),
    }
}

/// grep's exit codes: 2 when a source failed, or when the run had problems
/// (a source over its `max_reject_ratio`, an unreadable directory) and it
/// is strict (`--strict`, or `--fail-on` given: a CI audit must not pass on
/// garbage); 1 when an alert at or above `--fail-on` fired; else 0.
pub fn exit_code(s: &Settings, failed: bool, problems: bool, alerts: &[Alert]) -> Exit {
    if failed || (problems && s.strict()) {
        Exit::Failed
    } else if s.fail_on.is_some_and(|min| alerts.iter().any(|a| a.severity >= min)) {
        Exit::AlertFired
    } else {
        Exit::Ok
    }
}

/// Alerts in report order: by window start, then rule id, then group.
pub fn sort_alerts(alerts: &mut [Alert]) {
    alerts.sort_by(|a, b| {
        (a.window_start, &a.rule_id, &a.group).cmp(&(b.window_start, &b.rule_id, &b.group))
    });
}

/// What goes into a report besides the alerts.
#[derive(Default)]
pub(crate) struct Parts {
    pub sources: Vec<SourceStats>,
    pub rejects: Vec<Reject>,
    pub problems: Vec<String>,
    pub overview: Overview,
    pub templates: Vec<crate::summary::TemplateRow>,
    /// The time range asked for, if any (seconds).
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// The alerts that were not told, and why.
    pub held: Vec<crate::report::Held>,
}

/// The report of a run: its totals are the sums over its sources.
/// `failed`: a source could not be read (the exit code it gets is in the
/// report).
pub(crate) fn assemble(
    job: &Job,
    s: &Settings,
    (started, reference): (i64, i64),
    parts: Parts,
    alerts: Vec<Alert>,
    failed: bool,
) -> Report {
    let rfc3339 = |t: i64| Timestamp::from_secs(t).to_rfc3339();
    let rules = job
        .rules
        .iter()
        .filter(|r| r.description.is_some() || r.runbook.is_some())
        .filter(|r| alerts.iter().any(|a| a.rule_id == r.id))
        .map(|r| crate::report::RuleAbout {
            id: r.id.clone(),
            description: r.description.clone(),
            runbook: r.runbook.clone(),
        })
        .collect();
    let sigma = crate::report::SigmaAbout::of_alerts(job, &alerts);
    let mut report = Report {
        job: job.name.clone(),
        started_at: rfc3339(started),
        finished_at: rfc3339(wall_clock()),
        duration_ms: s.started.elapsed().as_millis() as i64,
        exit_code: exit_code(s, failed, !parts.problems.is_empty(), &alerts).code(),
        fail_on: s.fail_on.map(|f| f.as_str().to_string()),
        since: parts.since.map(rfc3339),
        until: parts.until.map(rfc3339),
        reference_time: rfc3339(reference),
        totals: Totals {
            records: parts.sources.iter().map(|s| s.records).sum(),
            rejected: parts.sources.iter().map(|s| s.rejected).sum(),
            alerts: alerts.len() as u64,
        },
        sources: parts.sources,
        alerts,
        rejects: parts.rejects,
        problems: parts.problems,
        overview: parts.overview,
        templates: parts.templates,
        rules,
        held: parts.held,
        sigma,
    };
    if let Some(a) = anonymizer(job, s) {
        crate::report::anonymize(&mut report, &a);
    }
    report
}

/// The anonymizer of the run's reports and notifications, when the job or
/// `--anonymize` asks for one.
pub(crate) fn anonymizer(job: &Job, s: &Settings) -> Option<Anonymizer> {
    // Without a key of its own, the job's name keys the hashes.
    (s.anonymize || job.anonymize).then(|| {
        let key = std::env::var("LOGTRACK_ANONYMIZE_KEY").unwrap_or_else(|_| job.name.clone());
        Anonymizer::new(key.as_bytes())
    })
}
