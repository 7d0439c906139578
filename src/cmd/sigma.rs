//! `logtrack sigma check PATH…`: which Sigma rules LogTrack can run, on
//! which sources, reading which fields.

use crate::cli::{Global, SigmaCommand};
use crate::error::Exit;
use crate::sigma::{self, source};
use std::io::Write;

pub fn run(c: &SigmaCommand, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    let (paths, job) = match c {
        SigmaCommand::Check { paths, job } => (paths, job),
        SigmaCommand::Match { events, paths, no_prefilter } => {
            return try_events(events, paths, *no_prefilter, &msgs)
        }
    };
    let job = match job {
        Some(p) => match super::load_job(p, g, &msgs) {
            Some(j) => Some(j),
            None => return Ok(Exit::Failed),
        },
        None => None,
    };
    // With a job, its Sigma rules' placeholders.
    let mut ph = sigma::Placeholders::new();
    for r in job.iter().flat_map(|j| &j.rules) {
        if let crate::config::RuleKind::Sigma { rules, .. } = &r.kind {
            ph.extend(rules.placeholders.clone());
        }
    }
    let files = sigma::rule_files(paths).map_err(anyhow::Error::msg)?;
    let (rules, errors) = sigma::load(&files, &ph);
    let base: Vec<&sigma::Rule> = rules.iter().filter(|r| r.correlation.is_none()).collect();
    let mut out = std::io::stdout().lock();
    let (mut loaded, mut unsupported) = (0, 0);
    for r in &rules {
        let path = r.path.display();
        let kind = source::kind(&r.logsource);
        // A correlation runs when the rules it names do.
        let why = sigma::set::unsupported(r)
            .or_else(|| r.correlation.as_ref().and_then(|_| sigma::set::resolve(r, &base).err()));
        if let Some(why) = why {
            unsupported += 1;
            writeln!(
                out,
                "unsupported  {path}  {}  {}: {}",
                r.id,
                r.title,
                crate::output::terminal(&why)
            )?;
            continue;
        }
        if let Some(Ok(c)) = &r.correlation {
            loaded += 1;
            writeln!(
                out,
                "loaded       {path}  {}  {}  correlation: {} over {}  group-by: {}",
                r.id,
                r.title,
                c.kind.name(),
                c.rules.join(", "),
                if c.group_by.is_empty() { "-".into() } else { c.group_by.join(", ") }
            )?;
            continue;
        }
        loaded += 1;
        let (Ok(d), Some(k)) = (&r.detection, &kind) else { continue };
        let fields: Vec<&str> =
            d.fields().into_iter().map(|f| f.unwrap_or("(keywords: the line)")).collect();
        let applies = match &job {
            Some(j) => {
                let names: Vec<String> = j
                    .sources
                    .iter()
                    .filter(|s| k.takes_format(&s.format.to_string()))
                    .map(|s| s.path.clone())
                    .collect();
                if names.is_empty() {
                    "none of the job's sources".to_string()
                } else {
                    names.join(", ")
                }
            }
            None => k.describe(),
        };
        writeln!(
            out,
            "loaded       {path}  {}  {}  sources: {applies}  fields: {}",
            r.id,
            r.title,
            fields.join(", ")
        )?;
    }
    for e in &errors {
        writeln!(out, "error        {}", crate::output::terminal(e))?;
    }
    msgs.info(&format!(
        "{} rule file(s): {loaded} loaded, {unsupported} unsupported, {} not rules",
        files.len(),
        errors.len()
    ));
    Ok(if errors.is_empty() { Exit::Ok } else { Exit::Failed })
}

/// `sigma match`: which rules each sample event matches.
fn try_events(
    events: &std::path::Path,
    paths: &[String],
    no_prefilter: bool,
    msgs: &crate::run::Messages,
) -> anyhow::Result<Exit> {
    let files = sigma::rule_files(paths).map_err(anyhow::Error::msg)?;
    let (rules, errors) = sigma::load(&files, &sigma::Placeholders::new());
    let rules: Vec<sigma::Rule> = rules.into_iter().filter(|r| r.detection.is_ok()).collect();
    // As a job runs them: the texts each rule needs looked for first.
    let filter = sigma::prefilter::Prefilter::new(
        rules.iter().map(|r| {
            let d = r.detection.as_ref().expect("kept when compiled");
            (0, d.searches.as_slice(), &d.condition)
        }),
        |_, _| false,
    );
    for e in &errors {
        msgs.warn(e);
    }
    let text = std::fs::read_to_string(events)
        .map_err(|e| anyhow::anyhow!("{}: {e}", events.display()))?;
    let mut out = std::io::stdout().lock();
    let mut exit = if errors.is_empty() { Exit::Ok } else { Exit::Failed };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                msgs.warn(&format!("{}:{}: not a JSON object", events.display(), n + 1));
                exit = Exit::Failed;
                continue;
            }
            Err(e) => {
                msgs.warn(&format!("{}:{}: {e}", events.display(), n + 1));
                exit = Exit::Failed;
                continue;
            }
        };
        let event = sigma::JsonEvent { value, text: line.to_string() };
        let mut bits = vec![0u64; filter.words()];
        filter.candidates(0, &event, &mut bits);
        let hits: Vec<&str> = rules
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                (no_prefilter || bits[i / 64] & (1 << (i % 64)) != 0) && r.matches(&event)
            })
            .map(|(_, r)| r.id.as_str())
            .collect();
        writeln!(out, "{}\t{}", n + 1, hits.join(","))?;
    }
    Ok(exit)
}
