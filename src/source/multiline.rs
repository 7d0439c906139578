//! Multi-line records: a stack trace, an indented continuation, nginx's
//! FastCGI `PHP message:` lines, joined to the line that starts their
//! record before anything parses them.
//!
//! [`MultiLine`] sits on a line framer and hands on chunks whose units are
//! whole records: a record is never split across chunks, so the same
//! records come out however the input is cut. The last record of a live
//! file (a load that may resume) is held back, because more of it may
//! still be written: until a line that starts a record follows it, or the
//! file has not been written to for a while (the caller decides; see
//! `store::load`). Its first line is where the next load resumes, so every
//! line is loaded once.
//!
//! A record keeps at most `max_lines` lines and `max_bytes` bytes; the
//! lines past that are consumed with it and counted (the record's
//! `fields.lines` says how many lines it spans, `fields.lines_dropped` how
//! many of them its message leaves out), never read as records of their own.

use super::identity::FP_LEN;
use super::{Chunk, Framer, Provenance, Tail, UnitSpan};
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

/// How continuation lines are told from the lines that start a record.
#[derive(Clone, Debug)]
pub enum Mode {
    /// A line that starts with a space or a tab continues the record.
    Indented,
    /// Java: `\tat …`, `\t... 12 more`, `Caused by: …`, `Suppressed: …`,
    /// and the exception's own line (`java.lang.IllegalStateException: …`).
    Java,
    /// Python: `Traceback (most recent call last):`, its indented frames,
    /// the chained-exception phrases and the closing `ValueError: …` line.
    Python,
    /// Go: a panic (`panic: …`, `goroutine 1 [running]:`, the frames and
    /// their indented file lines, `exit status 2`).
    Go,
    /// A line the pattern matches starts a record; the others continue it.
    Start(regex::bytes::Regex),
    /// A line the pattern matches continues the record.
    Continuation(regex::bytes::Regex),
    /// No joining (`multiline = "none"`: not even the format's default).
    Off,
}

/// A source's multi-line rule.
#[derive(Clone, Debug)]
pub struct Multiline {
    pub mode: Mode,
    /// Lines a record keeps (the rest are counted).
    pub max_lines: usize,
    /// Bytes a record keeps.
    pub max_bytes: usize,
}

/// How long a file must rest (not be written to) before the record at its
/// end is taken as complete, as Filebeat's `multiline.timeout`.
pub const REST: std::time::Duration = std::time::Duration::from_secs(5);

/// The defaults of `max_lines` and `max_bytes`.
pub const MAX_LINES: usize = 500;
pub const MAX_BYTES: usize = 64 << 10;

impl PartialEq for Mode {
    fn eq(&self, other: &Mode) -> bool {
        match (self, other) {
            (Mode::Start(a), Mode::Start(b)) | (Mode::Continuation(a), Mode::Continuation(b)) => {
                a.as_str() == b.as_str()
            }
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl PartialEq for Multiline {
    fn eq(&self, other: &Multiline) -> bool {
        self.mode == other.mode
            && self.max_lines == other.max_lines
            && self.max_bytes == other.max_bytes
    }
}

impl Multiline {
    /// A preset by name: `indented`, `java`, `python`, `go`.
    pub fn preset(name: &str) -> Option<Multiline> {
        let mode = match name {
            "indented" => Mode::Indented,
            "java" => Mode::Java,
            "python" => Mode::Python,
            "go" => Mode::Go,
            "none" => Mode::Off,
            _ => return None,
        };
        Some(Multiline { mode, max_lines: MAX_LINES, max_bytes: MAX_BYTES })
    }

    /// The command line's `--multiline`: a preset, `start:<regex>` or
    /// `continuation:<regex>`.
    pub fn from_arg(arg: &str) -> Result<Multiline, String> {
        if let Some(p) = arg.strip_prefix("start:") {
            return Multiline::pattern(true, p);
        }
        if let Some(p) = arg.strip_prefix("continuation:") {
            return Multiline::pattern(false, p);
        }
        Multiline::preset(arg).ok_or_else(|| {
            format!("unknown rule {arg:?} (expected indented, java, python, go, none, start:<regex> or continuation:<regex>)")
        })
    }

    /// The rule to read with: `none` turns joining off.
    pub fn active(self) -> Option<Multiline> {
        (!matches!(self.mode, Mode::Off)).then_some(self)
    }

    /// `start`/`continuation` patterns.
    pub fn pattern(start: bool, pattern: &str) -> Result<Multiline, String> {
        let re = regex::bytes::Regex::new(pattern).map_err(|e| e.to_string())?;
        let mode = if start { Mode::Start(re) } else { Mode::Continuation(re) };
        Ok(Multiline { mode, max_lines: MAX_LINES, max_bytes: MAX_BYTES })
    }
}

/// Tells lines apart, keeping what a stack trace's shape needs.
struct Classifier {
    mode: Mode,
    /// Python: where in a traceback.
    trace: Trace,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trace {
    None,
    /// Its frames.
    Frames,
    /// After its exception's line: a chained one may follow.
    After,
}

fn indented(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
}

/// `java.lang.IllegalStateException: boom`, `com.x.MyError`: a dotted class
/// name ending in Exception, Error or Throwable, alone or before `: `.
fn exception_line(line: &[u8]) -> bool {
    let name_len = line
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$'))
        .count();
    let name = &line[..name_len];
    let rest = &line[name_len..];
    name.contains(&b'.')
        && (name.ends_with(b"Exception")
            || name.ends_with(b"Error")
            || name.ends_with(b"Throwable"))
        && (rest.is_empty() || rest.starts_with(b": "))
}

/// Python's last line of a traceback: `ValueError: bad`, `KeyboardInterrupt`,
/// `requests.exceptions.HTTPError: 500`.
fn python_exception_line(line: &[u8]) -> bool {
    let name_len =
        line.iter().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_')).count();
    name_len > 0
        && line[0].is_ascii_alphabetic()
        && (line.len() == name_len || line[name_len..].starts_with(b": "))
}

impl Classifier {
    /// Whether `line` continues the record before it.
    fn continues(&mut self, line: &[u8]) -> bool {
        match &self.mode {
            Mode::Indented => indented(line),
            Mode::Java => {
                (indented(line) && {
                    let t = line.trim_ascii_start();
                    t.starts_with(b"at ")
                        || t.starts_with(b"...")
                        || t.starts_with(b"Suppressed: ")
                        || t.starts_with(b"Caused by: ")
                }) || line.starts_with(b"Caused by: ")
                    || exception_line(line)
            }
            Mode::Python => {
                if line.starts_with(b"Traceback (most recent call last):") {
                    self.trace = Trace::Frames;
                    return true;
                }
                let chained = line.starts_with(b"During handling of the above exception")
                    || line.starts_with(b"The above exception was the direct cause");
                match self.trace {
                    Trace::None => false,
                    Trace::Frames if indented(line) || line.is_empty() || chained => true,
                    Trace::Frames => {
                        // The exception's line ends the frames.
                        let exc = python_exception_line(line);
                        self.trace = if exc { Trace::After } else { Trace::None };
                        exc
                    }
                    Trace::After if line.is_empty() => true,
                    Trace::After if chained => {
                        self.trace = Trace::Frames;
                        true
                    }
                    Trace::After => {
                        self.trace = Trace::None;
                        false
                    }
                }
            }
            Mode::Go => {
                indented(line)
                    || line.is_empty()
                    || line.starts_with(b"panic: ")
                    || line.starts_with(b"fatal error: ")
                    || line.starts_with(b"goroutine ")
                    || line.starts_with(b"created by ")
                    || line.starts_with(b"exit status ")
                    || line.starts_with(b"[signal ")
                    || (line.ends_with(b")") && line.contains(&b'(') && !line.contains(&b' '))
            }
            Mode::Start(re) => !re.is_match(line),
            Mode::Continuation(re) => re.is_match(line),
            Mode::Off => false,
        }
    }
}

/// The record being joined.
struct Open {
    /// Where its first line starts in the input, and its number.
    offset: u64,
    line: u64,
    /// Where what the record keeps (its first line, then `\n` and each kept
    /// line) starts and ends in the output being assembled.
    at: usize,
    end: usize,
    lines: u64,
    dropped: u64,
}

/// The raw bytes read last, as the inner framer's chunks (shared, not
/// copied): where they start, and whether that is a line start.
struct Raw {
    from: u64,
    whole: bool,
    parts: VecDeque<Arc<Vec<u8>>>,
    len: u64,
}

impl Raw {
    fn end(&self) -> u64 {
        self.from + self.len
    }

    /// Adds the bytes read at `offset`; after a gap (a line skipped for its
    /// length), they start again there.
    fn push(&mut self, offset: u64, data: Arc<Vec<u8>>) {
        if self.end() != offset {
            (self.from, self.whole, self.len) = (offset, true, 0);
            self.parts.clear();
        }
        self.len += data.len() as u64;
        self.parts.push_back(data);
    }

    /// Appends the bytes kept in `a..b` to `out`.
    fn copy(&self, a: u64, b: u64, out: &mut Vec<u8>) {
        let mut at = self.from;
        for p in &self.parts {
            let end = at + p.len() as u64;
            let (s, e) = (a.max(at), b.min(end));
            if s < e {
                out.extend_from_slice(&p[(s - at) as usize..(e - at) as usize]);
            }
            if end >= b {
                break;
            }
            at = end;
        }
    }

    /// Where the bytes kept would start after [`Raw::trim`].
    fn trimmed_from(&self, keep_from: u64) -> u64 {
        let mut from = self.from;
        for p in self.parts.iter().take(self.parts.len().saturating_sub(1)) {
            if from + p.len() as u64 > keep_from {
                break;
            }
            from += p.len() as u64;
        }
        from
    }

    /// Drops the parts that end at or before `keep_from` (never the last).
    fn trim(&mut self, keep_from: u64) {
        while self.parts.len() > 1 {
            let n = self.parts[0].len() as u64;
            if self.from + n > keep_from {
                break;
            }
            let first = self.parts.pop_front().expect("a part");
            self.whole = matches!(first.last(), Some(b'\n' | b'\r'));
            (self.from, self.len) = (self.from + n, self.len - n);
        }
    }
}

/// A framer of whole multi-line records over a line framer.
pub struct MultiLine {
    inner: Box<dyn Framer>,
    rule: Multiline,
    classify: Classifier,
    /// Hold back the last record at the end (a live file).
    hold: bool,
    chunk_size: usize,
    open: Option<Open>,
    /// Records joined, not yet handed on: the input's bytes as read, each
    /// record's text joined in place (it is never longer than the lines it
    /// comes from; with `\n` line ends and nothing dropped it is those
    /// lines as they are, and nothing moves).
    out: Vec<u8>,
    units: Vec<UnitSpan>,
    /// The input's position after the last record closed, and the bytes
    /// before it.
    closed: (u64, u64),
    tail: Tail,
    /// The inner framer reached its end.
    ended: bool,
    notes: Vec<String>,
    /// The raw bytes read last (at least the look-behind window, or the
    /// checkpoint's tail, before the position); the bytes before the chunk
    /// being assembled.
    recent: Raw,
    behind: Option<std::sync::Arc<super::behind::Behind>>,
    /// Raw bytes of the records joined since the last chunk.
    read: u64,
    /// Where `tail` was taken (the start, or before the raw bytes kept went
    /// past it).
    tail_at: u64,
}

impl MultiLine {
    pub fn new(
        inner: Box<dyn Framer>,
        rule: Multiline,
        hold: bool,
        chunk_size: usize,
        (start, before): ((u64, u64), &[u8]),
    ) -> MultiLine {
        let classify = Classifier { mode: rule.mode.clone(), trace: Trace::None };
        let mut tail = Tail::default();
        tail.push(before);
        MultiLine {
            inner,
            rule,
            classify,
            hold,
            chunk_size,
            open: None,
            out: Vec::with_capacity(2 * chunk_size + 4096),
            units: Vec::new(),
            closed: start,
            tail,
            ended: false,
            notes: Vec::new(),
            recent: Raw {
                from: start.0 - before.len() as u64,
                whole: start.0 == before.len() as u64,
                len: before.len() as u64,
                parts: VecDeque::from([Arc::new(before.to_vec())]),
            },
            behind: None,
            read: 0,
            tail_at: start.0,
        }
    }

    /// Closes the open record: it becomes a unit, and the position moves
    /// past it.
    fn close(&mut self, next: (u64, u64)) {
        let Some(o) = self.open.take() else { return };
        let raw = &self.recent;
        // The chunk's first record: the bytes before it look back.
        if self.units.is_empty() && o.offset > raw.from {
            let upto = (o.offset - raw.from).min(raw.len);
            let keep = super::behind::WINDOW.min(upto);
            let at_start = upto == keep && raw.whole;
            let mut bytes = Vec::with_capacity(keep as usize);
            raw.copy(raw.from + upto - keep, raw.from + upto, &mut bytes);
            let b = super::behind::window(o.offset - keep, &bytes, &[], at_start);
            if !b.1.is_empty() {
                self.behind = Some(std::sync::Arc::new(b));
            }
        }
        self.units.push(UnitSpan {
            start: o.at,
            end: o.end,
            line: o.line,
            index: None,
            byte_offset: o.offset,
            lines: o.lines as u32,
            dropped: o.dropped as u32,
        });
        self.read += next.0 - o.offset;
        self.closed = next;
    }

    /// Takes one line: `out[at..at + len]`, at `offset` of the input,
    /// number `no`.
    fn line(&mut self, at: usize, len: usize, offset: u64, no: u64) {
        // (The classifier sees every line: a traceback may start a file.)
        let continues = self.classify.continues(&self.out[at..at + len]) && self.open.is_some();
        if !continues {
            // A record starts here: the one before ends.
            self.close((offset, no - 1));
            self.open = Some(Open { offset, line: no, at, end: at + len, lines: 1, dropped: 0 });
            return;
        }
        let (max_lines, max_bytes) = (self.rule.max_lines as u64, self.rule.max_bytes);
        let o = self.open.as_mut().expect("a record is open");
        o.lines += 1;
        if o.lines > max_lines || o.end - o.at + 1 + len > max_bytes {
            o.dropped += 1;
        } else if at == o.end + 1 && self.out[o.end] == b'\n' {
            // Right after the record's text, one `\n` between: in place.
            o.end = at + len;
        } else {
            // After a `\r\n` or a line dropped: moved up to the text.
            self.out[o.end] = b'\n';
            self.out.copy_within(at..at + len, o.end + 1);
            o.end += 1 + len;
        }
    }

    /// Trims the raw bytes kept to what may still be needed.
    fn trim_raw(&mut self) {
        let raw = &mut self.recent;
        let w = super::behind::WINDOW;
        let end = raw.end();
        if raw.len > 4 * w {
            // Keep the window before the open record (the next chunk may
            // start with it), unless that record is itself huge; and the
            // last window's worth.
            let open_at = self.open.as_ref().map_or(end, |o| o.offset);
            let last = end - w;
            let keep_from =
                if end - open_at > 2 * w { last } else { open_at.saturating_sub(w).min(last) };
            // The checkpoint's tail may lie in what goes: keep it first.
            let (closed, from) = (self.closed.0, raw.trimmed_from(keep_from));
            if from > raw.from && from > closed.saturating_sub(FP_LEN as u64) {
                let upto = closed.min(raw.end());
                let mut bytes = Vec::with_capacity(FP_LEN);
                raw.copy(upto.saturating_sub(FP_LEN as u64), upto, &mut bytes);
                self.tail = Tail::default();
                self.tail.push(&bytes);
                self.tail_at = closed;
            }
            raw.trim(keep_from);
        }
    }

    fn take(&mut self) -> Option<Chunk> {
        if self.units.is_empty() {
            return None;
        }
        // The open record's bytes stay for the next chunk, in a buffer that
        // holds what the next chunk reads (two inner chunks, mostly) without
        // growing.
        let mut rest = Vec::with_capacity(2 * self.chunk_size + 4096);
        if let Some(o) = &mut self.open {
            rest.extend_from_slice(&self.out[o.at..]);
            self.out.truncate(o.at);
            o.end -= o.at;
            o.at = 0;
        }
        let first = &self.units[0];
        let (first_line, byte_offset) = (first.line, first.byte_offset);
        Some(Chunk {
            data: std::mem::replace(&mut self.out, rest),
            first_line,
            byte_offset,
            units: Some(std::mem::take(&mut self.units)),
            rejects: Vec::new(),
            behind: self.behind.take(),
            read: Some(std::mem::take(&mut self.read)),
        })
    }
}

impl Framer for MultiLine {
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        // Closed records' bytes (the open one's are at the end of `out`).
        while !self.ended && self.units.last().map_or(0, |u| u.end) < self.chunk_size {
            let Some(chunk) = self.inner.next_chunk()? else {
                self.ended = true;
                let end = self.inner.position();
                match &self.open {
                    Some(o) if self.hold => self.notes.push(format!(
                        "the record at line {} may not be complete yet and was left for the next run",
                        o.line
                    )),
                    _ => self.close(end),
                }
                break;
            };
            // A line too long for the framer: a reject of its own.
            if !chunk.rejects.is_empty() && chunk.data.is_empty() {
                let (prov, reason) = chunk.rejects[0].clone();
                let (offset, no) = (prov.byte_offset, prov.line);
                self.close((offset, no - 1));
                let after = self.inner.position();
                self.closed = after;
                let mut out = self.take();
                let c = out.get_or_insert_with(|| Chunk {
                    data: Vec::new(),
                    first_line: no,
                    byte_offset: offset,
                    units: Some(Vec::new()),
                    rejects: Vec::new(),
                    behind: None,
                    read: None,
                });
                c.rejects.push((Provenance { line: no, index: None, byte_offset: offset }, reason));
                return Ok(out);
            }
            // The chunk's bytes go after the open record's text, as they are;
            // its lines are joined in place.
            let data = Arc::new(chunk.data);
            self.recent.push(chunk.byte_offset, Arc::clone(&data));
            let base = self.out.len();
            self.out.extend_from_slice(&data);
            super::lines::for_each_line(&data, chunk.first_line, |line, no, off| {
                self.line(base + off, line.len(), chunk.byte_offset + off as u64, no);
            });
            // What follows the open record's text was joined (or dropped);
            // its line end stays, as the next chunk's lines expect.
            if let Some(o) = &self.open {
                self.out.truncate(o.end);
                self.out.push(b'\n');
            }
            self.trim_raw();
        }
        Ok(self.take())
    }

    fn notes(&mut self) -> Vec<String> {
        let mut n = self.inner.notes();
        n.append(&mut self.notes);
        n
    }

    fn digests(&self) -> u64 {
        self.inner.digests()
    }

    fn position(&self) -> (u64, u64) {
        if self.ended && self.open.is_none() {
            self.inner.position()
        } else {
            self.closed
        }
    }

    fn tail(&self) -> Vec<u8> {
        // The bytes before the position: from the raw bytes kept, unless a
        // snapshot was taken for it.
        let (pos, _) = self.position();
        let raw = &self.recent;
        if self.tail_at == pos || pos < raw.from {
            return self.tail.0.clone();
        }
        let upto = pos.min(raw.end());
        let mut t = self.tail.clone();
        if upto - raw.from < FP_LEN as u64 && raw.from > self.tail_at {
            // Not enough kept before the position: what is, after the tail known.
            t = Tail::default();
        }
        let mut bytes = Vec::with_capacity(FP_LEN);
        raw.copy(upto.saturating_sub(FP_LEN as u64), upto, &mut bytes);
        t.push(&bytes);
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(mode: Mode, lines: &[&str]) -> Vec<bool> {
        let mut c = Classifier { mode, trace: Trace::None };
        lines.iter().map(|l| c.continues(l.as_bytes())).collect()
    }

    /// The records of `input` joined by the indented rule with the caps,
    /// line by line: (first line, text, lines, dropped).
    fn reference(input: &[u8], max_lines: u64, max_bytes: usize) -> Vec<(u64, Vec<u8>, u32, u32)> {
        let mut out: Vec<(u64, Vec<u8>, u32, u32)> = Vec::new();
        super::super::lines::for_each_line(input, 1, |line, no, _| match out.last_mut() {
            Some((_, text, lines, dropped)) if indented(line) => {
                *lines += 1;
                if *lines as u64 > max_lines || text.len() + 1 + line.len() > max_bytes {
                    *dropped += 1;
                } else {
                    text.push(b'\n');
                    text.extend_from_slice(line);
                }
            }
            _ => out.push((no, line.to_vec(), 1, 0)),
        });
        out
    }

    #[test]
    fn records_are_the_same_however_the_input_is_cut() {
        let input: &[u8] = b"first\r\n\tcont a\r\n\tcont b\nsecond\n  x\n  y\n  z\n  \
            a long continuation line\nthird\r\n fourth?\rfifth\n\tlast\n\tlast2";
        for (max_lines, max_bytes) in [(500, 65536), (3, 65536), (500, 12), (2, 20)] {
            let want = reference(input, max_lines as u64, max_bytes);
            for chunk in 1..48 {
                let inner = Box::new(super::super::lines::LineFramer::new(input, chunk));
                let rule = Multiline { mode: Mode::Indented, max_lines, max_bytes };
                let mut m = MultiLine::new(inner, rule, false, chunk, ((0, 0), &[]));
                let mut got = Vec::new();
                while let Some(c) = m.next_chunk().unwrap() {
                    for u in c.units.as_ref().unwrap() {
                        got.push((u.line, c.data[u.start..u.end].to_vec(), u.lines, u.dropped));
                    }
                }
                assert_eq!(got, want, "chunk {chunk}, caps {max_lines} lines {max_bytes} bytes");
                assert_eq!(m.position(), (input.len() as u64, 13));
            }
        }
    }

    #[test]
    fn stack_trace_shapes() {
        let java = [
            "2024-01-01 12:00:00 ERROR [main] app - failed",
            "java.lang.IllegalStateException: boom",
            "\tat com.example.App.run(App.java:10)",
            "\t... 12 more",
            "Caused by: java.io.IOException: reset",
            "\tSuppressed: java.lang.RuntimeException",
            "2024-01-01 12:00:01 INFO [main] app - next",
        ];
        assert_eq!(classify(Mode::Java, &java), [false, true, true, true, true, true, false]);
        let python = [
            "2024-01-01 12:00:00,123 ERROR app: failed",
            "Traceback (most recent call last):",
            "  File \"x.py\", line 1, in <module>",
            "    foo()",
            "ValueError: bad",
            "2024-01-01 12:00:01,000 INFO app: next",
        ];
        assert_eq!(classify(Mode::Python, &python), [false, true, true, true, true, false]);
        let go = [
            "2024/01/01 12:00:00 starting",
            "panic: runtime error: index out of range [5] with length 3",
            "",
            "goroutine 1 [running]:",
            "main.main()",
            "\t/tmp/x.go:8 +0x1d",
            "exit status 2",
            "2024/01/01 12:00:01 restarted",
        ];
        assert_eq!(classify(Mode::Go, &go), [false, true, true, true, true, true, true, false]);
    }
}
