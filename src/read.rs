//! Reading one source end to end: open, pick the format (sniffing for
//! `auto`), frame, parse in parallel, and hand each chunk's results to the
//! caller in order, while counting lines, records and rejects.
//!
//! A record whose time stamp falls outside [`MIN_TS`]..[`MAX_TS`] (years
//! 1970 to 2199) is a reject: such times are typos or hostile input, and
//! they would otherwise ask detectors for bins across millennia and the
//! store for partitions PostgreSQL cannot bound.

use crate::parse::sessions::Sessions;
use crate::parse::{auto, Format, Outcome, Parser, ParserOptions, Provenance, Record};
use crate::pipeline;
use crate::source::{self, Chunk};
use anyhow::Context;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// The earliest time stamp accepted (1970-01-01T00:00:00Z).
pub const MIN_TS: i64 = 0;
/// The first time stamp refused (2200-01-01T00:00:00Z).
pub const MAX_TS: i64 = 7_258_118_400;

/// Why a record's time stamp is refused, if it is.
pub fn ts_out_of_range(r: &Record<'_>) -> Option<String> {
    let ts = r.ts?;
    (!(MIN_TS..MAX_TS).contains(&ts.secs)).then(|| {
        format!(
            "time stamp {} is outside the supported range 1970-01-01 to 2199-12-31",
            ts.to_rfc3339()
        )
    })
}

/// A unit that did not parse, with where it was.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reject {
    pub path: Arc<str>,
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    pub byte_offset: u64,
    pub reason: String,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path, self.line)?;
        if let Some(i) = self.index {
            write!(f, " (event {i})")?;
        }
        write!(f, " (byte {}): {}", self.byte_offset, self.reason)
    }
}

/// Per-source counts, as the report shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SourceStats {
    pub path: String,
    pub format: String,
    pub bytes: u64,
    pub lines: u64,
    pub records: u64,
    pub rejected: u64,
    /// Records left out by the run's time range (`--since`/`--until`).
    #[serde(skip_serializing_if = "is_zero")]
    pub outside_range: u64,
    pub skipped: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Input position reached (bytes, lines), for checkpoints.
    #[serde(skip)]
    pub end_offset: u64,
    #[serde(skip)]
    pub end_lines: u64,
    /// The bytes just before `end_offset` (up to 1 KiB), for checkpoints.
    #[serde(skip)]
    pub end_tail: Vec<u8>,
}

impl SourceStats {
    /// Adds the counts of the next part of the same input, read on from
    /// where this one ended: the position reached is the later part's.
    pub fn absorb(&mut self, next: SourceStats) {
        self.bytes += next.bytes;
        self.lines += next.lines;
        self.records += next.records;
        self.rejected += next.rejected;
        self.outside_range += next.outside_range;
        self.notes.extend(next.notes);
        self.end_offset = next.end_offset;
        self.end_lines = next.end_lines;
        self.end_tail = next.end_tail;
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What one chunk produced: the caller's value plus the bookkeeping.
pub struct ChunkResult<T> {
    pub value: T,
    pub bytes: u64,
    pub lines: u64,
    pub records: u64,
    pub outside_range: u64,
    pub rejects: Vec<Reject>,
}

/// An input ready to be read: its parser is chosen.
pub struct Opened {
    pub path: Arc<str>,
    pub format: Format,
    pub parser: Arc<dyn Parser>,
    /// Target chunk size for parallel parsing (tests make it small).
    pub chunk_size: usize,
    /// Where reading starts (a resumed file).
    pub start: source::Start,
    /// Only records with a time stamp in `[from, to)` (seconds) go to the
    /// sink; the others are counted as outside the range.
    pub range: Option<(i64, i64)>,
    /// Join multi-line records.
    pub multiline: Option<source::multiline::Multiline>,
    reader: std::io::BufReader<Box<dyn std::io::Read + Send>>,
}

/// Opens `path` and builds its parser; `auto` is resolved from the content.
pub fn open(path: &str, format: &Format, opts: &ParserOptions) -> anyhow::Result<Opened> {
    let mut reader = source::open(path).with_context(|| format!("{path}: cannot open"))?;
    let head = match format {
        Format::Auto => {
            source::peek(&mut reader).with_context(|| format!("{path}: cannot read"))?.to_vec()
        }
        _ => Vec::new(),
    };
    build(path, &head, reader, source::Start::default(), format, opts)
}

/// An input read from `start.offset` on by `reader`, whose format is picked
/// from `head` (the content's first bytes) when it is `auto`.
pub fn open_at(
    path: &str,
    head: &[u8],
    reader: Box<dyn std::io::Read + Send>,
    start: source::Start,
    format: &Format,
    opts: &ParserOptions,
) -> anyhow::Result<Opened> {
    let reader = std::io::BufReader::with_capacity(256 << 10, reader);
    build(path, head, reader, start, format, opts)
}

/// The format of an input whose content starts with `head`: `auto` is
/// sniffed from it (an empty input reads as `clf`).
pub fn resolve_format(path: &str, head: &[u8], format: &Format) -> anyhow::Result<Format> {
    Ok(match format {
        Format::Auto if head.is_empty() => Format::Clf,
        Format::Auto => auto::sniff(head).with_context(|| {
            format!("{path}: cannot tell the format from the first lines; set the source's format")
        })?,
        f => f.clone(),
    })
}

fn build(
    path: &str,
    head: &[u8],
    reader: std::io::BufReader<Box<dyn std::io::Read + Send>>,
    start: source::Start,
    format: &Format,
    opts: &ParserOptions,
) -> anyhow::Result<Opened> {
    let format = resolve_format(path, head, format)?;
    let parser: Arc<dyn Parser> = match opts.year_ref {
        None if path != "-" => {
            // Lines without a year are placed at or before the file's
            // modification time.
            let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
            let secs = mtime
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64);
            let opts = ParserOptions { year_ref: secs, ..opts.clone() };
            Arc::from(format.parser(&opts)?)
        }
        _ => Arc::from(format.parser(opts)?),
    };
    let multiline = match &opts.multiline {
        Some(m) => m.clone().active(),
        None => format.default_multiline(),
    };
    Ok(Opened {
        path: Arc::from(path),
        format,
        parser,
        chunk_size: source::CHUNK_SIZE,
        start,
        range: None,
        multiline,
        reader,
    })
}

/// What the parsing threads build from the records of one chunk: `begin`
/// gives an accumulator, `record` fills it, `end` turns it into what the
/// consumer receives. All three run in a parsing thread.
pub trait ChunkSink: Send + Sync + 'static {
    type Acc;
    type Out: Send + 'static;
    fn begin(&self) -> Self::Acc;
    fn record(&self, acc: &mut Self::Acc, r: &Record<'_>, prov: Provenance);
    fn end(&self, acc: Self::Acc) -> Self::Out;
}

/// A sink from a closure over a per-chunk value that is sent on as is.
struct FnSink<T, F>(F, std::marker::PhantomData<fn() -> T>);

impl<T, F> ChunkSink for FnSink<T, F>
where
    T: Default + Send + 'static,
    F: Fn(&mut T, &Record<'_>, Provenance) + Send + Sync + 'static,
{
    type Acc = T;
    type Out = T;
    fn begin(&self) -> T {
        T::default()
    }
    fn record(&self, acc: &mut T, r: &Record<'_>, prov: Provenance) {
        (self.0)(acc, r, prov)
    }
    fn end(&self, acc: T) -> T {
        acc
    }
}

/// Parses every unit of `opened` in parallel. For each record `each` is
/// called with the chunk's accumulator; `consume` receives the chunk results
/// in input order and returns `Ok(false)` to stop.
pub fn process<T, F, C>(opened: Opened, each: F, consume: C) -> anyhow::Result<SourceStats>
where
    T: Default + Send + 'static,
    F: Fn(&mut T, &Record<'_>, Provenance) + Send + Sync + 'static,
    C: FnMut(ChunkResult<T>) -> anyhow::Result<bool>,
{
    process_with(opened, Arc::new(FnSink(each, std::marker::PhantomData)), consume)
}

/// A multi-line record's continuation lines (`rest`) joined to its
/// message, and how many lines it spans (`fields.lines`) and leaves out
/// (`fields.lines_dropped`).
fn join_lines(r: &mut Record<'_>, rest: Option<&[u8]>, span: &source::UnitSpan) {
    if let Some(rest) = rest {
        let mut m = String::with_capacity(r.message.len() + 1 + rest.len());
        m.push_str(&r.message);
        m.push('\n');
        m.push_str(&String::from_utf8_lossy(rest));
        r.message = std::borrow::Cow::Owned(m);
    }
    r.fields
        .push((std::borrow::Cow::Borrowed("lines"), crate::parse::Value::Int(span.lines as i64)));
    if span.dropped > 0 {
        r.fields.push((
            std::borrow::Cow::Borrowed("lines_dropped"),
            crate::parse::Value::Int(span.dropped as i64),
        ));
    }
}

/// [`process`] with a [`ChunkSink`].
pub fn process_with<S, C>(
    opened: Opened,
    sink: Arc<S>,
    mut consume: C,
) -> anyhow::Result<SourceStats>
where
    S: ChunkSink,
    C: FnMut(ChunkResult<S::Out>) -> anyhow::Result<bool>,
{
    let Opened { path, format, parser, chunk_size, mut start, range, multiline, reader } = opened;
    let start_offset = start.offset;
    let lookback = std::mem::take(&mut start.lookback);
    let (hold_record, resume) =
        (start.hold_record, ((start.offset, start.lines), start.before.clone()));
    let mut framer = source::resumed_framer(format.framing(), Box::new(reader), chunk_size, start);
    // Sessions look back before each chunk; whole multi-line records are
    // their own chunks' units, and the framer that joins them looks back).
    let needle = parser.session_needle();
    let multiline = multiline.filter(|_| format.framing() == source::Framing::Lines);
    if let Some(rule) = multiline {
        let (pos, before) = resume;
        // The bytes before the start: the sessions' look-back when read (it
        // ends where `before` does), else the checkpoint's tail.
        let before = if lookback.is_empty() { before } else { lookback };
        let m = source::multiline::MultiLine::new(
            framer,
            rule,
            hold_record,
            chunk_size,
            (pos, &before),
        );
        framer = Box::new(m);
    } else if needle.is_some() {
        framer = Box::new(source::behind::LookBehind::new(framer, (&lookback[..], start_offset)));
    }
    let work_path = Arc::clone(&path);
    let work = Arc::new(move |chunk: Chunk| {
        let mut acc = sink.begin();
        let (mut lines, mut records, mut outside, mut rejects) = (0, 0, 0, Vec::new());
        let in_range = |r: &Record<'_>| match (range, r.ts) {
            (None, _) => true,
            (Some((from, to)), Some(ts)) => from <= ts.secs && ts.secs < to,
            (Some(_), None) => false,
        };
        let reject = |prov: Provenance, reason| Reject {
            path: Arc::clone(&work_path),
            line: prov.line,
            index: prov.index,
            byte_offset: prov.byte_offset,
            reason,
        };
        // Sessions: a chunk's line is joined with the lines before the
        // chunk of its process too.
        let mut sessions = needle.map(|needle| Sessions::new(chunk.behind.clone(), needle));
        let parse_prior = |line: &[u8], f: &mut dyn FnMut(&mut Record<'_>)| {
            if let Outcome::Record(mut r) = parser.parse(line) {
                f(&mut r);
            }
        };
        let spans = chunk.units.as_deref().unwrap_or(&[]);
        let mut at = 0usize;
        chunk.for_each_unit(|unit, prov| {
            // A multi-line record: its first line parses, the rest joins
            // its message.
            let span = spans.get(at).filter(|s| s.lines > 1);
            at += 1;
            let (first, rest) = match span {
                Some(_) => match memchr::memchr(b'\n', unit) {
                    Some(i) => (&unit[..i], Some(&unit[i + 1..])),
                    None => (unit, None),
                },
                None => (unit, None),
            };
            lines += span.map_or(1, |s| s.lines as u64);
            match parser.parse(first) {
                Outcome::Record(mut r) => {
                    if let Some(s) = span {
                        join_lines(&mut r, rest, s);
                    }
                    if let Some(s) = sessions.as_mut() {
                        s.apply(&mut r, prov.byte_offset, &parse_prior);
                    }
                    match ts_out_of_range(&r) {
                        None if !in_range(&r) => outside += 1,
                        None => {
                            records += 1;
                            sink.record(&mut acc, &r, prov);
                        }
                        Some(reason) => rejects.push(reject(prov, reason)),
                    }
                }
                Outcome::Skip => {}
                Outcome::Reject(reason) => rejects.push(reject(prov, reason)),
            }
        });
        for (prov, reason) in &chunk.rejects {
            lines += 1;
            rejects.push(reject(*prov, reason.clone()));
        }
        ChunkResult {
            value: sink.end(acc),
            bytes: chunk.read.unwrap_or(chunk.data.len() as u64),
            lines,
            records,
            outside_range: outside,
            rejects,
        }
    });
    let mut stats =
        SourceStats { path: path.to_string(), format: format.to_string(), ..Default::default() };
    let bar = crate::progress::source(&path);
    bar.inc(start_offset);
    let ran = pipeline::run(framer, work, |res: ChunkResult<S::Out>| {
        crate::progress::advance(&bar, res.bytes, stats.records + res.records);
        stats.bytes += res.bytes;
        stats.lines += res.lines;
        stats.records += res.records;
        stats.outside_range += res.outside_range;
        stats.rejected += res.rejects.len() as u64;
        consume(res)
    });
    crate::progress::finish(&bar);
    let mut framer = ran.with_context(|| path.to_string())?;
    stats.notes = framer.notes();
    (stats.end_offset, stats.end_lines) = framer.position();
    stats.end_tail = framer.tail();
    // A digest file, and nothing else: skipped, not empty.
    if framer.digests() > 0 && stats.lines == 0 {
        stats.skipped = true;
    }
    Ok(stats)
}
