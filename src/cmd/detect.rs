//! `logtrack detect JOB [--since T] [--until T]`: the job's rules over a
//! time range of what the database holds (plus the history each rule needs
//! before it); alerts stored once per identity, printed, and reported.

use crate::cli::{Global, RangeArgs};
use crate::error::Exit;
use crate::run::{self as engine, Messages};

pub fn run(a: &RangeArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = Messages::new(g);
    let Some(job) = super::load_job(&a.job, g, &msgs) else { return Ok(Exit::Failed) };
    let settings = super::settings(g, &job)?;
    let url = super::database_url(&job)?;
    let (since, until) = super::range(a, settings.now)?;
    engine::detect_range(&job, url, since, until, &settings, &msgs)
}
