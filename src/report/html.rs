//! `report.html`: one self-contained page (inline CSS and SVG drawn here,
//! no script, no fetch), readable from disk or as a mail attachment. Every
//! value from the logs goes through `maud`, which escapes it: nothing here
//! writes raw HTML from data.

use super::overview::{Overview, TOP_KINDS};
use super::{Report, ReportWriter};
use crate::config::AlertSeverity;
use crate::detect::{Alert, EVIDENCE_PER_SECOND, MAX_EVIDENCE};
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

/// An alert severity's colour (the `.critical`… classes of [`STYLE`]).
fn alert_colour(severity: AlertSeverity) -> &'static str {
    match severity {
        AlertSeverity::Critical => "#8b0000",
        AlertSeverity::High => "#d9480f",
        AlertSeverity::Medium => "#b07a00",
        AlertSeverity::Low => "#4c6ef5",
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

/// `t` (seconds, UTC) in a `chrono` format.
fn utc(t: i64, format: &str) -> String {
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(d) => d.format(format).to_string(),
        None => Timestamp::from_secs(t).to_rfc3339(),
    }
}

fn day(t: i64) -> String {
    utc(t, "%Y-%m-%d")
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

/// Steps of the time axis, seconds: each divides the next larger ones of
/// its kind, so ticks fall on round times of day.
const TIME_STEPS: [i64; 20] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
    172_800, 604_800,
];

/// Round times from `start` to `end`, at most `most` of them (a week apart
/// at most), and their step.
fn time_ticks(start: i64, end: i64, most: i64) -> (Vec<i64>, i64) {
    let span = (end - start).max(1);
    let step = TIME_STEPS.iter().copied().find(|s| span / s <= most).unwrap_or(604_800);
    let step = step.max(span / most.max(1) / 604_800 * 604_800);
    let first = start.div_euclid(step) * step + if start.rem_euclid(step) == 0 { 0 } else { step };
    ((0..).map(|i| first + i * step).take_while(|&t| t <= end).collect(), step)
}

fn tick_label(t: i64, step: i64, span: i64) -> String {
    if step >= 86_400 {
        utc(t, "%m-%d")
    } else if span > 86_400 {
        utc(t, "%m-%d %H:%M")
    } else if step < 60 {
        utc(t, "%H:%M:%S")
    } else {
        utc(t, "%H:%M")
    }
}

/// Round counts from 0 to at least `max`, about `target` of them.
fn count_ticks(max: u64, target: u64) -> Vec<u64> {
    let raw = (max.max(1) as f64 / target.max(1) as f64).max(1.0);
    let mag = 10f64.powi(raw.log10().floor() as i32);
    let step =
        [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let step = (step as u64).max(1);
    let top = max.max(1).div_ceil(step) * step;
    (0..=top / step).map(|i| i * step).collect()
}

/// 1234 → `1234`, 12345 → `12k`, 1500000 → `1.5M`.
fn short_count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{}k", n / 1000),
        _ if n.is_multiple_of(1_000_000) || n >= 10_000_000 => format!("{}M", n / 1_000_000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// A chart's drawing area in its SVG's coordinates, the time it spans and
/// the count at its top.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    start: i64,
    end: i64,
    yticks: Vec<u64>,
    font: f64,
}

impl Frame {
    fn new(o: &Overview, (w, h): (f64, f64), top: f64, max: u64, yticks: u64) -> Frame {
        let start = o.start.unwrap_or(0);
        let (font, left) = if w < 500.0 { (10.0, 34.0) } else { (11.0, 48.0) };
        Frame {
            w,
            h,
            left,
            right: if w < 500.0 { 16.0 } else { 24.0 },
            top,
            bottom: if w < 500.0 { 18.0 } else { 22.0 },
            start,
            end: start + o.bins.max(1) as i64 * o.bin_secs,
            yticks: count_ticks(max, yticks),
            font,
        }
    }

    fn x(&self, t: i64) -> f64 {
        let f = (t - self.start) as f64 / (self.end - self.start).max(1) as f64;
        self.left + f.clamp(0.0, 1.0) * (self.w - self.left - self.right)
    }

    fn ymax(&self) -> u64 {
        self.yticks.last().copied().unwrap_or(1).max(1)
    }

    fn y(&self, v: u64) -> f64 {
        self.h - self.bottom - (v as f64 / self.ymax() as f64) * (self.h - self.bottom - self.top)
    }

    /// A series of counts per bin as a polyline's points, each at the
    /// middle of its bin.
    fn points(&self, counts: &[u64], bin_secs: i64) -> String {
        let at = |b: usize| self.start + b as i64 * bin_secs + bin_secs / 2;
        let p: Vec<String> = counts
            .iter()
            .enumerate()
            .map(|(b, &n)| format!("{:.1},{:.1}", self.x(at(b)), self.y(n)))
            .collect();
        p.join(" ")
    }

    /// Grid lines and round counts up the side, round times of day along
    /// the bottom (at most `most` of them).
    fn axes(&self, most: i64) -> Markup {
        let (ticks, step) = time_ticks(self.start, self.end, most);
        let span = self.end - self.start;
        let (base, f) = (self.h - self.bottom, self.font);
        html! {
            @for &v in &self.yticks {
                line x1=(self.left) y1=(f1(self.y(v))) x2=(self.w - self.right) y2=(f1(self.y(v)))
                    stroke=(if v == 0 { "#adb5bd" } else { "#e9ecef" }) {}
                text.ytick x=(self.left - 4.0) y=(f1(self.y(v) + f / 3.0)) text-anchor="end" font-size=(f) fill="#68707d" { (short_count(v)) }
            }
            line x1=(self.left) y1=(self.top) x2=(self.left) y2=(base) stroke="#adb5bd" {}
            @for t in ticks {
                line x1=(f1(self.x(t))) y1=(base) x2=(f1(self.x(t))) y2=(base + 4.0) stroke="#adb5bd" {}
                text.tick x=(f1(self.x(t))) y=(base + f + 4.0) text-anchor="middle" font-size=(f) fill="#68707d" { (tick_label(t, step, span)) }
            }
        }
    }
}

/// One decimal, for coordinates.
fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// The time zone and days of a chart's axis.
fn axis_caption(o: &Overview) -> String {
    let start = o.start.unwrap_or(0);
    let end = start + o.bins as i64 * o.bin_secs - 1;
    let days =
        if day(start) == day(end) { day(start) } else { format!("{} to {}", day(start), day(end)) };
    format!("times in UTC, {days}; {}-minute bins", o.bin_secs / 60)
}

/// Lanes the alert bands are stacked in above a chart, at most.
const MAX_LANES: usize = 8;
const LANE: f64 = 15.0;

/// The lane of each alert's band: bands (and their numbers) that would
/// overlap go in different lanes.
fn lanes(xs: &[(f64, f64)]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].0.total_cmp(&xs[b].0));
    let mut ends: Vec<f64> = Vec::new();
    let mut lane = vec![0; xs.len()];
    for i in order {
        let (x1, x2) = xs[i];
        let l = match ends.iter().position(|&e| e + 2.0 <= x1) {
            Some(l) => l,
            None if ends.len() < MAX_LANES => {
                ends.push(f64::MIN);
                ends.len() - 1
            }
            None => (0..ends.len()).min_by(|&a, &b| ends[a].total_cmp(&ends[b])).unwrap_or(0),
        };
        ends[l] = ends[l].max(x2);
        lane[i] = l;
    }
    (lane, ends.len())
}

/// Records per service over time. Each alert is a numbered band in its
/// severity's colour above the chart, over a grey shading of its window;
/// with `links`, a band links to the alert's row (`#alert-N`).
pub fn volume_chart(o: &Overview, alerts: &[Alert], links: bool) -> Markup {
    if o.start.is_none() {
        return html! { p.muted { "No records with a time stamp." } };
    }
    let max = o.volume.values().flat_map(|v| v.iter().copied()).max().unwrap_or(0);
    let probe = Frame::new(o, (1000.0, 0.0), 0.0, max, 4);
    let xs: Vec<(f64, f64)> = alerts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let x1 = probe.x(a.window_start.secs);
            let label = 7.0 * (i + 1).to_string().len() as f64 + 6.0;
            (x1, x1 + (probe.x(a.window_end.secs) - x1).max(label))
        })
        .collect();
    let (lane, used) = lanes(&xs);
    let top = 8.0 + used as f64 * LANE + if used > 0 { 6.0 } else { 0.0 };
    let f = Frame::new(o, (1000.0, 230.0 + top), top, max, 4);
    html! {
        svg.volume viewBox=(format!("0 0 {} {}", f.w, f.h)) role="img" aria-label="Records per service over time, alerts numbered above" {
            @for (i, a) in alerts.iter().enumerate() {
                @let (x1, x2) = (f.x(a.window_start.secs), f.x(a.window_end.secs));
                rect class="alert-window" x=(f1(x1)) y=(f.top) width=(f1((x2 - x1).max(2.0))) height=(f.h - f.bottom - f.top)
                    fill="#495057" fill-opacity="0.09" {
                    title { (i + 1) ". " (a.rule_id) " (" (a.severity.as_str()) "): " (a.message) }
                }
            }
            (f.axes(8))
            @for (i, (service, counts)) in o.volume.iter().enumerate() {
                @let points = f.points(counts, o.bin_secs);
                polyline class="series" points=(points) fill="none" stroke=(PALETTE[i % PALETTE.len()]) stroke-width="1.6" {
                    title { (service) }
                }
            }
            @for (i, a) in alerts.iter().enumerate() {
                @let (x1, x2) = xs[i];
                @let y = 8.0 + lane[i] as f64 * LANE;
                @let band = html! {
                    rect.alert-band x=(f1(x1)) y=(f1(y)) width=(f1(x2 - x1)) height=(LANE - 3.0) rx="2" fill=(alert_colour(a.severity)) {}
                    text.band-number x=(f1(x1 + 3.0)) y=(f1(y + LANE - 6.0)) font-size="10" font-weight="700" fill="#fff" { (i + 1) }
                    title { (i + 1) ". " (a.rule_id) " (" (a.severity.as_str()) "): " (a.message) }
                };
                @if links {
                    a.band href=(format!("#alert-{}", i + 1)) { (band) }
                } @else {
                    g.band { (band) }
                }
            }
        }
        p.legend {
            @for (i, service) in o.volume.keys().enumerate() {
                span { span.sw style=(format!("background:{}", PALETTE[i % PALETTE.len()])) {} (service) }
            }
        }
        @if !alerts.is_empty() {
            p.legend.severities {
                span.muted { "Alerts, numbered as in the table, by severity:" }
                @for s in AlertSeverity::ALL.iter().rev() {
                    span { span.sw style=(format!("background:{}", alert_colour(*s))) {} (s.as_str()) }
                }
            }
        }
        p.legend.muted { (axis_caption(o)) }
    }
}

/// Services drawn on their own, at most (the busiest).
const MULTIPLES: usize = 24;

/// One small chart per service, each on its own scale, so a service of a
/// few records an hour is as readable as the web traffic beside it; the
/// windows of the alerts grouped by that service are shaded and numbered.
pub fn service_multiples(o: &Overview, alerts: &[Alert]) -> Markup {
    if o.start.is_none() {
        return html! {};
    }
    let mut services: Vec<(usize, &String, &Vec<u64>, u64)> =
        o.volume.iter().enumerate().map(|(i, (s, v))| (i, s, v, v.iter().sum::<u64>())).collect();
    services.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.1.cmp(b.1)));
    html! {
        div.multiples {
            @for &(i, service, counts, total) in services.iter().take(MULTIPLES) {
                @let max = counts.iter().copied().max().unwrap_or(0);
                @let f = Frame::new(o, (330.0, 104.0), 8.0, max, 2);
                @let colour = PALETTE[i % PALETTE.len()];
                @let points = f.points(counts, o.bin_secs);
                @let mine: Vec<(usize, &Alert)> = alerts.iter().enumerate()
                    .filter(|(_, a)| a.group.get("service") == Some(service)).collect();
                figure.service {
                    figcaption { b { (service) } " " (total) " records, at most " (max) " in a bin" }
                    svg viewBox=(format!("0 0 {} {}", f.w, f.h)) role="img" aria-label=(format!("Records of {service} over time")) {
                        @for (n, a) in &mine {
                            @let (x1, x2) = (f.x(a.window_start.secs), f.x(a.window_end.secs));
                            rect x=(f1(x1)) y=(f.top) width=(f1((x2 - x1).max(2.0))) height=(f.h - f.bottom - f.top) fill=(alert_colour(a.severity)) fill-opacity="0.15" {
                                title { (n + 1) ". " (a.rule_id) }
                            }
                            text x=(f1(x1 + 2.0)) y=(f.top + 9.0) font-size="9" font-weight="700" fill=(alert_colour(a.severity)) { (n + 1) }
                        }
                        (f.axes(4))
                        polyline points=(points) fill="none" stroke=(colour) stroke-width="1.4" {}
                    }
                }
            }
        }
        @if services.len() > MULTIPLES {
            p.muted { (services.len() - MULTIPLES) " smaller services are not drawn." }
        }
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
    let f = Frame::new(o, (1000.0, 220.0), 10.0, max, 4);
    let bar = (f.w - f.left - f.right) / o.bins.max(1) as f64;
    // Stacked bars: (x, y, height, severity, records).
    let mut rects = Vec::new();
    for b in 0..o.bins {
        let mut below = 0u64;
        for sev in order {
            let n = o.severities.get(sev).map_or(0, |v| v[b]);
            if n > 0 {
                let y = f.y(below + n);
                rects.push((f.left + b as f64 * bar, y, f.y(below) - y, sev, n));
                below += n;
            }
        }
    }
    html! {
        svg viewBox=(format!("0 0 {} {}", f.w, f.h)) role="img" aria-label="Records per severity over time" {
            (f.axes(8))
            @for (x, y, h, sev, n) in rects {
                rect x=(f1(x)) y=(f1(y)) width=(f1((bar - 1.0).max(0.5)))
                    height=(f1(h)) fill=(severity_colour(sev)) {
                    title { (sev) ": " (n) }
                }
            }
        }
        p.legend {
            span.muted { "Records by their own severity:" }
            @for sev in order {
                @if o.severities.contains_key(sev) {
                    span { span.sw style=(format!("background:{}", severity_colour(sev))) {} (sev) }
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ticks_fall_on_round_times_of_day() {
        // 10:00 to 11:00: every 10 minutes.
        let (t, step) = time_ticks(36_000, 39_600, 8);
        assert_eq!(step, 600);
        assert_eq!(
            t.iter().map(|&t| tick_label(t, step, 3600)).collect::<Vec<_>>(),
            ["10:00", "10:10", "10:20", "10:30", "10:40", "10:50", "11:00"]
        );
        // 03:52 to 10:56: whole hours, none before the start.
        let (t, step) = time_ticks(13_920, 39_360, 8);
        assert_eq!((t[0], step), (14_400, 3600));
        assert!(t.len() >= 4 && t.len() <= 8, "{t:?}");
        // Two minutes: seconds shown.
        let (t, step) = time_ticks(0, 120, 8);
        assert_eq!(tick_label(t[1], step, 120), "00:00:15");
        // Three weeks: days.
        let (t, step) = time_ticks(0, 21 * 86_400, 8);
        assert!(step >= 86_400 && t.len() <= 8, "{step} {t:?}");
        assert_eq!(tick_label(t[0], step, 21 * 86_400), "01-01");
    }

    #[test]
    fn count_ticks_are_round_and_reach_the_maximum() {
        assert_eq!(count_ticks(160, 4), [0, 50, 100, 150, 200]);
        assert_eq!(count_ticks(2, 2), [0, 1, 2]);
        assert_eq!(count_ticks(0, 4), [0, 1]);
        let t = count_ticks(43_517, 4);
        assert_eq!((t[1], *t.last().unwrap()), (20_000, 60_000));
        assert_eq!(
            [9_999, 12_345, 1_500_000, 3_000_000, 12_345_678].map(short_count),
            ["9999", "12k", "1.5M", "3M", "12M"]
        );
    }

    #[test]
    fn overlapping_bands_go_to_different_lanes() {
        let (lane, used) = lanes(&[(0.0, 50.0), (10.0, 20.0), (30.0, 60.0), (70.0, 80.0)]);
        // The third fits after the second, in its lane.
        assert_eq!(used, 2);
        assert_eq!(lane, [0, 1, 1, 0]);
        // More overlaps than lanes: the rest share the lane that ends first.
        let many: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 100.0 + i as f64)).collect();
        let (lane, used) = lanes(&many);
        assert_eq!(used, MAX_LANES);
        assert!(lane.iter().all(|&l| l < MAX_LANES));
    }
}
