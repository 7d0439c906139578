//! `report.md`: a summary fit for a CI job summary page.

use super::{Report, ReportWriter};
use std::fmt::Write;

pub struct Markdown;

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ").replace('`', "'")
}

impl ReportWriter for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn serialize(&self, r: &Report) -> Vec<u8> {
        render(r).expect("writing to a String cannot fail").into_bytes()
    }
}

fn render(r: &Report) -> Result<String, std::fmt::Error> {
    let mut s = String::new();
    writeln!(s, "# LogTrack report: {}", cell(&r.job))?;
    writeln!(s)?;
    writeln!(s, "Run {} → {}, reference time {}.", r.started_at, r.finished_at, r.reference_time)?;
    writeln!(s)?;
    writeln!(
        s,
        "**{} records**, **{} rejected**, **{} alerts** from {} source file(s).",
        r.totals.records,
        r.totals.rejected,
        r.totals.alerts,
        r.sources.len()
    )?;
    if !r.problems.is_empty() {
        writeln!(s)?;
        writeln!(s, "## Problems")?;
        writeln!(s)?;
        for p in &r.problems {
            writeln!(s, "- {}", cell(p))?;
        }
    }
    writeln!(s)?;
    writeln!(s, "## Alerts")?;
    writeln!(s)?;
    if r.alerts.is_empty() {
        writeln!(s, "No alerts.")?;
    } else {
        writeln!(
            s,
            "| severity | rule | group | window (UTC) | count | message | first evidence |"
        )?;
        writeln!(s, "|---|---|---|---|---:|---|---|")?;
        for a in &r.alerts {
            let group: Vec<String> = a.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let ev = a
                .evidence
                .first()
                .map_or(String::new(), |e| format!("`{}:{}`", cell(&e.path), e.line));
            writeln!(
                s,
                "| {} | {} | {} | {} – {} | {} | {} | {} |",
                a.severity,
                cell(&a.rule_id),
                cell(&group.join(", ")),
                a.window_start,
                a.window_end,
                a.count,
                cell(&a.message),
                ev
            )?;
        }
    }
    writeln!(s)?;
    writeln!(s, "## Sources")?;
    writeln!(s)?;
    writeln!(s, "| path | format | lines | records | rejected |")?;
    writeln!(s, "|---|---|---:|---:|---:|")?;
    for src in &r.sources {
        writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            cell(&src.path),
            cell(&src.format),
            src.lines,
            src.records,
            src.rejected
        )?;
    }
    if !r.rejects.is_empty() {
        writeln!(s)?;
        writeln!(s, "## Rejects (first {})", r.rejects.len().min(20))?;
        writeln!(s)?;
        for rej in r.rejects.iter().take(20) {
            writeln!(s, "- `{}:{}`: {}", cell(&rej.path), rej.line, cell(&rej.reason))?;
        }
    }
    Ok(s)
}
