//! Sliding windows over event time, shared by `keyword_threshold`,
//! `repeated_message`, `user_threshold` and `rate_spike`.
//!
//! A window `[s, s + window]` (both ends included) is anchored at each
//! second `s` that has a counted record; it *holds* when it contains at
//! least `threshold` records. Holding windows that overlap or touch (the
//! next anchor is at most `window` after the previous holding anchor) form
//! one episode, and every episode is one alert: from its first holding
//! anchor to the last record inside its last holding window, with the
//! number of records in that span.

use super::{decode_group, group_names, Alert, Counts, Detector, FinishContext};
use crate::config::{AlertSeverity, HumanDuration, Rule, RuleKind};
use crate::parse::Timestamp;

pub struct WindowDetector {
    rule: Rule,
    threshold: u64,
    window: i64,
}

impl WindowDetector {
    pub fn new(rule: Rule, threshold: u64, window: i64) -> Self {
        WindowDetector { rule, threshold, window }
    }
}

/// An episode over one group's sorted seconds: indexes of its first and last
/// second, and its record count.
#[derive(Debug, PartialEq, Eq)]
pub struct Episode {
    pub first: usize,
    pub last: usize,
    pub count: u64,
}

/// Finds the episodes of sorted, distinct seconds with their counts.
pub fn episodes(secs: &[(i64, u64)], threshold: u64, window: i64) -> Vec<Episode> {
    let mut prefix = Vec::with_capacity(secs.len() + 1);
    prefix.push(0u64);
    for (_, c) in secs {
        prefix.push(prefix.last().expect("non-empty") + c);
    }
    let times: Vec<i64> = secs.iter().map(|s| s.0).collect();
    episodes_by(&times, window, |i, j| prefix[j] - prefix[i] >= threshold)
        .into_iter()
        .map(|(first, last)| Episode { first, last, count: prefix[last + 1] - prefix[first] })
        .collect()
}

/// The episodes of the windows anchored at sorted, distinct `times`, as
/// (first, last) indexes: `holds(i, j)` says whether the window anchored
/// at `times[i]` holds, given that it spans `times[i..j]`. It is asked
/// about every anchor in order, and `j` never decreases, so a caller may
/// keep the window's contents as it slides.
pub fn episodes_by(
    times: &[i64],
    window: i64,
    mut holds: impl FnMut(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    let n = times.len();
    let mut out = Vec::new();
    // The open episode: first index, last holding anchor, end index (exclusive).
    let mut open: Option<(usize, i64, usize)> = None;
    let mut j = 0;
    for (i, &s) in times.iter().enumerate() {
        j = j.max(i);
        while j < n && times[j] <= s + window {
            j += 1;
        }
        if !holds(i, j) {
            continue;
        }
        match open {
            Some((first, last_anchor, _)) if s <= last_anchor + window => {
                open = Some((first, s, j))
            }
            _ => {
                if let Some((first, _, end)) = open.take() {
                    out.push((first, end - 1));
                }
                open = Some((i, s, j));
            }
        }
    }
    if let Some((first, _, end)) = open {
        out.push((first, end - 1));
    }
    out
}

impl Detector for WindowDetector {
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert> {
        let names = group_names(&self.rule);
        let window = HumanDuration(self.window);
        // A window holds at most all of a group's records: groups with
        // fewer than the threshold (most of a high-cardinality rule's) are
        // passed over.
        counts.alerts_per_group(self.threshold, |group, secs, alerts| {
            let counts: Vec<(i64, u64)> =
                secs.iter().map(|(s, b)| (*s, u64::from(b.count))).collect();
            for ep in episodes(&counts, self.threshold, self.window) {
                let span = &secs[ep.first..=ep.last];
                let group_obj = decode_group(&names, group);
                let message = describe(&self.rule, &group_obj, ep.count, window, self.threshold);
                alerts.push(Alert {
                    rule_id: self.rule.id.clone(),
                    rule_type: self.rule.kind.type_name(),
                    severity: severity(&self.rule, &group_obj),
                    group: group_obj,
                    window_start: Timestamp::from_secs(span[0].0),
                    window_end: Timestamp::from_secs(span[span.len() - 1].0),
                    count: ep.count,
                    message,
                    evidence: ctx.evidence(span.iter().flat_map(|(_, b)| b.evidence().to_vec())),
                });
            }
        })
    }
}

/// The rule's severity, or for a `sigma` rule without one, the level of
/// the Sigma rule of the group (`informational` is low, as is a rule
/// without a level).
fn severity(rule: &Rule, group: &std::collections::BTreeMap<String, String>) -> AlertSeverity {
    let RuleKind::Sigma { rules, severity_given: false, .. } = &rule.kind else {
        return rule.severity;
    };
    let level = group
        .get(super::SIGMA_ID)
        .and_then(|id| rules.set.find(id))
        .and_then(|r| r.rule.level.as_deref())
        .and_then(crate::sigma::set::level_rank);
    match level {
        Some(4) => AlertSeverity::Critical,
        Some(3) => AlertSeverity::High,
        Some(2) => AlertSeverity::Medium,
        _ => AlertSeverity::Low,
    }
}

fn describe(
    rule: &Rule,
    group: &std::collections::BTreeMap<String, String>,
    count: u64,
    window: HumanDuration,
    threshold: u64,
) -> String {
    match &rule.kind {
        RuleKind::KeywordThreshold { keyword, .. } => format!(
            "{count} records containing {keyword:?} (threshold {threshold} within {window})"
        ),
        RuleKind::RepeatedMessage { message, .. } => {
            let m = message.as_deref().or(group.get("message").map(String::as_str)).unwrap_or("");
            format!("message {m:?} repeated {count} times (threshold {threshold} within {window})")
        }
        RuleKind::UserThreshold { message, .. } => {
            let user = group.get("user").map(String::as_str).unwrap_or("?");
            format!(
                "user {user:?}: {count} messages containing {message:?} (threshold {threshold} within {window})"
            )
        }
        RuleKind::Sigma { rules, .. } => {
            let id = group.get(super::SIGMA_ID).map(String::as_str).unwrap_or("?");
            match rules.set.find(id) {
                Some(r) => format!(
                    "Sigma rule {:?} matched {count} records (min_count {threshold} within {window}); author: {}",
                    r.rule.title,
                    r.rule.author.as_deref().unwrap_or("not given")
                ),
                None => format!("Sigma rule {id} matched {count} records"),
            }
        }
        _ => format!("{count} records (threshold {threshold} within {window})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, written plainly: for each anchor second, count the
    /// records in [s, s + w]; chain holding anchors at most `w` apart.
    fn brute_force(events: &[i64], threshold: u64, w: i64) -> Vec<(i64, i64, u64)> {
        let mut anchors: Vec<i64> = events.to_vec();
        anchors.sort();
        anchors.dedup();
        let holding: Vec<i64> = anchors
            .iter()
            .copied()
            .filter(|&s| {
                events.iter().filter(|&&t| t >= s && t <= s + w).count() as u64 >= threshold
            })
            .collect();
        let mut out: Vec<(i64, i64)> = Vec::new();
        for s in holding {
            match out.last_mut() {
                Some((_, last)) if s <= *last + w => *last = s,
                _ => out.push((s, s)),
            }
        }
        out.into_iter()
            .map(|(first, last_anchor)| {
                let end = events.iter().copied().filter(|&t| t <= last_anchor + w).max().unwrap();
                let count = events.iter().filter(|&&t| t >= first && t <= end).count() as u64;
                (first, end, count)
            })
            .collect()
    }

    fn fast(events: &[i64], threshold: u64, w: i64) -> Vec<(i64, i64, u64)> {
        let mut m = std::collections::BTreeMap::new();
        for &e in events {
            *m.entry(e).or_insert(0u64) += 1;
        }
        let secs: Vec<(i64, u64)> = m.into_iter().collect();
        episodes(&secs, threshold, w)
            .into_iter()
            .map(|e| (secs[e.first].0, secs[e.last].0, e.count))
            .collect()
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            events in proptest::collection::vec(0i64..300, 0..80),
            threshold in 1u64..8,
            w in 0i64..40,
        ) {
            prop_assert_eq!(fast(&events, threshold, w), brute_force(&events, threshold, w));
        }

        #[test]
        fn input_order_does_not_matter(
            mut events in proptest::collection::vec(0i64..300, 0..80),
            threshold in 1u64..8,
            w in 1i64..40,
        ) {
            let a = fast(&events, threshold, w);
            events.reverse();
            prop_assert_eq!(fast(&events, threshold, w), a);
        }
    }
}
