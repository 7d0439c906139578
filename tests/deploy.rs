//! The shipped files under `deploy/`, the CI audit job and the crontab line
//! are checked as far as this machine can: the systemd units with
//! `systemd-analyze verify` (when it is installed; skipped with a notice
//! otherwise), the jobs they run with `logtrack validate`, the crontab
//! line's schedule and command, and the CI audit failing on its planted
//! incidents with a JUnit file.

use std::process::Command;

fn logtrack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_logtrack")).args(args).output().unwrap()
}

#[test]
fn systemd_units_verify() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("notice: skipping: no systemd-analyze");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // An instance of the template, running the binary under test.
    let service = std::fs::read_to_string("deploy/systemd/logtrack@.service")
        .unwrap()
        .replace("/usr/local/bin/logtrack", env!("CARGO_BIN_EXE_logtrack"));
    std::fs::write(dir.path().join("logtrack@web.service"), service).unwrap();
    std::fs::copy("deploy/systemd/logtrack@.timer", dir.path().join("logtrack@web.timer")).unwrap();
    let serve = std::fs::read_to_string("deploy/systemd/logtrack-serve.service")
        .unwrap()
        .replace("/usr/local/bin/logtrack", env!("CARGO_BIN_EXE_logtrack"));
    assert!(serve.contains(" serve --bind "));
    std::fs::write(dir.path().join("logtrack-serve.service"), serve).unwrap();
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("logtrack@web.service"))
        .arg(dir.path().join("logtrack@web.timer"))
        .arg(dir.path().join("logtrack-serve.service"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // systemd only warns about a setting it cannot parse: none may be left.
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("logtrack@web") || l.contains("logtrack-serve"))
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
}

#[test]
fn the_crontab_line_runs_a_quiet_job() {
    let text = std::fs::read_to_string("deploy/crontab").unwrap();
    let line = text.lines().find(|l| !l.starts_with('#') && l.contains("logtrack run")).unwrap();
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts[..5], ["*/5", "*", "*", "*", "*"]);
    let command = parts[5..].join(" ");
    assert!(
        command.contains("/usr/local/bin/logtrack run /etc/logtrack/jobs/")
            && command.ends_with(" -q"),
        "{command}"
    );
}

#[test]
fn the_ci_audit_job_fails_on_its_planted_incidents() {
    let o = logtrack(&["validate", "jobs/ci-audit.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let o = logtrack(&[
        "run",
        "jobs/ci-audit.toml",
        "--fail-on",
        "high",
        "-q",
        "--report-dir",
        dir.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(xml.contains(r#"tests="4" failures="3""#), "{xml}");
    assert!(dir.path().join("report.md").exists() && dir.path().join("report.html").exists());
}

#[test]
fn the_workflow_and_dockerfile_use_what_exists() {
    let wf = std::fs::read_to_string("deploy/github-actions/log-audit.yml").unwrap();
    assert!(wf.contains("jobs/ci-audit.toml") && wf.contains("--fail-on high"));
    assert!(wf.contains("GITHUB_STEP_SUMMARY"));
    let docker = std::fs::read_to_string("Dockerfile").unwrap();
    // The Rust image is at least the declared rust-version.
    let manifest = std::fs::read_to_string("Cargo.toml").unwrap();
    let msrv =
        manifest.lines().find_map(|l| l.strip_prefix("rust-version = ")).unwrap().trim_matches('"');
    assert!(docker.contains(&format!("FROM rust:{msrv}")), "Dockerfile builds with Rust {msrv}");
    for path in ["Cargo.toml", "Cargo.lock", "src", "migrations"] {
        assert!(std::path::Path::new(path).exists(), "{path}");
    }
}

#[test]
fn the_binary_links_no_openssl() {
    let Ok(o) = Command::new("ldd").arg(env!("CARGO_BIN_EXE_logtrack")).output() else {
        eprintln!("notice: skipping: no ldd");
        return;
    };
    let libs = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{libs}");
    for lib in ["libssl", "libcrypto"] {
        assert!(!libs.contains(lib), "{lib} is linked:\n{libs}");
    }
    // Only the C runtime.
    for line in libs.lines().filter(|l| l.contains("=>")) {
        let name = line.split_whitespace().next().unwrap();
        assert!(
            ["libc.so", "libm.so", "libgcc_s.so", "libpthread.so", "libdl.so", "librt.so"]
                .iter()
                .any(|ok| name.starts_with(ok)),
            "unexpected library {name}:\n{libs}"
        );
    }
}
