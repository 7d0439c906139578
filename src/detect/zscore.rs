//! `zscore_anomaly`: bins of `window` seconds aligned to the epoch, from the
//! bin of a group's first record to the bin of its last; empty bins count
//! as 0. Every bin with a full baseline (the `baseline_windows` bins before
//! it) is evaluated: with population standard deviation `sd > 0` it alerts
//! when `(count - mean) / sd >= threshold`; with `sd == 0` when
//! `count > mean * threshold`.
//!
//! With `seasonality`, a bin's baseline is instead the same bin of each of
//! the previous `seasons` days (or weeks) that is not before the group's
//! first bin, and a bin is evaluated once at least `min_history` of them
//! exist. With `robust`, the median and the median absolute deviation
//! (scaled by 1.4826, so that it estimates the standard deviation of
//! normal data) stand for the mean and the standard deviation.
//!
//! Only bins that hold records are evaluated (the threshold is positive, so
//! an empty bin never alerts), each against the sum and sum of squares of
//! the data bins in its baseline, kept by a sliding window over the sorted
//! data bins. Time and memory grow with the number of bins that have data,
//! not with the time span between the first and the last record.

use super::{decode_group, group_names, Alert, Bucket, Counts, Detector, FinishContext};
use crate::config::{HumanDuration, Rule, RuleKind, Seasonal};
use crate::parse::Timestamp;
use std::collections::BTreeMap;

pub struct ZscoreDetector {
    rule: Rule,
    threshold: f64,
    window: i64,
    baseline: usize,
    seasonal: Option<Seasonal>,
    robust: bool,
}

impl ZscoreDetector {
    pub fn new(rule: Rule) -> Self {
        let RuleKind::ZscoreAnomaly { threshold, window, baseline_windows, seasonal, robust } =
            rule.kind
        else {
            unreachable!("a z-score detector is built for z-score rules")
        };
        ZscoreDetector {
            threshold,
            window: window.secs(),
            baseline: baseline_windows as usize,
            seasonal,
            robust,
            rule,
        }
    }
}

/// The MAD of normal data times this estimates its standard deviation.
const MAD_SCALE: f64 = 1.4826;

/// The center and spread of a baseline: mean and population standard
/// deviation, or median and scaled MAD.
fn center_spread(values: &mut [u64], robust: bool) -> (f64, f64) {
    let n = values.len();
    if robust {
        let median = median(values);
        let mut dev: Vec<f64> = values.iter().map(|&v| (v as f64 - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let mad = if n % 2 == 1 { dev[n / 2] } else { (dev[n / 2 - 1] + dev[n / 2]) / 2.0 };
        (median, MAD_SCALE * mad)
    } else {
        let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
        let sumsq: u128 = values.iter().map(|&v| u128::from(v).pow(2)).sum();
        let nn = n as u128;
        let var = (nn * sumsq - sum * sum) as f64 / (nn * nn) as f64;
        (sum as f64 / n as f64, var.sqrt())
    }
}

fn median(values: &mut [u64]) -> f64 {
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2] as f64
    } else {
        (values[n / 2 - 1] as f64 + values[n / 2] as f64) / 2.0
    }
}

/// Whether a bin of `count` fires against a baseline of this center and
/// spread, and why.
fn judge(count: u64, (center, spread): (f64, f64), threshold: f64, robust: bool) -> Option<String> {
    let c = count as f64;
    let (fires, why) = if spread > 0.0 {
        let z = (c - center) / spread;
        (z >= threshold, format!("z = {z:.2}"))
    } else if center > 0.0 {
        let m = if robust { "median" } else { "mean" };
        (c > center * threshold, format!("flat baseline, {:.2}x its {m}", c / center))
    } else {
        (c > center * threshold, "the baseline is all zero".to_string())
    };
    fires.then_some(why)
}

/// A fired bin: start, count, why, the baseline's center and spread, and
/// how many bins it had.
type Fired = (i64, u64, String, (f64, f64), usize);

impl Detector for ZscoreDetector {
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert> {
        let names = group_names(&self.rule);
        let w = self.window;
        counts.alerts_per_group(0, |group, secs, alerts| {
            // Seconds are sorted, so each bin lists its seconds in time order.
            let mut by_bin: BTreeMap<i64, (u64, Vec<Bucket>)> = BTreeMap::new();
            for &(sec, b) in secs {
                let bin = by_bin.entry(sec.div_euclid(w) * w).or_default();
                bin.0 += u64::from(b.count);
                bin.1.push(b);
            }
            let fired = match self.seasonal {
                None => self.sliding(&by_bin),
                Some(s) => self.seasonal(&by_bin, s),
            };
            for (start, count, why, (center, spread), n) in fired {
                let evidence: Vec<super::LineRef> = by_bin
                    .get(&start)
                    .map(|(_, bs)| bs.iter().flat_map(|b| b.evidence().to_vec()).collect())
                    .unwrap_or_default();
                alerts.push(Alert {
                    rule_id: self.rule.id.clone(),
                    rule_type: self.rule.kind.type_name(),
                    severity: self.rule.severity,
                    group: decode_group(&names, group),
                    window_start: Timestamp::from_secs(start),
                    window_end: Timestamp::from_secs(start + w),
                    count,
                    message: format!(
                        "{count} records in {}: {why} against {} ({} {center:.1}, {} {spread:.1}, threshold {})",
                        HumanDuration(w),
                        match self.seasonal {
                            None => format!("the previous {n} bins"),
                            Some(s) => format!(
                                "the same bin on the previous {n} {}",
                                if s.period == crate::config::WEEK { "weeks" } else { "days" }
                            ),
                        },
                        if self.robust { "median" } else { "mean" },
                        if self.robust { "MAD" } else { "sd" },
                        self.threshold
                    ),
                    evidence: ctx.evidence(evidence),
                });
            }
        })
    }
}

impl ZscoreDetector {
    /// Bins that fire against the `baseline` bins before them: (start,
    /// count, why).
    fn sliding(&self, by_bin: &BTreeMap<i64, (u64, Vec<Bucket>)>) -> Vec<Fired> {
        let (w, b) = (self.window, self.baseline);
        let mut out = Vec::new();
        let Some(&first) = by_bin.keys().next() else { return out };
        // The first bin with a full baseline.
        let evaluated_from = first.saturating_add((b as i64).saturating_mul(w));
        let bins: Vec<(i64, u64)> = by_bin.iter().map(|(s, (c, _))| (*s, *c)).collect();
        // Sums over the data bins in [start - b*w, start).
        let (mut lo, mut sum, mut sumsq) = (0usize, 0u128, 0u128);
        for (hi, &(start, count)) in bins.iter().enumerate() {
            let from = start.saturating_sub((b as i64).saturating_mul(w));
            while lo < hi && bins[lo].0 < from {
                sum -= u128::from(bins[lo].1);
                sumsq -= u128::from(bins[lo].1).pow(2);
                lo += 1;
            }
            let (base_sum, base_sumsq) = (sum, sumsq);
            sum += u128::from(count);
            sumsq += u128::from(count).pow(2);
            if start < evaluated_from {
                continue;
            }
            let (center, spread) = if self.robust {
                // The data bins of the baseline, and zeros for the others.
                let mut values: Vec<u64> = bins[lo..hi].iter().map(|b| b.1).collect();
                values.resize(b, 0);
                center_spread(&mut values, true)
            } else {
                // Population variance, exact in integers: (b·Σc² − (Σc)²) / b².
                let bb = b as u128;
                let var = (bb * base_sumsq - base_sum * base_sum) as f64 / (bb * bb) as f64;
                (base_sum as f64 / b as f64, var.sqrt())
            };
            if let Some(why) = judge(count, (center, spread), self.threshold, self.robust) {
                out.push((start, count, why, (center, spread), b));
            }
        }
        out
    }

    /// Bins that fire against the same bin of the previous seasons.
    fn seasonal(&self, by_bin: &BTreeMap<i64, (u64, Vec<Bucket>)>, s: Seasonal) -> Vec<Fired> {
        let mut out = Vec::new();
        let Some(&first) = by_bin.keys().next() else { return out };
        let mut values: Vec<u64> = Vec::with_capacity(s.seasons as usize);
        for (&start, (count, _)) in by_bin {
            values.clear();
            for k in 1..=i64::from(s.seasons) {
                let then = start - k * s.period;
                if then < first {
                    break;
                }
                values.push(by_bin.get(&then).map_or(0, |b| b.0));
            }
            if values.len() < s.min_history as usize {
                continue;
            }
            let n = values.len();
            let (center, spread) = center_spread(&mut values, self.robust);
            if let Some(why) = judge(*count, (center, spread), self.threshold, self.robust) {
                out.push((start, *count, why, (center, spread), n));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::run;
    use crate::config::{AlertSeverity, GroupKey, HumanDuration, Rule, RuleKind};
    use proptest::prelude::*;

    fn rule(threshold: f64, window: i64, baseline_windows: u32) -> Rule {
        Rule {
            id: "z".into(),
            kind: RuleKind::ZscoreAnomaly {
                threshold,
                window: HumanDuration(window),
                baseline_windows,
                seasonal: None,
                robust: false,
            },
            service: None,
            group_by: vec![GroupKey::Service],
            severity: AlertSeverity::High,
            description: None,
            runbook: None,
            filter: None,
            resolve_after: None,
        }
    }

    /// The rule as written in the contract: every bin from the first to the
    /// last, empty ones as 0, each with a full baseline evaluated.
    fn dense(counts: &[u64], threshold: f64, b: usize) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        for i in b..counts.len() {
            let base = &counts[i - b..i];
            let sum: u64 = base.iter().sum();
            let sumsq: u64 = base.iter().map(|c| c * c).sum();
            let mean = sum as f64 / b as f64;
            // Σ(c − mean)²/b, computed exactly so that z on a boundary is exact.
            let var = (b as u64 * sumsq - sum * sum) as f64 / (b * b) as f64;
            let (c, sd) = (counts[i] as f64, var.sqrt());
            let fires = if sd > 0.0 { (c - mean) / sd >= threshold } else { c > mean * threshold };
            if fires {
                out.push((i, counts[i]));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn sparse_bins_agree_with_every_bin(
            counts in proptest::collection::vec(prop_oneof![3 => Just(0u64), 2 => 0u64..6, 1 => 10u64..40], 1..40),
            b in 2u32..6,
            threshold in prop_oneof![Just(1.5), Just(2.0), Just(3.0)],
        ) {
            let t0 = 1_704_067_200;
            let events: Vec<(&str, i64)> = counts
                .iter()
                .enumerate()
                .flat_map(|(i, &n)| (0..n).map(move |k| ("web", t0 + i as i64 * 60 + k as i64 % 60)))
                .collect();
            let alerts = run(&rule(threshold, 60, b), &events, 0);
            let got: Vec<(usize, u64)> = alerts
                .iter()
                .map(|a| (((a.window_start.secs - t0) / 60) as usize, a.count))
                .collect();
            // Bins before the first record do not exist.
            let first = counts.iter().position(|&c| c > 0).unwrap_or(counts.len());
            let last = counts.iter().rposition(|&c| c > 0).map_or(first, |l| l + 1);
            let want: Vec<(usize, u64)> = dense(&counts[first..last], threshold, b as usize)
                .into_iter()
                .map(|(i, c)| (i + first, c))
                .collect();
            prop_assert_eq!(got, want);
        }
    }

    /// `count` records in each minute of `counts` from `t0`.
    fn minutes(t0: i64, counts: &[u64]) -> Vec<(&'static str, i64)> {
        counts
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| (0..n).map(move |k| ("web", t0 + i as i64 * 60 + k as i64 % 60)))
            .collect()
    }

    #[test]
    fn robust_baselines_are_not_hidden_by_one_outlier() {
        // An earlier burst of 100 inflates the standard deviation so that 40
        // is ordinary; against the median and MAD (10, 0) it is 4x.
        let events = minutes(1_704_067_200, &[10, 10, 10, 100, 10, 10, 10, 40]);
        assert!(run(&rule(3.0, 60, 7), &events, 0).iter().all(|a| a.count != 40));
        let mut robust = rule(3.0, 60, 7);
        if let RuleKind::ZscoreAnomaly { robust: r, .. } = &mut robust.kind {
            *r = true;
        }
        let alerts = run(&robust, &events, 0);
        let fired: Vec<u64> = alerts.iter().map(|a| a.count).collect();
        assert_eq!(fired, [40], "{alerts:?}");
        assert!(
            alerts[0].message.contains("flat baseline, 4.00x its median"),
            "{}",
            alerts[0].message
        );
    }

    #[test]
    fn seasonal_bins_wait_for_their_history() {
        // One 1-minute bin a day at 03:00 for five days (10 records), and 60
        // on day 6; min_history 3: days 1-3 are not judged, day 6 is.
        let day = crate::config::DAY;
        let t0 = 1_704_067_200 + 3 * 3600;
        let mut events: Vec<(&str, i64)> = Vec::new();
        for d in 0..6 {
            let n = if d == 5 { 60 } else { 10 + d as u64 % 2 };
            events.extend(minutes(t0 + d * day, &[n]));
        }
        let mut r = rule(3.0, 60, 2);
        if let RuleKind::ZscoreAnomaly { seasonal, .. } = &mut r.kind {
            *seasonal = Some(crate::config::Seasonal { period: day, seasons: 7, min_history: 3 });
        }
        let alerts = run(&r, &events, 0);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].window_start.secs, t0 + 5 * day);
        assert!(
            alerts[0].message.contains("against the same bin on the previous 5 days (mean 10.4"),
            "{}",
            alerts[0].message
        );
        // With min_history 6 nothing has enough history.
        if let RuleKind::ZscoreAnomaly { seasonal: Some(s), .. } = &mut r.kind {
            s.min_history = 6;
        }
        assert!(run(&r, &events, 0).is_empty());
    }

    #[test]
    fn records_centuries_apart_are_two_bins() {
        // 1970 and 2199 with a one-second window: 7e9 bins in the span, two
        // with data; the later one alerts against its all-zero baseline.
        let events = [("web", 0), ("web", 7_258_118_399)];
        let alerts = run(&rule(3.0, 1, 10_000), &events, 0);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].window_start.secs, 7_258_118_399);
        assert_eq!(alerts[0].count, 1);
    }
}
