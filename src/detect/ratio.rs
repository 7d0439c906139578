//! `ratio`: within a window, the share of the records a rule selects (its
//! `service` and `where`) that also match its `numerator`.
//!
//! Windows are those of the window rules: `[s, s + window]` anchored at
//! each second `s` with a selected record. A window *holds* when it has at
//! least `min_total` records and `numerator / total >= threshold`; holding
//! windows that overlap or touch form one episode, and each episode is one
//! alert, from its first holding anchor to the last record of its last
//! holding window. The alert gives the episode's numerator records as its
//! count and evidence, and the figures of its highest-share window.
//!
//! Counts are kept under `2 · second + 1` for the numerator's records and
//! `2 · second` for the others (see [`super::RuleMatch::slot`]).

use super::window::episodes_by;
use super::{decode_group, group_names, Alert, Bucket, Counts, Detector, FinishContext};
use crate::config::{HumanDuration, Rule, RuleKind};
use crate::parse::Timestamp;

pub struct RatioDetector {
    rule: Rule,
}

impl RatioDetector {
    pub fn new(rule: Rule) -> Self {
        RatioDetector { rule }
    }
}

/// The seconds of a group from its sorted slots: (second, records,
/// numerator's records) each, and where each second's slots start (then
/// where the last ends).
fn seconds(slots: &[(i64, Bucket)]) -> (Vec<(i64, u64, u64)>, Vec<usize>) {
    let (mut out, mut starts): (Vec<(i64, u64, u64)>, Vec<usize>) = (Vec::new(), Vec::new());
    for (k, (slot, b)) in slots.iter().enumerate() {
        let sec = slot >> 1;
        if out.last().is_none_or(|l| l.0 != sec) {
            out.push((sec, 0, 0));
            starts.push(k);
        }
        let s = out.last_mut().expect("pushed");
        s.1 += u64::from(b.count);
        if slot & 1 == 1 {
            s.2 += u64::from(b.count);
        }
    }
    starts.push(slots.len());
    (out, starts)
}

/// The windows of sorted seconds that hold, as episodes: (first, last)
/// indexes with the peak window's (numerator, total).
pub fn episodes(
    secs: &[(i64, u64, u64)],
    threshold: f64,
    min_total: u64,
    window: i64,
) -> Vec<(usize, usize, (u64, u64))> {
    let mut total = vec![0u64];
    let mut num = vec![0u64];
    for (_, t, n) in secs {
        total.push(total.last().expect("non-empty") + t);
        num.push(num.last().expect("non-empty") + n);
    }
    let times: Vec<i64> = secs.iter().map(|s| s.0).collect();
    // Holding anchors with their figures, in order.
    let mut held: Vec<(usize, u64, u64)> = Vec::new();
    let eps = episodes_by(&times, window, |i, j| {
        let (t, n) = (total[j] - total[i], num[j] - num[i]);
        // A quotient of exact integers, correctly rounded: a share exactly
        // at the threshold holds.
        let holds = t >= min_total && t > 0 && n as f64 / t as f64 >= threshold;
        if holds {
            held.push((i, n, t));
        }
        holds
    });
    let mut at = 0;
    eps.into_iter()
        .map(|(first, last)| {
            let mut peak = (0u64, 1u64);
            while at < held.len() && held[at].0 <= last {
                let (_, n, t) = held[at];
                // n/t > pn/pt, in integers.
                if u128::from(n) * u128::from(peak.1) > u128::from(peak.0) * u128::from(t) {
                    peak = (n, t);
                }
                at += 1;
            }
            (first, last, peak)
        })
        .collect()
}

/// A share as a percentage: `7.4%`, `5%`, `0.25%`.
pub fn percent(share: f64) -> String {
    let s = format!("{:.2}", share * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

impl Detector for RatioDetector {
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert> {
        let RuleKind::Ratio { numerator, threshold, min_total, window } = &self.rule.kind else {
            return Vec::new();
        };
        let names = group_names(&self.rule);
        counts.alerts_per_group(*min_total, |group, slots, alerts| {
            let (secs, starts) = seconds(slots);
            for (first, last, (n, t)) in episodes(&secs, *threshold, *min_total, window.secs()) {
                let span = &secs[first..=last];
                // The numerator's lines (odd slots) of the episode's seconds.
                let lines = slots[starts[first]..starts[last + 1]]
                    .iter()
                    .filter(|(slot, _)| slot & 1 == 1)
                    .flat_map(|(_, b)| b.evidence().to_vec());
                alerts.push(Alert {
                    rule_id: self.rule.id.clone(),
                    rule_type: self.rule.kind.type_name(),
                    severity: self.rule.severity,
                    group: decode_group(&names, group),
                    window_start: Timestamp::from_secs(span[0].0),
                    window_end: Timestamp::from_secs(span[span.len() - 1].0),
                    count: span.iter().map(|s| s.2).sum(),
                    message: format!(
                        "{} ({n} of {t}) matched {numerator} within {} (threshold {}, at least {min_total} records)",
                        percent(n as f64 / t as f64),
                        HumanDuration(window.secs()),
                        percent(*threshold),
                    ),
                    evidence: ctx.evidence(lines),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, written plainly: each anchor second's window
    /// [s, s + w] over the raw records; holding anchors chained when at
    /// most `w` apart; the peak is the first highest share.
    fn brute_force(
        events: &[(i64, bool)],
        threshold: f64,
        min_total: u64,
        w: i64,
    ) -> Vec<(i64, i64, u64, (u64, u64))> {
        let mut anchors: Vec<i64> = events.iter().map(|e| e.0).collect();
        anchors.sort();
        anchors.dedup();
        let mut eps: Vec<(i64, i64, (u64, u64))> = Vec::new();
        for s in anchors {
            let inside: Vec<&(i64, bool)> =
                events.iter().filter(|e| e.0 >= s && e.0 <= s + w).collect();
            let t = inside.len() as u64;
            let n = inside.iter().filter(|e| e.1).count() as u64;
            if t < min_total || (n as f64 / t as f64) < threshold {
                continue;
            }
            match eps.last_mut() {
                Some((_, last, peak)) if s <= *last + w => {
                    *last = s;
                    if n as f64 / t as f64 > peak.0 as f64 / peak.1 as f64 {
                        *peak = (n, t);
                    }
                }
                _ => eps.push((s, s, (n, t))),
            }
        }
        eps.into_iter()
            .map(|(first, last_anchor, peak)| {
                let end =
                    events.iter().map(|e| e.0).filter(|&t| t <= last_anchor + w).max().unwrap();
                let count =
                    events.iter().filter(|e| e.1 && e.0 >= first && e.0 <= end).count() as u64;
                (first, end, count, peak)
            })
            .collect()
    }

    fn fast(
        events: &[(i64, bool)],
        threshold: f64,
        min_total: u64,
        w: i64,
    ) -> Vec<(i64, i64, u64, (u64, u64))> {
        let mut m = std::collections::BTreeMap::new();
        for &(s, hit) in events {
            let e = m.entry(s).or_insert((0u64, 0u64));
            e.0 += 1;
            e.1 += u64::from(hit);
        }
        let secs: Vec<(i64, u64, u64)> = m.into_iter().map(|(s, (t, n))| (s, t, n)).collect();
        episodes(&secs, threshold, min_total, w)
            .into_iter()
            .map(|(f, l, peak)| (secs[f].0, secs[l].0, secs[f..=l].iter().map(|s| s.2).sum(), peak))
            .collect()
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            events in proptest::collection::vec((0i64..200, proptest::bool::weighted(0.3)), 0..120),
            threshold in prop_oneof![Just(0.05), Just(0.25), Just(0.5), Just(1.0), 0.01f64..1.0],
            min_total in 1u64..12,
            w in 0i64..40,
        ) {
            prop_assert_eq!(
                fast(&events, threshold, min_total, w),
                brute_force(&events, threshold, min_total, w)
            );
        }
    }

    #[test]
    fn a_share_exactly_at_the_threshold_holds() {
        // 25 of 500 is 5%.
        let secs = [(0, 500, 25)];
        assert_eq!(episodes(&secs, 0.05, 200, 60).len(), 1);
        assert_eq!(episodes(&[(0, 500, 24)], 0.05, 200, 60).len(), 0);
        assert_eq!(episodes(&secs, 0.05, 501, 60).len(), 0);
        assert_eq!(percent(37.0 / 500.0), "7.4%");
        assert_eq!(percent(0.05), "5%");
        assert_eq!(percent(0.0025), "0.25%");
    }
}
