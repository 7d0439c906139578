//! What the dashboard and the `logs`/`runs` commands read: stored records
//! a page at a time, alerts, runs and rules.
//!
//! Pages are keyset pages, never `OFFSET`: a page of records is the rows
//! just before (or after) a cursor in the order `(ts, ingest_host, ctid)` —
//! the event time, the loading host, then the row's place in its table,
//! which together name a row uniquely on one server and on a Citus cluster
//! (see [`Cursor`]; stored records are never updated, so `ctid` does not
//! move).
//! A deep page costs what the first one does: an index range scan from the
//! cursor (`logs_ts`, or `logs_service_ts` with a service), not a count of
//! the rows before it.

use crate::error::{Error, Result};
use crate::parse::Severity;
use postgres::types::ToSql;
use postgres::GenericClient;

/// Which records a listing shows; every part is optional.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub service: Option<String>,
    /// This severity or a higher one.
    pub severity: Option<Severity>,
    pub user: Option<String>,
    /// The client address (`client_ip`, or CloudTrail's `source_ip`).
    pub client_ip: Option<String>,
    /// Seconds, inclusive.
    pub since: Option<i64>,
    /// Seconds, exclusive.
    pub until: Option<i64>,
    /// Text the message contains, ignoring case.
    pub text: Option<String>,
}

/// Escapes LIKE wildcards.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// SQL conditions with their parameters, numbered as they are added.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync>>,
}

impl Conditions {
    /// Adds `cond`, whose `?` marks are the next parameter(s), all `v`.
    fn add(&mut self, cond: &str, v: Box<dyn ToSql + Sync>) {
        self.params.push(v);
        self.sql.push(cond.replace('?', &format!("${}", self.params.len())));
    }

    /// A parameter that a later condition names (`$n`, returned).
    fn param(&mut self, v: Box<dyn ToSql + Sync>) -> String {
        self.params.push(v);
        format!("${}", self.params.len())
    }

    fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.sql.join(" AND "))
        }
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref()).collect()
    }
}

impl LogFilter {
    fn conditions(&self) -> Conditions {
        let mut c = Conditions::default();
        if let Some(s) = &self.service {
            c.add("service = ?", Box::new(s.clone()));
        }
        if let Some(min) = self.severity {
            let levels: Vec<String> = Severity::ALL
                .iter()
                .filter(|s| **s >= min)
                .map(|s| s.as_str().to_string())
                .collect();
            c.add("severity = ANY(?)", Box::new(levels));
        }
        if let Some(u) = &self.user {
            c.add("user_name = ?", Box::new(u.clone()));
        }
        if let Some(ip) = &self.client_ip {
            c.add("coalesce(fields->>'client_ip', fields->>'source_ip') = ?", Box::new(ip.clone()));
        }
        if let Some(t) = self.since {
            c.add("ts >= ?", Box::new(super::at(t)));
        }
        if let Some(t) = self.until {
            c.add("ts < ?", Box::new(super::at(t)));
        }
        if let Some(w) = &self.text {
            c.add("message ILIKE ?", Box::new(format!("%{}%", like_escape(w))));
        }
        c
    }
}

/// A place in the `(ts, ingest_host, ctid)` order: microseconds since the
/// epoch, the loading host and the row's `(block, offset)`. Written in
/// addresses as `micros.block.offset.host-in-hex`.
///
/// The order is one that holds on a Citus cluster as on one server: a
/// `ctid` is unique only within one table, and the rows of one time lie in
/// one day partition — and, on a cluster, in the shard of their host
/// (`logs` is distributed by `ingest_host`). So equal times and hosts mean
/// one table, where the `ctid` is unique (records are never updated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub micros: i64,
    pub host: String,
    pub block: u32,
    pub offset: u16,
}

impl Cursor {
    fn tid(&self) -> String {
        format!("({},{})", self.block, self.offset)
    }

    /// From a row's `ctid::text`, `(block,offset)`.
    fn from_row(micros: i64, host: String, ctid: &str) -> Option<Cursor> {
        let (b, o) = ctid.strip_prefix('(')?.strip_suffix(')')?.split_once(',')?;
        Some(Cursor { micros, host, block: b.parse().ok()?, offset: o.parse().ok()? })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}.", self.micros, self.block, self.offset)?;
        self.host.bytes().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::str::FromStr for Cursor {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Cursor, String> {
        let bad = || format!("{s:?} is not a page position");
        let mut parts = s.split('.');
        let (Some(m), Some(b), Some(o), Some(h), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if h.len() % 2 != 0 || !h.is_ascii() {
            return Err(bad());
        }
        let host = (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16))
            .collect::<std::result::Result<Vec<u8>, _>>()
            .map_err(|_| bad())?;
        Ok(Cursor {
            micros: m.parse().map_err(|_| bad())?,
            host: String::from_utf8(host).map_err(|_| bad())?,
            block: b.parse().map_err(|_| bad())?,
            offset: o.parse().map_err(|_| bad())?,
        })
    }
}

/// Which side of a cursor a page is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    /// The newest records.
    First,
    /// The records just older than the cursor.
    Before(Cursor),
    /// The records just newer than the cursor.
    After(Cursor),
}

/// One stored record as listed.
#[derive(Clone, Debug)]
pub struct LogRow {
    pub cursor: Cursor,
    /// RFC 3339, UTC, with the stored fraction.
    pub ts: String,
    pub service: String,
    pub host: Option<String>,
    pub severity: Option<String>,
    pub user: Option<String>,
    pub client_ip: Option<String>,
    pub message: String,
    pub path: String,
    pub line: i64,
    pub index: Option<i64>,
}

/// A page of records, newest first, and whether there are more on each side.
#[derive(Debug, Default)]
pub struct LogPage {
    pub rows: Vec<LogRow>,
    pub older: bool,
    pub newer: bool,
}

/// (`bench/serve.sh` runs the same statement through psql as its baseline:
/// keep the two alike.)
const LOG_COLUMNS: &str = "(extract(epoch from ts) * 1000000)::bigint AS micros, ctid::text AS tid,
    ingest_host,
    to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), service, host, severity,
    user_name, coalesce(fields->>'client_ip', fields->>'source_ip'), message, source_path,
    source_line, source_index";

/// `ts` at a microsecond, exactly (`to_timestamp` goes through a float).
const AT_MICROS: &str = "('epoch'::timestamptz + ?::bigint * interval '1 microsecond')";

fn log_row(r: &postgres::Row) -> Result<LogRow> {
    let ctid: String = r.get(1);
    Ok(LogRow {
        cursor: Cursor::from_row(r.get(0), r.get(2), &ctid)
            .ok_or_else(|| Error::Protocol(format!("unexpected ctid {ctid:?}")))?,
        ts: r.get::<_, String>(3).replace(".000000Z", "Z"),
        service: r.get(4),
        host: r.get(5),
        severity: r.get(6),
        user: r.get(7),
        client_ip: r.get(8),
        message: r.get(9),
        path: r.get(10),
        line: r.get(11),
        index: r.get(12),
    })
}

/// A page of at most `limit` records matching `filter`, newest first.
pub fn logs(
    client: &mut impl GenericClient,
    filter: &LogFilter,
    page: Page,
    limit: usize,
) -> Result<LogPage> {
    let mut c = filter.conditions();
    let (order, cursor) = match &page {
        Page::First => ("DESC", None),
        Page::Before(k) => ("DESC", Some(("<", k))),
        Page::After(k) => ("ASC", Some((">", k))),
    };
    if let Some((op, k)) = cursor {
        // The plain bound lets the planner use the time index; the row
        // comparison breaks ties between rows of the same time.
        c.add(&format!("ts {op}= {AT_MICROS}"), Box::new(k.micros));
        let at = AT_MICROS.replace('?', &format!("${}", c.params.len()));
        let host = c.param(Box::new(k.host.clone()));
        c.add(
            &format!("(ts, ingest_host, ctid) {op} ({at}, {host}, ?::text::tid)"),
            Box::new(k.tid()),
        );
    }
    let sql = format!(
        "SELECT {LOG_COLUMNS} FROM logs {} ORDER BY ts {order}, ingest_host {order}, ctid {order} LIMIT {}",
        c.where_clause(),
        limit + 1
    );
    let rows = client.query(sql.as_str(), &c.refs()).map_err(Error::db("listing records"))?;
    let more = rows.len() > limit;
    let mut rows: Vec<LogRow> = rows.iter().take(limit).map(log_row).collect::<Result<_>>()?;
    Ok(match page {
        Page::After(_) => {
            rows.reverse();
            LogPage { rows, newer: more, older: true }
        }
        Page::Before(_) => LogPage { rows, older: more, newer: true },
        Page::First => LogPage { rows, older: more, newer: false },
    })
}

/// The records of `path` around its line `line` (event `index`), found
/// near `near` (seconds; the record is looked for within a day of it):
/// up to `context` records of the same file before and after it in time,
/// and the record itself (`None` when it is not stored, e.g. pruned).
pub fn around(
    client: &mut impl GenericClient,
    path: &str,
    line: i64,
    index: Option<i64>,
    near: (i64, i64),
    context: usize,
) -> Result<(Vec<LogRow>, Option<LogRow>, Vec<LogRow>)> {
    // First the window itself, then a day around it (inactivity evidence
    // is the last record before a silence).
    let find = format!(
        "SELECT {LOG_COLUMNS} FROM logs WHERE ts >= $1 AND ts <= $2
           AND source_path = $3 AND source_line = $4 AND source_index IS NOT DISTINCT FROM $5 LIMIT 1"
    );
    let mut found = None;
    for margin in [60, 86_400] {
        let (a, b) = (super::at(near.0 - margin), super::at(near.1 + margin));
        if let Some(r) = client
            .query_opt(find.as_str(), &[&a, &b, &path, &line, &index])
            .map_err(Error::db("finding an evidence record"))?
        {
            found = Some(log_row(&r)?);
            break;
        }
    }
    let Some(row) = found else { return Ok((Vec::new(), None, Vec::new())) };
    // Neighbours in (ts, line, index) order, within an hour of it.
    let at = AT_MICROS.replace('?', "$2");
    let side = |op: &str| {
        let (order, far, sign) = if op == "<" { ("DESC", ">", "-") } else { ("ASC", "<", "+") };
        format!(
            "SELECT {LOG_COLUMNS} FROM logs
             WHERE source_path = $1 AND ts {op}= {at} AND ts {far} {at} {sign} interval '1 hour'
               AND (ts, source_line, coalesce(source_index, -1)) {op} ({at}, $3::bigint, coalesce($4::bigint, -1))
             ORDER BY ts {order}, source_line {order}, source_index {order} LIMIT $5"
        )
    };
    let limit = context as i64;
    let mut read = |sql: String| -> Result<Vec<LogRow>> {
        client
            .query(sql.as_str(), &[&path, &row.cursor.micros, &line, &index, &limit])
            .map_err(Error::db("reading the records around evidence"))?
            .iter()
            .map(log_row)
            .collect()
    };
    let mut before = read(side("<"))?;
    before.reverse();
    let after = read(side(">"))?;
    Ok((before, Some(row), after))
}

/// The distinct services stored: a skip scan over `logs_service_ts` (one
/// index probe per service, not a pass over the rows). Citus refuses that
/// recursive query on a distributed table; there (after its first refusal,
/// remembered for the process) the services are read from the hourly
/// counts, which loading keeps exact and every shard answers in parallel.
pub fn services(client: &mut impl GenericClient) -> Result<Vec<String>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static REFUSED: AtomicBool = AtomicBool::new(false);
    const SKIP_SCAN: &str = "WITH RECURSIVE s(service) AS (
               (SELECT service FROM logs ORDER BY service LIMIT 1)
               UNION ALL
               SELECT (SELECT l.service FROM logs l WHERE l.service > s.service ORDER BY l.service LIMIT 1)
               FROM s WHERE s.service IS NOT NULL)
             SELECT service FROM s WHERE service IS NOT NULL";
    const FROM_COUNTS: &str = "SELECT DISTINCT service FROM log_hours ORDER BY service";
    // Not in a transaction (the dashboard's connections are not): a refused
    // statement leaves the connection usable for the second query.
    let rows = if REFUSED.load(Ordering::Relaxed) {
        client.query(FROM_COUNTS, &[])
    } else {
        match client.query(SKIP_SCAN, &[]) {
            Err(e) if e.code() == Some(&postgres::error::SqlState::FEATURE_NOT_SUPPORTED) => {
                REFUSED.store(true, Ordering::Relaxed);
                client.query(FROM_COUNTS, &[])
            }
            rows => rows,
        }
    }
    .map_err(Error::db("listing the services"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
