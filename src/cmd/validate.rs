//! `logtrack validate JOB`: load and check a job file.

use crate::cli::{Global, ValidateArgs};
use crate::config::{self, Overrides};
use crate::error::{redact_url, Exit};
use crate::run::Messages;

pub fn run(args: &ValidateArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = Messages::new(g);
    let overrides = Overrides {
        database_url: g.database_url.clone(),
        report_dir: g.report_dir.clone(),
        config: g.config.clone(),
    };
    match config::load(&args.job, &overrides) {
        Ok(job) => {
            let shown = args.job.display();
            msgs.info(&format!(
                "{shown}: job {:?} is valid: {} source(s), {} rule(s), reports in {}",
                job.name,
                job.sources.len(),
                job.rules.len(),
                job.report.dir.display()
            ));
            for s in &job.sources {
                msgs.info(&format!("  source {} ({})", s.path, s.format));
            }
            for r in &job.rules {
                msgs.info(&format!("  rule {} ({}, {})", r.id, r.kind.type_name(), r.severity));
            }
            for r in &job.notify {
                let on: Vec<&str> =
                    ["open", "repeat", "resolved"].into_iter().filter(|e| r.on.wants(e)).collect();
                msgs.info(&format!(
                    "  notify {} (at least {}, on {})",
                    r.name,
                    r.min_severity,
                    on.join("/")
                ));
            }
            let db = match &job.database_url {
                Some(u) if !g.no_db => redact_url(u),
                _ => "none (in memory)".into(),
            };
            msgs.info(&format!("  database: {db}"));
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
