//! Writing a run's reports, and what a run says on stderr.

use super::{Messages, Settings};
use crate::config::{Job, ReportFormat};
use crate::detect::Alert;
use crate::error::Error;
use crate::report::{self, Report, ReportWriter};

/// One line per alert on stderr: shown even with `-q` (an alert is what
/// a quiet cron job must mail).
pub fn print_alerts(alerts: &[Alert], msgs: &Messages) {
    for a in alerts {
        let fields = serde_json::json!({
            "rule": a.rule_id, "severity": a.severity.as_str(), "group": a.group,
            "window_start": a.window_start.to_rfc3339(), "window_end": a.window_end.to_rfc3339(),
            "count": a.count,
        });
        let sev =
            msgs.paint(a.severity.as_str(), &format!("{:<8}", a.severity.as_str().to_uppercase()));
        msgs.alert(&format!("  {sev} {}", alert_rest(a)), fields);
    }
}

fn alert_line(a: &Alert) -> String {
    format!("{:<8} {}", a.severity.as_str().to_uppercase(), alert_rest(a))
}

/// An alert line after its severity.
fn alert_rest(a: &Alert) -> String {
    let group: Vec<String> = a.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{} [{}] {} .. {}: {}",
        a.rule_id,
        group.join(" "),
        a.window_start,
        a.window_end,
        a.message
    )
}

/// Writes the reports; when that fails, the run's alerts go to stdout (so
/// that they are seen) and the error is returned (exit 2).
pub(super) fn write_or_print(
    job: &Job,
    s: &Settings,
    report: &Report,
    msgs: &Messages,
) -> crate::error::Result<Vec<String>> {
    write_reports(job, s, report).inspect_err(|_| {
        use std::io::Write;
        msgs.error(&format!(
            "the report could not be written; the {} alert(s) of this run follow on stdout",
            report.alerts.len()
        ));
        let mut out = std::io::stdout().lock();
        for a in &report.alerts {
            let _ = writeln!(out, "{}", alert_line(a));
        }
    })
}

/// The files a run's reports go to (what [`write_or_print`] writes).
pub(super) fn report_paths(job: &Job, s: &Settings) -> Vec<String> {
    let mut out: Vec<String> = job
        .report
        .formats
        .iter()
        .map(|f| {
            let name = match f {
                ReportFormat::Json => report::Json.file_name(),
                ReportFormat::Md => report::Markdown.file_name(),
                ReportFormat::Html => report::Html.file_name(),
            };
            job.report.dir.join(name).display().to_string()
        })
        .collect();
    out.extend(s.junit.iter().map(|p| p.display().to_string()));
    out
}

fn write_reports(job: &Job, s: &Settings, report: &Report) -> crate::error::Result<Vec<String>> {
    let dir = &job.report.dir;
    std::fs::create_dir_all(dir)
        .map_err(Error::file(format!("report dir {}", dir.display()), "cannot create"))?;
    let mut written = Vec::new();
    for f in &job.report.formats {
        let writer: Box<dyn ReportWriter> = match f {
            ReportFormat::Json => Box::new(report::Json),
            ReportFormat::Md => Box::new(report::Markdown),
            ReportFormat::Html => Box::new(report::Html),
        };
        let path = dir.join(writer.file_name());
        let bytes = writer.serialize(report);
        write_atomically(dir, &path, &bytes)
            .map_err(Error::file(path.display().to_string(), "cannot write the report"))?;
        written.push(path.display().to_string());
    }
    if let Some(path) = &s.junit {
        let bytes = report::junit::junit(report, &job.rules, s.fail_on);
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        write_atomically(dir, path, &bytes)
            .map_err(Error::file(path.display().to_string(), "cannot write the JUnit file"))?;
        written.push(path.display().to_string());
    }
    // The renames are durable once the directory is.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::file(format!("report dir {}", dir.display()), "cannot sync"))?;
    Ok(written)
}

/// Writes beside, syncs, then renames: a reader never sees half a report,
/// and a crash leaves the old one or the new one. The temporary name is
/// unique to this process, so jobs sharing a report directory do not
/// overwrite each other's temporary files.
fn write_atomically(
    dir: &std::path::Path,
    path: &std::path::Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub(super) fn summarize(r: &Report, s: &Settings, written: &[String], msgs: &Messages) {
    msgs.info(&format!(
        "{}: {} file(s), {} records, {} rejected, {} alert(s) (reference time {})",
        r.job,
        r.sources.len(),
        r.totals.records,
        r.totals.rejected,
        r.totals.alerts,
        r.reference_time
    ));
    print_alerts(&r.alerts, msgs);
    for w in written {
        msgs.info(&format!("report: {w}"));
    }
    say_fail_on(r, s, msgs);
}

/// Why the exit code is 1: `exit 1: 4 alert(s) at or above high`.
pub(super) fn say_fail_on(r: &Report, s: &Settings, msgs: &Messages) {
    if let (Some(min), crate::error::Exit::AlertFired) = (s.fail_on, r.exit()) {
        let n = r.alerts.iter().filter(|a| a.severity >= min).count();
        msgs.info(&format!("exit 1: {n} alert(s) at or above {min} (--fail-on {min})"));
    }
}
