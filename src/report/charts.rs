//! The report's charts, as inline SVG (no script, nothing fetched): volume
//! per service with each alert a numbered band, one small chart per
//! service on its own scale, severities over time; round time and count
//! ticks. The dashboard's overview draws the same charts.

use super::overview::Overview;
use crate::config::AlertSeverity;
use crate::detect::Alert;
use crate::parse::Timestamp;
use maud::{html, Markup};

/// Series colours (services, severities).
pub(super) const PALETTE: [&str; 8] =
    ["#1c7ed6", "#2b8a3e", "#ae3ec9", "#f08c00", "#0ca678", "#e03131", "#5c7cfa", "#868e96"];

pub(super) fn severity_colour(s: &str) -> &'static str {
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
pub(super) fn alert_colour(severity: AlertSeverity) -> &'static str {
    match severity {
        AlertSeverity::Critical => "#8b0000",
        AlertSeverity::High => "#d9480f",
        AlertSeverity::Medium => "#b07a00",
        AlertSeverity::Low => "#4c6ef5",
    }
}

/// `t` (seconds, UTC) in a `chrono` format.
pub(super) fn utc(t: i64, format: &str) -> String {
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(d) => d.format(format).to_string(),
        None => Timestamp::from_secs(t).to_rfc3339(),
    }
}

pub(super) fn day(t: i64) -> String {
    utc(t, "%Y-%m-%d")
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
pub(super) const MAX_LANES: usize = 8;

const LANE: f64 = 15.0;

/// The lane of each alert's band: bands (and their numbers) that would
/// overlap go in different lanes.
pub(super) fn lanes(xs: &[(f64, f64)]) -> (Vec<usize>, usize) {
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
