//! Loading one input into `logs` with binary `COPY`.
//!
//! Parsing threads encode rows in PostgreSQL's binary COPY format while the
//! loading thread streams earlier chunks to the server, so both cores work.
//! A file's rows, its rejects and its checkpoint commit in one transaction:
//! if anything fails (or the process is killed) before `COMMIT`, nothing of
//! the file is visible and the next run loads it again — nothing is lost and
//! nothing doubled.
//!
//! Which checkpoint a file continues follows the rules of
//! [`crate::source::identity`] (growth from any size, rotation by rename,
//! compression after rotation, copytruncate, replacement, equal heads).
//!
//! Concurrency — overlapping cron runs, two jobs sharing a source, many
//! hosts — is handled in two steps, so that each byte range of a file is
//! loaded by exactly one loader:
//!
//! 1. *Resolve*, in a short transaction holding a transaction-level
//!    advisory lock for this host: find the checkpoint the file continues,
//!    or insert one at offset 0 for a new file. Two loaders of one new file
//!    thus agree on one checkpoint row instead of each making its own.
//! 2. *Load*, in the file's transaction: lock that row (`FOR UPDATE`; a
//!    second loader waits for the first to commit or roll back, with a note),
//!    read the offset it holds *now*, check again that the file still
//!    extends it, COPY from there, move the checkpoint, commit.
//!
//! A file that changed while another loader held it (so that it no longer
//! extends the checkpoint) is left for the next run, with a note; nothing
//! of it is lost.
//!
//! Several COPY streams. One COPY runs on one server backend, one core. A
//! large uncompressed file of line units (not CSV or JSON framing, not
//! standard input) is cut into up to `LOGTRACK_COPY_STREAMS` (default one
//! per core, at most 4) parts of at least `LOGTRACK_COPY_PART_BYTES`
//! (32 MiB), each cut just after a line end, its line number found by
//! counting the line ends before it. Each part is read by `pread` from the
//! probed file handle and copied on its own connection in its own
//! transaction, all at once; the parts commit in file order:
//!
//! - Part 1 is the file's transaction above: it holds the checkpoint row
//!   locked and moves it to the end of part 1.
//! - Part k > 1 moves the checkpoint only `WHERE byte_offset =` its own
//!   start, after part k-1 committed. The row lock makes that wait for any
//!   loader holding the row; if part k-1 failed, or another loader went on
//!   from part k-1's end first (and so loaded part k's bytes itself), the
//!   update matches no row and part k rolls back.
//!
//! So a commit always extends the checkpoint from where it stood, by bytes
//! whose rows are in that same transaction: exactly once holds for each
//! part as it does for a whole file. A failure or kill -9 keeps the parts
//! committed before it (the checkpoint says exactly which); the next run
//! goes on from there. A part k waits for nothing held by part j > k, so
//! the streams cannot deadlock each other; partitions for a new day are
//! attached with a lock open COPYs do not conflict with (see
//! `create_partitions`).
//!
//! Per-minute counts. Each transaction also adds its rows to `log_minutes`
//! and `log_hours` (records per minute, and per hour, service and
//! severity), as its last statements before `COMMIT`, in key order: the counts are exact (they commit or roll back
//! with the rows), parts of a file touch them only after the part before
//! committed, and two loaders take the rows' locks in one order.
//!
//! Records dated outside 1970–2199 are rejects (see
//! [`crate::read`]), so every row falls in a day partition PostgreSQL can
//! bound.

use crate::error::Error;
use crate::output;
use crate::parse::time::TimeSpan;
use crate::parse::Framing;
use crate::parse::{Format, ParserOptions, Provenance, Record};
use crate::read::{self, ChunkSink, Opened, Reject, SourceStats};
use crate::source::identity::{self, Probe, Recorded};
use crate::source::LineRef;
use crate::source::Start;
use crate::template::catalog::SigStats;
use anyhow::Context;
use postgres::{Client, Transaction};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

/// The columns of `logs` in COPY order (one list for the statement and the encoder).
pub const COLUMNS: &[&str] = &[
    "ts",
    "service",
    "host",
    "severity",
    "message",
    "user_name",
    "fields",
    "source_path",
    "source_line",
    "source_index",
    "ingest_host",
];

const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
const COPY_TRAILER: &[u8] = &[0xff, 0xff];
/// Seconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
const PG_EPOCH: i64 = 946_684_800;

/// Appends one field: length and bytes, or -1 for NULL. NUL bytes, which
/// PostgreSQL text cannot hold, become U+FFFD.
fn put(buf: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(b) if memchr::memchr(0, b).is_some() => {
            let s = String::from_utf8_lossy(b).replace('\0', "\u{fffd}");
            put(buf, Some(s.as_bytes()));
        }
        Some(b) => {
            buf.extend_from_slice(&(b.len() as i32).to_be_bytes());
            buf.extend_from_slice(b);
        }
    }
}

fn put_i64(buf: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(v) => {
            buf.extend_from_slice(&8i32.to_be_bytes());
            buf.extend_from_slice(&v.to_be_bytes());
        }
    }
}

/// Records per (minute, service, severity), as `log_minutes` keeps them
/// (and, summed by hour, `log_hours`).
#[derive(Default)]
pub struct Minutes {
    services: Vec<Box<str>>,
    counts: rustc_hash::FxHashMap<Key, i64>,
    /// The key of the latest records and how many there were since it was
    /// last added to `counts`: neighbouring records mostly share their
    /// minute, service and severity, so most records cost a comparison.
    run: Option<(Key, i64)>,
}

/// (minute start in seconds, service index, severity index or `u8::MAX`).
type Key = (i64, u32, u8);

/// The name of a missing severity in `log_minutes` and `log_hours`.
const NO_SEVERITY: &str = "none";

impl Minutes {
    fn add(&mut self, secs: i64, service: &str, severity: Option<crate::parse::Severity>, n: i64) {
        let minute = secs.div_euclid(60) * 60;
        let sev = severity.map_or(u8::MAX, |s| s as u8);
        if let Some(((m, svc, sv), count)) = &mut self.run {
            if *m == minute && *sv == sev && &*self.services[*svc as usize] == service {
                *count += n;
                return;
            }
        }
        let svc = match self.services.iter().position(|s| &**s == service) {
            Some(i) => i as u32,
            None => {
                self.services.push(service.into());
                self.services.len() as u32 - 1
            }
        };
        self.flush();
        self.run = Some(((minute, svc, sev), n));
    }

    /// Adds the current run to `counts`.
    fn flush(&mut self) {
        if let Some((key, n)) = self.run.take() {
            *self.counts.entry(key).or_default() += n;
        }
    }

    fn merge(&mut self, mut other: Minutes) {
        other.flush();
        for ((minute, svc, sev), n) in other.counts {
            let service = &other.services[svc as usize];
            let severity = (sev != u8::MAX).then(|| crate::parse::Severity::ALL[sev as usize]);
            self.add(minute, service, severity, n);
        }
    }

    /// Adds the counts to `log_minutes` and `log_hours`, each in key order
    /// (see the module's doc).
    fn store(&mut self, tx: &mut Transaction<'_>) -> Result<(), Error> {
        self.flush();
        self.store_by(tx, "log_minutes", "minute", 60)?;
        self.store_by(tx, "log_hours", "hour", 3600)
    }

    /// Adds the counts, summed by `secs`, to `table`, whose time column is `column`.
    fn store_by(
        &self,
        tx: &mut Transaction<'_>,
        table: &str,
        column: &str,
        secs: i64,
    ) -> Result<(), Error> {
        let mut sums: std::collections::BTreeMap<(i64, &str, &str), i64> = Default::default();
        for (&(minute, svc, sev), &n) in &self.counts {
            let severity = match sev {
                u8::MAX => NO_SEVERITY,
                s => crate::parse::Severity::ALL[s as usize].as_str(),
            };
            let at = minute.div_euclid(secs) * secs;
            *sums.entry((at, &*self.services[svc as usize], severity)).or_default() += n;
        }
        if sums.is_empty() {
            return Ok(());
        }
        let times: Vec<std::time::SystemTime> = sums.keys().map(|k| super::at(k.0)).collect();
        let services: Vec<&str> = sums.keys().map(|k| k.1).collect();
        let severities: Vec<&str> = sums.keys().map(|k| k.2).collect();
        let counts: Vec<i64> = sums.values().copied().collect();
        tx.execute(
            &format!(
                "INSERT INTO {table} ({column}, service, severity, records)
                 SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[])
                 ON CONFLICT ({column}, service, severity)
                 DO UPDATE SET records = {table}.records + EXCLUDED.records"
            ),
            &[&times, &services, &severities, &counts],
        )
        .map_err(Error::db(format!("counting the records per {column}")))?;
        Ok(())
    }
}

/// One chunk's rows, encoded by a parsing thread.
#[derive(Default)]
pub struct Rows {
    bytes: Vec<u8>,
    count: u64,
    /// Days (seconds since the epoch / 86400) the rows fall on.
    days: Vec<i64>,
    /// Records without a time stamp cannot be stored (logs is partitioned by time).
    untimed: Vec<Provenance>,
    json: Vec<u8>,
    span: TimeSpan,
    minutes: Minutes,
    templates: SigStats,
}

struct CopySink {
    path: Arc<str>,
    host: Arc<str>,
}

impl ChunkSink for CopySink {
    type Acc = Rows;
    type Out = Rows;

    fn begin(&self) -> Rows {
        Rows::default()
    }

    fn record(&self, rows: &mut Rows, r: &Record<'_>, prov: Provenance) {
        let Some(ts) = r.ts else {
            rows.untimed.push(prov);
            return;
        };
        rows.span.add(ts.secs);
        rows.minutes.add(ts.secs, &r.service, r.severity, 1);
        rows.templates.add(&r.service, &r.message, ts.secs, LineRef::at(0, prov));
        let day = ts.secs.div_euclid(86_400);
        if !rows.days.contains(&day) {
            rows.days.push(day);
        }
        let b = &mut rows.bytes;
        b.extend_from_slice(&(COLUMNS.len() as i16).to_be_bytes());
        let micros = (ts.secs - PG_EPOCH) * 1_000_000 + i64::from(ts.nanos / 1000);
        put_i64(b, Some(micros));
        put(b, Some(r.service.as_bytes()));
        put(b, r.host.as_deref().map(str::as_bytes));
        put(b, r.severity.map(|s| s.as_str().as_bytes()));
        put(b, Some(r.message.as_bytes()));
        put(b, r.user.as_deref().map(str::as_bytes));
        // jsonb: a version byte, then the JSON text. jsonb refuses \u0000.
        rows.json.clear();
        rows.json.push(1);
        output::write_fields(&mut rows.json, r);
        if memchr::memmem::find(&rows.json, b"\\u0000").is_some() {
            let fixed = String::from_utf8_lossy(&rows.json).replace("\\u0000", "\\ufffd");
            rows.json = fixed.into_bytes();
        }
        put(b, Some(&rows.json));
        put(b, Some(self.path.as_bytes()));
        put_i64(b, Some(prov.line as i64));
        put_i64(b, prov.index.map(|i| i as i64));
        put(b, Some(self.host.as_bytes()));
        rows.count += 1;
    }

    fn end(&self, rows: Rows) -> Rows {
        rows
    }
}

/// Loads inputs into PostgreSQL, one transaction per file (per part of a
/// file loaded by several COPY streams).
pub struct Loader {
    url: String,
    client: Client,
    /// The connections of the second and later COPY streams (opened when a
    /// file is first cut into parts).
    streams: Vec<Client>,
    /// Creates partitions outside the file's transaction, so that a COPY
    /// started later in that transaction sees them.
    ddl: Mutex<Partitions>,
    host: Arc<str>,
    /// The `runs` row whose loaded time range each file's transaction
    /// extends (so that a run failing later leaves its range known).
    pub run_id: Option<i64>,
}

struct Partitions {
    client: Client,
    made: HashSet<i64>,
}

/// What loading one input did.
pub struct Loaded {
    pub stats: SourceStats,
    /// Rows written to `logs` by this run.
    pub rows: u64,
    /// Time range of those rows (seconds).
    pub span: TimeSpan,
    /// The COPY streams whose parts were committed.
    pub streams: usize,
    /// The rows per minute (stored with them, then left empty).
    minutes: Minutes,
    /// The masked messages (stored with the rows, then left empty).
    templates: SigStats,
}

/// One byte range of a file, loaded by its own COPY stream.
struct Part {
    start: Start,
    /// Where the range ends (just after a line end); `None`: the end of the file.
    end: Option<u64>,
    reader: Box<dyn Read + Send>,
}

/// The rejects a part passes on after its commit (the rest are stored and
/// counted, not listed).
const LISTED_REJECTS: usize = 10_000;

/// How many COPY streams a large file is loaded with:
/// `LOGTRACK_COPY_STREAMS`, or one per core up to 4.
fn copy_streams() -> usize {
    std::env::var("LOGTRACK_COPY_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)))
        .max(1)
}

/// The smallest part worth its own stream: `LOGTRACK_COPY_PART_BYTES`, or 32 MiB.
fn part_min() -> u64 {
    std::env::var("LOGTRACK_COPY_PART_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(32 << 20)
}

const CHECKPOINT_COLUMNS: &str =
    "id, path, dev, inode, compressed, byte_offset, lines, head_len, head_hash, tail_hash";

fn recorded(row: &postgres::Row) -> Recorded {
    Recorded {
        id: row.get(0),
        path: row.get(1),
        dev: row.get(2),
        inode: row.get(3),
        compressed: row.get(4),
        offset: row.get::<_, i64>(5) as u64,
        lines: row.get::<_, i64>(6) as u64,
        head_len: row.get::<_, i32>(7) as usize,
        head_hash: row.get(8),
        tail_hash: row.get(9),
    }
}

impl Loader {
    pub fn new(url: &str) -> anyhow::Result<Loader> {
        let client = super::open(url)?;
        let ddl = super::connect(url)?;
        Ok(Loader {
            url: url.to_string(),
            client,
            streams: Vec::new(),
            ddl: Mutex::new(Partitions { client: ddl, made: HashSet::new() }),
            host: Arc::from(super::ingest_host()),
            run_id: None,
        })
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Loads what is new in `path` (`-`: all of standard input, which has
    /// no checkpoint). `on_reject` sees the rejects of each committed part
    /// (at most [`LISTED_REJECTS`] per part).
    pub fn load(
        &mut self,
        path: &str,
        format: &Format,
        opts: &ParserOptions,
        mut on_reject: impl FnMut(&Reject),
    ) -> anyhow::Result<Loaded> {
        if path == "-" {
            let opened = read::open(path, format, opts)?;
            let mut tx = self.client.transaction()?;
            let mut loaded = copy_rows(&mut tx, &self.ddl, &self.host, opened, &mut on_reject)?;
            note_range(&mut tx, self.run_id, &loaded)?;
            super::templates::store(
                &mut tx,
                std::mem::take(&mut loaded.templates),
                &loaded.stats.path,
            )?;
            loaded.minutes.store(&mut tx)?;
            tx.commit().context("-: commit")?;
            return Ok(loaded);
        }
        let probe = Probe::open(path).with_context(|| format!("{path}: cannot open"))?;
        let resolved = read::resolve_format(path, &probe.head, format)?;
        let empty = |notes: Vec<String>| -> anyhow::Result<Loaded> {
            let stats = SourceStats {
                path: path.to_string(),
                format: resolved.to_string(),
                skipped: true,
                notes,
                ..Default::default()
            };
            Ok(Loaded {
                stats,
                rows: 0,
                span: TimeSpan::default(),
                streams: 0,
                minutes: Minutes::default(),
                templates: SigStats::default(),
            })
        };
        if probe.head.is_empty() {
            return empty(Vec::new());
        }
        let id = self.resolve(&probe).with_context(|| format!("{path}: finding its checkpoint"))?;

        let host = self.host.to_string();
        let mut tx = read_committed(&mut self.client)?;
        let mut notes = Vec::new();
        let select = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE ingest_host = $1 AND id = $2 FOR UPDATE"
        );
        let row = match tx.query_opt(&format!("{select} SKIP LOCKED"), &[&host, &id])? {
            Some(row) => row,
            None => {
                notes.push("another loader was loading this file; waited for it".to_string());
                tx.query_one(&select, &[&host, &id])?
            }
        };
        let cp = recorded(&row);
        let Some((reader, before)) = probe.resume(&cp)? else {
            notes.push(
                "the file changed while another loader held it; it is left for the next run"
                    .to_string(),
            );
            return empty(notes);
        };
        // A live, uncompressed file may end mid-line: leave that for later.
        let hold_partial = !probe.compressed();
        let mut parts = vec![Part {
            start: Start { offset: cp.offset, lines: cp.lines, hold_partial, before },
            end: None,
            reader,
        }];
        if resolved.framing() == Framing::Lines {
            let cuts = probe
                .line_cuts(cp.offset, copy_streams(), part_min())
                .with_context(|| format!("{path}: cannot read"))?;
            for (offset, lines) in cuts {
                let Some((reader, before)) = probe.reader_at(offset)? else { break };
                parts.last_mut().expect("one part at least").end = Some(offset);
                let start = Start { offset, lines: cp.lines + lines, hold_partial, before };
                parts.push(Part { start, end: None, reader });
            }
        }
        while self.streams.len() + 1 < parts.len() {
            self.streams.push(super::connect(&self.url)?);
        }
        let mut txs = vec![tx];
        for c in self.streams.iter_mut().take(parts.len() - 1) {
            txs.push(read_committed(c)?);
        }
        let (ddl, own_host, run_id) = (&self.ddl, &self.host, self.run_id);
        let starts: Vec<u64> = parts.iter().map(|p| p.start.offset).collect();
        let mut total: Option<Loaded> = None;
        std::thread::scope(|s| -> anyhow::Result<()> {
            let handles: Vec<_> = txs
                .into_iter()
                .zip(parts)
                .map(|(mut tx, part)| {
                    let head = &probe.head;
                    s.spawn(move || -> anyhow::Result<_> {
                        let reader: Box<dyn Read + Send> = match part.end {
                            Some(end) => Box::new(part.reader.take(end - part.start.offset)),
                            None => part.reader,
                        };
                        let opened = read::open_at(path, head, reader, part.start, format, opts)?;
                        let mut listed = Vec::new();
                        let loaded =
                            copy_rows(&mut tx, ddl, own_host, opened, &mut |r: &Reject| {
                                if listed.len() < LISTED_REJECTS {
                                    listed.push(r.clone());
                                }
                            })?;
                        Ok((tx, loaded, listed))
                    })
                })
                .collect();
            // Parts commit in file order, each moving the checkpoint on from
            // where the part before it ended (see the module's doc).
            for (handle, start) in handles.into_iter().zip(starts) {
                let (mut tx, mut loaded, listed) =
                    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
                let reached = total.as_ref().map_or(cp.offset, |t| t.stats.end_offset);
                if reached != start {
                    notes.push(format!(
                        "the file ended at byte {reached} while it was loaded from byte {start} too; the rest is left for the next run"
                    ));
                    break;
                }
                let stats = &loaded.stats;
                let (head_len, head_hash, tail_hash) =
                    identity::marks(&probe.head, &stats.end_tail, stats.end_offset);
                let moved = tx.execute(
                    "UPDATE checkpoints SET path = $3, dev = $4, inode = $5, compressed = $6, byte_offset = $7,
                            lines = $8, head_len = $9, head_hash = $10, tail_hash = $11,
                            records = records + $12, rejected = rejected + $13, format = $14, updated_at = now()
                     WHERE ingest_host = $1 AND id = $2 AND byte_offset = $15",
                    &[
                        &host,
                        &id,
                        &path,
                        &probe.dev,
                        &probe.inode,
                        &probe.compressed(),
                        &(stats.end_offset as i64),
                        &(stats.end_lines as i64),
                        &(head_len as i32),
                        &head_hash,
                        &tail_hash,
                        &(stats.records as i64),
                        &(stats.rejected as i64),
                        &stats.format,
                        &(start as i64),
                    ],
                )?;
                if moved == 0 {
                    // Another loader took the file on from the part before
                    // this one (and loaded this part's bytes itself).
                    notes.push(format!(
                        "another loader went on from byte {start}; this run's copy of the rest is dropped"
                    ));
                    break;
                }
                note_range(&mut tx, run_id, &loaded)?;
                super::templates::store(
                    &mut tx,
                    std::mem::take(&mut loaded.templates),
                    &loaded.stats.path,
                )?;
                loaded.minutes.store(&mut tx)?;
                tx.commit().with_context(|| format!("{path}: commit"))?;
                listed.iter().for_each(&mut on_reject);
                match &mut total {
                    None => total = Some(loaded),
                    Some(t) => t.absorb(loaded),
                }
            }
            Ok(())
        })?;
        let mut loaded = total.unwrap_or(Loaded {
            stats: SourceStats {
                path: path.to_string(),
                format: resolved.to_string(),
                ..Default::default()
            },
            rows: 0,
            span: TimeSpan::default(),
            streams: 0,
            minutes: Minutes::default(),
            templates: SigStats::default(),
        });
        let stats = &mut loaded.stats;
        if cp.offset > 0 && stats.lines == 0 {
            stats.skipped = true;
        }
        notes.append(&mut stats.notes);
        stats.notes = notes;
        Ok(loaded)
    }

    /// Step 1: the id of the checkpoint `probe` continues, made at offset 0
    /// for a new file; under this host's lock, so that concurrent loaders
    /// of one file agree.
    fn resolve(&mut self, probe: &Probe) -> anyhow::Result<i64> {
        let host = self.host.to_string();
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&super::lock_key("files", &host)])?;
        let hashes = identity::prefix_hashes(&probe.head);
        let rows = tx.query(
            &format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE ingest_host = $1 AND head_hash = ANY($2)"
            ),
            &[&host, &hashes],
        )?;
        let candidates: Vec<Recorded> = rows
            .iter()
            .map(recorded)
            .filter(|c| hashes.get(c.head_len) == Some(&c.head_hash))
            .collect();
        let id = match probe.choose(&candidates)? {
            Some(c) => c.id,
            None => {
                let nothing = identity::hash(b"");
                tx.query_one(
                    "INSERT INTO checkpoints (ingest_host, path, dev, inode, compressed, byte_offset, lines,
                                              head_len, head_hash, tail_hash)
                     VALUES ($1, $2, $3, $4, $5, 0, 0, 0, $6, $6) RETURNING id",
                    &[&host, &probe.path, &probe.dev, &probe.inode, &probe.compressed(), &nothing],
                )?
                .get(0)
            }
        };
        tx.commit()?;
        Ok(id)
    }
}

impl Loaded {
    /// Adds what the next part of the same file loaded.
    fn absorb(&mut self, next: Loaded) {
        self.stats.absorb(next.stats);
        self.rows += next.rows;
        self.span.merge(next.span);
        self.streams += next.streams;
        // Each part stored its own minutes in its own transaction.
    }
}

/// A file's (or a part's) transaction. Read committed whatever the
/// server's default: waiting for the checkpoint row and updating it `WHERE
/// byte_offset =` rely on seeing the row as the loader before committed it.
fn read_committed(client: &mut Client) -> Result<Transaction<'_>, postgres::Error> {
    client.build_transaction().isolation_level(postgres::IsolationLevel::ReadCommitted).start()
}

/// Widens the run's loaded time range by what a file's transaction loaded.
fn note_range(
    tx: &mut Transaction<'_>,
    run_id: Option<i64>,
    loaded: &Loaded,
) -> anyhow::Result<()> {
    if let (Some(run), Some((from, to))) = (run_id, loaded.span.bounds()) {
        tx.execute(
            "UPDATE runs SET data_from = least(data_from, $2), data_to = greatest(data_to, $3)
             WHERE id = $1",
            &[&run, &super::at(from), &super::at(to)],
        )?;
    }
    Ok(())
}

/// COPYs the rows of `opened` (and stores its rejects) inside `tx`.
fn copy_rows(
    tx: &mut Transaction<'_>,
    ddl: &Mutex<Partitions>,
    host: &Arc<str>,
    opened: Opened,
    on_reject: &mut dyn FnMut(&Reject),
) -> anyhow::Result<Loaded> {
    let sink = Arc::new(CopySink { path: Arc::clone(&opened.path), host: Arc::clone(host) });
    let copy_sql = format!("COPY logs ({}) FROM STDIN (FORMAT binary)", COLUMNS.join(", "));
    let mut rows_loaded = 0u64;
    let mut span = TimeSpan::default();
    let mut minutes = Minutes::default();
    let mut templates = SigStats::default();
    let mut untimed = 0u64;
    let mut tx_rejects: Vec<Reject> = Vec::new();
    let opened_path = Arc::clone(&opened.path);
    let host: &str = host;
    let mut stats = read::process_with(opened, sink, |res| {
        let rows = res.value;
        create_partitions(ddl, &rows.days)?;
        span.merge(rows.span);
        minutes.merge(rows.minutes);
        templates.merge(rows.templates);
        if rows.count > 0 {
            let mut w =
                tx.copy_in(copy_sql.as_str()).map_err(Error::db("starting a COPY into logs"))?;
            let written = w
                .write_all(COPY_HEADER)
                .and_then(|()| w.write_all(&rows.bytes))
                .and_then(|()| w.write_all(COPY_TRAILER));
            // When the server ends the COPY with an error, writing fails
            // with "connection closed"; finishing gives the server's reason.
            let what = || format!("COPY of the rows of {opened_path} into logs");
            match (written, w.finish()) {
                (_, Err(e)) => return Err(Error::db(what())(e).into()),
                (Err(e), Ok(_)) => return Err(Error::db_io(what())(e).into()),
                (Ok(()), Ok(_)) => {}
            }
            rows_loaded += rows.count;
        }
        for prov in rows.untimed {
            untimed += 1;
            tx_rejects.push(Reject {
                path: Arc::clone(&opened_path),
                line: prov.line,
                index: prov.index,
                byte_offset: prov.byte_offset,
                reason: "the record has no time stamp, so it cannot be stored".into(),
            });
        }
        tx_rejects.extend(res.rejects);
        for r in tx_rejects.drain(..) {
            tx.execute(
                "INSERT INTO rejects (source_path, source_line, source_index, byte_offset, reason, ingest_host)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&&*r.path, &(r.line as i64), &r.index.map(|i| i as i64), &(r.byte_offset as i64), &r.reason, &host],
            )
            .map_err(Error::db(format!("storing a reject of {opened_path}")))?;
            on_reject(&r);
        }
        Ok(true)
    })?;
    stats.records -= untimed;
    stats.rejected += untimed;
    Ok(Loaded { stats, rows: rows_loaded, span, streams: 1, minutes, templates })
}

/// Creates the daily partitions of `logs` that `days` need and this
/// process has not made yet, while COPYs into `logs` may be open (this
/// loader's own among them). Several loaders may race to create one day;
/// the loser's error is ignored.
fn create_partitions(ddl: &Mutex<Partitions>, days: &[i64]) -> anyhow::Result<()> {
    if days.is_empty() {
        return Ok(());
    }
    let mut ddl = ddl.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Partitions { client, made } = &mut *ddl;
    for &day in days {
        if made.contains(&day) {
            continue;
        }
        let from = crate::parse::Timestamp::from_secs(day * 86_400).to_rfc3339();
        let to = crate::parse::Timestamp::from_secs((day + 1) * 86_400).to_rfc3339();
        let name = format!("logs_{}", from[..10].replace('-', ""));
        // Made and attached, not `CREATE TABLE ... PARTITION OF`: that
        // locks `logs` exclusively, so it would wait for this loader's own
        // COPY transactions (and they for it) when a file reaches a new day
        // mid-load. `ATTACH PARTITION` takes a lock that row writers do not
        // conflict with, and the next COPY routes rows into the new day.
        client.batch_execute(&format!(
            "DO $$ BEGIN
               IF to_regclass('{name}') IS NULL THEN
                 CREATE TABLE {name} (LIKE logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
                 ALTER TABLE logs ATTACH PARTITION {name} FOR VALUES FROM ('{from}') TO ('{to}');
               END IF;
             EXCEPTION WHEN duplicate_table OR unique_violation OR invalid_object_definition THEN NULL;
             END $$"
        ))
        .with_context(|| format!("creating partition {name}"))?;
        made.insert(day);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Severity;

    /// The counts as (minute, service, severity) → records.
    fn flat(m: &mut Minutes) -> std::collections::BTreeMap<(i64, String, Option<u8>), i64> {
        m.flush();
        m.counts
            .iter()
            .map(|(&(t, svc, sev), &n)| {
                ((t, m.services[svc as usize].to_string(), (sev != u8::MAX).then_some(sev)), n)
            })
            .collect()
    }

    #[test]
    fn minutes_count_runs_and_interleaved_keys_alike() {
        let records = [
            (0, "web", Some(Severity::Info)),
            (30, "web", Some(Severity::Info)),
            (59, "web", Some(Severity::Error)),
            (60, "web", Some(Severity::Info)),
            (61, "db", None),
            (62, "web", Some(Severity::Info)),
            (10, "web", Some(Severity::Info)),
        ];
        let mut one = Minutes::default();
        for (t, svc, sev) in records {
            one.add(t, svc, sev, 1);
        }
        // Counted in two parts and merged: the same.
        let (mut a, mut b) = (Minutes::default(), Minutes::default());
        for (i, (t, svc, sev)) in records.into_iter().enumerate() {
            if i % 2 == 0 { &mut a } else { &mut b }.add(t, svc, sev, 1);
        }
        a.merge(b);
        let got = flat(&mut one);
        assert_eq!(got, flat(&mut a));
        let info = Some(Severity::Info as u8);
        assert_eq!(got[&(0, "web".to_string(), info)], 3);
        assert_eq!(got[&(0, "web".to_string(), Some(Severity::Error as u8))], 1);
        assert_eq!(got[&(60, "web".to_string(), info)], 2);
        assert_eq!(got[&(60, "db".to_string(), None)], 1);
        assert_eq!(got.values().sum::<i64>(), records.len() as i64);
    }
}
