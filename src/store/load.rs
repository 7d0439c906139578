//! Loading one input into `logs` with binary `COPY`.
//!
//! Parsing threads encode rows in PostgreSQL's binary COPY format while the
//! loading thread streams earlier chunks to the server, so both cores work.
//! A file's rows, its rejects and its checkpoint commit in one transaction:
//! if anything fails (or the process is killed) before `COMMIT`, nothing of
//! the file is visible and the next run loads it again — nothing is lost and
//! nothing doubled.
//!
//! Checkpoints are keyed by host and by a fingerprint of the file's first
//! bytes (read through any compression): a re-run skips what is loaded, a
//! file that grew is resumed at the byte it reached, a truncated or replaced
//! file starts over, and a rotated file found under another name (or
//! compressed after rotation) is recognised and not loaded twice.

use crate::ingest::{self, ChunkSink, Opened, Reject, SourceStats};
use crate::output;
use crate::parse::{Provenance, Record};
use crate::source::{self, Compression};
use anyhow::Context;
use postgres::Client;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::Arc;

/// Bytes of a file's beginning that identify it.
pub const FP_LEN: usize = 1024;

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

/// FNV-1a, 64 bits: a stable hash for fingerprints.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The first `FP_LEN` decompressed bytes of a file (fewer if it is shorter).
fn head(path: &str) -> anyhow::Result<Vec<u8>> {
    let mut r = source::open(path).with_context(|| format!("{path}: cannot open"))?;
    let mut buf = Vec::with_capacity(FP_LEN);
    r.by_ref()
        .take(FP_LEN as u64)
        .read_to_end(&mut buf)
        .with_context(|| format!("{path}: cannot read"))?;
    Ok(buf)
}

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
    min_ts: Option<i64>,
    max_ts: Option<i64>,
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
        rows.min_ts = Some(rows.min_ts.map_or(ts.secs, |m| m.min(ts.secs)));
        rows.max_ts = Some(rows.max_ts.map_or(ts.secs, |m| m.max(ts.secs)));
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

/// Loads inputs into PostgreSQL, one transaction per file.
pub struct Loader {
    client: Client,
    /// Creates partitions outside the file's transaction, so that a COPY
    /// started later in that transaction sees them.
    ddl: Client,
    host: Arc<str>,
    partitions: HashSet<i64>,
}

/// What loading one input did.
pub struct Loaded {
    pub stats: SourceStats,
    /// Rows written to `logs` by this run.
    pub rows: u64,
    /// Time range of those rows (seconds).
    pub min_ts: Option<i64>,
    pub max_ts: Option<i64>,
}

impl Loader {
    pub fn new(url: &str) -> anyhow::Result<Loader> {
        let client = super::open(url)?;
        let ddl = super::connect(url)?;
        Ok(Loader {
            client,
            ddl,
            host: Arc::from(super::ingest_host()),
            partitions: HashSet::new(),
        })
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Loads what is new in `path`. `reopen` opens it again from the start
    /// (for a file that turned out shorter than its checkpoint).
    pub fn load(
        &mut self,
        path: &str,
        mut opened: Opened,
        reopen: impl Fn() -> anyhow::Result<Opened>,
        mut on_reject: impl FnMut(&Reject),
    ) -> anyhow::Result<Loaded> {
        let stdin = path == "-";
        let head = if stdin { Vec::new() } else { head(path)? };
        let fp = fingerprint(&head);
        let fp_len = head.len() as i32;
        let host = self.host.to_string();

        // Where a previous run got to with this file, under any name.
        let mut resumed = None;
        if !stdin {
            let rows = if head.len() == FP_LEN {
                self.client.query(
                    "SELECT byte_offset, lines, fingerprint FROM checkpoints
                     WHERE ingest_host = $1 AND fingerprint = $2",
                    &[&host, &fp],
                )?
            } else {
                // A short file that grew has a checkpoint on a shorter prefix.
                self.client.query(
                    "SELECT byte_offset, lines, fingerprint FROM checkpoints
                     WHERE ingest_host = $1 AND path = $2 AND fp_len <= $3 AND fp_len > 0
                       AND fingerprint = ANY($4)
                     ORDER BY fp_len DESC LIMIT 1",
                    &[
                        &host,
                        &path,
                        &fp_len,
                        &(1..=head.len()).map(|n| fingerprint(&head[..n])).collect::<Vec<_>>(),
                    ],
                )?
            };
            if let Some(row) = rows.first() {
                let (offset, lines, old_fp): (i64, i64, String) =
                    (row.get(0), row.get(1), row.get(2));
                if opened.skip(offset as u64, lines as u64)? {
                    resumed = Some(old_fp);
                } else {
                    opened = reopen()?; // truncated or replaced: a new file
                }
            }
        }
        let raw_compressed = !stdin
            && std::fs::File::open(path)
                .and_then(|mut f| {
                    let mut m = [0u8; 4];
                    let n = f.read(&mut m)?;
                    Ok(Compression::sniff(&m[..n]) != Compression::None)
                })
                .unwrap_or(false);
        // A live, uncompressed file may be mid-line at its end: leave that for later.
        opened.start.hold_partial = !stdin && !raw_compressed;

        let sink =
            Arc::new(CopySink { path: Arc::clone(&opened.path), host: Arc::clone(&self.host) });
        let copy_sql = format!("COPY logs ({}) FROM STDIN (FORMAT binary)", COLUMNS.join(", "));
        let mut rows_loaded = 0u64;
        let (mut min_ts, mut max_ts): (Option<i64>, Option<i64>) = (None, None);
        let mut untimed = 0u64;
        let mut tx_rejects: Vec<Reject> = Vec::new();
        // Partitions are created on the side connection, outside the transaction.
        let partitions = &mut self.partitions;
        let ddl = &mut self.ddl;
        let mut tx = self.client.transaction()?;
        let opened_path = Arc::clone(&opened.path);
        let mut stats = ingest::process_with(opened, sink, |res| {
            let rows = res.value;
            create_partitions(ddl, partitions, &rows.days)?;
            if let Some(t) = rows.min_ts {
                min_ts = Some(min_ts.map_or(t, |m| m.min(t)));
            }
            if let Some(t) = rows.max_ts {
                max_ts = Some(max_ts.map_or(t, |m| m.max(t)));
            }
            if rows.count > 0 {
                let mut w = tx.copy_in(copy_sql.as_str())?;
                w.write_all(COPY_HEADER)?;
                w.write_all(&rows.bytes)?;
                w.write_all(COPY_TRAILER)?;
                w.finish()?;
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
                )?;
                on_reject(&r);
            }
            Ok(true)
        })?;
        stats.records -= untimed;
        stats.rejected += untimed;
        if !stdin && stats.end_offset > 0 {
            if let Some(old) = resumed.as_ref().filter(|old| **old != fp) {
                // The short file grew: its checkpoint moves to the longer prefix.
                tx.execute(
                    "DELETE FROM checkpoints WHERE ingest_host = $1 AND fingerprint = $2",
                    &[&host, old],
                )?;
            }
            tx.execute(
                "INSERT INTO checkpoints (ingest_host, fingerprint, fp_len, path, byte_offset, lines, records, rejected)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (ingest_host, fingerprint) DO UPDATE SET
                   fp_len = EXCLUDED.fp_len, path = EXCLUDED.path, byte_offset = EXCLUDED.byte_offset,
                   lines = EXCLUDED.lines, records = checkpoints.records + EXCLUDED.records,
                   rejected = checkpoints.rejected + EXCLUDED.rejected, updated_at = now()",
                &[
                    &host,
                    &fp,
                    &fp_len,
                    &path,
                    &(stats.end_offset as i64),
                    &(stats.end_lines as i64),
                    &(stats.records as i64),
                    &(stats.rejected as i64),
                ],
            )?;
        }
        tx.commit().with_context(|| format!("{path}: commit"))?;
        if resumed.is_some() && stats.lines == 0 {
            stats.skipped = true;
        }
        Ok(Loaded { stats, rows: rows_loaded, min_ts, max_ts })
    }
}

/// Creates the daily partitions of `logs` that `days` need and this
/// process has not made yet. Several loaders may race to create one day;
/// the loser's error is ignored.
fn create_partitions(
    ddl: &mut Client,
    made: &mut HashSet<i64>,
    days: &[i64],
) -> anyhow::Result<()> {
    for &day in days {
        if made.contains(&day) {
            continue;
        }
        let from = crate::parse::Timestamp::from_secs(day * 86_400).to_rfc3339();
        let to = crate::parse::Timestamp::from_secs((day + 1) * 86_400).to_rfc3339();
        let name = format!("logs_{}", from[..10].replace('-', ""));
        ddl.batch_execute(&format!(
            "DO $$ BEGIN
               CREATE TABLE IF NOT EXISTS {name} PARTITION OF logs FOR VALUES FROM ('{from}') TO ('{to}');
             EXCEPTION WHEN duplicate_table OR unique_violation THEN NULL;
             END $$"
        ))
        .with_context(|| format!("creating partition {name}"))?;
        made.insert(day);
    }
    Ok(())
}
