//! `logtrack parse`: normalized records as JSON lines (or CSV) on stdout,
//! a summary per file on stderr. Rejects never stop the run; an unreadable
//! file is reported and makes the exit code 2.

use crate::cli::{Global, Output, ParseArgs};
use crate::error::Exit;
use crate::output;
use crate::parse::{Provenance, Record};
use crate::read::{self, ChunkResult, ChunkSink};
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

/// Writes the records of `c` to `out`, each ended with its template
/// (assigned in order). `ends` keeps each template's rendered end, with
/// the id it was made for (a template that grew more general is rendered
/// again). The records' text is not copied: the pieces are handed to the
/// kernel as they are (`writev`).
fn write_templated(
    c: &Chunk,
    csv: bool,
    t: &mut Templater,
    ends: &mut Vec<(String, Vec<u8>)>,
    ids: &mut Vec<u32>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    ids.clear();
    let mut key_at = 0;
    for &(_, key_end) in &c.ends {
        let id = t.assign(&c.keys[key_at..key_end]);
        let cluster = t.drain.cluster(id);
        let i = id as usize;
        if ends.len() <= i {
            ends.resize_with(i + 1, Default::default);
        }
        let (made_for, end) = &mut ends[i];
        if made_for != cluster.id() {
            made_for.clear();
            made_for.push_str(cluster.id());
            end.clear();
            if csv {
                output::write_template_csv(end, cluster.id(), cluster.text());
            } else {
                end.extend_from_slice(b",\"template_id\":\"");
                end.extend_from_slice(cluster.id().as_bytes());
                end.extend_from_slice(b"\",\"template\":");
                output::write_json_str(end, cluster.text());
                end.extend_from_slice(b"}\n");
            }
        }
        ids.push(id);
        key_at = key_end;
    }
    // A template's end is the one rendered last: a record whose template
    // grew more general later in the chunk ends with the general one.
    let mut text_at = 0;
    for (records, id_part) in c.ends.chunks(512).zip(ids.chunks(512)) {
        let mut slices = Vec::with_capacity(2 * records.len());
        for (&(text_end, _), &id) in records.iter().zip(id_part) {
            slices.push(std::io::IoSlice::new(&c.text[text_at..text_end]));
            slices.push(std::io::IoSlice::new(&ends[id as usize].1));
            text_at = text_end;
        }
        let mut bufs = &mut slices[..];
        while !bufs.is_empty() {
            match out.write_vectored(bufs) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => std::io::IoSlice::advance_slices(&mut bufs, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Rejects shown per file on stderr (all of them with `-v`).
const SHOWN_REJECTS: u64 = 20;

pub fn run(args: &ParseArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
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
    let mut ids = Vec::new();
    let mut ends = Vec::new();
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
                write_templated(&c, csv, &mut templater, &mut ends, &mut ids, &mut out)?;
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
