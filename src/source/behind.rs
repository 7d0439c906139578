//! Look-behind for parsers that join lines into sessions (sshd's process
//! lines): each chunk is handed the [`WINDOW`] bytes of the input before it
//! (from a line start), so that what a line is joined with does not depend
//! on where the input was cut into chunks: a line sees the lines that start
//! within [`WINDOW`] bytes before it, in whichever chunk they are.

use super::{Chunk, Framer};
use std::io;
use std::sync::Arc;

/// How far back (bytes of the input) a line is joined with earlier ones.
pub const WINDOW: u64 = 256 << 10;

/// The bytes before a chunk: where they start in the input, and the bytes
/// (whole lines, ending where the chunk starts).
pub type Behind = (u64, Vec<u8>);

/// A framer that hands each chunk the [`WINDOW`] bytes before it.
pub struct LookBehind {
    inner: Box<dyn Framer>,
    kept: Arc<Behind>,
}

impl LookBehind {
    /// `before`: the bytes of the input before the framer's start (which is
    /// at `offset`), for a reader of part of a file.
    pub fn new(inner: Box<dyn Framer>, (before, offset): (&[u8], u64)) -> LookBehind {
        let start = offset - before.len() as u64;
        let mut me = LookBehind { inner, kept: Arc::new((offset, Vec::new())) };
        me.kept = Arc::new(window(start, before, &[], start == 0));
        me
    }
}

/// The last [`WINDOW`] bytes of `a` (which starts at `offset` of the input;
/// `whole`: at a line start) followed by `b`, from the first line start in
/// them.
pub(crate) fn window(offset: u64, a: &[u8], b: &[u8], whole: bool) -> Behind {
    let total = a.len() + b.len();
    let skip = total.saturating_sub(WINDOW as usize);
    let mut out = Vec::with_capacity(total - skip);
    if skip < a.len() {
        out.extend_from_slice(&a[skip..]);
        out.extend_from_slice(b);
    } else {
        out.extend_from_slice(&b[skip - a.len()..]);
    }
    // Whole lines only: what follows the first line end, unless the bytes
    // begin at a line start.
    let at_line_start = if skip == 0 {
        whole
    } else {
        let prev = if skip <= a.len() { a.get(skip - 1) } else { b.get(skip - a.len() - 1) };
        matches!(prev, Some(b'\n' | b'\r'))
    };
    let cut = if at_line_start {
        0
    } else {
        out.iter().position(|c| *c == b'\n').map_or(out.len(), |i| i + 1)
    };
    out.drain(..cut);
    (offset + (skip + cut) as u64, out)
}

impl Framer for LookBehind {
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let Some(mut chunk) = self.inner.next_chunk()? else { return Ok(None) };
        if chunk.units.is_none() && chunk.byte_offset == self.kept.0 + self.kept.1.len() as u64 {
            if !self.kept.1.is_empty() {
                chunk.behind = Some(Arc::clone(&self.kept));
            }
            let (offset, bytes) = &*self.kept;
            let next = window(*offset, bytes, &chunk.data, true);
            self.kept = Arc::new(next);
        } else if chunk.units.is_none() {
            // A gap (a line skipped for its length): start again after it.
            let end = chunk.byte_offset + chunk.data.len() as u64;
            self.kept = Arc::new((end, Vec::new()));
            let (offset, data) = (chunk.byte_offset, &chunk.data);
            self.kept = Arc::new(window(offset, data, &[], true));
        }
        Ok(Some(chunk))
    }
    fn notes(&mut self) -> Vec<String> {
        self.inner.notes()
    }
    fn digests(&self) -> u64 {
        self.inner.digests()
    }
    fn position(&self) -> (u64, u64) {
        self.inner.position()
    }
    fn tail(&self) -> Vec<u8> {
        self.inner.tail()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_whole_lines_only() {
        let (off, w) = window(100, b"aa\nbb\ncc\n", b"dd\n", true);
        assert_eq!((off, &w[..]), (100, &b"aa\nbb\ncc\ndd\n"[..]));
        let big = vec![b'x'; WINDOW as usize];
        let (off, w) = window(0, &big, b"\nyy\n", true);
        assert_eq!((off, &w[..]), (WINDOW + 1, &b"yy\n"[..]));
        let (off, w) = window(10, b"partial\nok\n", b"", false);
        assert_eq!((off, &w[..]), (18, &b"ok\n"[..]));
    }
}
