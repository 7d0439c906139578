//! Job runs as stored: the job lock, the `runs` rows, the range that
//! earlier runs loaded but never reported, and what `logtrack report`
//! shows of a time range (sources and rejects as loaded).

use crate::error::{Error, Result};
use crate::read::{Reject, SourceStats};
use crate::summary::REPORT_REJECTS;
use postgres::{Client, GenericClient};
use std::sync::Arc;

/// Takes the session-level lock of `job` (one run of a job at a time, on
/// any host), marks rows left `running` by killed runs as failed, and
/// inserts this run's row. Returns its id.
pub fn begin(client: &mut Client, job: &str, host: &str, started: i64) -> Result<i64> {
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&super::lock_key("job", job)])
        .map_err(Error::db("taking the job lock"))?
        .get(0);
    if !locked {
        return Err(Error::JobLocked(job.to_string()));
    }
    // Holding the lock, no other run of this job is alive: a row still
    // `running` belongs to a run that was killed.
    client
        .execute(
            "UPDATE runs SET status = 'failed', finished_at = now() WHERE job = $1 AND status = 'running'",
            &[&job],
        )
        .map_err(Error::db("marking killed runs failed"))?;
    Ok(client
        .query_one(
            "INSERT INTO runs (job, ingest_host, started_at, status, detected)
             VALUES ($1, $2, $3, 'running', false) RETURNING id",
            &[&job, &host, &super::at(started)],
        )
        .map_err(Error::db("recording the run"))?
        .get(0))
}

/// Marks run `id` failed (on a connection of its own: the run's may be
/// what failed).
pub fn mark_failed(url: &str, id: i64) -> anyhow::Result<()> {
    Ok(mark_finished(&mut super::connect(url)?, id, "failed")?)
}

/// Marks run `id` finished now with `status`, its data left undetected.
fn mark_finished(client: &mut Client, id: i64, status: &str) -> Result<()> {
    client
        .execute(
            "UPDATE runs SET status = $2, finished_at = now(),
                    duration_ms = (extract(epoch from now() - started_at) * 1000)::bigint
             WHERE id = $1",
            &[&id, &status],
        )
        .map_err(Error::db("marking the run finished"))?;
    Ok(())
}

/// Marks a dry run: finished, its data left to the next run to detect.
pub fn mark_dry_run(client: &mut Client, id: i64) -> Result<()> {
    mark_finished(client, id, "dry run")
}

/// The data range (seconds) that runs of `job` loaded but never reported.
pub fn pending(client: &mut Client, job: &str) -> Result<Option<(i64, i64)>> {
    let row = client
        .query_one(
            "SELECT floor(extract(epoch from min(data_from)))::bigint, floor(extract(epoch from max(data_to)))::bigint
             FROM runs WHERE job = $1 AND NOT detected",
            &[&job],
        )
        .map_err(Error::db("finding unreported data"))?;
    Ok(row.get::<_, Option<i64>>(0).zip(row.get::<_, Option<i64>>(1)))
}

/// What a finished run counted.
pub struct Finished {
    pub id: i64,
    pub finished: i64,
    pub duration_ms: i64,
    pub failed: bool,
    pub records: u64,
    pub rejected: u64,
    pub alerts: u64,
    /// Notifications given up in the run.
    pub notifications_failed: u64,
}

/// A run's status: `ok` or `failed`, and how many notifications failed
/// (`ok, 2 notification(s) failed`).
fn status(failed: bool, notifications: u64) -> String {
    let base = if failed { "failed" } else { "ok" };
    match notifications {
        0 => base.to_string(),
        n => format!("{base}, {n} notification(s) failed"),
    }
}

/// Adds `n` notifications refused after run `id` was recorded (they are
/// sent after its commit) to its status.
pub fn add_failed_notifications(client: &mut Client, id: i64, n: u64) -> Result<()> {
    let row = client
        .query_one("SELECT status FROM runs WHERE id = $1", &[&id])
        .map_err(Error::db("reading the run's status"))?;
    let old: String = row.get(0);
    let (base, before) = match old.split_once(", ") {
        Some((b, rest)) => {
            (b.to_string(), rest.split(' ').next().and_then(|c| c.parse().ok()).unwrap_or(0))
        }
        None => (old, 0),
    };
    client
        .execute(
            "UPDATE runs SET status = $2 WHERE id = $1",
            &[&id, &status(base == "failed", before + n)],
        )
        .map_err(Error::db("recording the run's failed notifications"))?;
    Ok(())
}

/// Records the end of a run and marks the job's data detected, in the
/// transaction that stores its alerts.
pub fn finish(tx: &mut impl GenericClient, job: &str, f: &Finished) -> Result<()> {
    tx.execute("UPDATE runs SET detected = true WHERE job = $1 AND NOT detected", &[&job])
        .map_err(Error::db("marking the data detected"))?;
    tx.execute(
        "UPDATE runs SET finished_at = $2, status = $3, records = $4, rejected = $5, alerts = $6,
                         duration_ms = $7 WHERE id = $1",
        &[
            &f.id,
            &super::at(f.finished),
            &status(f.failed, f.notifications_failed),
            &(f.records as i64),
            &(f.rejected as i64),
            &(f.alerts as i64),
            &f.duration_ms,
        ],
    )
    .map_err(Error::db("recording the run's end"))?;
    Ok(())
}

/// The first and last record time stored (seconds), if any.
pub fn data_range(client: &mut impl GenericClient) -> Result<Option<(i64, i64)>> {
    let row = client
        .query_one(
            "SELECT floor(extract(epoch from min(ts)))::bigint, floor(extract(epoch from max(ts)))::bigint FROM logs",
            &[],
        )
        .map_err(Error::db("finding the stored time range"))?;
    Ok(row.get::<_, Option<i64>>(0).zip(row.get::<_, Option<i64>>(1)))
}

/// When rejects were loaded: a reject has no event time, so a range
/// counts the rejects loaded in it; an open end is unbounded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Loaded {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Loaded {
    /// `created_at` in the range, as SQL over parameters `$a` and `$a+1`.
    fn sql(a: usize) -> String {
        format!(
            "(${a}::timestamptz IS NULL OR created_at >= ${a})
             AND (${b}::timestamptz IS NULL OR created_at < ${b})",
            b = a + 1
        )
    }

    /// The values of those parameters (seconds, `until` inclusive).
    fn params(self) -> (Option<std::time::SystemTime>, Option<std::time::SystemTime>) {
        (self.since.map(super::at), self.until.map(|t| super::at(t + 1)))
    }
}

/// The sources of a range as stored: per path, the records whose time is
/// in `[since, until]`, the rejects loaded in `loaded`, and the format the
/// file was last read as (`unknown` for rows loaded before formats were
/// recorded, or from standard input). A range of stored rows has no byte
/// size: the bytes are 0, and the lines are the records and rejects.
pub fn sources(
    client: &mut impl GenericClient,
    since: i64,
    until: i64,
    loaded: Loaded,
) -> Result<Vec<SourceStats>> {
    let (from, to) = loaded.params();
    let sql = format!(
        "WITH r AS (
             SELECT source_path AS path, count(*) AS records FROM logs
             WHERE ts >= $1 AND ts < $2 GROUP BY source_path),
         j AS (
             SELECT source_path AS path, count(*) AS rejected FROM rejects
             WHERE {} GROUP BY source_path),
         c AS (
             SELECT path, format, updated_at FROM checkpoints WHERE format IS NOT NULL),
         f AS (
             SELECT DISTINCT ON (path) path, format FROM c ORDER BY path, updated_at DESC)
         SELECT coalesce(r.path, j.path), coalesce(r.records, 0), coalesce(j.rejected, 0), f.format
         FROM r FULL JOIN j ON r.path = j.path
         LEFT JOIN f ON f.path = coalesce(r.path, j.path)
         ORDER BY 1",
        Loaded::sql(3)
    );
    let rows = client
        .query(&sql, &[&super::at(since), &super::at(until + 1), &from, &to])
        .map_err(Error::db("counting the range's records and rejects per source"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let records = r.get::<_, i64>(1) as u64;
            let rejected = r.get::<_, i64>(2) as u64;
            SourceStats {
                path: r.get(0),
                format: r.get::<_, Option<String>>(3).unwrap_or_else(|| "unknown".into()),
                lines: records + rejected,
                records,
                rejected,
                ..Default::default()
            }
        })
        .collect())
}

/// The first rejects loaded in `loaded`.
pub fn rejects(client: &mut impl GenericClient, loaded: Loaded) -> Result<Vec<Reject>> {
    let (from, to) = loaded.params();
    let sql = format!(
        "SELECT source_path, source_line, source_index, byte_offset, reason FROM rejects
         WHERE {} ORDER BY created_at, source_path, source_line LIMIT $3",
        Loaded::sql(1)
    );
    let rows = client
        .query(&sql, &[&from, &to, &(REPORT_REJECTS as i64)])
        .map_err(Error::db("reading the range's rejects"))?;
    Ok(rows
        .iter()
        .map(|r| Reject {
            path: Arc::from(r.get::<_, String>(0)),
            line: r.get::<_, i64>(1) as u64,
            index: r.get::<_, Option<i64>>(2).map(|i| i as u64),
            byte_offset: r.get::<_, i64>(3) as u64,
            reason: r.get(4),
        })
        .collect())
}

/// One run as listed.
#[derive(Clone, Debug)]
pub struct RunRow {
    pub id: i64,
    pub job: String,
    pub host: String,
    /// RFC 3339, UTC.
    pub started: String,
    /// RFC 3339, UTC; empty while running.
    pub finished: String,
    pub status: String,
    pub records: i64,
    pub rejected: i64,
    pub alerts: i64,
    pub duration_ms: Option<i64>,
}

/// The newest `limit` runs (of `job`, or of every job), oldest first.
pub fn history(
    client: &mut impl GenericClient,
    job: Option<&str>,
    limit: i64,
) -> Result<Vec<RunRow>> {
    let rows = client
        .query(
            concat!(
                "SELECT * FROM (SELECT id, job, ingest_host, ",
                utc_text!("started_at"),
                ", coalesce(",
                utc_text!("finished_at"),
                ", ''), status, records, rejected, alerts, duration_ms
                   FROM runs WHERE ($1::text IS NULL OR job = $1)
                   ORDER BY started_at DESC, id DESC LIMIT $2
                 ) newest ORDER BY id"
            ),
            &[&job, &limit.max(0)],
        )
        .map_err(Error::db("reading the run history"))?;
    Ok(rows
        .iter()
        .map(|r| RunRow {
            id: r.get(0),
            job: r.get(1),
            host: r.get(2),
            started: r.get(3),
            finished: r.get(4),
            status: r.get(5),
            records: r.get(6),
            rejected: r.get(7),
            alerts: r.get(8),
            duration_ms: r.get(9),
        })
        .collect())
}
