//! Rows in PostgreSQL's binary `COPY` format, encoded by the parsing
//! threads ([`CopySink`]): each record's columns, the days it falls on,
//! the records without a time, its per-minute counts and templates.

use super::minutes::Minutes;
use crate::output;
use crate::parse::time::TimeSpan;
use crate::parse::{Provenance, Record};
use crate::read::ChunkSink;
use crate::source::LineRef;
use crate::template::catalog::SigStats;
use std::sync::Arc;

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

pub(super) const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

pub(super) const COPY_TRAILER: &[u8] = &[0xff, 0xff];

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

/// One chunk's rows, encoded by a parsing thread.
#[derive(Default)]
pub struct Rows {
    pub(super) bytes: Vec<u8>,
    pub(super) count: u64,
    /// Days (seconds since the epoch / 86400) the rows fall on.
    pub(super) days: Vec<i64>,
    /// Records without a time stamp cannot be stored (logs is partitioned by time).
    pub(super) untimed: Vec<Provenance>,
    json: Vec<u8>,
    pub(super) span: TimeSpan,
    pub(super) minutes: Minutes,
    pub(super) templates: SigStats,
}

pub(super) struct CopySink {
    pub(super) path: Arc<str>,
    pub(super) host: Arc<str>,
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
