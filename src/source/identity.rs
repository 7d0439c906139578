//! File identity: which earlier load, if any, a file continues.
//!
//! A checkpoint records what a load of a file reached (byte offset and
//! lines of its decompressed content) and how to recognise that file again:
//! its path, its device and inode, whether it was compressed, a hash of its
//! first bytes (`head`, up to [`FP_LEN`] bytes, never past the offset) and a
//! hash of the bytes just before the offset (`tail`, up to [`FP_LEN`]). A
//! file under 2 KiB is thus known by all of its loaded bytes; a larger one
//! by its first and its last loaded KiB. (Vector's file source knows a file
//! by a checksum of its head and skips files shorter than it; Filebeat's
//! registry by device and inode. Neither alone holds for every case below.)
//!
//! The rules, in order, for a file `F` and this host's checkpoints:
//!
//! 1. `F` *extends* a checkpoint `C` when `F`'s content is at least
//!    `C.offset` bytes long and both hashes match at that offset. Only such
//!    checkpoints are candidates; a file that extends none is new and is
//!    read from its first byte.
//! 2. A candidate with `F`'s device and inode is `F` (the file grew, or was
//!    renamed by rotation; a file truncated in place — copytruncate, or
//!    rewritten shorter — no longer extends its checkpoint, so it is new).
//! 3. Else a candidate recorded under `F`'s path is `F` (the file was
//!    replaced by a copy of itself that went on growing).
//! 4. Else a candidate holding data whose own file is gone — nothing at its path, another
//!    inode there, or a file there that no longer extends it — is `F`: the
//!    file was moved or copied away (copytruncate's copy, a rename to a
//!    name the checkpoint did not know).
//! 5. Else, when `F` or the candidate is compressed (and the candidate holds
//!    data), `F` is a compressed copy of that file (logrotate's `compress`,
//!    with or without `delaycompress`, while both copies exist).
//! 6. Else `F` is a different file that happens to start with the same
//!    bytes as a live one (two logs with equal heads): it is new.
//!
//! Among several candidates of one rule the one with the largest offset
//! wins. What these rules cannot tell apart: a file deleted and then
//! replaced, under another name, by a different file whose first bytes
//! equal everything the deleted one held (rule 4 takes it for a move).
//!
//! Concurrency (see `store::load`): the choice, and the creation of a
//! checkpoint for a new file, happen under a per-host lock in a short
//! transaction; loading then holds the checkpoint's row lock, and re-checks
//! rule 1 at the offset it finds once it has the lock.

use super::Compression;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};

/// Bytes of a file's head (and of the tail before its offset) that identify it.
pub const FP_LEN: usize = 1024;

/// Bytes read from a file's start for identity and format sniffing.
const PROBE_LEN: usize = 64 << 10;

/// FNV-1a, 64 bits: a stable hash (stored as a signed `bigint`).
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub fn finish(self) -> i64 {
        self.0 as i64
    }
}

pub fn hash(bytes: &[u8]) -> i64 {
    let mut h = Fnv::default();
    h.update(bytes);
    h.finish()
}

/// The hash of every prefix of `head` (lengths 0 to `FP_LEN`), in one pass.
pub fn prefix_hashes(head: &[u8]) -> Vec<i64> {
    let head = &head[..head.len().min(FP_LEN)];
    let mut h = Fnv::default();
    let mut out = Vec::with_capacity(head.len() + 1);
    out.push(h.finish());
    for b in head {
        h.update(std::slice::from_ref(b));
        out.push(h.finish());
    }
    out
}

/// What a checkpoint remembers of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub id: i64,
    pub path: String,
    pub dev: Option<i64>,
    pub inode: Option<i64>,
    pub compressed: bool,
    pub offset: u64,
    pub lines: u64,
    pub head_len: usize,
    pub head_hash: i64,
    /// `None` for checkpoints written before tails were recorded (their
    /// head hash covers `head_len` bytes, which may pass the offset).
    pub tail_hash: Option<i64>,
}

/// The head and tail hashes for content that ends at `offset`.
pub fn marks(head: &[u8], tail: &[u8], offset: u64) -> (usize, i64, i64) {
    let head_len = (offset as usize).min(FP_LEN).min(head.len());
    let tail_len = (offset as usize).min(FP_LEN).min(tail.len());
    (head_len, hash(&head[..head_len]), hash(&tail[tail.len() - tail_len..]))
}

/// A reader of a file's content from an offset, and the bytes before it.
pub type Resumed = (Box<dyn Read + Send>, Vec<u8>);

/// An open file, looked at for identity: its inode, compression and first bytes.
pub struct Probe {
    pub path: String,
    pub dev: i64,
    pub inode: i64,
    pub compression: Compression,
    /// Raw size on disk.
    pub len: u64,
    /// The first bytes of the decompressed content (up to 64 KiB).
    pub head: Vec<u8>,
    file: File,
}

impl Probe {
    pub fn open(path: &str) -> io::Result<Probe> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let mut magic = [0u8; 4];
        let n = read_full_at(&file, &mut magic, 0)?;
        let compression = Compression::sniff(&magic[..n]);
        let mut probe = Probe {
            path: path.to_string(),
            dev: meta.dev() as i64,
            inode: meta.ino() as i64,
            compression,
            len: meta.len(),
            head: Vec::new(),
            file,
        };
        let mut head = Vec::with_capacity(PROBE_LEN);
        probe.reader_from_start()?.take(PROBE_LEN as u64).read_to_end(&mut head)?;
        probe.head = head;
        Ok(probe)
    }

    pub fn compressed(&self) -> bool {
        self.compression != Compression::None
    }

    /// The decompressed content from its first byte, read through this
    /// probe's own file handle (what was probed is what is read).
    fn reader_from_start(&self) -> io::Result<Box<dyn Read + Send>> {
        // By `pread` from 0: clones of one handle share its position.
        let raw = ReadAt { file: self.file.try_clone()?, pos: 0 };
        Ok(match self.compression {
            Compression::None => Box::new(raw),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw)?),
        })
    }

    /// The content from `offset` on, and the up to `FP_LEN` bytes before it.
    /// `None` when the content is shorter than `offset`.
    pub fn reader_at(&self, offset: u64) -> io::Result<Option<Resumed>> {
        let back = (offset as usize).min(FP_LEN);
        if self.compression == Compression::None {
            let Some(before) = self.window(offset - back as u64, offset)? else { return Ok(None) };
            let r = ReadAt { file: self.file.try_clone()?, pos: offset };
            return Ok(Some((Box::new(r), before)));
        }
        // Compressed: one pass, reading the bytes before `offset` on the way.
        let mut r = self.reader_from_start()?;
        let before = read_after(&mut r, offset - back as u64, back)?;
        Ok(before.map(|b| (r, b)))
    }

    /// The bytes of this uncompressed file before `offset` that a session
    /// parser looks back on: up to [`super::behind::WINDOW`] of them (none
    /// for a compressed file, which cannot be read from the middle).
    pub fn lookback(&self, offset: u64) -> io::Result<Vec<u8>> {
        if self.compression != Compression::None {
            return Ok(Vec::new());
        }
        let from = offset.saturating_sub(super::behind::WINDOW);
        Ok(self.window(from, offset)?.unwrap_or_default())
    }

    /// Where to cut the bytes from `from` to the end of this uncompressed
    /// file (its size when probed) into at most `parts` ranges of at least
    /// `min_part` bytes, each cut just after a line end: `(offset, line
    /// ends in [from, offset))` per cut, in order. Empty for a compressed
    /// file (it cannot be read from the middle) or one too small to cut.
    pub fn line_cuts(&self, from: u64, parts: usize, min_part: u64) -> io::Result<Vec<(u64, u64)>> {
        const BLOCK: usize = 1 << 20;
        if self.compression != Compression::None || self.len <= from {
            return Ok(Vec::new());
        }
        let parts = parts.min(((self.len - from) / min_part.max(1)) as usize);
        let mut cuts = Vec::new();
        let mut buf = vec![0u8; BLOCK];
        let (mut pos, mut lines) = (from, 0u64);
        for k in 1..parts {
            let target = from + (self.len - from) / parts as u64 * k as u64;
            // Count line ends up to the target, then on to the next one.
            loop {
                let want = BLOCK.min((self.len - pos) as usize);
                if want == 0 {
                    return Ok(cuts);
                }
                let got = read_full_at(&self.file, &mut buf[..want], pos)?;
                if got == 0 {
                    return Ok(cuts);
                }
                let block = &buf[..got];
                let before_target = ((target.saturating_sub(pos)) as usize).min(got);
                if before_target == got {
                    lines += memchr::memchr_iter(b'\n', block).count() as u64;
                    pos += got as u64;
                    continue;
                }
                lines += memchr::memchr_iter(b'\n', &block[..before_target]).count() as u64;
                match memchr::memchr(b'\n', &block[before_target..]) {
                    Some(i) => {
                        pos += (before_target + i + 1) as u64;
                        lines += 1;
                        cuts.push((pos, lines));
                        break;
                    }
                    None => pos += got as u64,
                }
            }
        }
        Ok(cuts.into_iter().filter(|&(off, _)| off < self.len).collect())
    }

    /// Bytes `[start, end)` of the decompressed content, or `None` when it
    /// is shorter than `end`.
    fn window(&self, start: u64, end: u64) -> io::Result<Option<Vec<u8>>> {
        let want = (end - start) as usize;
        if end as usize <= self.head.len() {
            return Ok(Some(self.head[start as usize..end as usize].to_vec()));
        }
        if self.compression == Compression::None {
            let mut buf = vec![0u8; want];
            let got = read_full_at(&self.file, &mut buf, start)?;
            return Ok((got == want).then_some(buf));
        }
        read_after(&mut self.reader_from_start()?, start, want)
    }

    /// Rule 1: does this file's content extend what `c` recorded?
    pub fn extends(&self, c: &Recorded) -> io::Result<bool> {
        if !self.head_matches(c) {
            return Ok(false);
        }
        let Some(tail_hash) = c.tail_hash else { return Ok(true) };
        let back = (c.offset as usize).min(FP_LEN) as u64;
        Ok(self.window(c.offset - back, c.offset)?.is_some_and(|tail| hash(&tail) == tail_hash))
    }

    /// Rule 1 checked on the way to `c`'s offset (one pass through a
    /// compressed file): the content from there on, or `None` when this
    /// file does not extend `c`.
    pub fn resume(&self, c: &Recorded) -> io::Result<Option<Resumed>> {
        if !self.head_matches(c) {
            return Ok(None);
        }
        let resumed = self.reader_at(c.offset)?;
        Ok(resumed.filter(|(_, before)| c.tail_hash.is_none_or(|t| hash(before) == t)))
    }

    /// The head part of rule 1 (and the length, where it is known).
    fn head_matches(&self, c: &Recorded) -> bool {
        if self.compression == Compression::None && self.len < c.offset {
            return false;
        }
        // Checkpoints from before tails were recorded hashed the head as
        // read then (up to 1 KiB, possibly past the offset): that length.
        let head_len =
            if c.tail_hash.is_none() { c.head_len } else { (c.offset as usize).min(FP_LEN) };
        c.head_len == head_len
            && self.head.len() >= head_len
            && hash(&self.head[..head_len]) == c.head_hash
    }

    /// Rule 4's question: is `c`'s own file still where it was recorded,
    /// the same inode, still holding what `c` recorded (and not this file)?
    fn is_live_elsewhere(&self, c: &Recorded) -> bool {
        if c.path == self.path {
            return false;
        }
        let Ok(other) = Probe::open(&c.path) else { return false };
        let same_inode = Some(other.dev) == c.dev && Some(other.inode) == c.inode;
        let is_me = other.dev == self.dev && other.inode == self.inode;
        same_inode && !is_me && other.extends(c).unwrap_or(false)
    }

    /// Applies rules 2–6 to the candidates this file extends (rule 1).
    pub fn choose<'c>(&self, candidates: &'c [Recorded]) -> io::Result<Option<&'c Recorded>> {
        let mut extended = Vec::new();
        for c in candidates {
            if self.extends(c)? {
                extended.push(c);
            }
        }
        extended.sort_by_key(|c| std::cmp::Reverse(c.offset));
        let rules: [&dyn Fn(&Recorded) -> bool; 4] = [
            &|c| c.dev == Some(self.dev) && c.inode == Some(self.inode),
            &|c| c.path == self.path,
            &|c| c.offset > 0 && !self.is_live_elsewhere(c),
            &|c| (self.compressed() || c.compressed) && c.offset > 0,
        ];
        Ok(rules.iter().find_map(|rule| extended.iter().copied().find(|c| rule(c))))
    }
}

/// Skips `skip` bytes of `r`, then reads `want`; `None` if it ends first.
fn read_after(r: &mut dyn Read, skip: u64, want: usize) -> io::Result<Option<Vec<u8>>> {
    if io::copy(&mut r.take(skip), &mut io::sink())? < skip {
        return Ok(None);
    }
    let mut buf = Vec::with_capacity(want);
    r.take(want as u64).read_to_end(&mut buf)?;
    Ok((buf.len() == want).then_some(buf))
}

fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Sequential reads of a file from a position, by `pread` (the handle's own
/// position is never used, so clones do not disturb each other).
struct ReadAt {
    file: File,
    pos: u64,
}

impl Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn recorded(p: &Probe, id: i64, offset: u64) -> Recorded {
        let (_, before) = p.reader_at(offset).unwrap().unwrap();
        let (head_len, head_hash, tail_hash) = marks(&p.head, &before, offset);
        Recorded {
            id,
            path: p.path.clone(),
            dev: Some(p.dev),
            inode: Some(p.inode),
            compressed: p.compressed(),
            offset,
            lines: 0,
            head_len,
            head_hash,
            tail_hash: Some(tail_hash),
        }
    }

    fn lines(n: usize, tag: &str) -> String {
        (0..n).map(|i| format!("{tag} line {i:04} with some padding to be long enough\n")).collect()
    }

    #[test]
    fn line_cuts_fall_just_after_line_ends_with_the_lines_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        // Lines of many lengths, one longer than the 1 MiB read block, CRLF.
        let mut text = Vec::new();
        for i in 0..5_000usize {
            text.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, i % 700));
            text.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
            if i == 2_500 {
                text.extend(std::iter::repeat_n(b'L', 1_500_000));
                text.push(b'\n');
            }
        }
        text.extend_from_slice(b"no line end");
        std::fs::write(&path, &text).unwrap();
        let p = Probe::open(path.to_str().unwrap()).unwrap();
        for from in [0u64, 1, 777_777] {
            for parts in 1..6 {
                let cuts = p.line_cuts(from, parts, 1).unwrap();
                assert!(cuts.len() < parts, "{from} {parts}");
                let mut last = from;
                for &(off, lines) in &cuts {
                    assert!(off > last && off < text.len() as u64, "{from} {parts}: {off}");
                    assert_eq!(text[off as usize - 1], b'\n');
                    let between = &text[from as usize..off as usize];
                    assert_eq!(lines, memchr::memchr_iter(b'\n', between).count() as u64);
                    last = off;
                }
                if parts > 1 && from == 0 {
                    assert_eq!(cuts.len(), parts - 1, "{parts}");
                }
            }
        }
        // Parts of at least `min_part` bytes: a file of 3 MB makes at most 3.
        assert_eq!(p.line_cuts(0, 8, 1_000_000).unwrap().len(), 2);
        assert!(p.line_cuts(0, 8, 100_000_000).unwrap().is_empty());
        // A file without line ends after the cut point cannot be cut.
        std::fs::write(&path, vec![b'x'; 3_000_000]).unwrap();
        let p = Probe::open(path.to_str().unwrap()).unwrap();
        assert!(p.line_cuts(0, 4, 1).unwrap().is_empty());
        // Nor can a compressed one.
        let gz = dir.path().join("a.log.gz");
        let mut e =
            flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
        e.write_all(&text).unwrap();
        e.finish().unwrap();
        let p = Probe::open(gz.to_str().unwrap()).unwrap();
        assert!(p.line_cuts(0, 4, 1).unwrap().is_empty());
    }

    #[test]
    fn prefix_hashes_agree_with_hash() {
        let data = b"0123456789";
        let all = prefix_hashes(data);
        assert_eq!(all.len(), 11);
        for n in 0..=10 {
            assert_eq!(all[n], hash(&data[..n]));
        }
    }

    #[test]
    fn a_tiny_file_that_grows_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        let p = Probe::open(path.to_str().unwrap()).unwrap();
        let c = recorded(&p, 1, 8);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"three\n")
            .unwrap();
        let p = Probe::open(path.to_str().unwrap()).unwrap();
        assert_eq!(p.choose(std::slice::from_ref(&c)).unwrap(), Some(&c));
    }

    #[test]
    fn a_file_rewritten_shorter_or_different_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, lines(60, "x")).unwrap();
        let p = Probe::open(path.to_str().unwrap()).unwrap();
        let c = recorded(&p, 1, p.len);
        std::fs::write(&path, lines(10, "x")).unwrap();
        let p = Probe::open(path.to_str().unwrap()).unwrap();
        assert_eq!(p.choose(std::slice::from_ref(&c)).unwrap(), None);
        // Same length, same head, another ending.
        let mut text = lines(60, "x");
        text.replace_range(text.len() - 5.., "zzzz\n");
        std::fs::write(&path, text).unwrap();
        let p = Probe::open(path.to_str().unwrap()).unwrap();
        assert_eq!(p.choose(std::slice::from_ref(&c)).unwrap(), None);
    }

    #[test]
    fn a_checkpoint_from_before_tails_matches_by_its_head() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        // Loaded up to byte 8 while 11 bytes were there (a partial line).
        std::fs::write(&path, "one\ntwo\nthr").unwrap();
        let old = Recorded {
            id: 1,
            path: path.to_str().unwrap().into(),
            dev: None,
            inode: None,
            compressed: false,
            offset: 8,
            lines: 2,
            head_len: 11,
            head_hash: hash(b"one\ntwo\nthr"),
            tail_hash: None,
        };
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        let p = Probe::open(path.to_str().unwrap()).unwrap();
        assert_eq!(p.choose(std::slice::from_ref(&old)).unwrap(), Some(&old));
        std::fs::write(&path, "one\ntwo\nTHREE\n").unwrap();
        let p = Probe::open(path.to_str().unwrap()).unwrap();
        assert_eq!(p.choose(std::slice::from_ref(&old)).unwrap(), None);
    }

    #[test]
    fn equal_heads_of_two_live_files_are_two_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
        std::fs::write(&a, lines(55, "x")).unwrap();
        std::fs::write(&b, lines(65, "x")).unwrap();
        let pa = Probe::open(a.to_str().unwrap()).unwrap();
        let ca = recorded(&pa, 1, pa.len);
        let pb = Probe::open(b.to_str().unwrap()).unwrap();
        assert!(pb.extends(&ca).unwrap(), "b starts with all of a");
        assert_eq!(pb.choose(std::slice::from_ref(&ca)).unwrap(), None);
    }

    #[test]
    fn rename_then_compress_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("a.log");
        std::fs::write(&live, "a\nb\nc\nd\n").unwrap();
        let p = Probe::open(live.to_str().unwrap()).unwrap();
        let c = recorded(&p, 1, p.len);
        let rotated = dir.path().join("a.log.1");
        std::fs::rename(&live, &rotated).unwrap();
        std::fs::write(&live, "").unwrap();
        let p = Probe::open(rotated.to_str().unwrap()).unwrap();
        assert_eq!(p.choose(std::slice::from_ref(&c)).unwrap(), Some(&c), "rule 2: same inode");
        let gz = dir.path().join("a.log.1.gz");
        let mut e = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        e.write_all(b"a\nb\nc\nd\n").unwrap();
        e.finish().unwrap();
        let p = Probe::open(gz.to_str().unwrap()).unwrap();
        let moved = Recorded { path: rotated.to_str().unwrap().into(), ..c.clone() };
        assert_eq!(p.choose(std::slice::from_ref(&moved)).unwrap(), Some(&moved), "rule 5");
        std::fs::remove_file(&rotated).unwrap();
        assert_eq!(p.choose(std::slice::from_ref(&moved)).unwrap(), Some(&moved), "rule 4");
    }

    #[test]
    fn copytruncate_copy_continues_and_the_truncated_file_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("a.log");
        std::fs::write(&live, lines(40, "x")).unwrap();
        let p = Probe::open(live.to_str().unwrap()).unwrap();
        let c = recorded(&p, 1, p.len);
        // More lines, then copy and truncate, then new lines.
        std::fs::write(&live, lines(50, "x")).unwrap();
        let copy = dir.path().join("a.log.1");
        std::fs::copy(&live, &copy).unwrap();
        std::fs::write(&live, lines(3, "y")).unwrap();
        let p = Probe::open(live.to_str().unwrap()).unwrap();
        assert_eq!(p.choose(std::slice::from_ref(&c)).unwrap(), None);
        let p = Probe::open(copy.to_str().unwrap()).unwrap();
        assert_eq!(p.choose(std::slice::from_ref(&c)).unwrap(), Some(&c));
    }
}
