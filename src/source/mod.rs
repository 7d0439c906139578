//! Sources: finding the files a job names (globs, `-` for stdin), opening
//! them (gzip and zstd detected by their magic bytes, not their names), and
//! cutting the byte stream into [`Chunk`]s of whole units for the parsers.
//!
//! Framing is kept apart from parsing: [`lines::LineFramer`] cuts at line
//! ends, [`json::JsonFramer`] at the elements of JSON documents (CloudTrail's
//! `{"Records":[...]}`), so a parser only ever sees one unit.

pub mod behind;
pub mod identity;
pub mod json;
pub mod lines;
pub mod multiline;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Target size of one chunk of input handed to a parser thread.
pub const CHUNK_SIZE: usize = 1 << 20;

/// A line that caused a count: source (index into the run's list of
/// inputs), line, and event index inside a JSON document (0: none).
/// Ordered by position, so "the first lines" of a second are well defined
/// whatever order the records were counted in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineRef {
    pub source: u32,
    pub line: u32,
    pub index: u32,
}

impl LineRef {
    pub fn at(source: u32, prov: Provenance) -> LineRef {
        LineRef {
            source,
            line: prov.line.min(u32::MAX as u64) as u32,
            index: prov.index.unwrap_or(0).min(u32::MAX as u64) as u32,
        }
    }
}

/// How the input of a format is cut into units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Lines,
    /// CSV records: lines, except that a line end inside a quoted cell is
    /// part of the record.
    CsvRecords,
    /// JSON documents: `{"Records":[...]}`, arrays, or one object per line.
    Json,
}

/// Where a unit came from. `line` is 1-based; `index` is the 1-based
/// position of an event inside a JSON document (CloudTrail), else `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Provenance {
    pub line: u64,
    pub index: Option<u64>,
    pub byte_offset: u64,
}

/// A run of whole units of one input, with where it starts.
#[derive(Debug, Default)]
pub struct Chunk {
    pub data: Vec<u8>,
    /// Line number of the first byte of `data` (1-based).
    pub first_line: u64,
    /// Offset of `data[0]` in the (decompressed) input stream.
    pub byte_offset: u64,
    /// For JSON and CSV framing: the units inside `data`. `None`: split at
    /// line ends.
    pub units: Option<Vec<UnitSpan>>,
    /// Units the framer itself rejected (a value too long to hold), each
    /// counted as one unit read.
    pub rejects: Vec<(Provenance, String)>,
    /// The bytes before this chunk that a parser with sessions looks back
    /// on (see [`behind::LookBehind`]).
    pub behind: Option<Arc<behind::Behind>>,
    /// Bytes of the input the chunk stands for, when not `data`'s length
    /// (joined multi-line records keep less than they read).
    pub read: Option<u64>,
}

/// One unit inside a chunk (a JSON event, a CSV record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitSpan {
    pub start: usize,
    pub end: usize,
    pub line: u64,
    /// The event's position inside its JSON document.
    pub index: Option<u64>,
    pub byte_offset: u64,
    /// A multi-line record: the lines it spans (0: one line), and how many
    /// of them its text leaves out (over `max_lines`/`max_bytes`).
    pub lines: u32,
    pub dropped: u32,
}

impl Chunk {
    /// Calls `f` for every unit of the chunk in order.
    pub fn for_each_unit(&self, mut f: impl FnMut(&[u8], Provenance)) {
        match &self.units {
            Some(units) => {
                for u in units {
                    let prov =
                        Provenance { line: u.line, index: u.index, byte_offset: u.byte_offset };
                    f(&self.data[u.start..u.end], prov);
                }
            }
            None => lines::for_each_line(&self.data, self.first_line, |line, no, off| {
                let prov = Provenance {
                    line: no,
                    index: None,
                    byte_offset: self.byte_offset + off as u64,
                };
                f(line, prov)
            }),
        }
    }
}

/// Cuts an input into chunks. `next_chunk` returns `None` at the end.
pub trait Framer: Send {
    fn next_chunk(&mut self) -> io::Result<Option<Chunk>>;
    /// Things worth telling the user that are not rejects (a digest file
    /// skipped, a line longer than the chunk limit).
    fn notes(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// CloudTrail digest documents passed over (they hold no events).
    fn digests(&self) -> u64 {
        0
    }
    /// Bytes of the input consumed so far (whole units only) and the lines
    /// they hold: what a checkpoint records.
    fn position(&self) -> (u64, u64);
    /// The last bytes (up to [`identity::FP_LEN`]) before [`Framer::position`]:
    /// the tail a checkpoint recognises the file by.
    fn tail(&self) -> Vec<u8>;
}

/// Keeps the last [`identity::FP_LEN`] bytes of what is appended.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tail(Vec<u8>);

impl Tail {
    pub(crate) fn push(&mut self, data: &[u8]) {
        let keep = identity::FP_LEN;
        if data.len() >= keep {
            self.0.clear();
            self.0.extend_from_slice(&data[data.len() - keep..]);
        } else {
            self.0.extend_from_slice(data);
            let excess = self.0.len().saturating_sub(keep);
            self.0.drain(..excess);
        }
    }

    /// The kept bytes followed by `more`, cut to the last `FP_LEN`.
    pub(crate) fn with(&self, more: &[u8]) -> Vec<u8> {
        let mut t = self.clone();
        t.push(more);
        t.0
    }
}

pub fn framer(framing: Framing, input: Box<dyn Read + Send>, chunk_size: usize) -> Box<dyn Framer> {
    resumed_framer(framing, input, chunk_size, Start::default())
}

/// Where reading starts: after `offset` bytes holding `lines` lines that a
/// previous run consumed (the caller has skipped them already).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Start {
    pub offset: u64,
    pub lines: u64,
    /// Leave an unfinished last unit for the next run (a live file): a line
    /// without its line end, a JSON-lines event without its closing brace.
    pub hold_partial: bool,
    /// The bytes just before `offset` (for [`Framer::tail`]).
    pub before: Vec<u8>,
    /// Multi-line records: hold back the last one at the end (a live file
    /// written to a moment ago: more of it may come).
    pub hold_record: bool,
    /// For a format that joins lines into sessions: the bytes before
    /// `offset` it looks back on (up to [`behind::WINDOW`]; see
    /// [`identity::Probe::lookback`]), so that a part read on its own joins
    /// as the whole file would.
    pub lookback: Vec<u8>,
}

pub fn resumed_framer(
    framing: Framing,
    input: Box<dyn Read + Send>,
    chunk_size: usize,
    start: Start,
) -> Box<dyn Framer> {
    match framing {
        Framing::Lines => Box::new(lines::LineFramer::new(input, chunk_size).resume(start)),
        Framing::CsvRecords => {
            Box::new(lines::LineFramer::new(input, chunk_size).csv_records().resume(start))
        }
        Framing::Json => Box::new(json::JsonFramer::new(input, chunk_size).resume(start)),
    }
}

/// How an input is compressed, judged by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Opens a path (`-` is stdin) and undoes its compression. The returned
/// reader is buffered, so callers can peek with `fill_buf` to sniff a format.
pub fn open(path: &str) -> io::Result<BufReader<Box<dyn Read + Send>>> {
    let raw: Box<dyn Read + Send> =
        if path == "-" { Box::new(io::stdin()) } else { Box::new(File::open(path)?) };
    let mut raw = BufReader::with_capacity(256 << 10, raw);
    let head = raw.fill_buf()?;
    let inner: Box<dyn Read + Send> = match Compression::sniff(head) {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(raw)?),
    };
    // Smaller than a chunk, so the framers' 1 MiB reads bypass this buffer
    // (no second copy); large enough to sniff a format from.
    Ok(BufReader::with_capacity(256 << 10, inner))
}

/// Reads up to `n` bytes of the start of a buffered reader without consuming them.
pub fn peek(reader: &mut BufReader<Box<dyn Read + Send>>) -> io::Result<&[u8]> {
    reader.fill_buf()
}

/// The files a source path names, and what could not be looked at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    pub paths: Vec<String>,
    /// Directories that could not be read (their files are missing from
    /// `paths`; the readable ones are all there).
    pub warnings: Vec<String>,
}

/// Expands a source path: `-`, a plain path, or a glob (`*`, `?`, `[..]`,
/// and `**` for any depth of directories). A plain path that does not
/// exist and a glob that matches nothing are errors. A directory that
/// cannot be read is a warning and the walk goes on; `**` enters each
/// directory once, so symbolic-link loops end. Paths come sorted.
pub fn discover(pattern: &str) -> crate::error::Result<Discovered> {
    let fail =
        |reason: String| crate::error::Error::Pattern { pattern: pattern.to_string(), reason };
    if pattern == "-" {
        return Ok(Discovered { paths: vec!["-".into()], warnings: Vec::new() });
    }
    let is_glob = pattern.contains(['*', '?', '[']);
    if !is_glob {
        return if Path::new(pattern).exists() {
            Ok(Discovered { paths: vec![pattern.to_string()], warnings: Vec::new() })
        } else {
            Err(fail("no such file".into()))
        };
    }
    let (base, relative) = match pattern.strip_prefix('/') {
        Some(rest) => (PathBuf::from("/"), rest),
        None => (PathBuf::new(), pattern),
    };
    let mut comps = Vec::new();
    for part in relative.split('/') {
        comps.push(match part {
            "**" => Comp::AnyDirs,
            p if p.contains(['*', '?', '[']) => {
                Comp::Glob(glob::Pattern::new(p).map_err(|e| fail(format!("invalid glob: {e}")))?)
            }
            p => Comp::Literal(p.to_string()),
        });
    }
    let mut walk = Walk::default();
    walk.walk(&base, &comps);
    let mut paths: Vec<String> =
        walk.files.into_iter().map(|p| p.to_string_lossy().into_owned()).collect();
    paths.sort();
    paths.dedup();
    if paths.is_empty() && walk.warnings.is_empty() {
        return Err(fail("no file matches".into()));
    }
    Ok(Discovered { paths, warnings: walk.warnings })
}

enum Comp {
    Literal(String),
    Glob(glob::Pattern),
    /// `**`: zero or more directories.
    AnyDirs,
}

#[derive(Default)]
struct Walk {
    files: Vec<PathBuf>,
    warnings: Vec<String>,
    /// Directories each `**` has entered: (device, inode, components
    /// left), so that one `**` enters a directory once while a later `**`
    /// of the same pattern may enter it too.
    entered: std::collections::HashSet<(u64, u64, usize)>,
}

impl Walk {
    fn walk(&mut self, dir: &Path, comps: &[Comp]) {
        let Some((first, rest)) = comps.split_first() else { return };
        let join = |name: &str| {
            if dir.as_os_str().is_empty() {
                PathBuf::from(name)
            } else {
                dir.join(name)
            }
        };
        match first {
            Comp::Literal(name) => {
                // "" is the root ("/x") or a doubled slash.
                let path = if name.is_empty() { dir.to_path_buf() } else { join(name) };
                self.step(path, rest);
            }
            Comp::Glob(pat) => {
                for name in self.list(dir) {
                    if pat.matches(&name) {
                        self.step(join(&name), rest);
                    }
                }
            }
            Comp::AnyDirs => {
                use std::os::unix::fs::MetadataExt;
                let here = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                let Ok(meta) = std::fs::metadata(here) else { return };
                if !self.entered.insert((meta.dev(), meta.ino(), comps.len())) {
                    return; // a link back to a directory already walked
                }
                self.walk(dir, rest);
                for name in self.list(dir) {
                    let sub = join(&name);
                    if sub.is_dir() {
                        self.walk(&sub, comps);
                    }
                }
            }
        }
    }

    /// Where one component led: a file at the end, a directory to go on in.
    fn step(&mut self, path: PathBuf, rest: &[Comp]) {
        if rest.is_empty() {
            if path.is_file() {
                self.files.push(path);
            }
        } else if path.is_dir() || path.as_os_str().is_empty() {
            self.walk(&path, rest);
        }
    }

    /// The names in a directory, sorted; an unreadable one is a warning.
    fn list(&mut self, dir: &Path) -> Vec<String> {
        let here = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let entries = match std::fs::read_dir(here) {
            Ok(e) => e,
            Err(e) => {
                self.warnings.push(format!("{}: cannot read directory: {e}", here.display()));
                return Vec::new();
            }
        };
        let mut names: Vec<String> =
            entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_and_zstd_are_detected_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let plain = b"a line\nanother\n";
        let gz = dir.path().join("log.1");
        let mut e = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        e.write_all(plain).unwrap();
        e.finish().unwrap();
        let zs = dir.path().join("log.2");
        std::fs::write(&zs, zstd::encode_all(&plain[..], 3).unwrap()).unwrap();
        for p in [gz, zs] {
            let mut s = Vec::new();
            open(p.to_str().unwrap()).unwrap().read_to_end(&mut s).unwrap();
            assert_eq!(s, plain);
        }
    }

    #[test]
    fn discover_reports_missing_files() {
        assert_eq!(
            discover("/nonexistent/x.log").unwrap_err().to_string(),
            "/nonexistent/x.log: no such file"
        );
        assert_eq!(
            discover("/nonexistent/*.log").unwrap_err().to_string(),
            "/nonexistent/*.log: no file matches"
        );
    }

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x\n").unwrap();
    }

    #[test]
    fn globs_walk_any_depth_once_through_symlink_loops() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        touch(&d.join("a.log"));
        touch(&d.join("x/b.log"));
        touch(&d.join("x/y/c.log"));
        touch(&d.join("x/y/c.txt"));
        std::os::unix::fs::symlink(d, d.join("x/y/loop")).unwrap();
        std::os::unix::fs::symlink(d.join("x"), d.join("x/back")).unwrap();
        let got = discover(&format!("{}/**/*.log", d.display())).unwrap();
        let want: Vec<String> = ["a.log", "x/b.log", "x/y/c.log"]
            .iter()
            .map(|f| d.join(f).display().to_string())
            .collect();
        assert_eq!(got.paths, want);
        assert!(got.warnings.is_empty());
        let got = discover(&format!("{}/x/*/c.*", d.display())).unwrap();
        assert_eq!(got.paths.len(), 2);
        // A second `**` walks what the first one walked too.
        let got = discover(&format!("{}/**/**/*.log", d.display())).unwrap();
        assert_eq!(got.paths, want);
        // Links are followed (each `**` enters a directory once), so a file
        // may be named under two paths; a run reads it once (by inode).
        let got = discover(&format!("{}/**/y/**/*.log", d.display())).unwrap();
        let want: Vec<String> = ["x/y/c.log", "x/y/loop/a.log", "x/y/loop/x/b.log"]
            .iter()
            .map(|f| d.join(f).display().to_string())
            .collect();
        assert_eq!(got.paths, want);
    }

    #[test]
    fn an_unreadable_directory_is_a_warning_and_the_walk_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        touch(&d.join("a/x.log"));
        touch(&d.join("c/y.log"));
        // Permissions do not stop root (CI): list a directory that is gone
        // by the time it is read, as one removed mid-walk is.
        let mut walk = Walk::default();
        let comps = [Comp::Glob(glob::Pattern::new("*.log").unwrap())];
        for sub in ["a", "b", "c"] {
            walk.walk(&d.join(sub), &comps);
        }
        assert_eq!(walk.files, [d.join("a/x.log"), d.join("c/y.log")]);
        assert_eq!(walk.warnings.len(), 1);
        assert!(walk.warnings[0]
            .starts_with(&format!("{}: cannot read directory", d.join("b").display())));
    }
}
