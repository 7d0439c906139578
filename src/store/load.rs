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

use super::copy::{CopySink, COLUMNS, COPY_HEADER, COPY_TRAILER};
use super::minutes::Minutes;
use crate::error::Error;
use crate::parse::time::TimeSpan;
use crate::parse::Framing;
use crate::parse::{Format, ParserOptions};
use crate::read::{self, Opened, Reject, SourceStats};
use crate::source::identity::{self, Probe, Recorded};
use crate::source::Start;
use crate::template::catalog::SigStats;
use anyhow::Context;
use postgres::{Client, Transaction};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

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
    pub(super) minutes: Minutes,
    /// The masked messages (stored with the rows, then left empty).
    pub(super) templates: SigStats,
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
        // A multi-line record at the end of a file written to a moment ago
        // may not be complete: it waits for the next run (or for the file
        // to rest that long).
        let joins = match &opts.multiline {
            Some(m) => m.clone().active().is_some(),
            None => resolved.default_multiline().is_some(),
        };
        let hold_record = hold_partial
            && joins
            && std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < crate::source::multiline::REST);
        // Sessions join lines across the start of each part (and of this load).
        let lookback = |offset: u64| -> anyhow::Result<Vec<u8>> {
            if resolved.joins_sessions() {
                Ok(probe.lookback(offset).with_context(|| format!("{path}: cannot read"))?)
            } else {
                Ok(Vec::new())
            }
        };
        let mut parts = vec![Part {
            start: Start {
                offset: cp.offset,
                lines: cp.lines,
                hold_partial,
                hold_record,
                before,
                lookback: lookback(cp.offset)?,
            },
            end: None,
            reader,
        }];
        // (Parts are cut at line ends: not for multi-line records.)
        if resolved.framing() == Framing::Lines && !joins {
            let cuts = probe
                .line_cuts(cp.offset, copy_streams(), part_min())
                .with_context(|| format!("{path}: cannot read"))?;
            for (offset, lines) in cuts {
                let Some((reader, before)) = probe.reader_at(offset)? else { break };
                parts.last_mut().expect("one part at least").end = Some(offset);
                let start = Start {
                    offset,
                    lines: cp.lines + lines,
                    hold_partial,
                    hold_record,
                    before,
                    lookback: lookback(offset)?,
                };
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
