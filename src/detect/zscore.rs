//! `zscore_anomaly`: bins of `window` seconds aligned to the epoch, from the
//! bin of a group's first record to the bin of its last; empty bins count
//! as 0. Every bin with a full baseline (the `baseline_windows` bins before
//! it) is evaluated: with population standard deviation `sd > 0` it alerts
//! when `(count - mean) / sd >= threshold`; with `sd == 0` when
//! `count > mean * threshold`.

use super::{decode_group, group_names, Alert, Bucket, Counts, Detector, FinishContext};
use crate::config::{HumanDuration, Rule};
use crate::parse::Timestamp;
use std::collections::BTreeMap;

pub struct ZscoreDetector {
    rule: Rule,
    threshold: f64,
    window: i64,
    baseline: usize,
    counts: Counts,
}

impl ZscoreDetector {
    pub fn new(rule: Rule, threshold: f64, window: i64, baseline: u32) -> Self {
        ZscoreDetector {
            rule,
            threshold,
            window,
            baseline: baseline as usize,
            counts: Counts::default(),
        }
    }
}

impl Detector for ZscoreDetector {
    fn observe(&mut self, counts: Counts) {
        self.counts.absorb(counts);
    }

    fn finish(self: Box<Self>, ctx: &FinishContext) -> Vec<Alert> {
        let names = group_names(&self.rule);
        let mut alerts = Vec::new();
        let (w, b) = (self.window, self.baseline);
        for (group, secs) in self.counts.sorted() {
            // Seconds are sorted, so each bin lists its seconds in time order.
            let mut by_bin: BTreeMap<i64, (u64, Vec<Bucket>)> = BTreeMap::new();
            for (sec, b) in secs {
                let bin = by_bin.entry(sec.div_euclid(w) * w).or_default();
                bin.0 += u64::from(b.count);
                bin.1.push(b);
            }
            let (Some(&first), Some(&last)) = (by_bin.keys().next(), by_bin.keys().last()) else {
                continue;
            };
            let n = ((last - first) / w + 1) as usize;
            let counts: Vec<u64> =
                (0..n).map(|i| by_bin.get(&(first + i as i64 * w)).map_or(0, |b| b.0)).collect();
            for i in b..n {
                let base = &counts[i - b..i];
                let mean = base.iter().sum::<u64>() as f64 / b as f64;
                let var = base.iter().map(|&c| (c as f64 - mean).powi(2)).sum::<f64>() / b as f64;
                let sd = var.sqrt();
                let c = counts[i] as f64;
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
                let start = first + i as i64 * w;
                let evidence: Vec<super::Ev> = by_bin
                    .get(&start)
                    .map(|(_, bs)| bs.iter().flat_map(|b| b.evidence().to_vec()).collect())
                    .unwrap_or_default();
                alerts.push(Alert {
                    rule_id: self.rule.id.clone(),
                    rule_type: self.rule.kind.type_name(),
                    severity: self.rule.severity,
                    group: decode_group(&names, &group),
                    window_start: Timestamp::from_secs(start),
                    window_end: Timestamp::from_secs(start + w),
                    count: counts[i],
                    message: format!(
                        "{} records in {}: {why} against the previous {b} bins (mean {mean:.1}, sd {sd:.1}, threshold {})",
                        counts[i],
                        HumanDuration(w),
                        self.threshold
                    ),
                    evidence: ctx.evidence(evidence),
                });
            }
        }
        alerts
    }
}
