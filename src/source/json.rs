//! JSON framing for CloudTrail: the input is a stream of JSON values. A
//! `{"Records":[...]}` object (the S3 delivery format) or a top-level array
//! yields its elements as units; any other object is one unit (JSON lines).
//! A CloudTrail digest file is skipped with a note.
//!
//! The framer scans bytes (tracking strings and nesting) without building
//! values, and keeps only the current chunk and the unfinished element in
//! memory, so a `Records` document of hundreds of MB is never held whole.
//! Bytes that are not JSON become a unit of their own, up to the next line
//! end, which the parser then rejects with a reason.
//!
//! Memory is bounded on any input: a value (or a non-JSON run) longer than
//! [`MAX_VALUE`] is not buffered; it is scanned to its end with constant
//! memory and becomes a reject naming its size and offset. With
//! `hold_partial` (a live JSON-lines file), an event at the end of the input
//! that is not closed yet is left for the next run, as a line without its
//! line end is.

use super::Provenance;
use super::{Chunk, UnitSpan};
use memchr::{memchr, memmem};
use std::io::{self, Read};

/// The longest JSON value (one CloudTrail event) read; longer ones are
/// rejected without being held in memory.
pub const MAX_VALUE: usize = 8 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    TopLevel,
    /// Inside an array whose elements are units. `in_records` is true when
    /// the array is the value of `Records`, so its object must be closed after.
    Array {
        in_records: bool,
    },
    /// After the `Records` array: skip the container's remaining keys.
    RecordsTail,
}

enum Step {
    Unit(usize, usize),
    /// A value too long to hold starts here: scan past it with `Scan`.
    TooLong(usize, Scan),
    /// An unfinished event at the end of a live input: stop before it.
    Held(usize),
    Progress,
    NeedMore,
}

/// Finds the end of a value without holding it: the state of a scan that
/// has seen some of the value's bytes.
#[derive(Clone, Copy, Debug)]
enum Scan {
    /// Inside `{...}` or `[...]`.
    Nested { depth: usize, in_str: bool, esc: bool },
    /// Inside a string (past its opening quote).
    Str { esc: bool },
    /// A bare scalar, up to a delimiter.
    Scalar,
    /// Not JSON: up to the line end.
    Line,
}

impl Scan {
    fn new(first: u8, not_json: bool) -> Scan {
        match first {
            _ if not_json => Scan::Line,
            b'{' | b'[' => Scan::Nested { depth: 0, in_str: false, esc: false },
            b'"' => Scan::Str { esc: false },
            _ => Scan::Scalar,
        }
    }

    /// Feeds the next bytes of the value; returns the index just past its
    /// end when the value ends inside `b`.
    fn feed(&mut self, b: &[u8]) -> Option<usize> {
        match self {
            Scan::Line => memchr(b'\n', b).map(|i| i + 1),
            Scan::Scalar => {
                b.iter().position(|c| matches!(c, b',' | b']' | b'}') || c.is_ascii_whitespace())
            }
            Scan::Str { esc } => {
                for (i, &c) in b.iter().enumerate() {
                    if *esc {
                        *esc = false;
                    } else if c == b'\\' {
                        *esc = true;
                    } else if c == b'"' {
                        return Some(i + 1);
                    }
                }
                None
            }
            Scan::Nested { depth, in_str, esc } => {
                for (i, &c) in b.iter().enumerate() {
                    if *in_str {
                        if *esc {
                            *esc = false;
                        } else if c == b'\\' {
                            *esc = true;
                        } else if c == b'"' {
                            *in_str = false;
                        }
                        continue;
                    }
                    match c {
                        b'"' => *in_str = true,
                        b'{' | b'[' => *depth += 1,
                        b'}' | b']' => {
                            *depth = depth.saturating_sub(1);
                            if *depth == 0 {
                                return Some(i + 1);
                            }
                        }
                        _ => {}
                    }
                }
                None
            }
        }
    }
}

/// The reject reason for a value longer than [`MAX_VALUE`].
fn too_long(bytes: u64, offset: u64, more: &str) -> String {
    format!(
        "value of {bytes} bytes at byte {offset} is longer than the {} MiB limit{more}",
        MAX_VALUE >> 20
    )
}

/// A value being skipped because it is longer than [`MAX_VALUE`].
struct Skipping {
    scan: Scan,
    prov: Provenance,
    bytes: u64,
}

pub struct JsonFramer<R> {
    reader: R,
    chunk_size: usize,
    buf: Vec<u8>,
    pos: usize,
    /// Stream offset of `buf[0]`.
    buf_offset: u64,
    /// Line number at `buf[line_pos]`.
    line: u64,
    line_pos: usize,
    index: u64,
    state: State,
    eof: bool,
    /// Leave an unfinished last event for the next run.
    hold_partial: bool,
    /// The input stopped at an unfinished event (`hold_partial`).
    held: bool,
    skipping: Option<Skipping>,
    /// Rejects found while framing, for the next chunk.
    rejects: Vec<(Provenance, String)>,
    /// Bytes dropped from the front of `buf` (for `tail`).
    tail: super::Tail,
    notes: Vec<String>,
    /// Digest documents passed over.
    digests: u64,
}

impl<R: Read + Send> JsonFramer<R> {
    /// Continues an input whose first `start.offset` bytes were already
    /// consumed (JSON lines that grew).
    pub fn resume(mut self, start: super::Start) -> Self {
        self.buf_offset = start.offset;
        self.line = start.lines + 1;
        self.hold_partial = start.hold_partial;
        self.tail.push(&start.before);
        self
    }

    pub fn new(reader: R, chunk_size: usize) -> Self {
        JsonFramer {
            reader,
            chunk_size,
            buf: Vec::new(),
            pos: 0,
            buf_offset: 0,
            line: 1,
            line_pos: 0,
            index: 0,
            state: State::TopLevel,
            eof: false,
            hold_partial: false,
            held: false,
            skipping: None,
            rejects: Vec::new(),
            tail: super::Tail::default(),
            notes: Vec::new(),
            digests: 0,
        }
    }

    fn line_at(&mut self, pos: usize) -> u64 {
        self.line += memchr::memchr_iter(b'\n', &self.buf[self.line_pos..pos]).count() as u64;
        self.line_pos = pos;
        self.line
    }

    /// Drops consumed bytes and reads more. Returns false at end of input.
    fn refill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let keep_from = self.pos;
        self.line_at(keep_from);
        self.tail.push(&self.buf[..keep_from]);
        self.buf.drain(..keep_from);
        self.buf_offset += keep_from as u64;
        self.pos = 0;
        self.line_pos = 0;
        let len = self.buf.len();
        let grow = self.chunk_size.max(len);
        self.buf.resize(len + grow, 0);
        loop {
            match self.reader.read(&mut self.buf[len..]) {
                Ok(0) => {
                    self.buf.truncate(len);
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.truncate(len + n);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            }
        }
    }

    fn skip_ws(&mut self, commas: bool) {
        while self.pos < self.buf.len() {
            let c = self.buf[self.pos];
            if c.is_ascii_whitespace() || (commas && c == b',') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn step(&mut self) -> Step {
        match self.state {
            State::TopLevel => {
                self.skip_ws(false);
                let Some(&c) = self.buf.get(self.pos) else {
                    return Step::NeedMore;
                };
                match c {
                    b'[' => {
                        self.pos += 1;
                        self.state = State::Array { in_records: false };
                        Step::Progress
                    }
                    b'{' => self.top_object(),
                    _ => {
                        // Not JSON: one bad unit up to the line end.
                        let start = self.pos;
                        match memchr(b'\n', &self.buf[start..]) {
                            Some(i) => {
                                self.pos = start + i + 1;
                                Step::Unit(start, start + i)
                            }
                            None if self.eof => {
                                self.pos = self.buf.len();
                                Step::Unit(start, self.buf.len())
                            }
                            None => self.need_more(start, true),
                        }
                    }
                }
            }
            State::Array { in_records } => {
                self.skip_ws(true);
                let Some(&c) = self.buf.get(self.pos) else {
                    return Step::NeedMore;
                };
                if c == b']' {
                    self.pos += 1;
                    self.state = if in_records { State::RecordsTail } else { State::TopLevel };
                    return Step::Progress;
                }
                let start = self.pos;
                match value_end(&self.buf, start) {
                    Some(end) => {
                        self.pos = end;
                        Step::Unit(start, end)
                    }
                    None if self.eof => {
                        self.pos = self.buf.len();
                        Step::Unit(start, self.buf.len())
                    }
                    None => self.need_more(start, false),
                }
            }
            State::RecordsTail => {
                self.skip_ws(true);
                let Some(&c) = self.buf.get(self.pos) else {
                    return Step::NeedMore;
                };
                if c == b'}' {
                    self.pos += 1;
                    self.state = State::TopLevel;
                    return Step::Progress;
                }
                // "key": value
                let Some(key_end) = value_end(&self.buf, self.pos) else {
                    return self.need_or_skip(self.pos);
                };
                let mut p = key_end;
                while p < self.buf.len()
                    && (self.buf[p].is_ascii_whitespace() || self.buf[p] == b':')
                {
                    p += 1;
                }
                match value_end(&self.buf, p) {
                    Some(end) if p < self.buf.len() => {
                        self.pos = end;
                        Step::Progress
                    }
                    _ => self.need_or_skip(self.pos),
                }
            }
        }
    }

    fn need_or_skip(&mut self, start: usize) -> Step {
        if self.eof {
            self.pos = self.buf.len();
            self.notes.push("the CloudTrail document ends before its closing brace".into());
            Step::Progress
        } else {
            self.need_more(start, false)
        }
    }

    /// The value at `start` is not complete in the buffer: read more, or,
    /// when it is already too long to hold, skip it.
    fn need_more(&self, start: usize, not_json: bool) -> Step {
        if self.buf.len() - start > MAX_VALUE {
            Step::TooLong(start, Scan::new(self.buf[start], not_json))
        } else {
            Step::NeedMore
        }
    }

    /// At a top-level `{`: a `Records` container, a digest, or one event.
    fn top_object(&mut self) -> Step {
        let start = self.pos;
        // Is the first key "Records" with an array value?
        let mut p = start + 1;
        while p < self.buf.len() && self.buf[p].is_ascii_whitespace() {
            p += 1;
        }
        const KEY: &[u8] = b"\"Records\"";
        let avail = &self.buf[p..];
        if avail.len() < KEY.len() + 8
            && !self.eof
            && KEY.starts_with(&avail[..avail.len().min(KEY.len())])
        {
            return Step::NeedMore;
        }
        if avail.starts_with(KEY) {
            let mut q = p + KEY.len();
            while q < self.buf.len() && (self.buf[q].is_ascii_whitespace() || self.buf[q] == b':') {
                q += 1;
            }
            match self.buf.get(q) {
                Some(b'[') => {
                    self.pos = q + 1;
                    self.state = State::Array { in_records: true };
                    return Step::Progress;
                }
                None if !self.eof => return Step::NeedMore,
                _ => {}
            }
        }
        let end = match value_end(&self.buf, start) {
            Some(end) => end,
            None if self.eof && self.hold_partial => return Step::Held(start),
            None if self.eof => self.buf.len(),
            None => return self.need_more(start, false),
        };
        self.pos = end;
        let obj = &self.buf[start..end];
        if memmem::find(obj, b"\"digestStartTime\"").is_some()
            || memmem::find(obj, b"\"digestPublicKeyFingerprint\"").is_some()
        {
            self.notes.push("CloudTrail digest file skipped (it holds no events)".into());
            self.digests += 1;
            return Step::Progress;
        }
        Step::Unit(start, end)
    }
}

/// The end (exclusive) of the JSON value starting at `start`, or `None`
/// when the buffer ends first.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    let first = *b.get(start)?;
    match first {
        b'"' => string_end(b, start + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = string_end(b, i + 1)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        // A stray closer in a value that is not JSON: it
                        // ends there (the parser rejects it).
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let n = b[start..]
                .iter()
                .position(|c| matches!(c, b',' | b']' | b'}') || c.is_ascii_whitespace())?;
            Some(start + n.max(1))
        }
    }
}

/// `i` is just past an opening quote; returns the index past the closing one.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match memchr::memchr2(b'"', b'\\', &b[i..]) {
            Some(k) if b[i + k] == b'\\' => i += k + 2,
            Some(k) => return Some(i + k + 1),
            None => return None,
        }
    }
    None
}

impl<R: Read + Send> JsonFramer<R> {
    /// Scans past the value being skipped, dropping what it has read.
    /// Returns false while the value goes on past the input read so far.
    fn skip_long_value(&mut self) -> io::Result<bool> {
        let Some(sk) = self.skipping.as_mut() else { return Ok(true) };
        let avail = &self.buf[self.pos..];
        let fed = sk.scan.feed(avail);
        let avail_len = avail.len();
        let mut unfinished = false;
        match fed {
            Some(n) => {
                sk.bytes += n as u64;
                self.pos += n;
            }
            None => {
                sk.bytes += avail_len as u64;
                let line_scan = matches!(sk.scan, Scan::Line);
                self.pos = self.buf.len();
                if self.refill()? {
                    return Ok(false);
                }
                unfinished = !line_scan;
            }
        }
        let sk = self.skipping.take().expect("set above");
        let ended = if unfinished { " (the input ends inside it)" } else { "" };
        self.rejects.push((sk.prov, too_long(sk.bytes, sk.prov.byte_offset, ended)));
        Ok(true)
    }
}

impl<R: Read + Send> super::Framer for JsonFramer<R> {
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let mut data = Vec::with_capacity(self.chunk_size + 4096);
        let mut units = Vec::new();
        let mut first_offset = None;
        loop {
            if data.len() >= self.chunk_size || self.held || !self.rejects.is_empty() {
                break;
            }
            if self.skipping.is_some() {
                self.skip_long_value()?;
                continue;
            }
            match self.step() {
                Step::Unit(s, e) if e - s > MAX_VALUE => {
                    // Complete, but too long to pass on.
                    self.index += 1;
                    let prov = Provenance {
                        line: self.line_at(s),
                        index: Some(self.index),
                        byte_offset: self.buf_offset + s as u64,
                    };
                    self.rejects.push((prov, too_long((e - s) as u64, prov.byte_offset, "")));
                }
                Step::Unit(s, e) => {
                    self.index += 1;
                    let line = self.line_at(s);
                    let byte_offset = self.buf_offset + s as u64;
                    first_offset.get_or_insert(byte_offset);
                    let start = data.len();
                    data.extend_from_slice(&self.buf[s..e]);
                    units.push(UnitSpan {
                        lines: 0,
                        dropped: 0,
                        start,
                        end: data.len(),
                        line,
                        index: Some(self.index),
                        byte_offset,
                    });
                    data.push(b'\n');
                }
                Step::TooLong(s, scan) => {
                    self.index += 1;
                    let prov = Provenance {
                        line: self.line_at(s),
                        index: Some(self.index),
                        byte_offset: self.buf_offset + s as u64,
                    };
                    // A string's scan starts past its opening quote.
                    let quote = usize::from(matches!(scan, Scan::Str { .. }));
                    self.pos = s + quote;
                    self.skipping = Some(Skipping { scan, prov, bytes: quote as u64 });
                }
                Step::Held(s) => {
                    self.pos = s;
                    let line = self.line_at(s);
                    self.notes.push(format!(
                        "the event at line {line} is not finished yet and was left for the next run"
                    ));
                    self.held = true;
                }
                Step::Progress => {}
                Step::NeedMore => {
                    if !self.refill()? {
                        // End of input: whatever is left is trailing whitespace
                        // or was handled by the eof branches of `step`.
                        if self.pos >= self.buf.len()
                            || self.buf[self.pos..].iter().all(u8::is_ascii_whitespace)
                        {
                            self.pos = self.buf.len();
                            break;
                        }
                    }
                }
            }
        }
        let rejects = std::mem::take(&mut self.rejects);
        if units.is_empty() && rejects.is_empty() {
            return Ok(None);
        }
        let first_line = units.first().map_or_else(|| rejects[0].0.line, |u| u.line);
        Ok(Some(Chunk {
            data,
            first_line,
            byte_offset: first_offset.unwrap_or(0),
            units: Some(units),
            rejects,
            behind: None,
            read: None,
        }))
    }

    fn notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn digests(&self) -> u64 {
        self.digests
    }

    fn position(&self) -> (u64, u64) {
        let lines = self.line - 1
            + memchr::memchr_iter(b'\n', &self.buf[self.line_pos..self.pos]).count() as u64;
        (self.buf_offset + self.pos as u64, lines)
    }

    fn tail(&self) -> Vec<u8> {
        self.tail.with(&self.buf[..self.pos])
    }
}

#[cfg(test)]
mod tests {
    use super::super::Framer;
    use super::*;

    fn units(input: &str, chunk: usize) -> (Vec<(u64, u64, String)>, Vec<String>) {
        let mut f = JsonFramer::new(input.as_bytes(), chunk);
        let mut out = Vec::new();
        while let Some(c) = f.next_chunk().unwrap() {
            c.for_each_unit(|u, p| {
                out.push((p.line, p.index.unwrap(), String::from_utf8_lossy(u).into_owned()))
            });
        }
        (out, f.notes())
    }

    #[test]
    fn records_document_arrays_and_lines() {
        let input =
            "{\"Records\":[{\"a\":\"x]}\\\"\"},\n {\"b\":[1,{}]}]}\n[{\"c\":1}]\n{\"d\":2}\n";
        for chunk in [1, 2, 3, 5, 8, 64] {
            let (got, notes) = units(input, chunk);
            let texts: Vec<&str> = got.iter().map(|(_, _, s)| s.as_str()).collect();
            assert_eq!(
                texts,
                ["{\"a\":\"x]}\\\"\"}", "{\"b\":[1,{}]}", "{\"c\":1}", "{\"d\":2}"],
                "chunk {chunk}"
            );
            let lines: Vec<u64> = got.iter().map(|u| u.0).collect();
            assert_eq!(lines, [1, 2, 3, 4]);
            assert!(notes.is_empty());
        }
    }

    #[test]
    fn digest_is_skipped_with_a_note() {
        let (got, notes) = units(
            r#"{"awsAccountId":"1","digestStartTime":"2023-07-10T11:00:00Z","logFiles":[]}"#,
            16,
        );
        assert!(got.is_empty());
        assert_eq!(notes, ["CloudTrail digest file skipped (it holds no events)"]);
    }

    #[test]
    fn garbage_and_truncation_become_units() {
        let (got, _) = units("not json\n{\"Records\":[{\"a\":1},{\"b\":", 4);
        let texts: Vec<&str> = got.iter().map(|(_, _, s)| s.as_str()).collect();
        assert_eq!(texts, ["not json", "{\"a\":1}", "{\"b\":"]);
    }

    #[test]
    fn a_value_over_the_limit_is_one_reject_and_reading_goes_on() {
        for (input, kind) in [
            (
                format!("{{\"Records\":[{{\"a\":\"{}\"}},{{\"b\":1}}]}}", "x".repeat(MAX_VALUE)),
                "object",
            ),
            (format!("[\"{}\",{{\"b\":1}}]", "x".repeat(MAX_VALUE)), "string"),
            (format!("{}\n{{\"b\":1}}\n", "x".repeat(MAX_VALUE + 1)), "not json"),
        ] {
            let mut f = JsonFramer::new(input.as_bytes(), 1 << 16);
            let (mut texts, mut rejects) = (Vec::new(), Vec::new());
            while let Some(c) = f.next_chunk().unwrap() {
                c.for_each_unit(|u, _| texts.push(String::from_utf8_lossy(u).into_owned()));
                rejects.extend(c.rejects);
            }
            assert!(texts == ["{\"b\":1}"], "{kind}: {} units", texts.len());
            assert_eq!(rejects.len(), 1, "{kind}");
            assert!(
                rejects[0].1.contains("is longer than the 8 MiB limit"),
                "{kind}: {}",
                rejects[0].1
            );
            assert_eq!(rejects[0].0.index, Some(1), "{kind}");
            assert_eq!(f.position().0, input.len() as u64, "{kind}");
        }
    }

    #[test]
    fn an_unfinished_last_event_of_a_live_file_is_held_back() {
        let input = "{\"a\":1}\n{\"b\":[1,";
        let start = crate::source::Start { hold_partial: true, ..Default::default() };
        let mut f = JsonFramer::new(input.as_bytes(), 4).resume(start);
        let mut texts = Vec::new();
        while let Some(c) = f.next_chunk().unwrap() {
            c.for_each_unit(|u, _| texts.push(String::from_utf8_lossy(u).into_owned()));
        }
        assert_eq!(texts, ["{\"a\":1}"]);
        assert_eq!(f.position(), (8, 1));
        assert_eq!(f.tail(), b"{\"a\":1}\n");
        assert_eq!(
            f.notes(),
            ["the event at line 2 is not finished yet and was left for the next run"]
        );
    }
}
