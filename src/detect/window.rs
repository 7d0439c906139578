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

use super::bucket::Bucket;
use super::{decode_group, group_names, Alert, Counts, Detector, FinishContext, GROUP_SEP};
use crate::config::{AlertSeverity, HumanDuration, Rule, RuleKind};
use crate::parse::Timestamp;
use crate::sigma::correlation::Kind as Counted;
use crate::sigma::set::{Correlated, Set};
use std::collections::BTreeMap;
use std::sync::Mutex;

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
        if let RuleKind::Sigma { rules, .. } = &self.rule.kind {
            if !rules.set.correlations.is_empty() {
                return self.sigma_alerts(&rules.set, counts, ctx);
            }
        }
        let names = group_names(&self.rule);
        // A window holds at most all of a group's records: groups with
        // fewer than the threshold (most of a high-cardinality rule's) are
        // passed over.
        counts.alerts_per_group(self.threshold, |group, secs, alerts| {
            self.episodes(group, secs, (self.threshold, self.window), &names, ctx, alerts);
        })
    }
}

impl WindowDetector {
    /// The alerts of one group's episodes (`at`: threshold and window).
    fn episodes(
        &self,
        group: &str,
        secs: &[(i64, Bucket)],
        at: (u64, i64),
        names: &[String],
        ctx: &FinishContext,
        alerts: &mut Vec<Alert>,
    ) {
        let (threshold, window) = at;
        let counts: Vec<(i64, u64)> = secs.iter().map(|(s, b)| (*s, u64::from(b.count))).collect();
        for ep in episodes(&counts, threshold, window) {
            let span = &secs[ep.first..=ep.last];
            let group_obj = decode_group(names, group);
            let message =
                describe(&self.rule, &group_obj, ep.count, HumanDuration(window), threshold);
            alerts.push(self.alert(group_obj, span, ep.count, message, ctx));
        }
    }

    fn alert(
        &self,
        group: BTreeMap<String, String>,
        span: &[(i64, Bucket)],
        count: u64,
        message: String,
        ctx: &FinishContext,
    ) -> Alert {
        Alert {
            rule_id: self.rule.id.clone(),
            rule_type: self.rule.kind.type_name(),
            severity: severity(&self.rule, &group),
            group,
            window_start: Timestamp::from_secs(span[0].0),
            window_end: Timestamp::from_secs(span[span.len() - 1].0),
            count,
            message,
            evidence: ctx.evidence(span.iter().flat_map(|(_, b)| b.evidence().to_vec())),
        }
    }

    /// A `sigma` rule's alerts when correlations run: each Sigma rule's
    /// group as usual, an `event_count` correlation's with its own count
    /// and timespan, and the groups of the other correlations (one per
    /// value or rule seen) gathered and then windowed together.
    fn sigma_alerts(&self, set: &Set, counts: Counts, ctx: &FinishContext) -> Vec<Alert> {
        let names = group_names(&self.rule);
        let gathered: Mutex<Vec<Gathered>> = Mutex::default();
        let mut alerts = counts.alerts_per_group(1, |group, secs, alerts| {
            let id = group.split(GROUP_SEP).next().unwrap_or("");
            let Some(c) = set.correlation(id) else {
                if secs.iter().map(|(_, b)| u64::from(b.count)).sum::<u64>() >= self.threshold {
                    self.episodes(group, secs, (self.threshold, self.window), &names, ctx, alerts);
                }
                return;
            };
            if c.corr.kind == Counted::EventCount {
                let names = correlation_names(&names, c);
                self.episodes(group, secs, (c.corr.min, c.corr.timespan), &names, ctx, alerts);
            } else if let Some((prefix, item)) = group.rsplit_once(GROUP_SEP) {
                let mut g = gathered.lock().unwrap_or_else(|e| e.into_inner());
                g.push((prefix.to_string(), item.to_string(), secs.to_vec()));
            }
        });
        let mut gathered = gathered.into_inner().unwrap_or_else(|e| e.into_inner());
        gathered.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        for one in gathered.chunk_by(|a, b| a.0 == b.0) {
            let prefix = &one[0].0;
            let id = prefix.split(GROUP_SEP).next().unwrap_or("");
            let Some(c) = set.correlation(id) else { continue };
            // Per record second: which item (value, or rule position).
            let mut entries: Vec<(i64, usize, Bucket)> = Vec::new();
            for (item, (_, name, secs)) in one.iter().enumerate() {
                let item = match c.corr.kind {
                    Counted::ValueCount(_) => item,
                    _ => name.parse().unwrap_or(usize::MAX),
                };
                entries.extend(secs.iter().map(|(s, b)| (*s, item, *b)));
            }
            let items = match c.corr.kind {
                Counted::ValueCount(_) => one.len(),
                _ => c.members.len(),
            };
            entries.retain(|e| e.1 < items);
            entries.sort_by_key(|e| e.0);
            let ordered = c.corr.kind == Counted::TemporalOrdered;
            let (times, eps) = holding(&entries, items, c.corr.timespan, c.corr.min, ordered);
            let names = correlation_names(&names, c);
            for (first, last) in eps {
                let (from, to) = (times[first], times[last]);
                let inside: Vec<&(i64, usize, Bucket)> =
                    entries.iter().filter(|e| from <= e.0 && e.0 <= to).collect();
                let count: u64 = inside.iter().map(|e| u64::from(e.2.count)).sum();
                let mut seen: Vec<usize> = inside.iter().map(|e| e.1).collect();
                seen.sort_unstable();
                seen.dedup();
                // One bucket per second, for the span and its evidence.
                let mut span: Vec<(i64, Bucket)> = Vec::new();
                for e in &inside {
                    match span.last_mut() {
                        Some((s, b)) if *s == e.0 => b.merge(&e.2),
                        _ => span.push((e.0, e.2)),
                    }
                }
                let group_obj = decode_group(&names, prefix);
                let message = describe_correlation(c, count, seen.len());
                alerts.push(self.alert(group_obj, &span, count, message, ctx));
            }
        }
        alerts
    }
}

/// One group of a `value_count` or `temporal` correlation: its group
/// without the item, the item (value or rule position), and its seconds.
type Gathered = (String, String, Vec<(i64, Bucket)>);

/// The names of a correlation's group: the Sigma id and the job rule's
/// group, then its own `group-by`.
fn correlation_names(names: &[String], c: &Correlated) -> Vec<String> {
    names.iter().cloned().chain(c.corr.group_by.iter().cloned()).collect()
}

/// The episodes (indexes into the distinct seconds, which come first) of
/// windows of `timespan` anchored at each second of `entries` (sorted by
/// second: which of `items` was seen then) that hold: at least `min`
/// distinct items in the window, or when `ordered`, items `0, 1, …` at
/// non-decreasing seconds within it.
pub fn holding(
    entries: &[(i64, usize, Bucket)],
    items: usize,
    timespan: i64,
    min: u64,
    ordered: bool,
) -> (Vec<i64>, Vec<(usize, usize)>) {
    let mut times: Vec<i64> = entries.iter().map(|e| e.0).collect();
    times.dedup();
    if ordered {
        let mut at: Vec<Vec<i64>> = vec![Vec::new(); items];
        for e in entries {
            if at[e.1].last() != Some(&e.0) {
                at[e.1].push(e.0);
            }
        }
        let eps = episodes_by(&times, timespan, |i, _| {
            let (start, mut t) = (times[i], times[i]);
            at.iter().all(|secs| match secs.get(secs.partition_point(|&s| s < t)) {
                Some(&s) if s <= start + timespan => {
                    t = s;
                    true
                }
                _ => false,
            })
        });
        return (times, eps);
    }
    let mut inside = vec![0u64; items];
    let (mut distinct, mut added, mut removed) = (0u64, 0usize, 0usize);
    let eps = episodes_by(&times, timespan, |i, j| {
        // The window holds the entries at times[i] ..= times[j - 1].
        while added < entries.len() && entries[added].0 <= times[j - 1] {
            let item = entries[added].1;
            inside[item] += 1;
            distinct += u64::from(inside[item] == 1);
            added += 1;
        }
        while removed < added && entries[removed].0 < times[i] {
            let item = entries[removed].1;
            inside[item] -= 1;
            distinct -= u64::from(inside[item] == 0);
            removed += 1;
        }
        distinct >= min
    });
    (times, eps)
}

fn describe_correlation(c: &Correlated, count: u64, distinct: usize) -> String {
    let r = &c.rule;
    let what = match &c.corr.kind {
        Counted::EventCount => String::new(),
        Counted::ValueCount(f) => format!(", {distinct} distinct values of {f}"),
        Counted::Temporal => format!(", {distinct} of its {} rules", c.members.len()),
        Counted::TemporalOrdered => format!(", its {} rules in order", c.members.len()),
    };
    format!(
        "Sigma correlation {:?} ({} over {}, at least {} within {}) matched {count} records{what}; author: {}",
        r.title,
        c.corr.kind.name(),
        c.corr.rules.join(", "),
        c.corr.min,
        HumanDuration(c.corr.timespan),
        r.author.as_deref().unwrap_or("not given")
    )
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
        .and_then(|r| r.level.as_deref())
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
            if let Some(c) = rules.set.correlation(id) {
                return describe_correlation(c, count, 0);
            }
            match rules.set.find(id) {
                Some(r) => format!(
                    "Sigma rule {:?} matched {count} records (min_count {threshold} within {window}); author: {}",
                    r.title,
                    r.author.as_deref().unwrap_or("not given")
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

    /// Correlation windows by their definition: an anchor at each second
    /// holds when its window has `min` distinct items (or, `ordered`,
    /// items 0, 1, … at non-decreasing seconds); chained as above.
    fn holding_brute_force(
        events: &[(i64, usize)],
        items: usize,
        w: i64,
        min: u64,
        ordered: bool,
    ) -> Vec<(i64, i64)> {
        let mut anchors: Vec<i64> = events.iter().map(|e| e.0).collect();
        anchors.sort();
        anchors.dedup();
        let holds = |s: i64| {
            let inside: Vec<&(i64, usize)> =
                events.iter().filter(|e| e.0 >= s && e.0 <= s + w).collect();
            if ordered {
                // Every way of picking one second per item, in order.
                fn pick(inside: &[&(i64, usize)], item: usize, items: usize, after: i64) -> bool {
                    item == items
                        || inside.iter().any(|e| {
                            e.1 == item && e.0 >= after && pick(inside, item + 1, items, e.0)
                        })
                }
                pick(&inside, 0, items, s)
            } else {
                let mut seen: Vec<usize> = inside.iter().map(|e| e.1).collect();
                seen.sort();
                seen.dedup();
                seen.len() as u64 >= min
            }
        };
        let mut out: Vec<(i64, i64)> = Vec::new();
        for s in anchors.into_iter().filter(|&s| holds(s)) {
            match out.last_mut() {
                Some((_, last)) if s <= *last + w => *last = s,
                _ => out.push((s, s)),
            }
        }
        out.into_iter()
            .map(|(first, last_anchor)| {
                let end = events.iter().map(|e| e.0).filter(|&t| t <= last_anchor + w).max();
                (first, end.unwrap())
            })
            .collect()
    }

    fn holding_fast(
        events: &[(i64, usize)],
        items: usize,
        w: i64,
        min: u64,
        ordered: bool,
    ) -> Vec<(i64, i64)> {
        let mut entries: Vec<(i64, usize, Bucket)> = events
            .iter()
            .map(|&(s, i)| {
                let mut b = Bucket::default();
                b.add(crate::detect::LineRef { source: 0, line: 1, index: 0 });
                (s, i, b)
            })
            .collect();
        entries.sort_by_key(|e| e.0);
        let (times, eps) = holding(&entries, items, w, min, ordered);
        eps.into_iter().map(|(a, b)| (times[a], times[b])).collect()
    }

    proptest! {
        #[test]
        fn correlation_windows_match_brute_force(
            events in proptest::collection::vec((0i64..200, 0usize..4), 0..40),
            w in 0i64..40,
            min in 1u64..5,
            ordered: bool,
        ) {
            let items = 4;
            prop_assert_eq!(
                holding_fast(&events, items, w, min, ordered),
                holding_brute_force(&events, items, w, min, ordered)
            );
        }

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
