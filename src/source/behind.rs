//! Look-behind for parsers that join lines into sessions (sshd's process
//! lines): each chunk is handed the lines before it, within a window of
//! the input, that hold a needle (`sshd`). A chunk's worker reads them
//! first, so that what a line is joined with does not depend on where the
//! input was cut into chunks: a line sees the needle's lines that start
//! within [`WINDOW`] bytes before it, in whichever chunk they are.

use super::{Chunk, Framer};
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;

/// How far back (bytes of the input) a line is joined with earlier ones.
pub const WINDOW: u64 = 1 << 20;

/// A framer that hands each chunk the needle's lines of the [`WINDOW`]
/// before it.
pub struct LookBehind {
    inner: Box<dyn Framer>,
    needle: &'static [u8],
    /// (offset, line) of the needle's lines, oldest first, all within the
    /// window before the next chunk.
    kept: VecDeque<(u64, Vec<u8>)>,
}

impl LookBehind {
    /// `before`: the bytes of the input before the framer's start (which is
    /// at `offset`), for a reader of part of a file.
    pub fn new(
        inner: Box<dyn Framer>,
        needle: &'static [u8],
        (before, offset): (&[u8], u64),
    ) -> LookBehind {
        let mut me = LookBehind { inner, needle, kept: VecDeque::new() };
        // Only whole lines: what follows the first line end (unless the
        // bytes start where the input does).
        let from = before.len() as u64;
        let start = offset - from;
        let skip = if start == 0 {
            0
        } else {
            before.iter().position(|c| *c == b'\n').map_or(before.len(), |i| i + 1)
        };
        me.keep(&before[skip..], start + skip as u64, offset);
        me
    }

    /// Keeps the needle's lines of `data` (which starts at `offset` of the
    /// input), and drops what falls out of the window before `next`.
    fn keep(&mut self, data: &[u8], offset: u64, next: u64) {
        let is_end = |c: &u8| *c == b'\n' || *c == b'\r';
        let mut from = 0;
        while let Some(hit) = memchr::memmem::find(&data[from..], self.needle) {
            let at = from + hit;
            let start = data[..at].iter().rposition(is_end).map_or(0, |i| i + 1);
            let end = data[at..].iter().position(is_end).map_or(data.len(), |i| at + i);
            self.kept.push_back((offset + start as u64, data[start..end].to_vec()));
            from = end.max(at + 1);
        }
        while self.kept.front().is_some_and(|(off, _)| off + WINDOW < next) {
            self.kept.pop_front();
        }
    }
}

impl Framer for LookBehind {
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let Some(mut chunk) = self.inner.next_chunk()? else { return Ok(None) };
        if chunk.units.is_none() {
            if !self.kept.is_empty() {
                chunk.behind = Some(Arc::new(self.kept.iter().cloned().collect()));
            }
            let next = chunk.byte_offset + chunk.data.len() as u64;
            self.keep(&chunk.data, chunk.byte_offset, next);
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
