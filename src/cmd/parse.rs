//! `logtrack parse`: normalized records as JSON lines (or CSV) on stdout,
//! a summary per file on stderr. Rejects never stop the run; an unreadable
//! file is reported and makes the exit code 2.

use crate::cli::{Global, Output, ParseArgs};
use crate::error::Exit;
use crate::output;
use crate::parse::{Provenance, Record};
use crate::read::{self, ChunkResult, ChunkSink};
use crate::run::Messages;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Writes each chunk's records into an output buffer; buffers come back
/// from the writer for the next chunks, so that writing JSON neither grows
/// a fresh buffer (copying it) nor touches fresh pages for every chunk.
struct TextSink {
    csv: bool,
    path: String,
    path_json: String,
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl ChunkSink for TextSink {
    type Acc = Vec<u8>;
    type Out = Vec<u8>;

    fn begin(&self) -> Vec<u8> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default()
    }

    fn record(&self, buf: &mut Vec<u8>, r: &Record<'_>, prov: Provenance) {
        if self.csv {
            output::write_record_csv(buf, r, &self.path, prov);
        } else {
            output::write_record_json(buf, r, &self.path_json, prov);
        }
    }

    fn end(&self, buf: Vec<u8>) -> Vec<u8> {
        buf
    }
}

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
        let pool = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::new(TextSink {
            csv: args.output == Output::Csv,
            path: path.clone(),
            path_json,
            pool: Arc::clone(&pool),
        });
        let mut shown = 0u64;
        let result = read::process_with(opened, sink, |res: ChunkResult<Vec<u8>>| {
            out.write_all(&res.value)?;
            let mut buf = res.value;
            buf.clear();
            pool.lock().unwrap_or_else(|e| e.into_inner()).push(buf);
            for rej in &res.rejects {
                if g.verbose || shown < SHOWN_REJECTS {
                    msgs.warn(&format!("reject: {rej}"));
                }
                shown += 1;
            }
            Ok(true)
        });
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
