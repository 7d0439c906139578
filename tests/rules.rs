//! The rules that say what operators mean — `where`, `ratio`, `percentile`
//! and seasonal z-scores — over a seeded five-day shop log with planted
//! incidents and look-alikes that must not fire (see `common/traffic.rs`).
//! The alerts are snapshotted (`rules@traffic`), and each planted case is
//! also asserted on its own, so that a snapshot accepted by mistake does not
//! hide a miss.

mod common;

#[path = "common/traffic.rs"]
mod traffic;

use serde_json::Value;
use std::fmt::Write as _;
use std::process::Command;
use traffic::{DAY, START};

/// Runs the traffic job in memory and returns its alerts.
fn alerts() -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("shop.jsonl");
    std::fs::write(&log, traffic::generate(7)).unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(&job, traffic::job(log.to_str().unwrap())).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", job.to_str().unwrap(), "--no-db", "--now", "end-of-data", "-q"])
        .args(["--report-dir", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["totals"]["rejected"], 0);
    r["alerts"].as_array().unwrap().clone()
}

/// Seconds of an alert's window start.
fn start(a: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(a["window_start"].as_str().unwrap()).unwrap().timestamp()
}

/// (day from 1, "HH:MM") of a time.
fn when(t: i64) -> (i64, String) {
    let d = (t - START).div_euclid(DAY);
    let s = (t - START).rem_euclid(DAY);
    (d + 1, format!("{:02}:{:02}", s / 3600, s % 3600 / 60))
}

fn of<'a>(alerts: &'a [Value], rule: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["rule_id"] == rule).collect()
}

#[test]
fn planted_cases_fire_and_look_alikes_do_not() {
    let alerts = alerts();
    let mut text = String::new();
    for a in &alerts {
        let (day, at) = when(start(a));
        let group: Vec<String> = a["group"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        let ev: Vec<String> = a["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .take(3)
            .map(|e| e["line"].to_string())
            .collect();
        writeln!(
            text,
            "{} [{}] day {day} {at} .. {} count={} evidence=[{}..]\n    {}",
            a["rule_id"].as_str().unwrap(),
            group.join(" "),
            when(
                chrono::DateTime::parse_from_rfc3339(a["window_end"].as_str().unwrap())
                    .unwrap()
                    .timestamp()
            )
            .1,
            a["count"],
            ev.join(","),
            a["message"].as_str().unwrap()
        )
        .unwrap();
    }
    common::insta_settings().bind(|| insta::assert_snapshot!("rules@traffic", text));

    // A 5xx rate over 5% in the quiet night of day 2, and not in the busy
    // hours of day 3 (4%), which the count rule fires on instead.
    let rate = of(&alerts, "api_5xx_rate");
    assert_eq!(rate.len(), 1, "{rate:?}");
    assert_eq!(when(start(rate[0])).0, 2);
    assert!((2..4).contains(&((start(rate[0]) - START - DAY) / 3600)), "{rate:?}");
    let msg = rate[0]["message"].as_str().unwrap();
    assert!(msg.contains("% (") && msg.contains(" of "), "{msg}");
    let count = of(&alerts, "api_5xx_count");
    assert!(!count.is_empty() && count.iter().all(|a| when(start(a)).0 == 3), "{count:?}");

    // The p95 of /checkout on day 4, 10:00-10:30, and no other path (the
    // one 45 s request on day 2 does not move its path's p95).
    let slow = of(&alerts, "slow_path");
    assert_eq!(slow.len(), 1, "{slow:?}");
    assert_eq!(slow[0]["group"]["fields.path"], "/checkout");
    // From the first window that reaches into the slow half-hour.
    let (day, at) = when(start(slow[0]));
    assert!(day == 4 && ("09:50".."10:01").contains(&at.as_str()), "{slow:?}");
    assert!(slow[0]["message"].as_str().unwrap().starts_with("p95 of fields.request_time was "));

    // The 07:00 step: the plain z-score fires every morning, the seasonal
    // ones (which have history from day 4 on) never; they fire on day 5's
    // 03:00 burst.
    let plain = of(&alerts, "volume");
    for day in 1..=5 {
        assert!(plain.iter().any(|a| when(start(a)) == (day, "07:00".to_string())), "day {day}");
    }
    for id in ["volume_seasonal", "volume_seasonal_robust"] {
        let s = of(&alerts, id);
        assert_eq!(s.len(), 1, "{id}: {s:?}");
        assert_eq!(when(start(s[0])), (5, "03:00".to_string()), "{id}");
    }

    // where: /admin from outside 10.0.0.0/8 only, and the denied client.
    let admin = of(&alerts, "admin_outside");
    assert_eq!(admin.len(), 1);
    assert_eq!(admin[0]["group"]["client_ip"], "203.0.113.9");
    // A silence of the selected records only: /admin, from 08:30 to the
    // next morning's 08:30 (day 3's outside request at 09:00 shortens one).
    let unused: Vec<(i64, String)> =
        of(&alerts, "admin_unused").iter().map(|a| when(start(a))).collect();
    let at = |d: i64, t: &str| (d, t.to_string());
    assert_eq!(unused, [at(1, "08:30"), at(2, "08:30"), at(3, "09:00"), at(4, "08:30")]);
    let denied = of(&alerts, "denied");
    assert_eq!(denied.len(), 1);
    assert_eq!(
        (denied[0]["group"]["client_ip"].as_str(), denied[0]["count"].as_u64()),
        (Some("198.51.100.66"), Some(12))
    );
}
