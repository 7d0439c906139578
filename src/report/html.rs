//! `report.html`: one self-contained page (inline CSS and SVG drawn here,
//! no script, no fetch), readable from disk or as a mail attachment. Every
//! value from the logs goes through `maud`, which escapes it: nothing here
//! writes raw HTML from data.

use super::overview::{Overview, TOP_KINDS};
use super::{Report, ReportWriter};
use crate::detect::Alert;
use crate::parse::Timestamp;
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
th{background:#f5f7fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.sev{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600;color:#fff}
.new{background:#2b8a3e}.critical{background:#8b0000}.high{background:#d9480f}.medium{background:#e8a200}.low{background:#4c6ef5}
.muted{color:#68707d}.ok{color:#2b8a3e}.bad{color:#c92a2a}code{font:12px ui-monospace,monospace;word-break:break-all}
svg{width:100%;height:auto;background:#fbfcfd;border:1px solid #eef1f5}.legend span{margin-right:14px;white-space:nowrap}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:0 24px}
";

/// Series colours (services, severities).
const PALETTE: [&str; 8] =
    ["#1c7ed6", "#2b8a3e", "#ae3ec9", "#f08c00", "#0ca678", "#e03131", "#5c7cfa", "#868e96"];

fn severity_colour(s: &str) -> &'static str {
    match s {
        "fatal" => "#8b0000",
        "error" => "#e03131",
        "warn" => "#f08c00",
        "info" => "#1c7ed6",
        "debug" => "#868e96",
        "trace" => "#adb5bd",
        _ => "#ced4da",
    }
}

fn page(r: &Report) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "LogTrack report: " (r.job) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "LogTrack report: " (r.job) }
                (run_summary(r))
                h2 { "Record volume per service" }
                (volume_chart(&r.overview, &r.alerts))
                h2 { "Severities over time" }
                (severity_chart(&r.overview))
                h2 id="alerts" { "Alerts (" (r.alerts.len()) ")" }
                (alerts_table(&r.alerts))
                @if !r.templates.is_empty() {
                    h2 id="templates" { "Message templates" }
                    (templates_table(r))
                }
                h2 { "Sources" }
                (sources_table(r))
                (top_lists(&r.overview))
                h2 { "Rejects (" (r.totals.rejected) ")" }
                (rejects_table(r))
            }
        }
    }
}

fn run_summary(r: &Report) -> Markup {
    let status = match r.exit_code {
        0 => ("ok", "completed, no alert at the fail-on level"),
        1 => ("bad", "completed, an alert at or above the fail-on level fired"),
        _ => ("bad", "failed"),
    };
    html! {
        table {
            tr { th { "Run" } td { (r.started_at) " → " (r.finished_at) " (" (r.duration_ms) " ms)" } }
            @if let (Some(s), Some(u)) = (&r.since, &r.until) {
                tr { th { "Range" } td { (s) " .. " (u) } }
            }
            tr { th { "Reference time" } td { (r.reference_time) } }
            tr { th { "Exit status" } td class=(status.0) { (r.exit_code) ": " (status.1) } }
            tr { th { "Totals" } td { (r.totals.records) " records, " (r.totals.rejected) " rejected, " (r.totals.alerts) " alert(s)" } }
        }
        @if !r.problems.is_empty() {
            h2 { "Problems" }
            ul { @for p in &r.problems { li { (p) } } }
        }
    }
}

/// Chart geometry.
const W: f64 = 1000.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 10.0;

fn x_of(o: &Overview, t: i64) -> f64 {
    let start = o.start.unwrap_or(0);
    let span = (o.bins.max(1) as i64 * o.bin_secs) as f64;
    LEFT + ((t - start) as f64 / span).clamp(0.0, 1.0) * (W - LEFT - 8.0)
}

fn y_of(v: u64, max: u64) -> f64 {
    H - BOTTOM - (v as f64 / max.max(1) as f64) * (H - BOTTOM - TOP)
}

fn time_label(t: i64) -> String {
    Timestamp::from_secs(t).to_rfc3339()
}

fn axes(o: &Overview, max: u64) -> Markup {
    let start = o.start.unwrap_or(0);
    let end = start + o.bins as i64 * o.bin_secs;
    html! {
        line x1=(LEFT) y1=(H - BOTTOM) x2=(W - 8.0) y2=(H - BOTTOM) stroke="#adb5bd" {}
        line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(H - BOTTOM) stroke="#adb5bd" {}
        text x=(LEFT - 4.0) y=(TOP + 10.0) text-anchor="end" font-size="11" fill="#68707d" { (max) }
        text x=(LEFT - 4.0) y=(H - BOTTOM) text-anchor="end" font-size="11" fill="#68707d" { "0" }
        text x=(LEFT) y=(H - 6.0) font-size="11" fill="#68707d" { (time_label(start)) }
        text x=(W - 8.0) y=(H - 6.0) text-anchor="end" font-size="11" fill="#68707d" { (time_label(end)) }
    }
}

/// Records per service over time, with the alerts' windows shaded (the
/// report and the dashboard's overview).
pub fn volume_chart(o: &Overview, alerts: &[Alert]) -> Markup {
    if o.start.is_none() {
        return html! { p.muted { "No records with a time stamp." } };
    }
    let max = o.volume.values().flat_map(|v| v.iter().copied()).max().unwrap_or(0);
    let half = o.bin_secs / 2;
    html! {
        svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label="Records per service over time, alert windows shaded" {
            // Alert windows first, under the lines.
            @for a in alerts {
                @let (x1, x2) = (x_of(o, a.window_start.secs), x_of(o, a.window_end.secs));
                rect class="alert-window" x=(format!("{x1:.1}")) y=(TOP) width=(format!("{:.1}", (x2 - x1).max(3.0)))
                    height=(H - BOTTOM - TOP) fill=(alert_fill(a.severity.as_str())) fill-opacity="0.22" {
                    title { (a.rule_id) " (" (a.severity.as_str()) "): " (a.message) }
                }
            }
            (axes(o, max))
            @for (i, (service, counts)) in o.volume.iter().enumerate() {
                @let start = o.start.unwrap_or(0);
                @let points: Vec<String> = counts.iter().enumerate().map(|(b, &n)| {
                    format!("{:.1},{:.1}", x_of(o, start + b as i64 * o.bin_secs + half), y_of(n, max))
                }).collect();
                polyline class="series" points=(points.join(" ")) fill="none" stroke=(PALETTE[i % PALETTE.len()]) stroke-width="1.6" {
                    title { (service) }
                }
            }
        }
        p.legend {
            @for (i, service) in o.volume.keys().enumerate() {
                span { span.sw style=(format!("background:{}", PALETTE[i % PALETTE.len()])) {} (service) }
            }
            span { span.sw style="background:#e03131;opacity:.35" {} "alert window" }
            span.muted { (o.bin_secs / 60) "-minute bins" }
        }
    }
}

fn alert_fill(severity: &str) -> &'static str {
    match severity {
        "critical" => "#8b0000",
        "high" => "#d9480f",
        "medium" => "#e8a200",
        _ => "#4c6ef5",
    }
}

/// Records per severity over time, stacked bars.
pub fn severity_chart(o: &Overview) -> Markup {
    if o.start.is_none() {
        return html! { p.muted { "No records with a time stamp." } };
    }
    let order = ["fatal", "error", "warn", "info", "debug", "trace", "none"];
    let totals: Vec<u64> = (0..o.bins).map(|b| o.severities.values().map(|v| v[b]).sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    let bar = (W - LEFT - 8.0) / o.bins.max(1) as f64;
    // Stacked bars: (x, y, height, severity, records).
    let mut rects = Vec::new();
    for b in 0..o.bins {
        let mut below = 0u64;
        for sev in order {
            let n = o.severities.get(sev).map_or(0, |v| v[b]);
            if n > 0 {
                let y = y_of(below + n, max);
                rects.push((LEFT + b as f64 * bar, y, y_of(below, max) - y, sev, n));
                below += n;
            }
        }
    }
    html! {
        svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label="Records per severity over time" {
            (axes(o, max))
            @for (x, y, h, sev, n) in rects {
                rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.1}", (bar - 1.0).max(0.5)))
                    height=(format!("{h:.1}")) fill=(severity_colour(sev)) {
                    title { (sev) ": " (n) }
                }
            }
        }
        p.legend {
            @for sev in order {
                @if o.severities.contains_key(sev) {
                    span { span.sw style=(format!("background:{}", severity_colour(sev))) {} (sev) }
                }
            }
        }
    }
}

/// The alerts as a table (the report's; e-mailed notifications reuse it).
pub fn alerts_table(alerts: &[Alert]) -> Markup {
    if alerts.is_empty() {
        return html! { p.muted { "No alerts." } };
    }
    html! {
        table.alerts {
            tr { th { "Rule" } th { "Severity" } th { "Group" } th { "Window" } th.n { "Count" } th { "Message" } th { "Evidence" } }
            @for a in alerts {
                tr {
                    td { code { (a.rule_id) } br; span.muted { (a.rule_type) } }
                    td { span class=(format!("sev {}", a.severity.as_str())) { (a.severity.as_str()) } }
                    td { @for (k, v) in &a.group { div { span.muted { (k) "=" } (v) } } }
                    td { (a.window_start.to_rfc3339()) br; (a.window_end.to_rfc3339()) }
                    td.n { (a.count) }
                    td { (a.message) }
                    td {
                        @for e in a.evidence.iter().take(3) {
                            div {
                                code { (e.path) ":" (e.line) @if let Some(i) = e.index { " #" (i) } }
                                @if let Some(t) = &e.text { br; code.muted { (t) } }
                            }
                        }
                        @if a.evidence.len() > 3 { div.muted { "and " (a.evidence.len() - 3) " more" } }
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
            tr { th { "Path" } th { "Format" } th.n { "Bytes" } th.n { "Lines" } th.n { "Records" } th.n { "Rejected" } th { "Skipped" } }
            @for s in &r.sources {
                tr {
                    td { code { (s.path) } @for n in &s.notes { br; span.muted { (n) } } }
                    td { (s.format) }
                    td.n { (s.bytes) } td.n { (s.lines) } td.n { (s.records) } td.n { (s.rejected) }
                    td { @if s.skipped { "yes" } }
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
