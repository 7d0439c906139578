//! Whether an alert is told: silences and inhibition.
//!
//! A silence holds the alerts its matcher takes while it is active by the
//! wall clock (when people would be told), whatever the data's time. An
//! `[[inhibit]]` rule holds a target alert while a source incident with the
//! same `equal` labels is open at some time of the target's window (an
//! incident is open from its first window until its rule's `resolve_after`
//! has passed quietly after its last: a spike as a service comes back is
//! part of the outage). A
//! silence is named before an inhibition when both hold. With a database,
//! [`crate::store::incidents`] reads the stored silences and the open
//! incidents; in memory, the job file's silences and the run's own alerts
//! are all there is.

use crate::config::notify::Silence;
use crate::config::Job;
use crate::detect::Alert;
use crate::report::{Cause, Held};
use std::collections::BTreeMap;

/// What held an alert back.
#[derive(Clone, Debug, PartialEq)]
pub enum Hold {
    /// A silence: its number when stored, and its name.
    Silenced { id: Option<i64>, name: String },
    /// An open incident: its number (with a database), rule and group.
    Inhibited { incident: Option<i64>, rule_id: String, group: BTreeMap<String, String> },
}

impl Hold {
    /// The report's line of `a`, held by this.
    pub fn held(&self, a: &Alert) -> Held {
        let mut h = Held {
            rule_id: a.rule_id.clone(),
            group: a.group.clone(),
            window_start: a.window_start.to_rfc3339(),
            silenced_by: None,
            inhibited_by: None,
        };
        match self {
            Hold::Silenced { name, .. } => h.silenced_by = Some(name.clone()),
            Hold::Inhibited { rule_id, group, .. } => {
                h.inhibited_by = Some(Cause { rule_id: rule_id.clone(), group: group.clone() })
            }
        }
        h
    }

    /// The stored silence's number, if a stored silence held it.
    pub fn silence_id(&self) -> Option<i64> {
        match self {
            Hold::Silenced { id, .. } => *id,
            Hold::Inhibited { .. } => None,
        }
    }

    /// The inhibiting incident's number, if an inhibition held it.
    pub fn incident(&self) -> Option<i64> {
        match self {
            Hold::Inhibited { incident, .. } => *incident,
            Hold::Silenced { .. } => None,
        }
    }
}

/// The first of `silences` active at `now` (wall-clock seconds) that takes
/// `labels`.
pub fn silencing<'s>(
    silences: &'s [Silence],
    labels: &crate::expr::Labels<'_>,
    now: i64,
) -> Option<&'s Silence> {
    silences.iter().find(|s| s.active_at(now) && s.matcher.matches(labels))
}

/// A silence's hold.
pub fn silenced(s: &Silence) -> Hold {
    Hold::Silenced { id: s.id, name: s.name() }
}

/// Until when an incident of `rule` whose last window ends at `end` is
/// open: it is resolved only once `resolve_after` has passed quietly.
pub fn open_until(job: &Job, rule: &str, end: i64) -> i64 {
    let after = job.rules.iter().find(|r| r.id == rule).map_or(0, |r| r.resolve_after());
    end.saturating_add(after)
}

/// In memory: what holds each of a run's alerts, each an incident open from
/// its window's start until `resolve_after` past its end. `silences` are the job file's; `now` the wall clock.
pub fn in_memory(job: &Job, alerts: &[Alert], now: i64) -> Vec<Option<Hold>> {
    alerts
        .iter()
        .map(|a| {
            let labels = super::labels(job, a);
            if let Some(s) = silencing(&job.silence, &labels, now) {
                return Some(silenced(s));
            }
            if job.inhibit.is_empty() {
                return None;
            }
            alerts
                .iter()
                .find(|b| {
                    b.window_start <= a.window_end
                        && a.window_start.secs <= open_until(job, &b.rule_id, b.window_end.secs)
                        && super::inhibits(job, &super::labels(job, b), &labels)
                })
                .map(|b| Hold::Inhibited {
                    incident: None,
                    rule_id: b.rule_id.clone(),
                    group: b.group.clone(),
                })
        })
        .collect()
}
