//! The quickstart's `report.html` in a real browser: headless Chromium
//! renders it from disk, takes a screenshot, and its rendered DOM must hold
//! the alerts table, a non-empty volume chart with alert windows marked,
//! and a hostile log line as text (no element made from it, no script run).
//!
//! The dashboard end to end: Chromium, driven over WebDriver, signs in,
//! opens the alerts, follows an alert to its evidence lines, acknowledges
//! it, shows a hostile log line as text and signs out; screenshots of the
//! sign-in page, the overview and the alert are taken (kept in
//! `LOGTRACK_SCREENSHOT_DIR` when it is set).
//!
//! Needs `chromium` and `chromium-driver` (Debian's packages; `.ci/run`
//! installs them) and PostgreSQL for the dashboard. Without them the tests
//! are skipped with a notice, unless `LOGTRACK_REQUIRE_BROWSER=1` (set by
//! CI), which makes that a failure.

mod common;

use common::dashboard::{self, Server, ADMIN};
use common::webdriver::{self, Driver};
use std::path::Path;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// Skips (or, under `LOGTRACK_REQUIRE_BROWSER=1`, fails) without `what`.
fn missing(what: &str) {
    if std::env::var("LOGTRACK_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("{what} is required (LOGTRACK_REQUIRE_BROWSER=1) but not installed");
    }
    eprintln!(
        "notice: skipping a browser test: no {what} (apt-get install chromium chromium-driver)"
    );
}

fn browse(bin: &str, page: &Path, arg: &str) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--window-size=1200,2400",
            arg,
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap()
}

const HOSTILE_USER: &str = "<img src=x onerror=alert(1)>";

#[test]
fn the_quickstart_report_renders_in_a_browser() {
    let Some(bin) = chromium() else { return missing("chromium") };
    let dir = tempfile::tempdir().unwrap();
    let here = std::env::current_dir().unwrap();
    // The quickstart plus a log whose user and request are HTML.
    let mut hostile = String::new();
    for i in 0..5 {
        hostile.push_str(&format!(
            "10.9.9.9 - {HOSTILE_USER} [14/Mar/2026:11:20:0{i} +0100] \"GET /<script>document.title='pwned'</script> HTTP/1.1\" 401 0 \"-\" \"x\"\n"
        ));
    }
    std::fs::write(dir.path().join("hostile.log"), hostile).unwrap();
    let job = std::fs::read_to_string("jobs/quickstart.toml")
        .unwrap()
        .replace("path = \"../samples/", &format!("path = \"{}/samples/", here.display()));
    let job = format!(
        "{job}\n[[sources]]\npath = {:?}\nformat = \"combined\"\nservice = \"apache\"\n\n\
         [[rules]]\nid = \"hostile_logins\"\ntype = \"user_threshold\"\nmessage = \"script\"\nthreshold = 3\nwindow = \"1m\"\n",
        dir.path().join("hostile.log").to_str().unwrap()
    );
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let reports = dir.path().join("reports");
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", dir.path().join("job.toml").to_str().unwrap(), "--report-dir"])
        .arg(&reports)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let page = reports.join("report.html");

    let shot = dir.path().join("report.png");
    let o = browse(bin, &page, &format!("--screenshot={}", shot.display()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{} bytes", png.len());
    if let Ok(keep) = std::env::var("LOGTRACK_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }

    let o = browse(bin, &page, "--dump-dom");
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(dom.contains("<table class=\"alerts\">"), "no alerts table");
    for rule in ["web_5xx_spike", "admin_bruteforce", "web_down", "hostile_logins"] {
        assert!(dom.contains(rule), "{rule} missing from the rendered page");
    }
    let points = dom
        .split("class=\"series\" points=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a volume series");
    assert!(points.split(' ').count() > 10, "{points}");
    assert!(dom.matches("class=\"alert-window\"").count() >= 9, "alert windows marked");
    // The hostile text is text: escaped in the DOM, no element made of it,
    // and the script in the request never ran.
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"), "hostile user not shown as text");
    assert!(!dom.contains("<img"), "an element was made from log text");
    assert!(dom.contains("<title>LogTrack report: quickstart</title>"), "the title was changed");
}

/// What the test measures in the rendered report (run by WebDriver: the
/// page itself has no script).
const MEASURE: &str = r#"
const q = s => Array.from(document.querySelectorAll(s));
const rows = q('table.alerts > tbody[id^="alert-"]').map(b => ({
  id: b.id,
  num: b.querySelector('tr.head .num').textContent.trim(),
  rule: b.querySelector('tr.head td:nth-child(2) code').textContent,
  type: b.querySelector('tr.head td:nth-child(2) .muted').textContent,
  count: b.querySelector('tr.head td.n').textContent,
  evidence: b.querySelector('pre.ev') ? b.querySelector('pre.ev').textContent : '',
  pre: b.querySelector('pre.ev') ? [getComputedStyle(b.querySelector('pre.ev')).whiteSpace,
                                    getComputedStyle(b.querySelector('pre.ev')).overflowX] : [],
}));
const bands = q('svg.volume a.band').map(a => ({
  href: a.getAttribute('href'), num: a.querySelector('text').textContent,
}));
// Every time value is one box: an inline element broken over two lines
// has two client rectangles.
const times = q('.t').map(e => ({ text: e.textContent, boxes: e.getClientRects().length }));
const first = document.querySelector('h1').nextElementSibling;
const chart = document.querySelector('svg');
return {
  width: window.innerWidth,
  rows, bands, times,
  legend: q('p.legend.severities .sw').length,
  legendText: q('p.legend.severities').map(p => p.textContent).join(' '),
  ticks: q('svg.volume text.tick').map(t => t.textContent),
  first: first ? first.id : '',
  summaryBeforeCharts: !!(first.compareDocumentPosition(chart) & Node.DOCUMENT_POSITION_FOLLOWING),
  summary: q('#summary ol.summary li').map(l => l.textContent),
  summaryText: first.textContent,
  multiples: q('figure.service').length,
  scripts: document.scripts.length,
};
"#;

/// The quickstart's report as someone on call reads it: at 1280 px, the
/// summary first, numbered alert bands that match the numbered rows, a
/// severity legend, round time ticks, evidence text for every alert (the
/// CloudTrail ones too), no time value broken over two lines, a small page
/// with nothing to fetch.
#[test]
fn the_quickstart_report_reads_at_a_glance() {
    let Some((browser, driver)) = webdriver::available() else {
        return missing("chromium with chromedriver");
    };
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let o = Command::new(env!("CARGO_BIN_EXE_logtrack"))
        .args(["run", "jobs/quickstart.toml", "--report-dir"])
        .arg(&reports)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // The run prints its alerts on stderr, one a line, in report order.
    let stderr = String::from_utf8_lossy(&o.stderr);
    let printed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let page = reports.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 300_000, "report.html is {} bytes", html.len());
    for fetch in ["<script", "<link", "<img", " src=", "url(", "@import"] {
        assert!(!html.contains(fetch), "the page holds {fetch:?}");
    }

    let mut d = Driver::start(browser, driver);
    d.goto(&format!("file://{}", page.display()));
    let m = d.execute(MEASURE);
    keep(&d.screenshot(), "report-1280.png");
    assert_eq!(m["width"], 1280, "{m}");
    assert_eq!(m["scripts"], 0);

    // The summary comes first, before any chart: one sentence an alert
    // (each is its own incident in memory), the worst first.
    assert_eq!(m["first"], "summary", "{m}");
    assert_eq!(m["summaryBeforeCharts"], true);
    let summary: Vec<&str> =
        m["summary"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(summary.len(), printed.len(), "{summary:#?}");
    assert!(
        summary[0].contains("critical") && summary[0].contains("admin_bruteforce"),
        "{}",
        summary[0]
    );
    let rank = |s: &str| {
        ["critical", "high", "medium", "low"]
            .iter()
            .position(|v| s.contains(&format!("{v} ")))
            .unwrap()
    };
    assert!(summary.windows(2).all(|w| rank(w[0]) <= rank(w[1])), "not worst first: {summary:#?}");
    let text = m["summaryText"].as_str().unwrap();
    assert!(text.contains("17 alerts") && text.contains("no --fail-on given"), "{text}");

    // Numbered rows, in the order the command printed them, and one band a
    // row with the same number, linking to it.
    let rows = m["rows"].as_array().unwrap();
    assert_eq!(rows.len(), printed.len());
    for (i, (row, rule)) in rows.iter().zip(&printed).enumerate() {
        assert_eq!(row["num"], (i + 1).to_string().as_str(), "{row}");
        assert_eq!(row["id"], format!("alert-{}", i + 1).as_str());
        assert_eq!(row["rule"], *rule);
    }
    let mut bands: Vec<(String, String)> = m["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["num"].as_str().unwrap().to_string(), b["href"].as_str().unwrap().to_string()))
        .collect();
    bands.sort_by_key(|(n, _)| n.parse::<usize>().unwrap());
    let want: Vec<(String, String)> =
        (1..=rows.len()).map(|i| (i.to_string(), format!("#alert-{i}"))).collect();
    assert_eq!(bands, want);
    assert_eq!(m["legend"], 4, "a swatch for each alert severity: {}", m["legendText"]);
    for sev in ["critical", "high", "medium", "low"] {
        assert!(m["legendText"].as_str().unwrap().contains(sev));
    }
    let ticks: Vec<&str> =
        m["ticks"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(ticks.len() >= 4, "{ticks:?}");
    assert!(
        ticks.iter().all(|t| t.len() == 5 && t.as_bytes()[2] == b':'),
        "times of day: {ticks:?}"
    );
    assert!(m["multiples"].as_u64().unwrap() >= 5, "a chart a service: {m}");

    // Evidence text for every alert, of every rule type; CloudTrail's as
    // the event's key fields; lines kept whole, scrolling sideways.
    for row in rows {
        let ev = row["evidence"].as_str().unwrap();
        assert!(ev.lines().count() >= 1 && !ev.contains("not available"), "{row}");
        assert_eq!(row["pre"], serde_json::json!(["pre", "auto"]), "{row}");
        if ev.contains("CloudTrail") {
            assert!(ev.contains("\"eventName\":\""), "CloudTrail evidence as JSON: {ev}");
        }
        if row["type"] == "inactivity" {
            assert!(row["count"].as_str().unwrap().contains("silent for12m58s"), "{row}");
        }
    }
    let cloudtrail =
        rows.iter().filter(|r| r["evidence"].as_str().unwrap().contains("\"eventSource\"")).count();
    assert!(cloudtrail >= 2, "CloudTrail alerts with their events as evidence");

    // No time value broken over two lines.
    let times = m["times"].as_array().unwrap();
    assert!(times.len() >= 2 * rows.len(), "{} time values", times.len());
    let broken: Vec<&serde_json::Value> = times.iter().filter(|t| t["boxes"] != 1).collect();
    assert!(broken.is_empty(), "time values broken over lines: {broken:?}");
}

/// Keeps a screenshot as `name` in `LOGTRACK_SCREENSHOT_DIR`, after checking it is a real one.
fn keep(png: &[u8], name: &str) {
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}: {} bytes", png.len());
    if let Ok(dir) = std::env::var("LOGTRACK_SCREENSHOT_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(name), png).unwrap();
    }
}

#[test]
fn the_dashboard_signs_in_and_follows_an_alert_to_its_evidence() {
    let Some((browser, driver)) = webdriver::available() else {
        return missing("chromium with chromedriver");
    };
    let Some(url) = common::pg::database("browser_dashboard") else { return };
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("hostile.log");
    let line = format!(
        "10.9.9.9 - {HOSTILE_USER} [14/Mar/2026:11:20:00 +0100] \"GET /<script>document.title='pwned'</script> HTTP/1.1\" 401 0 \"-\" \"x\"\n"
    );
    std::fs::write(&hostile, line).unwrap();
    dashboard::load(&url, dir.path(), &[(hostile.as_path(), "combined", "hostile")]);
    let server = Server::start(&url, &[]);
    let mut d = Driver::start(browser, driver);

    // Signed out, the alerts page leads to the sign-in form and back.
    d.goto(&server.url("/alerts"));
    assert!(d.url().contains("/signin?next=%2Falerts"), "{}", d.url());
    keep(&d.screenshot(), "signin.png");
    d.type_into("input[name=username]", ADMIN.0);
    d.type_into("input[name=password]", "not the password");
    d.click("button[type=submit]");
    d.wait_for("p.problem");
    assert_eq!(d.text("p.problem"), "Wrong user name or password.");
    d.type_into("input[name=username]", ADMIN.0);
    d.type_into("input[name=password]", ADMIN.1);
    d.click("button[type=submit]");
    d.wait_for("table.alerts");
    assert_eq!(d.url(), server.url("/alerts"));
    assert_eq!(d.title(), "Alerts · LogTrack");

    // Follow the brute-force alert to its evidence.
    d.click("//tr[td/code[text()='admin_bruteforce']]//a[@class='alert']");
    d.wait_for("div.evidence");
    let alert_url = d.url();
    assert!(alert_url.contains("/alerts/"), "{alert_url}");
    assert!(d.text("td.message").contains("/admin/login"));
    let hits = d.find_all("tr.hit");
    assert_eq!(hits.len(), 10, "the first ten evidence lines, each among its neighbours");
    assert!(d.text("div.evidence code.line").contains("/admin/login"));
    keep(&d.screenshot(), "alert.png");
    d.click("button.ack");
    d.wait_for("td span.ok");
    assert_eq!(d.url(), alert_url);
    assert!(d.text("td span.ok").starts_with("acknowledged by alice"));

    // The overview draws the volume with the alert windows.
    d.goto(&server.url("/?hours=720"));
    assert!(!d.find_all("polyline.series").is_empty());
    assert!(d.find_all("rect.alert-window").len() >= 8);
    keep(&d.screenshot(), "overview.png");

    // A hostile log line is text, and its script never runs.
    d.goto(&server.url("/logs?service=hostile"));
    assert_eq!(d.title(), "Logs · LogTrack");
    assert!(d.find_all("main img").is_empty());
    let source = d.source();
    assert!(source.contains("GET /&lt;script&gt;document.title="), "{source}");
    assert!(d.text("td.msg").contains("<script>document.title='pwned'</script>"));

    // Signing out ends the session.
    d.click("nav form button");
    d.wait_for("main.signin");
    assert!(d.url().ends_with("/signin"), "{}", d.url());
    d.goto(&server.url("/runs"));
    assert!(d.url().contains("/signin?next=%2Fruns"));
}
