//! A seeded generator of a shop's access log (JSON lines) over five days,
//! with planted incidents for the rules that say what operators mean, and
//! their look-alikes that must not fire:
//!
//! - day 2, 03:00–03:20: in the quiet night, 8 of about 60 `/api/`
//!   requests fail with 503 (a 5xx *rate* of 13%, but few errors: a count
//!   rule misses it);
//! - day 3, 12:00–14:00: in the busy day, every 25th `/api/` request fails
//!   (many errors, but a rate of 4%: the ratio rule must not fire, the
//!   count rule does);
//! - day 4, 10:00–10:30: `/checkout` slows down to 1.2–3 s (its p95 passes
//!   1.5 s; no other path's does);
//! - day 2, 15:00: one `/api/v1/products` request takes 45 s (it must not
//!   move that path's p95);
//! - every day at 07:00 traffic steps up sixfold (the plain z-score fires
//!   every morning; the seasonal one, which compares with earlier mornings,
//!   does not);
//! - day 5, 03:00–03:15: a burst of the size of a daytime quarter-hour (the
//!   seasonal z-score fires; it would be ordinary at noon);
//! - `/admin` requests from inside 10.0.0.0/8 (fine) and from one outside
//!   address (day 3, 09:00), and one client denied (401) 12 times in a
//!   minute (day 2, 20:00); so `/admin` is unused for 24 hours from each
//!   morning but day 3's.
//!
//! Volume per minute depends only on the time of day (with jitter that
//! repeats daily), so a seasonal baseline is steady and only what is
//! planted stands out. Everything else (paths, clients, latencies) is drawn
//! from a seeded generator, so the log is the same on every run.

use std::fmt::Write as _;

/// Monday 2024-05-06 00:00:00 UTC.
pub const START: i64 = 1_714_953_600;
pub const DAYS: i64 = 5;
pub const DAY: i64 = 86_400;

/// splitmix64: small, seeded, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Paths with their share of requests.
const PATHS: [(&str, f64); 6] = [
    ("/", 0.15),
    ("/api/v1/products", 0.25),
    ("/api/v1/cart", 0.15),
    ("/api/v1/orders", 0.10),
    ("/checkout", 0.15),
    ("/static/app.js", 0.20),
];

/// Requests in minute `m` of the day (jitter repeats every day).
fn per_minute(m: i64) -> u64 {
    let base = if (7 * 60..23 * 60).contains(&m) { 24 } else { 4 };
    // The same pseudo-random jitter of -1, 0 or +1 for the same minute of every day.
    let jitter = Rng::new(m as u64 ^ 0x5eed).below(3) as i64 - 1;
    (base + jitter) as u64
}

struct Line {
    ts: i64,
    millis: u64,
    path: &'static str,
    status: u16,
    request_time: f64,
    client: String,
}

fn client(rng: &mut Rng) -> String {
    if rng.unit() < 0.3 {
        format!("10.1.{}.{}", rng.below(4), 1 + rng.below(250))
    } else {
        format!("198.51.100.{}", 1 + rng.below(200))
    }
}

fn path(rng: &mut Rng) -> &'static str {
    let mut x = rng.unit();
    for (p, share) in PATHS {
        if x < share {
            return p;
        }
        x -= share;
    }
    PATHS[0].0
}

/// The log, one JSON object per line, in time order.
pub fn generate(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut lines: Vec<Line> = Vec::new();
    for day in 0..DAYS {
        for m in 0..24 * 60 {
            let minute = START + day * DAY + m * 60;
            let mut n = per_minute(m);
            // Day 5: a daytime quarter-hour's traffic at 3 a.m.
            if day == 4 && (3 * 60..3 * 60 + 15).contains(&m) {
                n += 20;
            }
            for k in 0..n {
                let ts = minute + (k * 60 / n) as i64;
                let p = path(&mut rng);
                let mut request_time = 0.02 + rng.unit() * 0.38;
                if rng.unit() < 0.01 {
                    request_time = 0.4 + rng.unit() * 0.8;
                }
                if p == "/checkout" && day == 3 && (10 * 60..10 * 60 + 30).contains(&m) {
                    request_time = 1.2 + rng.unit() * 1.8;
                }
                let status = if rng.unit() < 0.001 { 500 } else { 200 };
                let client = client(&mut rng);
                let millis = rng.below(1000);
                lines.push(Line { ts, millis, path: p, status, request_time, client });
            }
        }
    }
    // Day 2, 03:00-03:20: 8 of the /api/ requests fail.
    let night = START + DAY + 3 * 3600;
    plant_failures(&mut lines, night, night + 1200, |i| i % 3 == 0, 8);
    // Day 3, 12:00-14:00: every 25th /api/ request fails (4%).
    let noon = START + 2 * DAY + 12 * 3600;
    plant_failures(&mut lines, noon, noon + 7200, |i| i % 25 == 24, usize::MAX);
    // Day 2, 15:00: one very slow request.
    let slow = START + DAY + 15 * 3600;
    if let Some(l) = lines.iter_mut().find(|l| l.ts >= slow && l.path == "/api/v1/products") {
        l.request_time = 45.0;
    }
    let mut extra = Vec::new();
    // /admin from inside, every day at 08:30, and from outside once.
    for day in 0..DAYS {
        let t = START + day * DAY + 8 * 3600 + 1800;
        extra.push(Line {
            ts: t,
            millis: 5,
            path: "/admin",
            status: 200,
            request_time: 0.1,
            client: "10.1.0.7".into(),
        });
    }
    let t = START + 2 * DAY + 9 * 3600;
    extra.push(Line {
        ts: t,
        millis: 5,
        path: "/admin",
        status: 200,
        request_time: 0.1,
        client: "203.0.113.9".into(),
    });
    // Day 2, 20:00: one client denied 12 times in a minute.
    let t = START + DAY + 20 * 3600;
    for i in 0..12 {
        extra.push(Line {
            ts: t + i * 4,
            millis: 0,
            path: "/login",
            status: 401,
            request_time: 0.05,
            client: "198.51.100.66".into(),
        });
    }
    lines.extend(extra);
    lines.sort_by_key(|l| (l.ts, l.millis));
    let mut out = String::with_capacity(lines.len() * 160);
    for l in &lines {
        let ts = chrono::DateTime::from_timestamp(l.ts, l.millis as u32 * 1_000_000).unwrap();
        let level = if l.status >= 500 {
            "error"
        } else if l.status >= 400 {
            "warn"
        } else {
            "info"
        };
        let method = if l.path == "/checkout" || l.path == "/login" { "POST" } else { "GET" };
        writeln!(
            out,
            r#"{{"ts":"{}","level":"{level}","msg":"{method} {} {}","method":"{method}","path":"{}","status":{},"request_time":{:.3},"client_ip":"{}"}}"#,
            ts.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            l.path,
            l.status,
            l.path,
            l.status,
            l.request_time,
            l.client
        )
        .unwrap();
    }
    out
}

/// Makes the `/api/` requests in `[from, to)` whose index among them `pick`s
/// fail with 503, at most `limit` of them.
fn plant_failures(
    lines: &mut [Line],
    from: i64,
    to: i64,
    pick: impl Fn(usize) -> bool,
    limit: usize,
) {
    let mut planted = 0;
    let api = lines.iter_mut().filter(|l| l.ts >= from && l.ts < to && l.path.starts_with("/api/"));
    for (i, l) in api.enumerate() {
        if planted < limit && pick(i) {
            l.status = 503;
            planted += 1;
        }
    }
}

/// The rules the scenarios are written for.
pub const RULES: &str = r#"
[[rules]]
id = "api_5xx_rate"
type = "ratio"
where = 'fields.path ^= "/api/"'
numerator = "fields.status >= 500"
threshold = 0.05
min_total = 50
window = "30m"

[[rules]]
id = "api_5xx_count"
type = "rate_spike"
where = 'severity >= error and fields.path ^= "/api/"'
threshold = 25
window = "1h"

[[rules]]
id = "slow_path"
type = "percentile"
field = "fields.request_time"
percentile = 95
threshold = 1.5
min_count = 10
window = "10m"
group_by = ["fields.path"]

[[rules]]
id = "volume"
type = "zscore_anomaly"
window = "15m"
baseline_windows = 8
threshold = 4

[[rules]]
id = "volume_seasonal"
type = "zscore_anomaly"
window = "15m"
seasonality = "daily"
seasons = 7
min_history = 3
threshold = 4

[[rules]]
id = "volume_seasonal_robust"
type = "zscore_anomaly"
window = "15m"
seasonality = "daily"
min_history = 3
robust = true
threshold = 4

[[rules]]
id = "admin_outside"
type = "rate_spike"
where = 'fields.path ^= "/admin" and not fields.client_ip in 10.0.0.0/8'
group_by = ["client_ip"]
threshold = 1
window = "1m"

[[rules]]
id = "admin_unused"
type = "inactivity"
where = 'fields.path = "/admin"'
max_idle = "20h"

[[rules]]
id = "denied"
type = "rate_spike"
where = "fields.status in [401, 403]"
group_by = ["client_ip"]
threshold = 10
window = "5m"
"#;

/// A job over `log` (a path) with [`RULES`].
pub fn job(log: &str) -> String {
    format!(
        "name = \"traffic\"\n\n[[sources]]\npath = {log:?}\nformat = \"json\"\nservice = \"shop\"\n{RULES}"
    )
}
