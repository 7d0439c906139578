//! Detectors: the eight rule types over event time.
//!
//! Each record is matched against each rule ([`RuleMatch`], the one
//! definition of what a rule matches, used for parsed records and for rows
//! read back from the database alike): is it counted (service filter,
//! `where`, keyword), and in which group. Matches are tallied per group and
//! per second ([`Tally`] of [`Counts`]: a count and the first few evidence
//! lines of that second), so a detector's memory grows with the time span
//! and the number of groups, not with the number of records, and input
//! order does not matter (out-of-order lines, parallel chunks, several
//! files give the same alerts). `ratio` and `percentile` rules count a
//! little more than the second: whether the numerator holds, or the sketch
//! bucket of the value ([`RuleMatch::slot`]), in the same counts.
//!
//! A [`Detector`] turns a rule's counts into alerts with the reference
//! time passed in: no I/O, no clock, so its output is deterministic and can
//! be snapshotted.

mod bucket;
mod counts;
mod dispatch;
mod inactivity;
mod novelty;
mod percentile;
mod ratio;
pub mod sketch;
pub mod spill;
mod window;
mod zscore;

use crate::config::{AlertSeverity, GroupKey, Rule, RuleKind};
use crate::parse::Timestamp;
pub use crate::source::LineRef;
pub use bucket::{Bucket, EVIDENCE_PER_SECOND, MAX_EVIDENCE};
pub use counts::Counts;
pub use dispatch::{contains_ignore_ascii_case, detector, Reads, RuleMatch, Tally};
pub use novelty::Sighting;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The group key of a `sigma` rule's alerts that names the Sigma rule.
pub const SIGMA_ID: &str = "sigma.id";

/// Separates the values of a multi-key group in its encoded form.
const GROUP_SEP: char = '\u{1f}';

/// A line an alert points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub path: Arc<str>,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The line's text (at most [`EVIDENCE_TEXT`] bytes), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Bytes of an evidence line's text kept in reports (a longer line is cut,
/// with `…`).
pub const EVIDENCE_TEXT: usize = 1024;

/// One alert: an episode of a rule in one group. Its identity is
/// (rule id, group, window start).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub rule_id: String,
    #[serde(rename = "type")]
    pub rule_type: &'static str,
    #[serde(serialize_with = "ser_display")]
    pub severity: AlertSeverity,
    pub group: BTreeMap<String, String>,
    #[serde(serialize_with = "ser_ts")]
    pub window_start: Timestamp,
    #[serde(serialize_with = "ser_ts")]
    pub window_end: Timestamp,
    pub count: u64,
    pub message: String,
    pub evidence: Vec<Evidence>,
}

fn ser_ts<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

fn ser_display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// What every detector needs at the end of a run.
pub struct FinishContext {
    /// `--now`: the reference time for trailing silences (seconds).
    pub reference_time: i64,
    /// The earliest record time of the whole run, if any.
    pub data_start: Option<i64>,
    /// Source paths by [`LineRef::source`].
    pub sources: Vec<Arc<str>>,
    /// The start of the range detected over (seconds), when it is not the
    /// start of the data: what came before is history.
    pub range_start: Option<i64>,
    /// The run's message templates, for `new_template` rules.
    pub templates: Option<Arc<crate::template::catalog::Catalog>>,
    /// `new_value` rules keep what they saw (for the store).
    pub keep_sightings: bool,
}

impl FinishContext {
    fn evidence(&self, evs: impl IntoIterator<Item = LineRef>) -> Vec<Evidence> {
        evs.into_iter()
            .take(MAX_EVIDENCE)
            .map(|e| Evidence {
                path: self
                    .sources
                    .get(e.source as usize)
                    .cloned()
                    .unwrap_or_else(|| Arc::from("?")),
                line: e.line as u64,
                index: (e.index > 0).then_some(e.index as u64),
                text: None,
            })
            .collect()
    }
}

/// A rule's detector: a pure function from the rule's counts (gathered in
/// any order, by any number of threads, from files or from the database)
/// and the end-of-run context to its alerts.
pub trait Detector: Send + Sync {
    /// Every alert of `counts`. `ctx.reference_time` is the only notion of
    /// "now" a detector has.
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert>;

    /// `new_value`: the combinations its last `alerts` saw, when
    /// `keep_sightings` was set.
    fn sightings(&self) -> Vec<Sighting> {
        Vec::new()
    }
}

/// The names of a rule's group keys, as they appear in an alert's `group`.
pub fn group_names(rule: &Rule) -> Vec<String> {
    let mut names: Vec<String> = rule.group_by.iter().map(GroupKey::name).collect();
    if matches!(rule.kind, RuleKind::Sigma { .. }) {
        names.insert(0, SIGMA_ID.into());
    }
    if matches!(rule.kind, RuleKind::RepeatedMessage { message: None, .. }) {
        names.push("message".into());
    }
    names
}

/// Decodes an encoded group into the alert's `group` object.
fn decode_group(names: &[String], encoded: &str) -> BTreeMap<String, String> {
    names.iter().cloned().zip(encoded.split(GROUP_SEP).map(str::to_string)).collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Building detector inputs by hand for tests.
    use super::*;

    /// Feeds `(group, second)` events (line = position + 1) to the rule's
    /// detector and returns its alerts.
    pub fn run(rule: &Rule, events: &[(&str, i64)], now: i64) -> Vec<Alert> {
        let mut counts = Counts::default();
        for (i, (g, s)) in events.iter().enumerate() {
            let mut c = Counts::default();
            c.add(g, *s, LineRef { source: 0, line: i as u32 + 1, index: 0 });
            counts.absorb(c);
        }
        let ctx = FinishContext {
            reference_time: now,
            data_start: events.iter().map(|e| e.1).min(),
            sources: vec![Arc::from("test.log")],
            range_start: None,
            templates: None,
            keep_sightings: false,
        };
        detector(rule).alerts(counts, &ctx)
    }
}

#[cfg(test)]
mod tests;
