//! `report.md`: a summary fit for a CI job summary page.

use super::{Report, ReportWriter};
use std::fmt::Write;

pub struct Markdown;

/// Text from the logs in a Markdown table cell or list item: HTML is
/// escaped (`<img onerror=...>` shows as text), and so is every character
/// that Markdown would read as formatting, a link or an image.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '!' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text in a code span: shown as is, so only what ends the span or the
/// table cell is replaced.
fn code(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c == '`' {
                '\''
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    format!("`{}`", t.replace('|', "\\|"))
}

/// An alert's count, or an inactivity alert's silence.
fn count(a: &crate::detect::Alert) -> String {
    match super::silence(a) {
        Some(d) => format!("silent for {d}"),
        None => a.count.to_string(),
    }
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
    if !r.rules.is_empty() {
        writeln!(s)?;
        writeln!(s, "## What the rules say")?;
        writeln!(s)?;
        for about in &r.rules {
            let d = about.description.as_deref().map(|d| format!(": {}", cell(d)));
            // The job file's address, as an autolink (nothing in it ends one).
            let rb = about
                .runbook
                .as_deref()
                .filter(|u| !u.contains(|c: char| c.is_whitespace() || c == '<' || c == '>'))
                .map(|u| format!(" (runbook: <{u}>)"));
            writeln!(
                s,
                "- `{}`{}{}",
                about.id.replace('`', "'"),
                d.unwrap_or_default(),
                rb.unwrap_or_default()
            )?;
        }
    }
    if !r.sigma.is_empty() {
        writeln!(s)?;
        writeln!(s, "## Sigma rules that matched")?;
        writeln!(s)?;
        for m in &r.sigma {
            let mut line = format!(
                "- **{}** (`{}`, {}), author: {}",
                cell(&m.title),
                m.id.replace('`', "'"),
                cell(m.level.as_deref().unwrap_or("no level")),
                cell(m.author.as_deref().unwrap_or("not given"))
            );
            if let Some(d) = &m.description {
                line.push_str(&format!(": {}.", cell(d.trim().trim_end_matches('.'))));
            }
            let links: Vec<String> = m
                .references
                .iter()
                .map(|u| {
                    if u.starts_with("http")
                        && !u.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
                    {
                        format!("<{u}>")
                    } else {
                        cell(u)
                    }
                })
                .collect();
            if !links.is_empty() {
                line.push_str(&format!(" References: {}.", links.join(", ")));
            }
            if !m.falsepositives.is_empty() {
                let fp: Vec<String> = m.falsepositives.iter().map(|f| cell(f)).collect();
                line.push_str(&format!(" False positives: {}.", fp.join("; ")));
            }
            if !m.tags.is_empty() {
                let tags: Vec<String> = m.tags.iter().map(|t| cell(t)).collect();
                line.push_str(&format!(" Tags: {}.", tags.join(", ")));
            }
            writeln!(s, "{line}")?;
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
            let ev = a.evidence.first().map_or(String::new(), |e| {
                let at = code(&format!("{}:{}", e.path, e.line));
                match &e.text {
                    Some(t) => format!("{at} {}", code(t)),
                    None => at,
                }
            });
            writeln!(
                s,
                "| {} | {} | {} | {} – {} | {} | {} | {} |",
                a.severity,
                cell(&a.rule_id),
                cell(&group.join(", ")),
                a.window_start,
                a.window_end,
                count(a),
                cell(&a.message),
                ev
            )?;
        }
    }
    if !r.held.is_empty() {
        writeln!(s)?;
        writeln!(s, "## Not notified")?;
        writeln!(s)?;
        writeln!(s, "| rule | group | window start (UTC) | why |")?;
        writeln!(s, "|---|---|---|---|")?;
        let group = |g: &std::collections::BTreeMap<String, String>| {
            g.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
        };
        for h in &r.held {
            let why = match (&h.silenced_by, &h.inhibited_by) {
                (Some(by), _) => format!("silenced by {by}"),
                (None, Some(c)) if c.group.is_empty() => format!("inhibited by {}", c.rule_id),
                (None, Some(c)) => format!("inhibited by {} ({})", c.rule_id, group(&c.group)),
                (None, None) => String::new(),
            };
            writeln!(
                s,
                "| {} | {} | {} | {} |",
                cell(&h.rule_id),
                cell(&group(&h.group)),
                h.window_start,
                cell(&why)
            )?;
        }
    }
    if !r.templates.is_empty() {
        writeln!(s)?;
        writeln!(s, "## Message templates")?;
        writeln!(s)?;
        writeln!(s, "| service | template | records | first seen | |")?;
        writeln!(s, "|---|---|---:|---|---|")?;
        for t in &r.templates {
            writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                cell(&t.service),
                code(&t.template),
                t.count,
                t.first_seen,
                if t.new { "**new**" } else { "" }
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
            "| {} | {} | {} | {} | {} |",
            code(&src.path),
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
            writeln!(
                s,
                "- {}: {}",
                code(&format!("{}:{}", rej.path, rej.line)),
                cell(&rej.reason)
            )?;
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_text_cannot_become_html_or_markdown() {
        let hostile = "<img src=x onerror=alert(1)> [click](http://x) ![i](y) **b** `c` |d| \\e\nf";
        let c = cell(hostile);
        assert!(!c.contains('<') && !c.contains('>'), "{c}");
        assert!(c.contains("&lt;img src=x onerror=alert(1)&gt;"), "{c}");
        assert!(c.contains("\\[click\\](http://x)"), "{c}");
        assert!(c.contains("\\!\\[i\\]"), "{c}");
        assert!(
            c.contains("\\*\\*b\\*\\*") && c.contains("\\`c\\`") && c.contains("\\|d\\|"),
            "{c}"
        );
        assert!(!c.contains('\n'), "{c}");
        let k = code("a`b|c\nd");
        assert_eq!(k, "`a'b\\|c d`");
    }
}
