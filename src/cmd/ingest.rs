//! `logtrack ingest`: parse files and load them into PostgreSQL with binary
//! COPY, one transaction per file with its checkpoint. No detection.

use crate::cli::{Global, IngestArgs};
use crate::config;
use crate::error::Exit;
use crate::store::load::Loader;

pub fn run(args: &IngestArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    let (format, opts) = super::input_options(&args.input)?;
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let mut loader = Loader::new(&url)?;
    let mut exit = Exit::Ok;
    for path in super::expand(&args.files, &msgs, &mut exit) {
        let result = loader.load(&path, &format, &opts, |r| {
            if g.verbose {
                msgs.warn(&format!("reject: {r}"));
            }
        });
        match result {
            Ok(loaded) => {
                let s = &loaded.stats;
                if s.skipped {
                    msgs.info(&format!("{path}: nothing new (already loaded)"));
                } else {
                    let streams = match loaded.streams {
                        0 | 1 => String::new(),
                        n => format!("; {n} COPY streams"),
                    };
                    msgs.info(&format!(
                        "{path}: {} rows loaded, {} rejected, {} lines ({}{streams})",
                        loaded.rows, s.rejected, s.lines, s.format
                    ));
                }
                for note in &s.notes {
                    msgs.warn(&format!("{path}: {note}"));
                }
            }
            Err(e) => {
                msgs.error(&format!("{e:#}"));
                exit = Exit::Failed;
            }
        }
    }
    Ok(exit)
}
