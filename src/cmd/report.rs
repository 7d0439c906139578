//! `logtrack report JOB [--since T] [--until T]`: `report.json` and
//! `report.md` for a time range from what the database holds: the alerts
//! whose window starts in it, the records and rejects of each source.

use crate::cli::{Global, RangeArgs};
use crate::error::Exit;
use crate::run::{self as engine, Messages};

pub fn run(a: &RangeArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = Messages::new(g);
    let Some(job) = super::load_job(&a.job, g, &msgs) else { return Ok(Exit::Failed) };
    let settings = super::settings(g, &job)?;
    let url = super::database_url(&job)?;
    let (since, until) = super::range(a, settings.now)?;
    engine::report_range(&job, url, since, until, &settings, &msgs)
}
