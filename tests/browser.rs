//! The quickstart's `report.html` in a real browser: headless Chromium
//! renders it from disk, takes a screenshot, and its rendered DOM must hold
//! the alerts table, a non-empty volume chart with alert windows marked,
//! and a hostile log line as text (no element made from it, no script run).
//!
//! Needs `chromium` (Debian's package; `.ci/run` installs it). Without it
//! the test is skipped with a notice, unless `LOGTRACK_REQUIRE_BROWSER=1`
//! (set by CI), which makes that a failure.

use std::path::Path;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
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
    let Some(bin) = chromium() else {
        if std::env::var("LOGTRACK_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("chromium is required (LOGTRACK_REQUIRE_BROWSER=1) but not installed");
        }
        eprintln!("notice: skipping the browser test: no chromium (apt-get install chromium)");
        return;
    };
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
