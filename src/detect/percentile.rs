//! `percentile`: the `percentile`-th percentile (nearest rank) of a numeric
//! field over the records of a window, against a threshold.
//!
//! Windows are those of the window rules: `[s, s + window]` anchored at
//! each second `s` with a record that has the field as a number (others
//! are not counted). A window *holds* when it has at least `min_count`
//! such records and their percentile is `>= threshold`; holding windows
//! that overlap or touch form one episode, one alert, as for the window
//! rules. Values are kept in a [`sketch`](super::sketch) with 1% relative
//! error, so the percentile compared and shown is within 1% of the exact
//! one. The alert gives the episode's records as its count, the highest
//! percentile among its windows, and as evidence the lines whose value is
//! at or over the threshold.

use super::sketch::{self, Histogram};
use super::window::episodes_by;
use super::{decode_group, group_names, Alert, Bucket, Counts, Detector, FinishContext};
use crate::config::{HumanDuration, Rule, RuleKind};
use crate::parse::Timestamp;
use std::cell::RefCell;

pub struct PercentileDetector {
    rule: Rule,
}

impl PercentileDetector {
    pub fn new(rule: Rule) -> Self {
        PercentileDetector { rule }
    }
}

thread_local! {
    /// One histogram per thread, emptied after each group.
    static HISTOGRAM: RefCell<Histogram> = RefCell::new(Histogram::default());
}

/// What [`episodes`] finds in a group.
pub struct Found {
    /// The distinct seconds.
    pub times: Vec<i64>,
    /// Where each second's slots start (and, last, where they end).
    pub starts: Vec<usize>,
    /// (first, last) indexes into `times`, the highest percentile bucket
    /// among the episode's windows, and the records of that window.
    pub episodes: Vec<(usize, usize, i64, u64)>,
}

/// One holding window: its anchor's index, percentile bucket and records.
type Held = (usize, i64, u64);

/// The episodes of a group's slots (`second · 2^BITS + bucket`, sorted), as
/// (first, last) indexes into `times` (its distinct seconds) with the
/// highest percentile bucket of the episode's windows and the records of
/// that window.
pub fn episodes(
    slots: &[(i64, u64)],
    percentile: f64,
    threshold: f64,
    min_count: u64,
    window: i64,
) -> Found {
    // Each second's range of slots.
    let mut times: Vec<i64> = Vec::new();
    let mut starts: Vec<usize> = Vec::new();
    for (k, (slot, _)) in slots.iter().enumerate() {
        let sec = slot >> sketch::BITS;
        if times.last() != Some(&sec) {
            times.push(sec);
            starts.push(k);
        }
    }
    starts.push(slots.len());
    let bucket_of = |slot: i64| slot & ((1 << sketch::BITS) - 1);
    let mut held: Vec<Held> = Vec::new();
    let eps = HISTOGRAM.with(|h| {
        let mut h = h.borrow_mut();
        let (mut added, mut removed) = (0usize, 0usize);
        let change = |h: &mut Histogram, sec: usize, add: bool| {
            for &(slot, n) in &slots[starts[sec]..starts[sec + 1]] {
                h.change(bucket_of(slot), n, add);
            }
        };
        let eps = episodes_by(&times, window, |i, j| {
            while added < j {
                change(&mut h, added, true);
                added += 1;
            }
            while removed < i {
                change(&mut h, removed, false);
                removed += 1;
            }
            let n = h.total();
            if n < min_count || n == 0 {
                return false;
            }
            let b = h.percentile(percentile);
            let holds = sketch::value(b) >= threshold;
            if holds {
                held.push((i, b, n));
            }
            holds
        });
        // Emptied for the next group.
        while removed < added {
            change(&mut h, removed, false);
            removed += 1;
        }
        eps
    });
    let mut at = 0;
    let episodes = eps
        .into_iter()
        .map(|(first, last)| {
            let mut peak = (i64::MIN, 0u64);
            while at < held.len() && held[at].0 <= last {
                if held[at].1 > peak.0 {
                    peak = (held[at].1, held[at].2);
                }
                at += 1;
            }
            (first, last, peak.0, peak.1)
        })
        .collect();
    Found { times, starts, episodes }
}

/// A value with four significant digits: `1.725`, `1500`, `0.0123`.
pub fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

impl Detector for PercentileDetector {
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert> {
        let RuleKind::Percentile { field, percentile, threshold, min_count, window } =
            &self.rule.kind
        else {
            return Vec::new();
        };
        let names = group_names(&self.rule);
        let over = sketch::bucket(*threshold);
        counts.alerts_per_group(*min_count, |group, slots, alerts| {
            let plain: Vec<(i64, u64)> =
                slots.iter().map(|(s, b)| (*s, u64::from(b.count))).collect();
            let Found { times, starts, episodes } =
                episodes(&plain, *percentile, *threshold, *min_count, window.secs());
            for (first, last, peak, n) in episodes {
                let span: &[(i64, Bucket)] = &slots[starts[first]..starts[last + 1]];
                let evidence = span
                    .iter()
                    .filter(|(s, _)| s & ((1 << sketch::BITS) - 1) >= over)
                    .flat_map(|(_, b)| b.evidence().to_vec());
                alerts.push(Alert {
                    rule_id: self.rule.id.clone(),
                    rule_type: self.rule.kind.type_name(),
                    severity: self.rule.severity,
                    group: decode_group(&names, group),
                    window_start: Timestamp::from_secs(times[first]),
                    window_end: Timestamp::from_secs(times[last]),
                    count: span.iter().map(|(_, b)| u64::from(b.count)).sum(),
                    message: format!(
                        "p{} of fields.{field} was {} over {n} records within {} (threshold {}, at least {min_count} records; within 1%)",
                        short(*percentile),
                        short(sketch::value(peak)),
                        HumanDuration(window.secs()),
                        short(*threshold),
                    ),
                    evidence: ctx.evidence(evidence),
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The exact nearest-rank percentile of `values`.
    fn exact(values: &mut [f64], p: f64) -> f64 {
        values.sort_by(f64::total_cmp);
        values[sketch::rank(p, values.len() as u64) as usize - 1]
    }

    /// The definition over raw records, with exact values: (first, last,
    /// records, peak percentile) per episode.
    fn brute_force(
        events: &[(i64, f64)],
        p: f64,
        threshold: f64,
        min_count: u64,
        w: i64,
    ) -> Vec<(i64, i64, u64, f64)> {
        let mut anchors: Vec<i64> = events.iter().map(|e| e.0).collect();
        anchors.sort();
        anchors.dedup();
        let mut eps: Vec<(i64, i64, f64)> = Vec::new();
        for s in anchors {
            let mut inside: Vec<f64> =
                events.iter().filter(|e| e.0 >= s && e.0 <= s + w).map(|e| e.1).collect();
            if (inside.len() as u64) < min_count {
                continue;
            }
            let v = exact(&mut inside, p);
            if v < threshold {
                continue;
            }
            match eps.last_mut() {
                Some((_, last, peak)) if s <= *last + w => {
                    *last = s;
                    *peak = peak.max(v);
                }
                _ => eps.push((s, s, v)),
            }
        }
        eps.into_iter()
            .map(|(first, last_anchor, peak)| {
                let end =
                    events.iter().map(|e| e.0).filter(|&t| t <= last_anchor + w).max().unwrap();
                let n = events.iter().filter(|e| e.0 >= first && e.0 <= end).count() as u64;
                (first, end, n, peak)
            })
            .collect()
    }

    fn fast(
        events: &[(i64, f64)],
        p: f64,
        threshold: f64,
        min_count: u64,
        w: i64,
    ) -> Vec<(i64, i64, u64, f64)> {
        let mut m = std::collections::BTreeMap::new();
        for &(s, v) in events {
            *m.entry((s << sketch::BITS) | sketch::bucket(v)).or_insert(0u64) += 1;
        }
        let slots: Vec<(i64, u64)> = m.into_iter().collect();
        let Found { times, starts, episodes } = episodes(&slots, p, threshold, min_count, w);
        episodes
            .into_iter()
            .map(|(f, l, peak, _)| {
                let n = slots[starts[f]..starts[l + 1]].iter().map(|s| s.1).sum();
                (times[f], times[l], n, sketch::value(peak))
            })
            .collect()
    }

    proptest! {
        /// Values are multiples of 10 up to 200 and thresholds end in 5,
        /// so that no value is within 1% of a threshold (5 is 2.5% of 200):
        /// the windows that hold are then the same, and each peak is within
        /// 1% of the exact one.
        #[test]
        fn matches_brute_force_within_the_error(
            events in proptest::collection::vec((0i64..150, (1u32..=20).prop_map(|v| f64::from(v) * 10.0)), 0..120),
            p in prop_oneof![Just(50.0), Just(95.0), Just(99.0), 1.0f64..100.0],
            threshold in (0u32..20).prop_map(|t| f64::from(t) * 10.0 + 5.0),
            min_count in 1u64..10,
            w in 0i64..30,
        ) {
            let got = fast(&events, p, threshold, min_count, w);
            let want = brute_force(&events, p, threshold, min_count, w);
            prop_assert_eq!(got.len(), want.len());
            for (g, e) in got.iter().zip(&want) {
                prop_assert_eq!((g.0, g.1, g.2), (e.0, e.1, e.2));
                prop_assert!((g.3 - e.3).abs() <= sketch::ALPHA * e.3, "{} vs {}", g.3, e.3);
            }
        }
    }

    proptest! {
        /// Over values of any size, with a threshold no window can miss
        /// (below every value), every window holds and the peak is within
        /// 1% of the exact highest percentile.
        #[test]
        fn the_peak_is_within_one_percent(
            events in proptest::collection::vec((0i64..100, 1e-6f64..1e9), 1..80),
            p in 1.0f64..=100.0,
            w in 0i64..20,
        ) {
            let got = fast(&events, p, 0.0, 1, w);
            let want = brute_force(&events, p, 0.0, 1, w);
            prop_assert_eq!(got.len(), want.len());
            for (g, e) in got.iter().zip(&want) {
                prop_assert!((g.3 - e.3).abs() <= sketch::ALPHA * e.3 * (1.0 + 1e-9), "{} vs {}", g.3, e.3);
            }
        }
    }

    #[test]
    fn one_slow_record_does_not_move_the_p95() {
        // 99 fast requests and one very slow one in a window.
        let mut events: Vec<(i64, f64)> = (0..99).map(|i| (i % 10, 0.1)).collect();
        events.push((5, 30.0));
        assert!(fast(&events, 95.0, 1.5, 20, 60).is_empty());
        // Ten slow ones do.
        events.extend((0..9).map(|i| (i, 2.0)));
        assert_eq!(fast(&events, 95.0, 1.5, 20, 60).len(), 1);
        assert_eq!(short(1.7251), "1.725");
        assert_eq!(short(1500.0), "1500");
        assert_eq!(short(0.012345), "0.01235");
    }
}
