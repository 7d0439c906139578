//! `logtrack runs`: the run history from the database, newest last — what
//! an operator opens when a timer fails.

use crate::cli::{Global, RunsArgs};
use crate::config;
use crate::error::{Error, Exit};
use crate::store;
use std::io::Write;

pub fn run(a: &RunsArgs, g: &Global) -> anyhow::Result<Exit> {
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let mut client = store::open(&url)?;
    let ts =
        |col: &str| format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
    let rows = client
        .query(
            &format!(
                "SELECT * FROM (
                   SELECT id, job, ingest_host, {}, coalesce({}, ''), status, records, rejected, alerts,
                          coalesce(duration_ms, -1)
                   FROM runs WHERE ($1::text IS NULL OR job = $1)
                   ORDER BY started_at DESC, id DESC LIMIT $2
                 ) newest ORDER BY id",
                ts("started_at"),
                ts("finished_at")
            ),
            &[&a.job, &a.limit.max(0)],
        )
        .map_err(Error::db("reading the run history"))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>6}  {:<16}  {:<20}  {:<20}  {:<7}  {:>10}  {:>8}  {:>6}  {:>9}  host",
        "run",
        "job",
        "started (UTC)",
        "finished (UTC)",
        "status",
        "records",
        "rejected",
        "alerts",
        "seconds"
    )?;
    for r in &rows {
        let ms: i64 = r.get(9);
        let secs = if ms < 0 { "-".to_string() } else { format!("{:.1}", ms as f64 / 1000.0) };
        writeln!(
            out,
            "{:>6}  {:<16}  {:<20}  {:<20}  {:<7}  {:>10}  {:>8}  {:>6}  {:>9}  {}",
            r.get::<_, i64>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(3),
            r.get::<_, String>(4),
            r.get::<_, String>(5),
            r.get::<_, i64>(6),
            r.get::<_, i64>(7),
            r.get::<_, i64>(8),
            secs,
            r.get::<_, String>(2),
        )?;
    }
    if rows.is_empty() {
        crate::error::say("no runs recorded");
    }
    Ok(Exit::Ok)
}
