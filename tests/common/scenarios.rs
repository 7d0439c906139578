// The detector scenarios: bursts at window edges, exactly `threshold`,
// `threshold - 1`, separate and long bursts, groups, silences, baselines.
// One table for the detector snapshots (`src/detect/tests.rs` includes this
// file) and for the differential test (`tests/differential.rs`), which runs
// each scenario as log lines in memory and through PostgreSQL.
//
// Every case is `(name, events, now)`: events are `(group, second)`, and
// `now` (the reference time) is in seconds after T0.

/// `(group, seconds since the epoch)`
pub type Events = Vec<(&'static str, i64)>;

/// 2024-01-01T00:00:00Z
pub const T0: i64 = 1_704_067_200;

pub fn at(group: &'static str, secs: &[i64]) -> Events {
    secs.iter().map(|s| (group, T0 + s)).collect()
}

/// Cases shared by the four sliding-window rule types (threshold 3 within 5m).
pub fn window_cases() -> Vec<(&'static str, Events, i64)> {
    let mut long: Vec<i64> = (0..1800).step_by(20).collect();
    long.sort();
    let mut groups = at("web", &[0, 10, 20]);
    groups.extend(at("db", &[5, 400]));
    vec![
        ("empty input", vec![], 0),
        ("a single event", at("web", &[0]), 0),
        ("threshold - 1 within the window", at("web", &[0, 30]), 0),
        ("exactly threshold within the window", at("web", &[0, 30, 60]), 0),
        ("burst at both window edges (closed interval)", at("web", &[0, 150, 300]), 0),
        ("one second past the edge", at("web", &[0, 150, 301]), 0),
        ("two separate bursts", at("web", &[0, 1, 2, 1000, 1001, 1002]), 0),
        ("bursts whose windows touch merge", at("web", &[0, 1, 2, 300, 301, 302]), 0),
        ("a long burst is one alert", at("web", &long), 0),
        ("groups are counted apart", groups, 0),
        ("many records in one second", at("web", &[7; 25]), 0),
    ]
}

/// Inactivity, max_idle 10m.
pub fn inactivity_cases() -> Vec<(&'static str, Events, i64)> {
    vec![
        ("steady traffic, reference time right after", at("web", &[0, 300, 600, 900]), 901),
        ("a gap longer than max_idle inside the data", at("web", &[0, 60, 1000, 1060]), 1061),
        ("a gap of exactly max_idle is not a silence", at("web", &[0, 600]), 600),
        ("trailing silence up to the reference time", at("web", &[0, 60]), 4000),
        ("reference time before the data (replay with an old --now)", at("web", &[1000]), 0),
        (
            "two groups, one goes quiet",
            {
                let mut e = at("web", &[0, 500, 1000]);
                e.extend(at("db", &[0]));
                e
            },
            1000,
        ),
    ]
}

/// Inactivity of the named service `payments`.
pub fn silent_service_cases() -> Vec<(&'static str, Events, i64)> {
    vec![("a named service with no records at all", vec![], 3600)]
}

/// zscore_anomaly, threshold 3, window 1m, 5 baseline windows.
pub fn zscore_cases() -> Vec<(&'static str, Events, i64)> {
    // n records in each minute, starting at minute 0.
    let per_minute = |counts: &[u64]| -> Events {
        let mut e = Vec::new();
        for (m, &n) in counts.iter().enumerate() {
            for k in 0..n {
                e.push(("web", T0 + m as i64 * 60 + k as i64 % 60));
            }
        }
        e
    };
    vec![
        ("not enough bins for a baseline", per_minute(&[5, 5, 5, 50]), 0),
        ("steady then a spike", per_minute(&[10, 12, 9, 11, 10, 40]), 0),
        ("flat baseline: count above mean x threshold", per_minute(&[10, 10, 10, 10, 10, 31]), 0),
        (
            "flat baseline: exactly mean x threshold does not fire",
            per_minute(&[10, 10, 10, 10, 10, 30]),
            0,
        ),
        ("empty minutes count as zero", per_minute(&[4, 0, 0, 0, 0, 0, 9]), 0),
        (
            "every bin is evaluated, not only the last",
            per_minute(&[10, 11, 9, 10, 10, 60, 10, 11, 9, 10, 10, 10, 70, 10]),
            0,
        ),
    ]
}
