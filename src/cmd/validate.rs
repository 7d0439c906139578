//! `logtrack validate JOB`: load and check a job file.

use crate::cli::{Global, ValidateArgs};
use crate::config::{self, Overrides};
use crate::error::{redact_url, Exit};

pub fn run(args: &ValidateArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    let overrides = Overrides {
        database_url: g.database_url.clone(),
        report_dir: g.report_dir.clone(),
        config: g.config.clone(),
    };
    match config::load(&args.job, &overrides) {
        Ok(job) => {
            // The summary on stdout (to be captured), problems on stderr.
            use std::io::Write;
            let shown = args.job.display();
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{shown}: job {:?} is valid: {} source(s), {} rule(s), reports in {}",
                job.name,
                job.sources.len(),
                job.rules.len(),
                job.report.dir.display()
            )?;
            for s in &job.sources {
                writeln!(out, "  source {} ({})", s.path, s.format)?;
            }
            for r in &job.rules {
                if let crate::config::RuleKind::Sigma { rules, .. } = &r.kind {
                    let set = &rules.set;
                    writeln!(
                        out,
                        "  rule {} (sigma: {} rules and {} correlations run, from {} rule files; {} left out by status/level/tags, {} not run)",
                        r.id,
                        set.rules.len(),
                        set.correlations.len(),
                        set.files,
                        set.filtered,
                        set.problems.len()
                    )?;
                    for p in &set.problems {
                        writeln!(out, "    {}", crate::output::terminal(p))?;
                    }
                    continue;
                }
                writeln!(out, "  rule {} ({}, {})", r.id, r.kind.type_name(), r.severity)?;
            }
            for r in &job.notify {
                let on: Vec<&str> =
                    ["open", "repeat", "resolved"].into_iter().filter(|e| r.on.wants(e)).collect();
                let mut how = format!("at least {}, on {}", r.min_severity, on.join("/"));
                if let Some(m) = &r.matcher {
                    how.push_str(&format!(", match {m}"));
                }
                if r.default {
                    how.push_str(", default");
                }
                writeln!(out, "  notify {} ({how})", r.name)?;
            }
            for i in &job.inhibit {
                let equal = if i.equal.is_empty() {
                    String::new()
                } else {
                    format!(" with the same {}", i.equal.join(", "))
                };
                writeln!(
                    out,
                    "  inhibit: while '{}' is open, not '{}'{equal}",
                    i.source, i.target
                )?;
            }
            for s in &job.silence {
                let ts = |t: i64| crate::parse::Timestamp::from_secs(t).to_rfc3339();
                let from = if s.starts == i64::MIN {
                    String::new()
                } else {
                    format!(" from {}", ts(s.starts))
                };
                let why =
                    if s.comment.is_empty() { String::new() } else { format!(" ({})", s.comment) };
                writeln!(
                    out,
                    "  {}: not '{}'{from} until {}{why}",
                    s.name(),
                    s.matcher,
                    ts(s.ends)
                )?;
            }
            // Where each rule's incidents go.
            if !job.notify.is_empty() {
                use crate::notify::{reach, Reach};
                writeln!(out, "  routes:")?;
                for rule in &job.rules {
                    let to: Vec<String> = reach(&job, rule)
                        .into_iter()
                        .map(|(r, how)| match how {
                            Reach::Maybe => format!("{} (when its labels match)", r.name),
                            _ => r.name.clone(),
                        })
                        .collect();
                    if to.is_empty() {
                        writeln!(out, "    {} -> none", rule.id)?;
                        msgs.warn(&format!(
                            "{}: rule {} reaches no receiver (min_severity, rules, match and default decide)",
                            args.job.display(),
                            rule.id
                        ));
                    } else {
                        writeln!(out, "    {} -> {}", rule.id, to.join(", "))?;
                    }
                }
            }
            let db = match &job.database_url {
                Some(u) if !g.no_db => redact_url(u),
                _ => "none (in memory)".into(),
            };
            writeln!(out, "  database: {db}")?;
            Ok(Exit::Ok)
        }
        Err(problems) => {
            for p in &problems.0 {
                msgs.error(&format!("{}: {p}", args.job.display()));
            }
            msgs.error(&format!("{}: {} problem(s)", args.job.display(), problems.0.len()));
            Ok(Exit::Failed)
        }
    }
}
