//! `logtrack runs`: the run history from the database, newest last — what
//! an operator opens when a timer fails.

use crate::cli::{Global, RunsArgs};
use crate::config;
use crate::error::Exit;
use crate::store;
use std::io::Write;

pub fn run(a: &RunsArgs, g: &Global) -> anyhow::Result<Exit> {
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let mut client = store::open(&url)?;
    let rows = store::runs::history(&mut client, a.job.as_deref(), a.limit)?;
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
        let secs = r.duration_ms.map_or("-".to_string(), |ms| format!("{:.1}", ms as f64 / 1000.0));
        writeln!(
            out,
            "{:>6}  {:<16}  {:<20}  {:<20}  {:<7}  {:>10}  {:>8}  {:>6}  {:>9}  {}",
            r.id,
            r.job,
            r.started,
            r.finished,
            r.status,
            r.records,
            r.rejected,
            r.alerts,
            secs,
            r.host,
        )?;
    }
    if rows.is_empty() {
        crate::error::say("no runs recorded");
    }
    Ok(Exit::Ok)
}
