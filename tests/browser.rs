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
