//! `new_template` and `new_value`: the first sight of a kind of message,
//! or of a combination of values.
//!
//! Both compare with what was seen before a *boundary*: the later of the
//! start of the range detected over and the end of the baseline (`learn`
//! after the first record ever). In memory the range is the whole run, so
//! the baseline is the first `learn` of the data; with a database the store
//! says what came before (the `templates` table, the `known_values` table)
//! and a later run's range starts after the baseline.
//!
//! An alert's identity is (rule, group, first sight), so detecting over the
//! same data again raises nothing new.

use super::{decode_group, group_names, Alert, Bucket, Counts, Detector, FinishContext, LineRef};
use super::{GROUP_SEP, MAX_EVIDENCE};
use crate::config::{HumanDuration, Rule, RuleKind};
use crate::parse::Timestamp;
use rustc_hash::FxHashMap;
use std::sync::Mutex;

/// The boundary: sightings at or after it are new.
fn boundary(ctx: &FinishContext, learn: i64) -> i64 {
    let baseline_end = ctx.data_start.map_or(i64::MIN, |s| s.saturating_add(learn));
    ctx.range_start.unwrap_or(i64::MIN).max(baseline_end)
}

/// Counts, span and first lines of some seconds, merged in any order.
#[derive(Default)]
struct Agg {
    first: i64,
    last: i64,
    count: u64,
    /// The first lines, by time then position.
    evidence: Vec<(i64, LineRef)>,
}

impl Agg {
    fn add(&mut self, secs: &[(i64, Bucket)]) {
        let (Some(a), Some(b)) = (secs.first(), secs.last()) else { return };
        if self.evidence.is_empty() && self.count == 0 {
            (self.first, self.last) = (a.0, b.0);
        } else {
            self.first = self.first.min(a.0);
            self.last = self.last.max(b.0);
        }
        let mut taken = 0;
        for (s, bucket) in secs {
            self.count += u64::from(bucket.count);
            if taken < MAX_EVIDENCE {
                taken += bucket.evidence().len();
                self.evidence.extend(bucket.evidence().iter().map(|e| (*s, *e)));
            }
        }
        self.evidence.sort_unstable();
        self.evidence.truncate(MAX_EVIDENCE);
    }

    /// The alert of these seconds.
    fn alert(
        &self,
        rule: &Rule,
        group: std::collections::BTreeMap<String, String>,
        message: String,
        ctx: &FinishContext,
    ) -> Alert {
        Alert {
            rule_id: rule.id.clone(),
            rule_type: rule.kind.type_name(),
            severity: rule.severity,
            group,
            window_start: Timestamp::from_secs(self.first),
            window_end: Timestamp::from_secs(self.last),
            count: self.count,
            message,
            evidence: ctx.evidence(self.evidence.iter().map(|e| e.1)),
        }
    }
}

fn times(n: u64) -> String {
    if n == 1 {
        "once".into()
    } else {
        format!("{n} times")
    }
}

/// Splits an encoded key into its first `n` group values and the rest.
fn split_group(key: &str, n: usize) -> (&str, &str) {
    if n == 0 {
        return ("", key);
    }
    let mut at = 0;
    for _ in 0..n {
        match key[at..].find(GROUP_SEP) {
            Some(i) => at += i + GROUP_SEP.len_utf8(),
            None => return (key, ""),
        }
    }
    (&key[..at - GROUP_SEP.len_utf8()], &key[at..])
}

pub struct NewTemplateDetector {
    rule: Rule,
}

impl NewTemplateDetector {
    pub fn new(rule: Rule) -> Self {
        NewTemplateDetector { rule }
    }
}

impl Detector for NewTemplateDetector {
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert> {
        let RuleKind::NewTemplate { min_count, learn, .. } = &self.rule.kind else {
            return Vec::new();
        };
        let Some(catalog) = &ctx.templates else { return Vec::new() };
        let b = boundary(ctx, *learn);
        let n = self.rule.group_by.len();
        // Per group and template: the seconds of its masked messages.
        let mut per: FxHashMap<(String, u32), Agg> = FxHashMap::default();
        for (key, secs) in counts.into_groups() {
            let (group, sig) = split_group(&key, n);
            // Past the caps a message has no template of its own.
            let Some(c) = catalog.lookup(sig) else { continue };
            let first = catalog.info[c as usize].first().unwrap_or(i64::MIN);
            if first < b || catalog.drain.cluster(c).text() == crate::template::mask::WILD {
                continue;
            }
            per.entry((group.to_string(), c)).or_default().add(&secs);
        }
        let mut names = group_names(&self.rule);
        names.push("template".into());
        let mut alerts = Vec::new();
        for ((group, c), agg) in per {
            if agg.count < *min_count {
                continue;
            }
            let text = catalog.drain.cluster(c).text();
            let mut g = decode_group(&names[..n], &group);
            g.insert("template".into(), text.to_string());
            let message = format!(
                "new message template ({}{}): {text}",
                times(agg.count),
                if *min_count > 1 { format!(", at least {min_count}") } else { String::new() },
            );
            alerts.push(agg.alert(&self.rule, g, message, ctx));
        }
        alerts
    }
}

/// A combination of values seen in a range: its encoded group, first and
/// last second (what the `known_values` table keeps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    pub value: String,
    pub first: i64,
    pub last: i64,
}

pub struct NewValueDetector {
    rule: Rule,
    sightings: Mutex<Vec<Sighting>>,
}

impl NewValueDetector {
    pub fn new(rule: Rule) -> Self {
        NewValueDetector { rule, sightings: Mutex::new(Vec::new()) }
    }
}

impl Detector for NewValueDetector {
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert> {
        let RuleKind::NewValue { min_count, learn, remember } = &self.rule.kind else {
            return Vec::new();
        };
        let b = boundary(ctx, *learn);
        let names = group_names(&self.rule);
        let seen = Mutex::new(Vec::new());
        let alerts = counts.alerts_per_group(0, |group, secs, alerts| {
            if ctx.keep_sightings {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                // Seconds with no record are sightings from the store.
                let mut real = secs.iter().filter(|s| s.1.count > 0);
                if let Some(first) = real.next() {
                    let last = real.next_back().unwrap_or(first);
                    seen.push(Sighting { value: group.to_string(), first: first.0, last: last.0 });
                }
            }
            // The first sight at or after the boundary, and the one before.
            let Some(i) = secs.iter().position(|s| s.0 >= b && s.1.count > 0) else { return };
            let t = secs[i].0;
            if let Some(prev) = secs[..i].last() {
                if t - prev.0 <= *remember {
                    return;
                }
            }
            let mut agg = Agg::default();
            agg.add(&secs[i..]);
            if agg.count < *min_count {
                return;
            }
            let g = decode_group(&names, group);
            let shown: Vec<String> = g.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let message = format!(
                "first sight of {} ({}; none in the {} before)",
                shown.join(", "),
                times(agg.count),
                HumanDuration(*remember)
            );
            alerts.push(agg.alert(&self.rule, g, message, ctx));
        });
        if ctx.keep_sightings {
            *self.sightings.lock().unwrap_or_else(|e| e.into_inner()) =
                seen.into_inner().unwrap_or_else(|e| e.into_inner());
        }
        alerts
    }

    fn sightings(&self) -> Vec<Sighting> {
        std::mem::take(&mut *self.sightings.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_split_from_the_message_key() {
        assert_eq!(split_group("a\u{1f}b\u{1f}svc\u{1f}x y", 2), ("a\u{1f}b", "svc\u{1f}x y"));
        assert_eq!(split_group("svc\u{1f}x", 0), ("", "svc\u{1f}x"));
        assert_eq!(split_group("a", 1), ("a", ""));
    }
}
