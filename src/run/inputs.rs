//! A job's inputs, and what a run learns while it reads them.

use super::{Messages, Parts};
use crate::config::{self, Job};
use crate::parse::ParserOptions;
use crate::read::{Reject, SourceStats};
use crate::report;
use crate::source;
use std::sync::Arc;

/// One input file with its source and parser options.
pub struct Input<'j> {
    pub spec: &'j config::SourceSpec,
    pub opts: ParserOptions,
    pub path: String,
}

/// Everything a run gathers while it reads its sources.
#[derive(Default)]
pub struct SourceLog {
    pub parts: Parts,
    pub failed: bool,
    /// Problems fail the run (so they are errors, shown even with `-q`).
    strict: bool,
}

impl SourceLog {
    pub fn new(strict: bool) -> SourceLog {
        SourceLog { strict, ..SourceLog::default() }
    }

    /// A problem that does not stop the run: a warning, or an error when
    /// problems fail the run.
    fn problem(&mut self, msgs: &Messages, p: String, fields: serde_json::Value) {
        if self.strict {
            msgs.error_with(&p, fields);
        } else {
            msgs.warn_with(&p, fields);
        }
        self.parts.problems.push(p);
    }

    /// A source that could not be read: reported, listed in the report, and
    /// the run's exit code becomes 2. The other sources still run.
    pub fn fail(&mut self, msgs: &Messages, problem: String) {
        msgs.error(&problem);
        self.parts.problems.push(problem);
        self.failed = true;
    }

    /// Keeps the first rejects for the report.
    pub fn reject(&mut self, r: &Reject, msgs: &Messages, verbose: bool) {
        if verbose {
            msgs.warn(&format!("reject: {r}"));
        }
        if self.parts.rejects.len() < report::REPORT_REJECTS {
            self.parts.rejects.push(r.clone());
        }
    }

    /// A finished source: its notes, a reject-ratio problem, its counts.
    pub fn finish_source(
        &mut self,
        msgs: &Messages,
        spec: &config::SourceSpec,
        stats: SourceStats,
    ) {
        for note in &stats.notes {
            msgs.warn(&format!("{}: {note}", stats.path));
        }
        let read = stats.records + stats.rejected;
        if read > 0 && stats.rejected as f64 / read as f64 > spec.max_reject_ratio {
            let p = format!(
                "{}: {} of {} lines rejected (more than max_reject_ratio {}): is format \"{}\" right for this file?",
                stats.path, stats.rejected, read, spec.max_reject_ratio, stats.format
            );
            let fields = serde_json::json!({
                "file": stats.path, "rejected": stats.rejected, "read": read, "format": stats.format,
            });
            self.problem(msgs, p, fields);
        }
        self.parts.sources.push(stats);
    }
}

/// Every input of a job, in order. A source path that matches nothing is
/// recorded as a failure; a directory that cannot be read is a problem (its
/// readable neighbours still run). A file named twice (two sources,
/// overlapping globs, a link) is read once, for the first source that
/// names it. `detail`: the access-log detail fields needed. `now`: the
/// run's reference time (for stdin's lines without a year).
pub fn inputs<'j>(
    job: &'j Job,
    detail: crate::parse::Detail,
    now: super::Now,
    log: &mut SourceLog,
    msgs: &Messages,
) -> Vec<Input<'j>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, spec) in job.sources.iter().enumerate() {
        let found = match source::discover(&spec.path) {
            Ok(found) => found,
            Err(e) => {
                log.fail(msgs, format!("sources[{i}]: {e}"));
                continue;
            }
        };
        for w in found.warnings {
            log.problem(msgs, format!("sources[{i}]: {w}"), serde_json::json!({ "source": i }));
        }
        let opts = ParserOptions {
            service: spec.service.clone(),
            timezone: spec.timezone.clone(),
            detail,
            mapping: spec.mapping.clone(),
            ts_format: spec.ts_format.clone(),
            year_ref: None,
            multiline: spec.multiline.clone(),
        };
        for path in found.paths {
            let id = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
            if let Some(first) = id.and_then(|id| seen.get(&id)) {
                msgs.warn(&format!("{path}: named again by sources[{i}]; read once, as {first}"));
                continue;
            }
            if let Some(id) = id {
                seen.insert(id, path.clone());
            }
            let mut opts = opts.clone();
            if path == "-" {
                // Lines without a year on stdin are placed at or before the
                // run's reference time when it is an instant (else the wall clock).
                if let super::Now::At(t) = now {
                    opts.year_ref = Some(t);
                }
            }
            out.push(Input { spec, opts, path });
        }
    }
    out
}

/// The input paths in sorted order: evidence lines are ordered by path
/// (then line), in memory as in the database.
pub fn sorted_paths(inputs: &[Input<'_>]) -> Vec<Arc<str>> {
    let mut paths: Vec<Arc<str>> = inputs.iter().map(|i| Arc::from(i.path.as_str())).collect();
    paths.sort();
    paths.dedup();
    paths
}
