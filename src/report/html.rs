//! `report.html`: one self-contained page (inline CSS and SVG drawn here,
//! no script, no fetch), readable from disk or as a mail attachment. Every
//! value from the logs goes through `maud`, which escapes it: nothing here
//! writes raw HTML from data.

use super::charts::{day, service_multiples, severity_chart, utc, volume_chart};
use super::overview::{Overview, TOP_KINDS};
use super::{Report, ReportWriter};
use crate::config::AlertSeverity;
use crate::detect::{Alert, EVIDENCE_PER_SECOND, MAX_EVIDENCE};
use maud::{html, Markup, PreEscaped, DOCTYPE};

pub struct Html;

impl ReportWriter for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn serialize(&self, r: &Report) -> Vec<u8> {
        page(r).into_string().into_bytes()
    }
}

/// The page style (the dashboard builds on it).
pub const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#1d2430;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef1f5;vertical-align:top}
th{background:#f5f7fa;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.sev{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600;color:#fff}
.new{background:#2b8a3e}.critical{background:#8b0000}.high{background:#d9480f}.medium{background:#b07a00}.low{background:#4c6ef5}
.muted{color:#68707d}.ok{color:#2b8a3e}.bad{color:#c92a2a}code{font:12px ui-monospace,monospace;overflow-wrap:anywhere}
.t{white-space:nowrap;font-variant-numeric:tabular-nums}
svg{width:100%;height:auto;background:#fbfcfd;border:1px solid #eef1f5}.legend span{margin-right:14px;white-space:nowrap}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:0 24px}
.num{display:inline-block;min-width:14px;padding:0 4px;border-radius:8px;color:#fff;font-size:12px;font-weight:700;text-align:center;text-decoration:none}
";

/// What only the report page adds to [`STYLE`].
const REPORT_STYLE: &str = "
section#summary{background:#f8f9fb;border:1px solid #dde2ea;border-radius:6px;padding:4px 16px 8px;margin:12px 0}
section#summary h2{border:0;margin-top:8px}
ol.summary{list-style:none;padding:0;margin:6px 0}ol.summary li{margin:4px 0}
.multiples{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:10px 16px}
figure{margin:0}figcaption{font-size:12px;color:#68707d;margin-bottom:2px}figcaption b{color:#1d2430}
table.alerts{table-layout:fixed}table.alerts tbody tr.head td{border-bottom:0}
table.alerts tr.ev td{padding:0 8px 8px;border-bottom:1px solid #dde2ea}
details summary{cursor:pointer;color:#364fc7;font-size:13px}
pre.ev{margin:4px 0 0;padding:6px 8px;background:#f5f7fa;overflow-x:auto;white-space:pre;font:12px/1.5 ui-monospace,monospace}
pre.ev .loc{color:#68707d}
";

fn page(r: &Report) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "LogTrack report: " (r.job) }
                style { (PreEscaped(STYLE)) (PreEscaped(REPORT_STYLE)) }
            }
            body {
                h1 { "LogTrack report: " (r.job) }
                (summary(r))
                h2 { "Record volume per service" }
                (volume_chart(&r.overview, &r.alerts, true))
                @if r.overview.volume.len() > 1 {
                    h2 { "Each service on its own scale" }
                    (service_multiples(&r.overview, &r.alerts))
                }
                h2 { "Severities over time" }
                (severity_chart(&r.overview))
                h2 id="alerts" { "Alerts (" (r.alerts.len()) ")" }
                (alerts_table(&r.alerts))
                @if !r.held.is_empty() {
                    h2 id="held" { "Not notified (" (r.held.len()) ")" }
                    (held_table(&r.held))
                }
                @if !r.templates.is_empty() {
                    h2 id="templates" { "Message templates" }
                    (templates_table(r))
                }
                h2 { "Run" }
                (run_table(r))
                h2 { "Sources" }
                (sources_table(r))
                (top_lists(&r.overview))
                h2 { "Rejects (" (r.totals.rejected) ")" }
                (rejects_table(r))
            }
        }
    }
}

fn hms(t: i64) -> String {
    utc(t, "%H:%M:%S")
}

/// A window as one unbreakable text: `2026-03-14 10:12:00–10:13:32`.
fn window_text(a: &Alert) -> String {
    let (s, e) = (a.window_start.secs, a.window_end.secs);
    if s == e {
        format!("{} {}", day(s), hms(s))
    } else if day(s) == day(e) {
        format!("{} {}–{}", day(s), hms(s), hms(e))
    } else {
        format!("{} {} – {} {}", day(s), hms(s), day(e), hms(e))
    }
}

/// The alert's number (its row in the alerts table), in its severity's colour.
fn number(n: usize, a: &Alert) -> Markup {
    html! { span class=(format!("num {}", a.severity.as_str())) title=(a.severity.as_str()) { (n) } }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Alerts of one rule and group whose windows touch or overlap, as the
/// numbers of their rows: what an on-call person calls one incident.
fn incidents(alerts: &[Alert]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..alerts.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&alerts[i], &alerts[j]);
        (&a.rule_id, &a.group, a.window_start).cmp(&(&b.rule_id, &b.group, b.window_start))
    });
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in order {
        let a = &alerts[i];
        match out.last_mut() {
            Some(last)
                if alerts[last[0]].rule_id == a.rule_id
                    && alerts[last[0]].group == a.group
                    && a.window_start.secs
                        <= last.iter().map(|&j| alerts[j].window_end.secs).max().unwrap_or(0) =>
            {
                last.push(i)
            }
            _ => out.push(vec![i]),
        }
    }
    let worst = |inc: &Vec<usize>| inc.iter().map(|&i| alerts[i].severity).max();
    out.sort_by(|x, y| {
        worst(y)
            .cmp(&worst(x))
            .then_with(|| alerts[x[0]].window_start.cmp(&alerts[y[0]].window_start))
    });
    out
}

/// Incidents listed in the summary, at most.
const SUMMARY_INCIDENTS: usize = 25;

fn group_text(a: &Alert) -> String {
    a.group.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// What a run's exit status means, in words.
fn exit_text(r: &Report) -> (&'static str, String) {
    let at_level = |min: &str| {
        let min = AlertSeverity::ALL.iter().position(|s| s.as_str() == min).unwrap_or(0);
        r.alerts.iter().filter(|a| a.severity as usize >= min).count() as u64
    };
    match (r.exit_code, r.fail_on.as_deref()) {
        (0, None) => ("ok", "0: completed; no --fail-on given".to_string()),
        (0, Some(min)) => {
            ("ok", format!("0: completed, no alert at or above {min} (--fail-on {min})"))
        }
        (1, Some(min)) => (
            "bad",
            format!(
                "1: {} at or above {min} (--fail-on {min})",
                plural(at_level(min), "alert", "alerts")
            ),
        ),
        (1, None) => ("bad", "1: an alert at or above the fail-on level fired".to_string()),
        (code, _) => ("bad", format!("{code}: failed (see Problems)")),
    }
}

/// The page's first section: what happened, worst first, in a sentence an
/// incident.
fn summary(r: &Report) -> Markup {
    let incidents = incidents(&r.alerts);
    let by_severity: Vec<String> = AlertSeverity::ALL
        .iter()
        .rev()
        .filter_map(|&s| {
            let n = r.alerts.iter().filter(|a| a.severity == s).count();
            (n > 0).then(|| format!("{n} {}", s.as_str()))
        })
        .collect();
    let (class, exit) = exit_text(r);
    let data = r.overview.start.map(|s| (s, s + r.overview.bins as i64 * r.overview.bin_secs - 1));
    html! {
        section id="summary" {
            h2 { "Summary" }
            p {
                b { (plural(r.alerts.len() as u64, "alert", "alerts")) }
                @if !by_severity.is_empty() { " (" (by_severity.join(", ")) ")" }
                @if incidents.len() != r.alerts.len() { " in " (plural(incidents.len() as u64, "incident", "incidents")) }
                " from " (plural(r.totals.records, "record", "records")) " of " (plural(r.sources.len() as u64, "file", "files"))
                @if let Some((s, e)) = data {
                    ", data " span.t { (day(s)) " " (utc(s, "%H:%M")) } " to " span.t { (utc(e, if day(s) == day(e) { "%H:%M" } else { "%Y-%m-%d %H:%M" })) } " UTC"
                }
                ". Exit status " span class=(class) { (exit) } "."
                @if !r.problems.is_empty() { " " span.bad { (plural(r.problems.len() as u64, "problem", "problems")) } ": see Problems below." }
            }
            @if incidents.is_empty() {
                p { "Nothing fired: no rule of this job found anything in this data." }
            } @else {
                ol.summary {
                    @for inc in incidents.iter().take(SUMMARY_INCIDENTS) {
                        @let a = &r.alerts[inc[0]];
                        @let last = &r.alerts[*inc.last().expect("an incident has an alert")];
                        @let worst = inc.iter().map(|&i| r.alerts[i].severity).max().unwrap_or(a.severity);
                        li {
                            @for &i in inc { a href=(format!("#alert-{}", i + 1)) { (number(i + 1, &r.alerts[i])) } " " }
                            span class=(format!("sev {}", worst.as_str())) { (worst.as_str()) } " "
                            code { (a.rule_id) }
                            @if !a.group.is_empty() { " (" (group_text(a)) ")" }
                            " " span.t { (window_text(a)) }
                            @if inc.len() > 1 { " to " span.t { (window_text(last)) } ", " (inc.len()) " alerts" }
                            ": " (last.message) "."
                        }
                    }
                }
                @if incidents.len() > SUMMARY_INCIDENTS {
                    p.muted { "And " (incidents.len() - SUMMARY_INCIDENTS) " more, in the alerts table below." }
                }
            }
        }
        @if !r.problems.is_empty() {
            h2 { "Problems" }
            ul { @for p in &r.problems { li { (p) } } }
        }
        @if !r.rules.is_empty() {
            h2 { "What the rules say" }
            ul {
                @for about in &r.rules {
                    li {
                        code { (about.id) }
                        @if let Some(d) = &about.description { ": " (d) }
                        @if let Some(rb) = about.runbook.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                            " (" a href=(rb) rel="noopener noreferrer" { "runbook" } ")"
                        }
                    }
                }
            }
        }
        @if !r.sigma.is_empty() {
            h2 { "Sigma rules that matched" }
            ul {
                @for m in &r.sigma {
                    li {
                        strong { (m.title) } " (" code { (m.id) } ", " (m.level.as_deref().unwrap_or("no level")) "), author: " (m.author.as_deref().unwrap_or("not given"))
                        @if let Some(d) = &m.description { ": " (d.trim().trim_end_matches('.')) "." }
                        @if !m.references.is_empty() {
                            " References: "
                            @for (i, u) in m.references.iter().enumerate() {
                                @if i > 0 { ", " }
                                @if u.starts_with("https://") || u.starts_with("http://") {
                                    a href=(u) rel="noopener noreferrer" { (u) }
                                } @else { (u) }
                            }
                            "."
                        }
                        @if !m.falsepositives.is_empty() { " False positives: " (m.falsepositives.join("; ")) "." }
                        @if !m.tags.is_empty() { " Tags: " (m.tags.join(", ")) "." }
                    }
                }
            }
        }
    }
}

fn run_table(r: &Report) -> Markup {
    let (class, exit) = exit_text(r);
    html! {
        table {
            tr { th { "Run" } td { span.t { (r.started_at) } " → " span.t { (r.finished_at) } " (" (r.duration_ms) " ms)" } }
            @if let (Some(s), Some(u)) = (&r.since, &r.until) {
                tr { th { "Range" } td { span.t { (s) } " .. " span.t { (u) } } }
            }
            tr { th { "Reference time" } td { span.t { (r.reference_time) } } }
            tr { th { "Exit status" } td class=(class) { (exit) } }
            tr { th { "Totals" } td { (r.totals.records) " records, " (r.totals.rejected) " rejected, " (r.totals.alerts) " alert(s)" } }
        }
    }
}

/// Evidence lines a page shows in all, about (each alert shows at least
/// [`MIN_SHOWN`] and at most all it kept).
const EVIDENCE_BUDGET: usize = 1500;

const MIN_SHOWN: usize = 3;

/// What an alert's evidence lines are, and how they add up to its count.
fn evidence_note(a: &Alert, shown: usize) -> String {
    let kept = a.evidence.len() as u64;
    let lines = |n: u64| plural(n, "line", "lines");
    let mut s = if a.rule_type == "inactivity" {
        match kept {
            2 => "the last record before the silence and the first after it".to_string(),
            _ => format!("{}: the last record before the silence", lines(kept)),
        }
    } else if kept >= a.count {
        match a.count {
            1 => "the record counted".to_string(),
            n => format!("all {n} records counted"),
        }
    } else if a.rule_type == "percentile" {
        format!(
            "{} of the {} records counted: those at or over the threshold (at most {MAX_EVIDENCE} kept, {EVIDENCE_PER_SECOND} a second)",
            lines(kept),
            a.count
        )
    } else {
        format!(
            "{} of the {} records counted (LogTrack keeps at most {MAX_EVIDENCE} an alert, {EVIDENCE_PER_SECOND} a second, earliest first)",
            lines(kept),
            a.count
        )
    };
    if (shown as u64) < kept {
        s.push_str(&format!("; the first {shown} shown here, all {kept} in report.json"));
    }
    s
}

/// The alerts as a table (the report's; e-mailed notifications reuse it):
/// a short first line per alert, numbered (`id="alert-N"`), and its
/// evidence folded under it, whole lines that scroll sideways.
pub fn alerts_table(alerts: &[Alert]) -> Markup {
    if alerts.is_empty() {
        return html! { p.muted { "No alerts." } };
    }
    let per_alert = (EVIDENCE_BUDGET / alerts.len()).clamp(MIN_SHOWN, MAX_EVIDENCE);
    html! {
        table.alerts {
            colgroup {
                col style="width:44px"; col style="width:150px"; col style="width:78px"; col style="width:210px";
                col style="width:140px"; col style="width:84px"; col;
            }
            thead {
                tr { th { "#" } th { "Rule" } th { "Severity" } th { "Group" } th { "Window (UTC)" } th.n { "Count" } th { "Message" } }
            }
            @for (i, a) in alerts.iter().enumerate() {
                @let (s, e) = (a.window_start.secs, a.window_end.secs);
                @let shown = a.evidence.len().min(per_alert);
                tbody id=(format!("alert-{}", i + 1)) {
                    tr.head {
                        td { (number(i + 1, a)) }
                        td { code { (a.rule_id) } br; span.muted { (a.rule_type) } }
                        td { span class=(format!("sev {}", a.severity.as_str())) { (a.severity.as_str()) } }
                        td { @for (k, v) in &a.group { div { span.muted { (k) "=" } code { (v) } } } }
                        td {
                            span.t { (day(s)) } br;
                            @if s == e { span.t { (hms(s)) } }
                            @else if day(s) == day(e) { span.t { (hms(s)) "–" (hms(e)) } }
                            @else { span.t { (hms(s)) " –" } br; span.t { (day(e)) " " (hms(e)) } }
                        }
                        td.n {
                            @if let Some(d) = super::silence(a) {
                                "silent for" br; span.t { (d) }
                            } @else {
                                (a.count)
                            }
                        }
                        td { (a.message) }
                    }
                    tr.ev {
                        td colspan="7" {
                            @if a.evidence.is_empty() {
                                span.muted { "No evidence lines kept." }
                            } @else {
                                details {
                                    summary { "Evidence: " (evidence_note(a, shown)) }
                                    pre.ev {
                                        @for e in a.evidence.iter().take(shown) {
                                            span.loc { (e.path) ":" (e.line) @if let Some(i) = e.index { " #" (i) } }
                                            @if let Some(t) = &e.text { "  " (t) } @else { "  " span.muted { "(text not available)" } }
                                            "\n"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn templates_table(r: &Report) -> Markup {
    html! {
        table.templates {
            tr { th { "Service" } th { "Template" } th.n { "Records" } th { "First seen" } th { "Last seen" } }
            @for t in &r.templates {
                tr {
                    td { (t.service) }
                    td { code { (t.template) } @if t.new { " " span.sev.new { "new" } } }
                    td.n { (t.count) }
                    td { (t.first_seen) }
                    td { (t.last_seen) }
                }
            }
        }
    }
}

fn sources_table(r: &Report) -> Markup {
    html! {
        table {
            tr {
                th { "Path" } th { "Format" } th.n { "Bytes" } th.n { "Lines" } th.n { "Records" } th.n { "Rejected" }
                th.n title="Records left out: outside the run's time range, or the whole file when nothing in it was new" { "Skipped" }
            }
            @for s in &r.sources {
                tr {
                    td { code { (s.path) } @for n in &s.notes { br; span.muted { (n) } } }
                    td { (s.format) }
                    td.n { (s.bytes) } td.n { (s.lines) } td.n { (s.records) } td.n { (s.rejected) }
                    td.n { @if s.skipped { "whole file" } @else { (s.outside_range) } }
                }
            }
        }
    }
}

fn top_lists(o: &Overview) -> Markup {
    let title = |k: &str| match k {
        "client_ip" => "Top client IPs",
        "user" => "Top users",
        "path" => "Top paths",
        "status" => "HTTP statuses",
        "cloudtrail_event" => "Top CloudTrail events",
        "hdfs_component" => "Top HDFS components",
        _ => "Top values",
    };
    html! {
        div.grid {
            @for kind in TOP_KINDS {
                @if let Some(list) = o.top.get(kind) {
                    div {
                        h2 { (title(kind)) }
                        table {
                            tr { th { "Value" } th.n { "Records" } }
                            @for (v, n) in &list.values {
                                tr { td { code { (v) } } td.n { @if list.estimated { "≈" } (n) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn rejects_table(r: &Report) -> Markup {
    if r.rejects.is_empty() {
        return html! { p.muted { "No rejects." } };
    }
    html! {
        @if (r.rejects.len() as u64) < r.totals.rejected {
            p.muted { "The first " (r.rejects.len()) " of " (r.totals.rejected) "." }
        }
        table {
            tr { th { "Where" } th { "Reason" } }
            @for j in &r.rejects {
                tr { td { code { (j.path) ":" (j.line) } } td { (j.reason) } }
            }
        }
    }
}

/// The alerts nobody was told of, and what held each.
fn held_table(held: &[crate::report::Held]) -> Markup {
    let group = |g: &std::collections::BTreeMap<String, String>| {
        g.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    };
    html! {
        table {
            tr { th { "Rule" } th { "Group" } th { "Window start (UTC)" } th { "Why" } }
            @for h in held {
                tr {
                    td { code { (h.rule_id) } }
                    td { (group(&h.group)) }
                    td { (h.window_start) }
                    td {
                        @if let Some(by) = &h.silenced_by { "silenced by " (by) }
                        @else if let Some(c) = &h.inhibited_by {
                            "inhibited by " code { (c.rule_id) }
                            @if !c.group.is_empty() { " (" (group(&c.group)) ")" }
                        }
                    }
                }
            }
        }
    }
}
