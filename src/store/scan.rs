//! Detection over stored records: PostgreSQL hands back the rows of a time
//! range and the rules' own [`RuleMatch`]es count them, exactly as parsing
//! threads count parsed records in memory. There is no second definition of
//! what a rule matches (no SQL `LIKE`, `lower` or `btrim` standing in for
//! the Rust match): an in-memory run and a run over the database count the
//! same records in the same groups.
//!
//! The rules the database is trusted with are plain and exact:
//!
//! - the time range (`ts >= from AND ts < to`, whole seconds);
//! - a service equality, pushed down only when every rule names a service
//!   (the match checks it again);
//! - for silences that start before the range, the newest row of every
//!   distinct combination of the columns a rule groups by
//!   ([`last_before`]): the rule's group is a function of those columns, so
//!   the newest row of each of its groups is among them.
//!
//! Rows come in binary `COPY` (no text escaping to undo), are cut into
//! blocks of whole rows by the calling thread and decoded and counted by a
//! worker per core. A stored row is the record the loader wrote: the same
//! service, host, user, severity name and message, and fields as JSON that
//! are read back into the same values (numbers as numbers, so their text is
//! the same). NUL bytes, which PostgreSQL text cannot hold, were stored as
//! U+FFFD: a rule that matches on a NUL byte can only match in memory.
//!
//! Evidence lines are ordered by source path (then line and event), in
//! memory and here alike, so both pick the same first lines of a second.

use crate::detect::{Counts, Reads, RuleMatch, Tally};
use crate::error::{Error, Result};
use crate::parse::{Provenance, Record, Severity, Timestamp, Value};
use crate::summary::overview::{OverviewAcc, SourceKind};
use postgres::Client;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::sync::{mpsc, Arc, Mutex};

/// Seconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
const PG_EPOCH: i64 = 946_684_800;
/// Rows are handed to the workers in blocks of about this many bytes.
const BLOCK: usize = 1 << 20;

/// Source paths numbered in path order, for [`LineRef::source`].
#[derive(Default)]
pub struct Paths {
    pub list: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
}

impl Paths {
    /// The paths, numbered in sorted order.
    pub fn sorted(mut paths: Vec<String>) -> Paths {
        paths.sort();
        paths.dedup();
        let mut out = Paths::default();
        for p in paths {
            out.id(&p);
        }
        out
    }

    /// The number of `path`, given the next one if it is new.
    pub fn id(&mut self, path: &str) -> u32 {
        if let Some(&i) = self.index.get(path) {
            return i;
        }
        let i = self.list.len() as u32;
        let p: Arc<str> = Arc::from(path);
        self.list.push(Arc::clone(&p));
        self.index.insert(p, i);
        i
    }
}

/// The source paths of the rows with `from <= ts < to`, numbered in order.
pub fn paths(client: &mut Client, from: i64, to: i64) -> Result<Paths> {
    let rows = client
        .query(
            "SELECT DISTINCT source_path FROM logs WHERE ts >= $1 AND ts < $2",
            &[&super::at(from), &super::at(to)],
        )
        .map_err(Error::db("listing the source paths of the range"))?;
    Ok(Paths::sorted(rows.iter().map(|r| r.get(0)).collect()))
}

/// The columns fetched, in order: the fixed ones, then what `reads` needs.
struct Layout {
    sql: String,
    host: Option<usize>,
    user: Option<usize>,
    severity: Option<usize>,
    message: Option<usize>,
    /// (key, column) of each field read.
    fields: Vec<(String, usize)>,
    columns: usize,
}

impl Layout {
    fn new(reads: &Reads) -> Layout {
        let mut cols: Vec<String> =
            ["ts", "service", "source_path", "source_line", "coalesce(source_index, 0)"]
                .map(String::from)
                .to_vec();
        let mut add = |on: bool, col: &str| {
            on.then(|| {
                cols.push(col.to_string());
                cols.len() - 1
            })
        };
        let host = add(reads.host, "host");
        let user = add(reads.user, "user_name");
        let severity = add(reads.severity, "severity");
        let message = add(reads.message, "message");
        let mut fields = Vec::new();
        for k in &reads.fields {
            cols.push(format!("fields -> {}", quote_literal(k)));
            fields.push((k.clone(), cols.len() - 1));
        }
        Layout { sql: cols.join(", "), host, user, severity, message, fields, columns: cols.len() }
    }
}

/// A SQL string literal (field keys come from job files).
fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// What a report's overview reads of a record.
fn overview_reads() -> Reads {
    let mut fields: Vec<String> =
        ["arn", "client_ip", "component", "path", "source_ip", "status"].map(String::from).to_vec();
    fields.sort();
    Reads { severity: true, user: true, message: true, fields, ..Reads::default() }
}

/// The kind of source a stored record came from, by its fields: CloudTrail
/// records have an `arn`, HDFS ones a `component` (as in [`crate::store::overview`]).
fn kind_of(r: &Record<'_>) -> SourceKind {
    if r.fields.iter().any(|(k, _)| k == "arn") {
        SourceKind::Cloudtrail
    } else if r.fields.iter().any(|(k, _)| k == "component") {
        SourceKind::Hdfs
    } else {
        SourceKind::Access
    }
}

/// Counts the rows with `from <= ts < to` for every rule in `matches`
/// (each also bounded by its own range), numbering sources by `paths`;
/// with `overview`, also a report's overview of the rows with
/// `overview.0 <= ts <= overview.1`, in the same pass (the same counting
/// as a run in memory: top lists are estimates past 2,048 values).
pub fn tally(
    client: &mut Client,
    matches: &Arc<Vec<RuleMatch>>,
    from: i64,
    to: i64,
    paths: &mut Paths,
    overview: Option<(i64, i64)>,
) -> Result<(Tally, Option<OverviewAcc>)> {
    let mut reads = Reads::default();
    for m in matches.iter() {
        reads.union(&m.reads());
    }
    if overview.is_some() {
        reads.union(&overview_reads());
    }
    let layout = Arc::new(Layout::new(&reads));
    let services: Option<Vec<String>> =
        matches.iter().map(|m| m.service().map(quote_literal)).collect();
    let service_filter = match services {
        // The overview counts every service.
        Some(list) if !list.is_empty() && overview.is_none() => {
            format!(" AND service IN ({})", list.join(", "))
        }
        _ => String::new(),
    };
    // COPY takes no parameters: the bounds are written as exact literals.
    let sql = format!(
        "COPY (SELECT {} FROM logs WHERE ts >= {} AND ts < {}{service_filter}) \
         TO STDOUT (FORMAT binary)",
        layout.sql,
        super::at_literal(from),
        super::at_literal(to),
    );
    let stream = client.copy_out(sql.as_str()).map_err(Error::db("reading stored rows"))?;
    let paths_shared = Arc::new(Mutex::new(std::mem::take(paths)));
    let result = count_rows(stream, matches, &layout, &paths_shared, overview);
    *paths = std::mem::take(&mut *paths_shared.lock().unwrap_or_else(|e| e.into_inner()));
    let (tally, acc) = result?;
    Ok((tally, overview.map(|_| acc)))
}

/// Cuts the COPY stream into blocks of whole rows and counts them on a
/// worker per core.
fn count_rows(
    mut stream: impl Read,
    matches: &Arc<Vec<RuleMatch>>,
    layout: &Arc<Layout>,
    paths: &Arc<Mutex<Paths>>,
    overview: Option<(i64, i64)>,
) -> Result<(Tally, OverviewAcc)> {
    let workers = rayon::current_num_threads().max(1);
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(2 * workers);
    std::thread::scope(|scope| {
        // Only the workers hold the receiver: when they have all stopped (on
        // a bad row), sending fails and reading stops instead of blocking.
        let rx = Arc::new(Mutex::new(rx));
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let rx = Arc::clone(&rx);
                scope.spawn(move || -> Result<(Tally, OverviewAcc)> {
                    let mut w = Worker::new(matches, layout, paths);
                    w.overview = overview.map(|o| (o, OverviewAcc::default()));
                    loop {
                        let block = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                            Ok(b) => b,
                            Err(_) => {
                                let acc = w.overview.map(|(_, acc)| acc).unwrap_or_default();
                                return Ok((w.tally, acc));
                            }
                        };
                        w.block(&block)?;
                    }
                })
            })
            .collect();
        drop(rx);
        let read = split_blocks(&mut stream, layout.columns, |block| tx.send(block).is_ok());
        drop(tx);
        let mut tallies = Vec::new();
        let mut acc = OverviewAcc::default();
        for h in handles {
            let (t, a) =
                h.join().map_err(|_| Error::Protocol("a row counter panicked".into()))??;
            tallies.push(t);
            acc.merge(a);
        }
        read?;
        Ok((Tally::merge(tallies), acc))
    })
}

/// Reads the binary COPY stream and hands on blocks of whole rows (each
/// row: a field count, then per field a length, -1 for NULL, and bytes).
fn split_blocks(
    stream: &mut impl Read,
    columns: usize,
    mut send: impl FnMut(Vec<u8>) -> bool,
) -> Result<()> {
    let bad = |what: &str| Error::Protocol(format!("unexpected COPY data from the server: {what}"));
    // The driver hands over one message (often one row) per read: gather
    // them in `buf`, whose rows from `start` to `end` are known whole.
    let mut scratch = vec![0u8; 256 << 10];
    let mut buf: Vec<u8> = Vec::with_capacity(2 * BLOCK);
    let (mut start, mut end) = (0, 0);
    let mut header_done = false;
    loop {
        let n = stream.read(&mut scratch).map_err(Error::db_io("reading stored rows"))?;
        let eof = n == 0;
        buf.extend_from_slice(&scratch[..n]);
        if !header_done {
            if buf.len() < 19 {
                if eof {
                    return Err(bad("short header"));
                }
                continue;
            }
            if !buf.starts_with(b"PGCOPY\n\xff\r\n\0") {
                return Err(bad("signature"));
            }
            let ext = u32::from_be_bytes(buf[15..19].try_into().expect("4 bytes")) as usize;
            if buf.len() < 19 + ext {
                if eof {
                    return Err(bad("short header extension"));
                }
                continue;
            }
            (start, end) = (19 + ext, 19 + ext);
            header_done = true;
        }
        let mut trailer = false;
        while let Some(n) = buf.get(end..end + 2) {
            let n = i16::from_be_bytes([n[0], n[1]]);
            if n == -1 {
                trailer = true;
                break;
            }
            if n as usize != columns {
                return Err(bad("field count"));
            }
            let mut p = end + 2;
            let mut whole = true;
            for _ in 0..columns {
                let Some(l) = buf.get(p..p + 4) else {
                    whole = false;
                    break;
                };
                let l = i32::from_be_bytes(l.try_into().expect("4 bytes"));
                p += 4 + l.max(0) as usize;
                if p > buf.len() {
                    whole = false;
                    break;
                }
            }
            if !whole {
                break;
            }
            end = p;
        }
        if end - start >= BLOCK || trailer || eof {
            let rest = buf[end..].to_vec();
            let mut block = std::mem::replace(&mut buf, rest);
            block.truncate(end);
            block.drain(..start);
            (start, end) = (0, 0);
            if !block.is_empty() && !send(block) {
                return Ok(());
            }
        }
        if trailer {
            return Ok(());
        }
        if eof {
            return Err(bad("no trailer"));
        }
    }
}

/// One counting thread.
struct Worker<'a> {
    matches: &'a [RuleMatch],
    layout: &'a Layout,
    paths: &'a Mutex<Paths>,
    tally: Tally,
    /// The overview's time range and counts, when one is wanted.
    overview: Option<((i64, i64), OverviewAcc)>,
    last_path: Vec<u8>,
    last_id: u32,
}

impl<'a> Worker<'a> {
    fn new(
        matches: &'a Arc<Vec<RuleMatch>>,
        layout: &'a Arc<Layout>,
        paths: &'a Arc<Mutex<Paths>>,
    ) -> Self {
        Worker {
            matches,
            layout,
            paths,
            tally: Tally::default(),
            overview: None,
            last_path: Vec::new(),
            last_id: 0,
        }
    }

    fn block(&mut self, block: &[u8]) -> Result<()> {
        let mut p = 0;
        let mut cols: Vec<Option<&[u8]>> = Vec::with_capacity(self.layout.columns);
        while p < block.len() {
            p += 2;
            cols.clear();
            for _ in 0..self.layout.columns {
                let l = i32::from_be_bytes(block[p..p + 4].try_into().expect("whole rows"));
                p += 4;
                if l < 0 {
                    cols.push(None);
                } else {
                    cols.push(Some(&block[p..p + l as usize]));
                    p += l as usize;
                }
            }
            self.row(&cols)?;
        }
        Ok(())
    }

    fn row(&mut self, cols: &[Option<&[u8]>]) -> Result<()> {
        let at = |i: Option<usize>| i.and_then(|i| cols[i]);
        let micros = int(cols[0])?;
        let secs = PG_EPOCH + micros.div_euclid(1_000_000);
        let nanos = (micros.rem_euclid(1_000_000) * 1000) as u32;
        let path = cols[2].ok_or_else(|| bad("null path"))?;
        if path != self.last_path.as_slice() || self.last_path.is_empty() {
            let p = std::str::from_utf8(path).map_err(|_| bad("path is not UTF-8"))?;
            self.last_id = self.paths.lock().unwrap_or_else(|e| e.into_inner()).id(p);
            self.last_path = path.to_vec();
        }
        let mut fields = Vec::with_capacity(self.layout.fields.len());
        for (k, i) in &self.layout.fields {
            if let Some(json) = cols[*i] {
                fields.push((Cow::Borrowed(k.as_str()), jsonb_value(json)?));
            }
        }
        let record = Record {
            auth_role: None,
            ts: Some(Timestamp { secs, nanos, frac_digits: 6 }),
            service: Cow::Borrowed(text(cols[1])?.ok_or_else(|| bad("null service"))?),
            host: text(at(self.layout.host))?.map(Cow::Borrowed),
            severity: text(at(self.layout.severity))?.and_then(|s| s.parse::<Severity>().ok()),
            message: Cow::Borrowed(text(at(self.layout.message))?.unwrap_or("")),
            user: text(at(self.layout.user))?.map(Cow::Borrowed),
            fields,
        };
        let index = int(cols[4])?;
        let prov = Provenance {
            line: int(cols[3])?.max(0) as u64,
            index: (index > 0).then_some(index as u64),
            byte_offset: 0,
        };
        self.tally.observe(self.matches, self.last_id, &record, prov);
        if let Some(((from, to), acc)) = &mut self.overview {
            if *from <= secs && secs <= *to {
                acc.observe(kind_of(&record), &record);
            }
        }
        Ok(())
    }
}

fn bad(what: &str) -> Error {
    Error::Protocol(format!("unexpected stored row: {what}"))
}

fn int(c: Option<&[u8]>) -> Result<i64> {
    let b = c.ok_or_else(|| bad("null"))?;
    Ok(i64::from_be_bytes(b.try_into().map_err(|_| bad("integer width"))?))
}

fn text(c: Option<&[u8]>) -> Result<Option<&str>> {
    c.map(|b| std::str::from_utf8(b).map_err(|_| bad("text is not UTF-8"))).transpose()
}

/// A field read back from `jsonb` (binary: a version byte, then JSON text)
/// as the value the parser made.
fn jsonb_value(b: &[u8]) -> Result<Value<'_>> {
    let (&version, json) = b.split_first().ok_or_else(|| bad("empty jsonb"))?;
    if version != 1 {
        return Err(bad("jsonb version"));
    }
    // The common case, a plain string, is borrowed.
    if let [b'"', inner @ .., b'"'] = json {
        if !inner.contains(&b'\\') {
            let s = std::str::from_utf8(inner).map_err(|_| bad("jsonb is not UTF-8"))?;
            return Ok(Value::Str(Cow::Borrowed(s)));
        }
    }
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|_| bad("jsonb text"))?;
    Ok(from_json(v))
}

fn from_json(v: serde_json::Value) -> Value<'static> {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(Cow::Owned(s)),
        J::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        J::Object(_) => Value::Str(Cow::Owned(v.to_string())),
    }
}

/// For a silence that started before `before` (seconds): the newest row
/// before it of each distinct combination of the columns `m` groups by (and
/// that its `where` reads: the newest row that passes it is among them),
/// counted by `m` (unbounded in time) as one record each. A `where` on the
/// time itself may pass an older row and not the newest: every row before
/// `before` is then counted.
pub fn last_before(
    client: &mut Client,
    m: &RuleMatch,
    before: i64,
    paths: &mut Paths,
) -> Result<Counts> {
    let reads = m.reads();
    let mut by: Vec<String> = Vec::new();
    // A service the rule filters on is the same in every row.
    if reads.service && m.service().is_none() {
        by.push("service".into());
    }
    let columns = [
        (reads.host, "host"),
        (reads.user, "user_name"),
        (reads.severity, "severity"),
        (reads.message, "message"),
    ];
    for (on, col) in columns {
        if on {
            by.push(col.into());
        }
    }
    for k in &reads.fields {
        by.push(format!("fields -> {}", quote_literal(k)));
    }
    let layout = Arc::new(Layout::new(&reads));
    let mut conds = format!("ts < {}", super::at_literal(before));
    if let Some(s) = m.service() {
        conds.push_str(&format!(" AND service = {}", quote_literal(s)));
    }
    let select = if m.filters_on_time() {
        format!("SELECT {} FROM logs WHERE {conds}", layout.sql)
    } else if by.is_empty() {
        // One group: the newest row, which the (service, ts) index finds at once.
        format!(
            "SELECT {} FROM logs WHERE {conds} ORDER BY ts DESC, source_path, source_line LIMIT 1",
            layout.sql
        )
    } else {
        let by = by.join(", ");
        format!(
            "SELECT DISTINCT ON ({by}) {} FROM logs WHERE {conds} ORDER BY {by}, ts DESC, source_path, source_line",
            layout.sql
        )
    };
    let copy = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
    let stream = client.copy_out(copy.as_str()).map_err(Error::db("reading the last rows"))?;
    let shared = Arc::new(Mutex::new(std::mem::take(paths)));
    let matches = Arc::new(vec![m.unbounded()]);
    let result = count_rows(stream, &matches, &layout, &shared, None);
    *paths = std::mem::take(&mut *shared.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(result?.0.take(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY stream of `rows` rows of two text columns.
    fn copy_stream(rows: usize) -> (Vec<u8>, Vec<u8>) {
        let mut out = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        let start = out.len();
        for i in 0..rows {
            out.extend_from_slice(&2i16.to_be_bytes());
            let v = format!("value {i}").repeat(i % 7);
            out.extend_from_slice(&(v.len() as i32).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(&(-1i32).to_be_bytes());
        }
        let body = out[start..].to_vec();
        out.extend_from_slice(&(-1i16).to_be_bytes());
        (out, body)
    }

    /// Hands out a few bytes per read (1 to 13 then 4096), as the driver
    /// hands out one message per read.
    struct Trickle(Vec<u8>, usize, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let want = if self.2 % 14 == 13 { 4096 } else { self.2 % 14 + 1 };
            let n = want.min(buf.len()).min(self.0.len() - self.1);
            self.2 += 1;
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn blocks_hold_whole_rows_whatever_the_reads() {
        let (stream, body) = copy_stream(60_000);
        let mut blocks = Vec::new();
        split_blocks(&mut Trickle(stream, 0, 0), 2, |b| {
            blocks.push(b);
            true
        })
        .unwrap();
        assert!(blocks.len() > 1, "the rows span several blocks");
        // Each block parses as whole rows on its own.
        for b in &blocks {
            let mut p = 0;
            while p < b.len() {
                assert_eq!(i16::from_be_bytes([b[p], b[p + 1]]), 2);
                p += 2;
                for _ in 0..2 {
                    let l = i32::from_be_bytes(b[p..p + 4].try_into().unwrap());
                    p += 4 + l.max(0) as usize;
                }
            }
            assert_eq!(p, b.len());
        }
        assert_eq!(blocks.concat(), body);
    }

    #[test]
    fn a_cut_stream_is_an_error_not_a_hang() {
        let (stream, _) = copy_stream(100);
        let cut = stream[..stream.len() - 7].to_vec();
        let err = split_blocks(&mut Trickle(cut, 0, 0), 2, |_| true).unwrap_err();
        assert!(err.to_string().contains("no trailer"), "{err}");
        let err = split_blocks(&mut &b"PGCOPY\n"[..], 2, |_| true).unwrap_err();
        assert!(err.to_string().contains("short header"), "{err}");
        let (stream, _) = copy_stream(3);
        let err = split_blocks(&mut &stream[..], 3, |_| true).unwrap_err();
        assert!(err.to_string().contains("field count"), "{err}");
        // A header whose extension area is longer than what arrives.
        let (mut stream, _) = copy_stream(50);
        stream[15..19].copy_from_slice(&100u32.to_be_bytes());
        let err = split_blocks(&mut &stream[..40], 2, |_| true).unwrap_err();
        assert!(err.to_string().contains("short header extension"), "{err}");
        // Cut anywhere: an error, never a loop.
        let (whole, _) = copy_stream(50);
        for cut in [0, 5, 18, 19, 25, whole.len() / 2, whole.len() - 2, whole.len() - 1] {
            let part = Trickle(whole[..cut].to_vec(), 0, 0);
            assert!(split_blocks(&mut { part }, 2, |_| true).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn stored_fields_read_back_as_the_values_the_parser_made() {
        let back = |json: &str| {
            let mut b = vec![1u8];
            b.extend_from_slice(json.as_bytes());
            jsonb_value(&b).unwrap().to_text().map(|t| t.into_owned())
        };
        for (v, text) in [
            (Value::str("10.0.0.1"), "10.0.0.1"),
            (Value::str("a \"q\" é"), "a \"q\" é"),
            (Value::Int(503), "503"),
            (Value::Float(0.012), "0.012"),
            (Value::Float(1e-7), "0.0000001"),
            (Value::List(vec![Value::str("a"), Value::Int(1)]), r#"["a",1]"#),
        ] {
            let mut json = Vec::new();
            v.write_json(&mut json);
            assert_eq!(v.to_text().as_deref(), Some(text));
            assert_eq!(back(std::str::from_utf8(&json).unwrap()).as_deref(), Some(text));
        }
        // jsonb prints arrays with spaces; the value read back is the same.
        assert_eq!(back(r#"["a", 1]"#).as_deref(), Some(r#"["a",1]"#));
        assert_eq!(back("null"), None);
    }
}
