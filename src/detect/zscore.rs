//! `zscore_anomaly`: bins of `window` seconds aligned to the epoch, from the
//! bin of a group's first record to the bin of its last; empty bins count
//! as 0. Every bin with a full baseline (the `baseline_windows` bins before
//! it) is evaluated: with population standard deviation `sd > 0` it alerts
//! when `(count - mean) / sd >= threshold`; with `sd == 0` when
//! `count > mean * threshold`.
//!
//! Only bins that hold records are evaluated (the threshold is positive, so
//! an empty bin never alerts), each against the sum and sum of squares of
//! the data bins in its baseline, kept by a sliding window over the sorted
//! data bins. Time and memory grow with the number of bins that have data,
//! not with the time span between the first and the last record.

use super::{decode_group, group_names, Alert, Bucket, Counts, Detector, FinishContext};
use crate::config::{HumanDuration, Rule};
use crate::parse::Timestamp;
use std::collections::BTreeMap;

pub struct ZscoreDetector {
    rule: Rule,
    threshold: f64,
    window: i64,
    baseline: usize,
}

impl ZscoreDetector {
    pub fn new(rule: Rule, threshold: f64, window: i64, baseline: u32) -> Self {
        ZscoreDetector { rule, threshold, window, baseline: baseline as usize }
    }
}

impl Detector for ZscoreDetector {
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert> {
        let names = group_names(&self.rule);
        let (w, b) = (self.window, self.baseline);
        counts.alerts_per_group(0, |group, secs, alerts| {
            // Seconds are sorted, so each bin lists its seconds in time order.
            let mut by_bin: BTreeMap<i64, (u64, Vec<Bucket>)> = BTreeMap::new();
            for &(sec, b) in secs {
                let bin = by_bin.entry(sec.div_euclid(w) * w).or_default();
                bin.0 += u64::from(b.count);
                bin.1.push(b);
            }
            let Some(&first) = by_bin.keys().next() else { return };
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
                let mean = base_sum as f64 / b as f64;
                // Population variance, exact in integers: (b·Σc² − (Σc)²) / b².
                let bb = b as u128;
                let var = (bb * base_sumsq - base_sum * base_sum) as f64 / (bb * bb) as f64;
                let sd = var.sqrt();
                let c = count as f64;
                let (fires, why) = if sd > 0.0 {
                    let z = (c - mean) / sd;
                    (z >= self.threshold, format!("z = {z:.2}"))
                } else {
                    let why = if mean > 0.0 {
                        format!("flat baseline, {:.2}x its mean", c / mean)
                    } else {
                        "the baseline is all zero".to_string()
                    };
                    (c > mean * self.threshold, why)
                };
                if !fires {
                    continue;
                }
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
                        "{} records in {}: {why} against the previous {b} bins (mean {mean:.1}, sd {sd:.1}, threshold {})",
                        count,
                        HumanDuration(w),
                        self.threshold
                    ),
                    evidence: ctx.evidence(evidence),
                });
            }
        })
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
            },
            service: None,
            group_by: vec![GroupKey::Service],
            severity: AlertSeverity::High,
            description: None,
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
