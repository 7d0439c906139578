//! `logtrack parse`: normalized records as JSON lines (or CSV) on stdout,
//! a summary per file on stderr. Rejects never stop the run; an unreadable
//! file is reported and makes the exit code 2.

use crate::cli::{Global, Output, ParseArgs};
use crate::error::Exit;
use crate::output;
use crate::parse::{Provenance, Record};
use crate::read::{self, ChunkResult, ChunkSink};
use crate::run::Messages;
use crate::template::{self, Templater};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Writes each chunk's records into an output buffer; buffers come back
/// from the writer for the next chunks, so that writing JSON neither grows
/// a fresh buffer (copying it) nor touches fresh pages for every chunk.
///
/// With templates, a record's text is written without its end, and its
/// template key is kept: templates are assigned in input order by the
/// writer, which then ends each record with its template.
struct TextSink {
    csv: bool,
    templates: bool,
    path: String,
    path_json: String,
    pool: Arc<Mutex<Vec<Chunk>>>,
}

#[derive(Default)]
struct Chunk {
    text: Vec<u8>,
    keys: String,
    /// Per record: where its text and its key end.
    ends: Vec<(usize, usize)>,
}

impl ChunkSink for TextSink {
    type Acc = Chunk;
    type Out = Chunk;

    fn begin(&self) -> Chunk {
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default()
    }

    fn record(&self, c: &mut Chunk, r: &Record<'_>, prov: Provenance) {
        if self.csv {
            output::write_record_csv(&mut c.text, r, &self.path, prov);
        } else {
            output::write_record_json(&mut c.text, r, &self.path_json, prov);
        }
        if self.templates {
            // Without `}\n` (JSON) or `\n` (CSV).
            c.text.truncate(c.text.len() - if self.csv { 1 } else { 2 });
            template::key_into(&r.service, &r.message, &mut c.keys);
            c.ends.push((c.text.len(), c.keys.len()));
        }
    }

    fn end(&self, c: Chunk) -> Chunk {
        c
    }
}

/// Ends each record of `c` with its template, in order, into `out`.
fn write_templated(c: &Chunk, csv: bool, t: &mut Templater, out: &mut Vec<u8>) {
    let (mut text_at, mut key_at) = (0, 0);
    for &(text_end, key_end) in &c.ends {
        out.extend_from_slice(&c.text[text_at..text_end]);
        let id = t.assign(&c.keys[key_at..key_end]);
        let cluster = t.drain.cluster(id);
        if csv {
            output::write_template_csv(out, cluster.id(), cluster.text());
        } else {
            out.extend_from_slice(b",\"template_id\":\"");
            out.extend_from_slice(cluster.id().as_bytes());
            out.extend_from_slice(b"\",\"template\":");
            output::write_json_str(out, cluster.text());
            out.extend_from_slice(b"}\n");
        }
        (text_at, key_at) = (text_end, key_end);
    }
}

/// Rejects shown per file on stderr (all of them with `-v`).
const SHOWN_REJECTS: u64 = 20;

pub fn run(args: &ParseArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = Messages::new(g);
    let (format, opts) = super::input_options(&args.input)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let csv = args.output == Output::Csv;
    if csv && args.templates {
        out.write_all(output::CSV_HEADER.trim_end().as_bytes())?;
        out.write_all(b",template_id,template\n")?;
    } else if csv {
        out.write_all(output::CSV_HEADER.as_bytes())?;
    }
    let mut templater = Templater::new(args.cap.max_templates);
    let mut templated = Vec::new();
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
            csv,
            templates: args.templates,
            path: path.clone(),
            path_json,
            pool: Arc::clone(&pool),
        });
        let mut shown = 0u64;
        let result = read::process_with(opened, sink, |res: ChunkResult<Chunk>| {
            let mut c = res.value;
            if args.templates {
                templated.clear();
                write_templated(&c, csv, &mut templater, &mut templated);
                out.write_all(&templated)?;
            } else {
                out.write_all(&c.text)?;
            }
            c.text.clear();
            c.keys.clear();
            c.ends.clear();
            pool.lock().unwrap_or_else(|e| e.into_inner()).push(c);
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
    crate::run::messages::templates_capped(&templater.drain, 0, &msgs);
    Ok(exit)
}
