//! `logtrack parse`: normalized records as JSON lines (or CSV) on stdout,
//! a summary per file on stderr. Rejects never stop the run; an unreadable
//! file is reported and makes the exit code 2.

use crate::cli::{Global, Output, ParseArgs};
use crate::error::Exit;
use crate::output;
use crate::read::{self, ChunkResult};
use crate::run::Messages;
use std::io::Write;

/// Rejects shown per file on stderr (all of them with `-v`).
const SHOWN_REJECTS: u64 = 20;

pub fn run(args: &ParseArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = Messages::new(g);
    let (format, opts) = super::input_options(&args.input)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.output == Output::Csv {
        out.write_all(output::CSV_HEADER.as_bytes())?;
    }
    let mut exit = Exit::Ok;
    for path in super::expand(&args.files, &msgs, &mut exit) {
        let opened = match read::open(&path, &format, &opts) {
            Ok(o) => o,
            Err(e) => {
                msgs.error(&format!("{e:#}"));
                exit = Exit::Failed;
                continue;
            }
        };
        let path_json = {
            let mut v = Vec::new();
            output::write_json_str(&mut v, &path);
            String::from_utf8(v).expect("JSON text is UTF-8")
        };
        let csv_path = path.clone();
        let csv = args.output == Output::Csv;
        let mut shown = 0u64;
        let result = read::process(
            opened,
            move |buf: &mut Vec<u8>, r, prov| {
                if csv {
                    output::write_record_csv(buf, r, &csv_path, prov);
                } else {
                    output::write_record_json(buf, r, &path_json, prov);
                }
            },
            |res: ChunkResult<Vec<u8>>| {
                out.write_all(&res.value)?;
                for rej in &res.rejects {
                    if g.verbose || shown < SHOWN_REJECTS {
                        msgs.warn(&format!("reject: {rej}"));
                    }
                    shown += 1;
                }
                Ok(true)
            },
        );
        match result {
            Ok(stats) => {
                if shown > SHOWN_REJECTS && !g.verbose {
                    msgs.warn(&format!(
                        "{path}: {} more rejects not shown (use -v)",
                        shown - SHOWN_REJECTS
                    ));
                }
                for note in &stats.notes {
                    msgs.warn(&format!("{path}: {note}"));
                }
                msgs.info(&format!(
                    "{path}: {} records, {} rejected, {} lines ({})",
                    stats.records, stats.rejected, stats.lines, stats.format
                ));
            }
            Err(e) if crate::error::is_broken_pipe(&e) => return Err(e),
            Err(e) => {
                msgs.error(&format!("{e:#}"));
                exit = Exit::Failed;
            }
        }
    }
    out.flush()?;
    Ok(exit)
}
