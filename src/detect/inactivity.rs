//! `inactivity`: a silence longer than `max_idle` between two records of a
//! group, or from a group's last record to the reference time. A service
//! named by the rule that has no records at all is silent since the start of
//! the data (with a database: since its last stored record).

use super::{decode_group, group_names, Alert, Counts, Detector, FinishContext};
use crate::config::{GroupKey, HumanDuration, Rule};
use crate::parse::Timestamp;

pub struct InactivityDetector {
    rule: Rule,
    max_idle: i64,
}

impl InactivityDetector {
    pub fn new(rule: Rule, max_idle: i64) -> Self {
        InactivityDetector { rule, max_idle }
    }

    fn alert(
        &self,
        group: &str,
        start: i64,
        end: i64,
        ctx: &FinishContext,
        ev: Vec<super::LineRef>,
        trailing: bool,
    ) -> Alert {
        let names = group_names(&self.rule);
        let silence = HumanDuration(end - start);
        let what = if trailing { "no records since then" } else { "no records in between" };
        Alert {
            rule_id: self.rule.id.clone(),
            rule_type: self.rule.kind.type_name(),
            severity: self.rule.severity,
            group: decode_group(&names, group),
            window_start: Timestamp::from_secs(start),
            window_end: Timestamp::from_secs(end),
            count: 0,
            message: format!(
                "silent for {silence}: {what} (max_idle {})",
                HumanDuration(self.max_idle)
            ),
            evidence: ctx.evidence(ev),
        }
    }
}

impl Detector for InactivityDetector {
    fn alerts(&self, counts: Counts, ctx: &FinishContext) -> Vec<Alert> {
        let named_service_silent = counts.is_empty()
            && self.rule.service.is_some()
            && self.rule.group_by == [GroupKey::Service];
        let mut alerts = counts.alerts_per_group(0, |group, secs, alerts| {
            for pair in secs.windows(2) {
                let ((a, ba), (b, bb)) = (pair[0], pair[1]);
                if b - a > self.max_idle {
                    let ev = vec![
                        *ba.evidence().last().expect("a counted second has evidence"),
                        bb.evidence()[0],
                    ];
                    alerts.push(self.alert(group, a, b, ctx, ev, false));
                }
            }
            if let Some((last, b)) = secs.last() {
                if ctx.reference_time - last > self.max_idle {
                    let ev = vec![*b.evidence().last().expect("a counted second has evidence")];
                    alerts.push(self.alert(group, *last, ctx.reference_time, ctx, ev, true));
                }
            }
        });
        if named_service_silent {
            let service = self.rule.service.clone().expect("checked above");
            let start = ctx.data_start.unwrap_or(ctx.reference_time).min(ctx.reference_time);
            let mut a = self.alert(&service, start, ctx.reference_time, ctx, Vec::new(), true);
            a.message = format!(
                "no records at all from service {service:?} (max_idle {})",
                HumanDuration(self.max_idle)
            );
            alerts.push(a);
        }
        alerts
    }
}
