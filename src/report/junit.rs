//! The JUnit XML file for CI systems (`--junit FILE`): one test case per
//! rule, failing when the rule raised an alert at or above `--fail-on`
//! (without `--fail-on` every case passes and lists its alerts). Written
//! with `maud`, so text from the logs is escaped.

use super::Report;
use crate::config::{AlertSeverity, Rule};
use maud::{html, PreEscaped};

/// The JUnit XML of `report` for `rules`.
pub fn junit(report: &Report, rules: &[Rule], fail_on: Option<AlertSeverity>) -> Vec<u8> {
    // (rule, its alerts, how many are at or above --fail-on)
    let cases: Vec<(&Rule, Vec<&crate::detect::Alert>, usize)> = rules
        .iter()
        .map(|rule| {
            let alerts: Vec<_> = report.alerts.iter().filter(|a| a.rule_id == rule.id).collect();
            let failing =
                fail_on.map_or(0, |min| alerts.iter().filter(|a| a.severity >= min).count());
            (rule, alerts, failing)
        })
        .collect();
    let failures = cases.iter().filter(|c| c.2 > 0).count();
    let seconds = format!("{:.3}", report.duration_ms as f64 / 1000.0);
    let suite = html! {
        testsuites name="logtrack" tests=(cases.len()) failures=(failures) errors="0" time=(seconds) {
            testsuite name=(report.job) tests=(cases.len()) failures=(failures) errors="0"
                time=(seconds) timestamp=(report.started_at) {
                @for (rule, alerts, failing) in &cases {
                    testcase classname=(format!("logtrack.{}", report.job))
                        name=(format!("{} ({})", rule.id, rule.kind.type_name())) {
                        @if *failing > 0 {
                            failure type="alert"
                                message=(format!("{failing} alert(s) at or above {}", fail_on.map_or("", |s| s.as_str()))) {
                                (lines(alerts))
                            }
                        } @else if !alerts.is_empty() {
                            system-out { (lines(alerts)) }
                        }
                    }
                }
            }
        }
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&PreEscaped(suite.into_string()).0);
    out.push('\n');
    out.into_bytes()
}

fn lines(alerts: &[&crate::detect::Alert]) -> String {
    let mut s = String::new();
    for a in alerts {
        let group: Vec<String> = a.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!(
            "{} [{}] {} .. {}: {}\n",
            a.severity.as_str().to_uppercase(),
            group.join(" "),
            a.window_start,
            a.window_end,
            a.message
        ));
    }
    s
}
