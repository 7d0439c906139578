//! Line framing: read big blocks, cut each at its last line end, carry the
//! unfinished tail into the next block (ripgrep's `line_buffer` idea). Line
//! ends are `\n`, `\r\n` and a lone `\r`.

use super::{Chunk, UnitSpan};
use memchr::{memchr, memchr2, memchr2_iter, memrchr};
use std::io::{self, Read};

/// A line longer than this is not held: it is read past with constant
/// memory and becomes one reject naming its size, so one runaway line
/// cannot exhaust memory.
pub const MAX_LINE: usize = 8 << 20;

pub struct LineFramer<R> {
    reader: R,
    chunk_size: usize,
    carry: Vec<u8>,
    next_line: u64,
    offset: u64,
    eof: bool,
    /// The previous chunk ended with `\r`: a `\n` starting this one is part of that line end.
    pending_cr: bool,
    /// Leave a last line without a line end unread (it may still be being
    /// written); `position` then stops before it.
    hold_partial: bool,
    tail: super::Tail,
    notes: Vec<String>,
    /// CSV: a line end inside a quoted cell does not end the unit.
    csv: bool,
}

impl<R: Read + Send> LineFramer<R> {
    pub fn new(reader: R, chunk_size: usize) -> Self {
        LineFramer {
            reader,
            chunk_size,
            carry: Vec::new(),
            next_line: 1,
            offset: 0,
            eof: false,
            pending_cr: false,
            hold_partial: false,
            tail: super::Tail::default(),
            notes: Vec::new(),
            csv: false,
        }
    }

    /// Units are CSV records: a line end inside a quoted cell (RFC 4180
    /// quotes, `""` inside) belongs to the record. Records end at `\n` or
    /// `\r\n`. A chunk always starts outside quotes, since it starts where
    /// a record did.
    pub fn csv_records(mut self) -> Self {
        self.csv = true;
        self
    }

    /// Where a chunk may be cut: after the last line end (outside quotes,
    /// for CSV).
    fn last_end(&self, data: &[u8]) -> Option<usize> {
        if self.csv {
            return csv_ends(data).last().map(|&e| e + 1);
        }
        // Prefer the last '\n'; a file with only lone '\r' ends cuts at a
        // '\r' that is not the last byte (it could be half of "\r\n").
        if let Some(i) = memrchr(b'\n', data) {
            return Some(i + 1);
        }
        memrchr(b'\r', &data[..data.len().saturating_sub(1)]).map(|i| i + 1)
    }

    /// Continues an input whose first `start.offset` bytes were already
    /// consumed by the caller, optionally holding back an unterminated last
    /// line.
    pub fn resume(mut self, start: super::Start) -> Self {
        self.offset = start.offset;
        self.next_line = start.lines + 1;
        self.hold_partial = start.hold_partial;
        self.tail.push(&start.before);
        self
    }

    fn fill(&mut self, data: &mut Vec<u8>, want: usize) -> io::Result<()> {
        while data.len() < want && !self.eof {
            let len = data.len();
            data.resize(want, 0);
            match self.reader.read(&mut data[len..]) {
                Ok(0) => {
                    data.truncate(len);
                    self.eof = true;
                }
                Ok(n) => data.truncate(len + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => data.truncate(len),
                Err(e) => {
                    data.truncate(len);
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl<R: Read + Send> LineFramer<R> {
    /// `data` is the start of a line longer than [`MAX_LINE`] (it holds no
    /// line end): reads to its end without keeping it and returns a chunk
    /// with no data and one reject.
    fn skip_long_line(&mut self, mut data: Vec<u8>) -> io::Result<Chunk> {
        let (line, byte_offset) = (self.next_line, self.offset);
        let mut len = 0u64;
        loop {
            match memchr2(b'\n', b'\r', &data) {
                Some(i) => {
                    let crlf = data[i] == b'\r' && data.get(i + 1) == Some(&b'\n');
                    let end = i + 1 + usize::from(crlf);
                    // A '\r' at the very end may be half of "\r\n".
                    self.pending_cr = data[i] == b'\r' && end == data.len();
                    len += i as u64;
                    self.tail.push(&data[..end]);
                    self.offset += len + (end - i) as u64;
                    self.carry = data.split_off(end);
                    break;
                }
                None => {
                    len += data.len() as u64;
                    self.tail.push(&data);
                    data.clear();
                    self.fill(&mut data, self.chunk_size)?;
                    if data.is_empty() {
                        self.offset += len;
                        break;
                    }
                }
            }
        }
        self.next_line += 1;
        let prov = super::Provenance { line, index: None, byte_offset };
        let reason = format!("line of {len} bytes is longer than the {} MiB limit", MAX_LINE >> 20);
        Ok(Chunk {
            data: Vec::new(),
            first_line: line,
            byte_offset,
            units: None,
            rejects: vec![(prov, reason)],
            behind: None,
            read: None,
        })
    }
}

impl<R: Read + Send> super::Framer for LineFramer<R> {
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let mut data = std::mem::take(&mut self.carry);
        data.reserve(self.chunk_size);
        let mut want = self.chunk_size;
        let cut = loop {
            self.fill(&mut data, want)?;
            if self.eof && self.hold_partial {
                if data.last().is_some_and(|c| *c != b'\n' && *c != b'\r') {
                    let end = match self.csv {
                        true => self.last_end(&data).unwrap_or(0),
                        false => memrchr(b'\n', &data).map_or(0, |i| i + 1),
                    };
                    if end < data.len() {
                        self.notes.push(format!(
                            "line {} has no line end yet and was left for the next run",
                            self.next_line + count_lines(&data[..end])
                        ));
                    }
                    data.truncate(end);
                }
                break data.len();
            }
            if self.eof {
                break data.len();
            }
            if let Some(end) = self.last_end(&data) {
                break end;
            }
            if data.len() >= MAX_LINE {
                return self.skip_long_line(data).map(Some);
            }
            want = data.len() * 2;
        };
        if cut == 0 {
            return Ok(None);
        }
        self.carry = data.split_off(cut);
        let mut first_line = self.next_line;
        let mut byte_offset = self.offset;
        if self.pending_cr && data.first() == Some(&b'\n') {
            // The "\r\n" straddled the cut: the '\n' belongs to the previous line.
            data.remove(0);
            first_line = self.next_line;
            byte_offset += 1;
            self.offset += 1;
            self.tail.push(b"\n");
            if data.is_empty() {
                self.pending_cr = false;
                return self.next_chunk();
            }
        }
        self.pending_cr = data.last() == Some(&b'\r');
        self.tail.push(&data);
        let units = self.csv.then(|| csv_units(&data, first_line, byte_offset));
        self.next_line += count_lines(&data);
        self.offset += data.len() as u64;
        Ok(Some(Chunk {
            data,
            first_line,
            byte_offset,
            units,
            rejects: Vec::new(),
            behind: None,
            read: None,
        }))
    }

    fn notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn position(&self) -> (u64, u64) {
        (self.offset, self.next_line - 1)
    }

    fn tail(&self) -> Vec<u8> {
        self.tail.with(&[])
    }
}

/// The positions of the `\n`s of `data` outside quotes (`data` starts
/// outside quotes).
fn csv_ends(data: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut inside = false;
    for i in memchr2_iter(b'"', b'\n', data) {
        match data[i] {
            b'"' => inside = !inside,
            _ if !inside => ends.push(i),
            _ => {}
        }
    }
    ends
}

/// The CSV records of a chunk: each without its line end, with the line it
/// starts on (a record may span lines) and its offset.
fn csv_units(data: &[u8], first_line: u64, byte_offset: u64) -> Vec<UnitSpan> {
    let mut units = Vec::new();
    let (mut start, mut line) = (0, first_line);
    let ends = csv_ends(data);
    let last = ends.last().map_or(0, |e| e + 1);
    let bounds = ends
        .iter()
        .map(|&e| (e, e + 1))
        .chain((last < data.len()).then_some((data.len(), data.len())));
    for (end, next) in bounds {
        let mut e = end;
        if e > start && data[e - 1] == b'\r' {
            e -= 1;
        }
        units.push(UnitSpan {
            lines: 0,
            dropped: 0,
            start,
            end: e,
            line,
            index: None,
            byte_offset: byte_offset + start as u64,
        });
        line += count_lines(&data[start..next]);
        start = next;
    }
    units
}

/// The number of lines in `data`: line ends (`\r\n` counting once), plus one
/// for a final line without an end.
pub fn count_lines(data: &[u8]) -> u64 {
    if memchr(b'\r', data).is_none() {
        // The common case: only '\n' ends (counted with SIMD).
        let n = memchr::memchr_iter(b'\n', data).count() as u64;
        return n + u64::from(data.last().is_some_and(|c| *c != b'\n'));
    }
    let mut n = 0;
    for_each_line(data, 1, |_, _, _| n += 1);
    n
}

/// Calls `f(line, line_number, offset_in_data)` for each line, without its
/// line end.
#[inline]
pub fn for_each_line(data: &[u8], first_line: u64, mut f: impl FnMut(&[u8], u64, usize)) {
    let mut start = 0;
    let mut no = first_line;
    while start < data.len() {
        match memchr2(b'\n', b'\r', &data[start..]) {
            Some(i) => {
                let end = start + i;
                f(&data[start..end], no, start);
                start = if data[end] == b'\r' && data.get(end + 1) == Some(&b'\n') {
                    end + 2
                } else {
                    end + 1
                };
            }
            None => {
                f(&data[start..], no, start);
                break;
            }
        }
        no += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::Framer;
    use super::*;

    fn frame(input: &[u8], chunk: usize) -> Vec<(u64, String)> {
        let mut fr = LineFramer::new(input, chunk);
        let mut out = Vec::new();
        while let Some(c) = fr.next_chunk().unwrap() {
            c.for_each_unit(|l, p| out.push((p.line, String::from_utf8_lossy(l).into_owned())));
        }
        out
    }

    #[test]
    fn line_ends_of_every_kind() {
        let want = vec![
            (1, "a".into()),
            (2, "b".into()),
            (3, "c".into()),
            (4, "".into()),
            (5, "d".into()),
        ];
        assert_eq!(frame(b"a\r\nb\rc\n\nd", 1 << 20), want);
        for chunk in 1..8 {
            assert_eq!(frame(b"a\r\nb\rc\n\nd", chunk), want, "chunk size {chunk}");
        }
    }

    #[test]
    fn csv_records_keep_quoted_line_ends_at_any_chunk_size() {
        let input =
            b"h,x\r\n1,\"a\nb\"\r\n2,\"say \"\"hi\"\"\n\nthere\"\n3,plain\n4,\"last\nno end\"";
        let want = vec![
            (1, "h,x".to_string()),
            (2, "1,\"a\nb\"".to_string()),
            (4, "2,\"say \"\"hi\"\"\n\nthere\"".to_string()),
            (7, "3,plain".to_string()),
            (8, "4,\"last\nno end\"".to_string()),
        ];
        for chunk in [1, 2, 3, 5, 8, 13, 1 << 20] {
            let mut fr = LineFramer::new(&input[..], chunk).csv_records();
            let mut out = Vec::new();
            while let Some(c) = fr.next_chunk().unwrap() {
                c.for_each_unit(|l, p| {
                    assert_eq!(&input[p.byte_offset as usize..][..l.len()], l);
                    out.push((p.line, String::from_utf8_lossy(l).into_owned()))
                });
            }
            assert_eq!(out, want, "chunk size {chunk}");
            assert_eq!(fr.position(), (input.len() as u64, 9));
        }
    }

    #[test]
    fn crlf_straddling_a_cut() {
        let input = b"aaa\rbbb\r\nccc\r\n";
        for chunk in 1..16 {
            let got = frame(input, chunk);
            assert_eq!(
                got,
                vec![(1, "aaa".into()), (2, "bbb".into()), (3, "ccc".into())],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn line_counts() {
        for (input, n) in
            [(&b""[..], 0), (b"a", 1), (b"a\n", 1), (b"a\nb", 2), (b"a\r\nb\r", 2), (b"\n\n", 2)]
        {
            assert_eq!(count_lines(input), n, "{input:?}");
        }
    }

    #[test]
    fn a_line_over_the_limit_is_one_reject_and_reading_goes_on() {
        let mut input = b"first\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 5));
        input.extend_from_slice(b"\r\nlast\n");
        let mut fr = LineFramer::new(&input[..], 1 << 16);
        let (mut lines, mut rejects) = (Vec::new(), Vec::new());
        while let Some(c) = fr.next_chunk().unwrap() {
            c.for_each_unit(|l, p| lines.push((p.line, String::from_utf8_lossy(l).into_owned())));
            rejects.extend(c.rejects);
        }
        assert_eq!(lines, [(1, "first".to_string()), (3, "last".to_string())]);
        assert_eq!(rejects.len(), 1);
        assert_eq!((rejects[0].0.line, rejects[0].0.byte_offset), (2, 6));
        assert_eq!(
            rejects[0].1,
            format!("line of {} bytes is longer than the 8 MiB limit", MAX_LINE + 5)
        );
        assert_eq!(fr.position(), (input.len() as u64, 3));
    }

    #[test]
    fn empty_input() {
        assert!(frame(b"", 4).is_empty());
    }
}
