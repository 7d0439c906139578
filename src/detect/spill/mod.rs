//! Counts that outgrow memory go to disk, as sorted runs.
//!
//! A [`super::Counts`] holding more than its budget of group-seconds
//! writes them out — every group in [`order`], each group's seconds in
//! order — to an unlinked file in the temporary directory (`TMPDIR`), and
//! starts again empty. Detection then reads the runs and what is still in
//! memory back as one stream of groups in that order ([`order`]), merging a group's
//! seconds from every run ([`Groups`]), and detectors look at one group at
//! a time. So memory holds at most the budget per counting thread and
//! rule, plus one group, whatever the input's size, span or order; the
//! counts, and so the alerts, are exactly those of an all-in-memory run
//! (merging buckets is commutative). A count's runs are appended to one
//! file; past [`MAX_RUNS`] runs they are merged into one.
//!
//! Detection reads a count in [`PARTS`] parts by the top bits of the hash,
//! on all cores: a run records where each part starts, so a part reads its
//! slice of every run, and a group (one hash) is in one part only.
//!
//! A count that spills also keeps [`Totals`]: per cell of hashes, the sum
//! of the records of the groups in it, so an upper bound of each group's
//! total. A window rule's group with fewer records than its threshold
//! cannot make an alert; detection asks the bound and passes over such a
//! group without reading, decoding or merging its spilled records (a run
//! lists its groups' hashes and lengths apart from their bodies). Most
//! groups of a high-cardinality rule (every message, every client) are
//! passed over so. The bound is never below the true total, so no group
//! that may alert is passed over.
//!
//! The files are ours, written and read back in one process: a failure to
//! read one back is a fault of the machine (disk, memory), not of the
//! input, and stops the process with a message. A failure to create or
//! write one only keeps the counts in memory.

use super::{Bucket, LineRef, EVIDENCE_PER_SECOND};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of counting state a [`super::Counts`] keeps in memory before
/// it spills (`LOGTRACK_SPILL_BYTES` overrides it).
pub const DEFAULT_BUDGET: usize = 2 << 20;

/// Runs a count keeps before it merges them into one. (A count's runs
/// share one file, so files stay one per counting thread and rule; the
/// limit bounds the buffers of the final merge.)
pub const MAX_RUNS: usize = 1024;

/// One group's seconds, in order, each with its bucket.
pub type Group = (String, Vec<(i64, Bucket)>);

/// Groups are in the order of (this hash of the name, the name): comparing
/// hashes first is much cheaper than comparing names that share long
/// prefixes (messages, paths), and the order needs only be one order.
/// Alerts are sorted afterwards, so detection does not depend on it.
pub fn order(name: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(name.as_bytes());
    h.finish()
}

/// The budget in force.
pub fn budget() -> usize {
    static BUDGET: AtomicUsize = AtomicUsize::new(0);
    match BUDGET.load(Ordering::Relaxed) {
        0 => {
            let b = std::env::var("LOGTRACK_SPILL_BYTES")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(DEFAULT_BUDGET)
                .max(1);
            BUDGET.store(b, Ordering::Relaxed);
            b
        }
        b => b,
    }
}

/// Detection reads the groups in this many parts, by the top bits of
/// their [`order`] hash, in parallel: part `p` holds the hashes whose top
/// four bits are `p`, so the parts in turn are the whole order.
pub const PARTS: usize = 16;

/// The part a group of hash `h` falls in.
pub fn part_of(h: u64) -> usize {
    (h >> 60) as usize
}

/// Cells of [`Totals`]: 1 MiB of counters per count that spills.
const TOTALS_CELLS: usize = 1 << 18;

/// An upper bound of each group's number of records, by hash: one counter
/// per cell, the sum of the records of every group whose hash falls in it
/// (a count-min sketch of one row). Sums saturate; a saturated cell bounds
/// nothing.
#[derive(Clone, Debug)]
pub struct Totals {
    cells: Box<[u32]>,
}

impl Default for Totals {
    fn default() -> Self {
        Totals { cells: vec![0u32; TOTALS_CELLS].into_boxed_slice() }
    }
}

impl Totals {
    fn cell(h: u64) -> usize {
        // The top bits: groups come in hash order (a spill, detection), so
        // cells are visited in order too, not at random.
        (h >> (64 - TOTALS_CELLS.trailing_zeros())) as usize
    }

    /// Counts `n` more records of the group of hash `h`.
    pub fn add(&mut self, h: u64, n: u64) {
        let c = &mut self.cells[Totals::cell(h)];
        *c = c.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Adds every count of `other`.
    pub fn absorb(&mut self, other: &Totals) {
        for (a, b) in self.cells.iter_mut().zip(other.cells.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// Whether the group of hash `h` may have `min` records or more.
    pub fn may_reach(&self, h: u64, min: u64) -> bool {
        let c = self.cells[Totals::cell(h)];
        c == u32::MAX || u64::from(c) >= min
    }
}

/// Which groups detection reads: those whose [`Totals`] may reach `min`.
#[derive(Clone, Debug)]
pub struct Filter {
    pub totals: Arc<Totals>,
    pub min: u64,
}

/// A run on disk: groups in [`order`] in bytes `splits[0]..splits[PARTS]`
/// of a file, part `p`'s at `splits[p]..splits[p + 1]`.
///
/// The groups are written in blocks of about 64 KiB: a block is the length
/// of its heads (`u32`) and of its bodies (`u64`), then the heads (each
/// group's hash, `u64`, and body length, `u32`), then the bodies (name and
/// seconds) in the same order. A reader goes through the heads and reads
/// only the bodies it wants; a writer holds one block at a time.
#[derive(Clone, Debug)]
pub struct Run {
    file: Arc<File>,
    splits: [u64; PARTS + 1],
}

/// The file a count appends its runs to, created at its first spill.
#[derive(Debug, Default)]
pub struct SpillFile {
    file: Option<(Arc<File>, u64)>,
}

/// Writes one run: a block's heads and bodies encoded into buffers,
/// written out with `pwrite` at the file's end as they fill.
pub struct RunWriter<'f> {
    file: &'f File,
    at: u64,
    bodies: Vec<u8>,
    heads: Vec<u8>,
    splits: [u64; PARTS + 1],
    part: usize,
}

/// Bytes of heads or of bodies past which a block is written out.
const BLOCK: usize = 1 << 16;

impl RunWriter<'_> {
    /// Writes one group (its hash, name and distinct seconds in order);
    /// groups come in [`order`].
    pub fn group(&mut self, hash: u64, name: &[u8], secs: &[(i64, Bucket)]) -> std::io::Result<()> {
        let p = part_of(hash);
        if self.part < p {
            self.end_block()?;
            while self.part < p {
                self.part += 1;
                self.splits[self.part] = self.at;
            }
        }
        let b = &mut self.bodies;
        let body_at = b.len();
        put_varint(b, name.len() as u64);
        b.extend_from_slice(name);
        put_varint(b, secs.len() as u64);
        // Seconds as the first and then the steps between them; a bucket
        // as its count and its evidence (as many as the count, at most
        // [`EVIDENCE_PER_SECOND`]); all numbers as varints.
        let mut prev = None;
        for (sec, bucket) in secs {
            match prev {
                None => put_varint(b, zigzag(*sec)),
                Some(p) => put_varint(b, sec.abs_diff(p)),
            }
            prev = Some(*sec);
            put_varint(b, u64::from(bucket.count));
            for e in bucket.evidence() {
                for v in [e.source, e.line, e.index] {
                    put_varint(b, u64::from(v));
                }
            }
        }
        let len = u32::try_from(b.len() - body_at)
            .map_err(|_| std::io::Error::other("a group of more than 4 GiB of counts"))?;
        self.heads.extend_from_slice(&hash.to_le_bytes());
        self.heads.extend_from_slice(&len.to_le_bytes());
        if self.bodies.len() >= BLOCK || self.heads.len() >= BLOCK {
            self.end_block()?;
        }
        Ok(())
    }

    /// Writes out the block held, if any.
    fn end_block(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        if self.heads.is_empty() {
            return Ok(());
        }
        let mut lengths = [0u8; 12];
        lengths[..4].copy_from_slice(&(self.heads.len() as u32).to_le_bytes());
        lengths[4..].copy_from_slice(&(self.bodies.len() as u64).to_le_bytes());
        for bytes in [&lengths[..], &self.heads, &self.bodies] {
            self.file.write_all_at(bytes, self.at)?;
            self.at += bytes.len() as u64;
        }
        self.heads.clear();
        self.bodies.clear();
        Ok(())
    }
}

impl SpillFile {
    /// Appends the run `write` makes, group by group in [`order`]
    /// ([`RunWriter::group`]). Written at the offset the file's
    /// runs end at, by `pwrite`: a failed run leaves the offset where it
    /// was, and the next run writes over what it left.
    pub fn append(
        &mut self,
        write: impl FnOnce(&mut RunWriter<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<Run> {
        if self.file.is_none() {
            self.file = Some((Arc::new(temp_file()?), 0));
        }
        let (file, len) = self.file.as_mut().expect("just made");
        let mut w = RunWriter {
            file,
            at: *len,
            bodies: Vec::with_capacity(2 * BLOCK),
            heads: Vec::with_capacity(BLOCK + 12),
            splits: [*len; PARTS + 1],
            part: 0,
        };
        write(&mut w)?;
        w.end_block()?;
        for p in w.part + 1..=PARTS {
            w.splits[p] = w.at;
        }
        *len = w.at;
        Ok(Run { file: file.clone(), splits: w.splits })
    }
}

/// A fresh file in the temporary directory that has no name (`O_TMPFILE`;
/// where that is missing, a random name made with mode 0600 and unlinked
/// at once), so nothing is left behind even after kill -9, and whose mode
/// is 0600 whatever the umask: spilled counts hold user names and addresses.
fn temp_file() -> std::io::Result<File> {
    use std::os::unix::fs::PermissionsExt;
    let f = tempfile::tempfile()?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

impl Run {
    /// Merges runs into one, appended to `to`.
    pub fn merge(to: &mut SpillFile, runs: Vec<Run>) -> std::io::Result<Run> {
        to.append(|w| {
            let mut groups = Groups::new(runs, Vec::new());
            while let Some((hash, (name, secs))) = groups.next_hashed() {
                w.group(hash, name.as_bytes(), &secs)?;
            }
            Ok(())
        })
    }
}

/// Reads bytes `pos..end` of a shared file with `pread`: readers of runs of
/// one file never move each other's (or the writer's) offset.
struct At {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let want = buf.len().min((self.end - self.pos) as usize);
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for At {
    /// Moves forward or back from where it is, within `..=end` (all a
    /// reader passing over bodies needs).
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let std::io::SeekFrom::Current(d) = to else {
            return Err(std::io::Error::other("a run is only moved in from where it is"));
        };
        let pos = self.pos.checked_add_signed(d).filter(|p| *p <= self.end);
        self.pos = pos.ok_or_else(|| std::io::Error::other("moved past a run's end"))?;
        Ok(self.pos)
    }
}

/// Reads a run's groups of some parts, in order, block by block.
struct RunReader {
    r: BufReader<At>,
    file: Arc<File>,
    /// Groups whose bodies are read (all without one).
    filter: Option<Filter>,
    /// The current block's heads, and how many of them were read.
    heads: Vec<u8>,
    head: usize,
    /// Where the next head's body starts, and where the block ends.
    body_at: u64,
    block_end: u64,
    /// Whether this block's bodies are read in order (passing over those
    /// not wanted) rather than one by one where they are.
    in_order: bool,
    /// The body being decoded.
    body: Vec<u8>,
}

impl RunReader {
    fn new(
        run: &Run,
        parts: std::ops::Range<usize>,
        buffer: usize,
        filter: Option<Filter>,
    ) -> Self {
        let (pos, end) = (run.splits[parts.start], run.splits[parts.end]);
        RunReader {
            r: BufReader::with_capacity(buffer, At { file: run.file.clone(), pos, end }),
            file: run.file.clone(),
            filter,
            heads: Vec::new(),
            head: 0,
            body_at: pos,
            block_end: pos,
            in_order: true,
            body: Vec::new(),
        }
    }

    /// Where the reader is in the file.
    fn pos(&self) -> u64 {
        self.r.get_ref().pos - self.r.buffer().len() as u64
    }

    /// Reads the next block's heads, after the bodies of this one; false
    /// at the end.
    fn next_block(&mut self) -> std::io::Result<bool> {
        // Bodies not read in order (with a filter) are passed over.
        let left = self.block_end - self.pos();
        if left > 0 {
            self.r.seek_relative(i64::try_from(left).map_err(|_| corrupt())?)?;
        }
        let mut lengths = [0u8; 12];
        match self.r.read_exact(&mut lengths) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        let heads = u32::from_le_bytes(lengths[..4].try_into().expect("4 bytes")) as usize;
        let bodies = u64::from_le_bytes(lengths[4..].try_into().expect("8 bytes"));
        self.heads.resize(heads, 0);
        self.r.read_exact(&mut self.heads)?;
        self.head = 0;
        self.body_at = self.pos();
        self.block_end = self.body_at.checked_add(bodies).ok_or_else(corrupt)?;
        // With a filter, the bodies wanted are read in order when they are
        // a good part of the block (a busy client's), else one by one.
        self.in_order = match &self.filter {
            None => true,
            Some(f) => {
                let wanted: u64 = self
                    .heads
                    .chunks_exact(12)
                    .filter(|h| {
                        let hash = u64::from_le_bytes(h[..8].try_into().expect("8 bytes"));
                        f.totals.may_reach(hash, f.min)
                    })
                    .map(|h| u64::from(u32::from_le_bytes(h[8..].try_into().expect("4 bytes"))))
                    .sum();
                wanted * 4 >= bodies
            }
        };
        Ok(true)
    }

    /// The next group that the filter lets through.
    fn next_group(&mut self) -> Option<(u64, Group)> {
        let failed = |e: std::io::Error| -> ! { panic!("reading spilled counts back failed: {e}") };
        loop {
            while self.head + 12 > self.heads.len() {
                if !self.next_block().unwrap_or_else(|e| failed(e)) {
                    return None;
                }
            }
            let h = &self.heads[self.head..self.head + 12];
            self.head += 12;
            let hash = u64::from_le_bytes(h[..8].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(h[8..].try_into().expect("4 bytes")) as usize;
            let at = self.body_at;
            self.body_at += len as u64;
            if self.filter.as_ref().is_some_and(|f| !f.totals.may_reach(hash, f.min)) {
                continue;
            }
            self.body.resize(len, 0);
            if self.in_order {
                let skip = at - self.pos();
                if skip > 0 {
                    self.r.seek_relative(skip as i64).unwrap_or_else(|e| failed(e));
                }
                self.r.read_exact(&mut self.body).unwrap_or_else(|e| failed(e));
            } else {
                use std::os::unix::fs::FileExt;
                self.file.read_exact_at(&mut self.body, at).unwrap_or_else(|e| failed(e));
            }
            return Some((hash, decode(&self.body).unwrap_or_else(|e| failed(e))));
        }
    }
}

/// A group from its body.
fn decode(mut s: &[u8]) -> std::io::Result<Group> {
    let n = get_varint(&mut s)? as usize;
    let name = s.get(..n).ok_or_else(corrupt)?;
    let name = std::str::from_utf8(name).map_err(|_| corrupt())?.to_string();
    s = &s[n..];
    let n = get_varint(&mut s)? as usize;
    let mut secs = Vec::with_capacity(n.min(s.len()));
    let mut prev: Option<i64> = None;
    for _ in 0..n {
        let v = get_varint(&mut s)?;
        let sec = match prev {
            None => unzigzag(v),
            Some(p) => p.checked_add_unsigned(v).ok_or_else(corrupt)?,
        };
        prev = Some(sec);
        let count = u32::try_from(get_varint(&mut s)?).map_err(|_| corrupt())?;
        let mut b = Bucket { count, ..Bucket::default() };
        for i in 0..(count as usize).min(EVIDENCE_PER_SECOND) {
            let mut v = [0u32; 3];
            for x in &mut v {
                *x = u32::try_from(get_varint(&mut s)?).map_err(|_| corrupt())?;
            }
            b.ev[i] = LineRef { source: v[0], line: v[1], index: v[2] };
        }
        secs.push((sec, b));
    }
    Ok((name, secs))
}

fn corrupt() -> std::io::Error {
    std::io::Error::other("spilled counts do not decode")
}

/// Appends `v` in 7-bit groups, low first, the high bit marking "more".
fn put_varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push(v as u8 | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

fn get_varint(s: &mut &[u8]) -> std::io::Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = s.split_first().ok_or_else(corrupt)?;
        *s = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(v);
        }
    }
    Err(corrupt())
}

/// A signed number as an unsigned one small for small magnitudes.
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// Groups in [`order`] from runs and from memory, each group's seconds
/// from all of them merged.
pub struct Groups {
    readers: Vec<RunReader>,
    memory: std::vec::IntoIter<(u64, Group)>,
    /// The next group of each source (readers, then memory at the end).
    heap: BinaryHeap<Reverse<(u64, String, usize)>>,
    pending: Vec<Option<Vec<(i64, Bucket)>>>,
}

/// One part ([`PARTS`]) of a count's groups, not read yet.
pub struct Part {
    runs: Vec<Run>,
    index: usize,
    memory: Vec<(u64, Group)>,
    filter: Option<Filter>,
}

impl Part {
    /// The part's groups, in order (those the filter lets through).
    pub fn groups(self) -> Groups {
        Groups::over(&self.runs, self.index..self.index + 1, self.memory, self.filter)
    }
}

/// The [`PARTS`] parts of `runs` and of `memory` (groups in [`order`] with
/// their hashes), with only the groups `filter` lets through (a group is
/// let through or passed over whole: its hash decides).
pub fn parts(runs: Vec<Run>, memory: Vec<(u64, Group)>, filter: Option<Filter>) -> Vec<Part> {
    let mut out: Vec<Part> = (0..PARTS)
        .map(|index| Part { runs: runs.clone(), index, memory: Vec::new(), filter: filter.clone() })
        .collect();
    for (h, g) in memory {
        // Passed over whole, like its records in the runs.
        if filter.as_ref().is_none_or(|f| f.totals.may_reach(h, f.min)) {
            out[part_of(h)].memory.push((h, g));
        }
    }
    out
}

impl Groups {
    /// Every group of `runs` and `memory`.
    pub fn new(runs: Vec<Run>, memory: Vec<(u64, Group)>) -> Groups {
        Groups::over(&runs, 0..PARTS, memory, None)
    }

    fn over(
        runs: &[Run],
        parts: std::ops::Range<usize>,
        memory: Vec<(u64, Group)>,
        filter: Option<Filter>,
    ) -> Groups {
        // Buffers of 64 KiB, smaller when there are many runs.
        let buffer = ((4 << 20) / runs.len().max(1)).clamp(4 << 10, 64 << 10);
        let readers: Vec<RunReader> = runs
            .iter()
            .filter(|r| r.splits[parts.start] < r.splits[parts.end])
            .map(|r| RunReader::new(r, parts.clone(), buffer, filter.clone()))
            .collect();
        let n = readers.len();
        let mut g = Groups {
            readers,
            memory: memory.into_iter(),
            heap: BinaryHeap::new(),
            pending: vec![None; n + 1],
        };
        for i in 0..=n {
            g.refill(i);
        }
        g
    }

    fn refill(&mut self, i: usize) {
        let next = match self.readers.get_mut(i) {
            Some(r) => r.next_group(),
            None => self.memory.next(),
        };
        if let Some((hash, (name, secs))) = next {
            self.pending[i] = Some(secs);
            self.heap.push(Reverse((hash, name, i)));
        }
    }

    /// The next group, with its hash.
    fn next_hashed(&mut self) -> Option<(u64, Group)> {
        let Reverse((h, name, i)) = self.heap.pop()?;
        let mut secs = self.pending[i].take().expect("a pending group");
        self.refill(i);
        // The same group from other runs: a group seen all along (a busy
        // client) is in every run, so its lists are merged all at once.
        let mut more = Vec::new();
        while self.heap.peek().is_some_and(|Reverse((g, n, _))| *g == h && *n == name) {
            let Reverse((_, _, j)) = self.heap.pop().expect("peeked");
            more.push(self.pending[j].take().expect("a pending group"));
            self.refill(j);
        }
        if !more.is_empty() {
            secs = merge_secs(secs, more);
        }
        Some((h, (name, secs)))
    }
}

/// Merges lists of distinct, ordered seconds into one: all of them
/// together, sorted, with the buckets of one second merged.
fn merge_secs(first: Vec<(i64, Bucket)>, more: Vec<Vec<(i64, Bucket)>>) -> Vec<(i64, Bucket)> {
    let mut all = first;
    all.reserve(more.iter().map(Vec::len).sum());
    for list in more {
        all.extend(list);
    }
    // A sort that finds the sorted lists and merges them.
    all.sort_by_key(|(sec, _)| *sec);
    let mut out: Vec<(i64, Bucket)> = Vec::with_capacity(all.len());
    for (sec, b) in all {
        match out.last_mut() {
            Some((last, m)) if *last == sec => m.merge(&b),
            _ => out.push((sec, b)),
        }
    }
    out
}

impl Iterator for Groups {
    type Item = Group;

    fn next(&mut self) -> Option<Group> {
        self.next_hashed().map(|(_, group)| group)
    }
}

#[cfg(test)]
mod tests;
